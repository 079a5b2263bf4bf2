/* SPDX-License-Identifier: Apache-2.0 */
/* test_cgroup_detect.c -- where the memory, pids and cpu controllers are found
 * from mountinfo text: pure cgroup v1, pure v2 (systemd's unified layout),
 * this project's hybrid machines (controllers on v1, a controller-less v2 at
 * /sys/fs/cgroup/unified), combined v1 mounts, escaped mount points; plus the
 * directory plan and the description doctor prints. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "backend/netns/cgroup.h"
#include "util/xalloc.h"

/* The v2 controller list handed to the detector instead of a real file. */
static char *fake_controllers(const char *mount, void *data)
{
	(void)mount;
	return data ? cr_xstrdup(data) : NULL;
}

static const char pure_v1[] =
	"22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n"
	"25 22 0:22 / /sys/fs/cgroup ro,nosuid shared:9 - tmpfs tmpfs ro,mode=755\n"
	"26 25 0:23 / /sys/fs/cgroup/systemd rw shared:10 - cgroup cgroup rw,xattr,name=systemd\n"
	"27 25 0:24 / /sys/fs/cgroup/cpu,cpuacct rw shared:11 - cgroup cgroup rw,cpu,cpuacct\n"
	"28 25 0:25 / /sys/fs/cgroup/cpuset rw shared:12 - cgroup cgroup rw,cpuset\n"
	"29 25 0:26 / /sys/fs/cgroup/memory rw shared:13 - cgroup cgroup rw,memory\n"
	"30 25 0:27 / /sys/fs/cgroup/pids rw shared:14 - cgroup cgroup rw,pids\n";

static const char pure_v2[] = "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n"
			      "25 22 0:22 / /sys/fs/cgroup rw,nosuid,nodev shared:9 - cgroup2 cgroup2 "
			      "rw,nsdelegate,memory_recursiveprot\n";

/* This machine's /proc/self/mountinfo. */
static const char hybrid[] =
	"31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
	"32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
	"33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct\n"
	"34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset\n"
	"35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
	"36 31 0:33 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices\n"
	"39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids\n"
	"40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd\n"
	"41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";

static void test_pure_v1(void **state)
{
	(void)state;
	cr_cgroup_layout l;
	assert_int_equal(cr_cgroup_detect_from(pure_v1, fake_controllers, NULL, &l, NULL), 0);
	assert_string_equal(l.mount[CR_CG_MEMORY], "/sys/fs/cgroup/memory");
	assert_string_equal(l.mount[CR_CG_PIDS], "/sys/fs/cgroup/pids");
	/* "cpu" is a token of the combined mount; cpuset/cpuacct are not "cpu". */
	assert_string_equal(l.mount[CR_CG_CPU], "/sys/fs/cgroup/cpu,cpuacct");
	assert_false(l.v2[CR_CG_MEMORY] || l.v2[CR_CG_PIDS] || l.v2[CR_CG_CPU]);
	assert_null(l.v2_mount);
	char *d = cr_cgroup_describe(&l);
	assert_string_equal(d, "v1 (memory, pids, cpu)");
	free(d);
	cr_cgroup_layout_clear(&l);
}

static void test_pure_v2(void **state)
{
	(void)state;
	cr_cgroup_layout l;
	char controllers[] = "cpuset cpu io memory hugetlb pids rdma misc\n";
	assert_int_equal(cr_cgroup_detect_from(pure_v2, fake_controllers, controllers, &l, NULL), 0);
	for (int c = 0; c < CR_CG__COUNT; c++) {
		assert_string_equal(l.mount[c], "/sys/fs/cgroup");
		assert_true(l.v2[c]);
	}
	assert_string_equal(l.v2_mount, "/sys/fs/cgroup");
	char *d = cr_cgroup_describe(&l);
	assert_string_equal(d, "v2 (memory, pids, cpu)");
	free(d);

	char **dirs = NULL;
	size_t n = 0;
	assert_int_equal(cr_cgroup_plan(&l, "cleanroom/sb1", &dirs, &n, NULL), 0);
	assert_int_equal(n, 1); /* one directory holds all three controllers */
	assert_string_equal(dirs[0], "/sys/fs/cgroup/cleanroom/sb1");
	free(dirs[0]);
	free(dirs);
	cr_cgroup_layout_clear(&l);
}

/* The v2 hierarchy lists only what is not bound to v1 (here hugetlb). */
static void test_hybrid(void **state)
{
	(void)state;
	cr_cgroup_layout l;
	char controllers[] = "hugetlb\n";
	assert_int_equal(cr_cgroup_detect_from(hybrid, fake_controllers, controllers, &l, NULL), 0);
	assert_string_equal(l.mount[CR_CG_MEMORY], "/sys/fs/cgroup/memory");
	assert_string_equal(l.mount[CR_CG_PIDS], "/sys/fs/cgroup/pids");
	assert_string_equal(l.mount[CR_CG_CPU], "/sys/fs/cgroup/cpu");
	assert_false(l.v2[CR_CG_MEMORY] || l.v2[CR_CG_PIDS] || l.v2[CR_CG_CPU]);
	assert_string_equal(l.v2_mount, "/sys/fs/cgroup/unified");
	char *d = cr_cgroup_describe(&l);
	assert_string_equal(d, "hybrid: v1 (memory, pids, cpu), v2 (none)");
	free(d);

	char **dirs = NULL;
	size_t n = 0;
	assert_int_equal(cr_cgroup_plan(&l, "cleanroom/sb1", &dirs, &n, NULL), 0);
	assert_int_equal(n, 3);
	assert_string_equal(dirs[0], "/sys/fs/cgroup/memory/cleanroom/sb1");
	assert_string_equal(dirs[1], "/sys/fs/cgroup/pids/cleanroom/sb1");
	assert_string_equal(dirs[2], "/sys/fs/cgroup/cpu/cleanroom/sb1");
	for (size_t i = 0; i < n; i++)
		free(dirs[i]);
	free(dirs);
	cr_cgroup_layout_clear(&l);
}

/* Split: memory on v2, pids and cpu still on v1; v2 wins when it has one. */
static void test_mixed_and_unreadable(void **state)
{
	(void)state;
	cr_cgroup_layout l;
	char controllers[] = "memory io";
	assert_int_equal(cr_cgroup_detect_from(hybrid, fake_controllers, controllers, &l, NULL), 0);
	assert_string_equal(l.mount[CR_CG_MEMORY], "/sys/fs/cgroup/unified");
	assert_true(l.v2[CR_CG_MEMORY]);
	assert_false(l.v2[CR_CG_PIDS]);
	char *d = cr_cgroup_describe(&l);
	assert_string_equal(d, "hybrid: v1 (pids, cpu), v2 (memory)");
	free(d);
	cr_cgroup_layout_clear(&l);

	/* cgroup.controllers unreadable: the v2 hierarchy counts as empty. */
	assert_int_equal(cr_cgroup_detect_from(pure_v2, fake_controllers, NULL, &l, NULL), 0);
	for (int c = 0; c < CR_CG__COUNT; c++)
		assert_null(l.mount[c]);
	d = cr_cgroup_describe(&l);
	assert_string_equal(d, "v2 (none); unavailable: memory, pids, cpu");
	free(d);
	cr_cgroup_layout_clear(&l);
}

/* Escaped mount points, optional fields, junk lines; nothing at all. */
static void test_odd_input(void **state)
{
	(void)state;
	static const char odd[] = "garbage line without separator\n"
				  "\n"
				  "40 1 0:40 / /cg\\040mem rw shared:3 master:1 - cgroup none rw,memory\n"
				  "41 1 0:41 / /cg/pids rw - cgroup\n"
				  "42 1 0:42 / /cg/second-memory rw - cgroup none rw,memory";
	cr_cgroup_layout l;
	assert_int_equal(cr_cgroup_detect_from(odd, fake_controllers, NULL, &l, NULL), 0);
	assert_string_equal(l.mount[CR_CG_MEMORY], "/cg mem"); /* the first mount wins */
	assert_null(l.mount[CR_CG_PIDS]);                      /* truncated line skipped */
	assert_null(l.mount[CR_CG_CPU]);
	cr_cgroup_layout_clear(&l);

	assert_int_equal(cr_cgroup_detect_from("", fake_controllers, NULL, &l, NULL), 0);
	char *d = cr_cgroup_describe(&l);
	assert_string_equal(d, "no cgroup hierarchy; unavailable: memory, pids, cpu");
	free(d);
	cr_cgroup_layout_clear(&l);
}

static void test_limits_need_controllers(void **state)
{
	(void)state;
	cr_cgroup_layout l;
	assert_int_equal(cr_cgroup_detect_from(pure_v2, fake_controllers, NULL, &l, NULL), 0);
	cr_cgroup_limits lim = {.pids = 32};
	cr_cgroup *cg = NULL;
	cr_error *err = NULL;
	assert_int_equal(cr_cgroup_create(&l, "cleanroom/x", &lim, &cg, &err), -1);
	assert_null(cg);
	assert_int_equal(err->reason, CR_REASON_RUNTIME_LAUNCH_FAILED);
	assert_non_null(strstr(err->msg, "pids"));
	cr_error_free(err);
	err = NULL;

	char **dirs = NULL;
	size_t n = 0;
	assert_int_equal(cr_cgroup_plan(&l, "../escape", &dirs, &n, &err), -1);
	cr_error_free(err);
	err = NULL;
	assert_int_equal(cr_cgroup_plan(&l, "/abs", &dirs, &n, &err), -1);
	cr_error_free(err);
	cr_cgroup_layout_clear(&l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pure_v1),   cmocka_unit_test(test_pure_v2),
		cmocka_unit_test(test_hybrid),    cmocka_unit_test(test_mixed_and_unreadable),
		cmocka_unit_test(test_odd_input), cmocka_unit_test(test_limits_need_controllers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
