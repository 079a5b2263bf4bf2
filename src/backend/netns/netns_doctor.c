/* SPDX-License-Identifier: Apache-2.0 */
/* netns_doctor.c -- host checks of the namespace backend for `cleanroom
 * doctor`: each pass/warn/fail with what was found and how to fix it. */
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "backend/backend.h"
#include "backend/netns/cgroup.h"
#include "backend/netns/harden.h"
#include "util/cleanup.h"
#include "util/fileio.h"

void cr_netns_doctor(cr_checks *out);

static long read_long(const char *path)
{
	cleanup_free char *text = NULL;
	if (cr_read_file(path, 64, &text, NULL, NULL) < 0)
		return -1;
	return strtol(text, NULL, 10);
}

static void check_userns(cr_checks *out)
{
	long max = read_long("/proc/sys/user/max_user_namespaces");
	if (max > 0)
		cr_checks_add(out, "user namespaces", CR_CHECK_PASS, NULL, "max_user_namespaces = %ld", max);
	else
		cr_checks_add(out, "user namespaces", CR_CHECK_FAIL,
			      "sysctl -w user.max_user_namespaces=15000",
			      "user namespaces are disabled (max_user_namespaces = %ld)", max);
}

static void check_root(cr_checks *out)
{
	if (geteuid() == 0)
		cr_checks_add(out, "privileges", CR_CHECK_PASS, NULL,
			      "running as root: uid ranges and cgroups available");
	else
		cr_checks_add(out, "privileges", CR_CHECK_WARN, "run `cleanroom serve` as root",
			      "not root: sandboxes map a single uid and resource limits are unavailable");
}

static void check_cgroups(cr_checks *out)
{
	cr_cgroup_layout l = {0};
	if (cr_cgroup_detect(&l, NULL) < 0) {
		cr_checks_add(out, "cgroups", CR_CHECK_FAIL, "mount cgroup2 on /sys/fs/cgroup",
			      "no cgroup hierarchy found");
		return;
	}
	cleanup_free char *desc = cr_cgroup_describe(&l);
	bool all = l.mount[CR_CG_MEMORY] && l.mount[CR_CG_PIDS] && l.mount[CR_CG_CPU];
	cr_checks_add(out, "cgroups", all ? CR_CHECK_PASS : CR_CHECK_WARN,
		      "enable the memory, pids and cpu controllers (cgroup v1 or v2)", "%s", desc);
	cr_cgroup_layout_clear(&l);
}

static void check_kernel(cr_checks *out)
{
	struct utsname u;
	uname(&u);
	cr_checks_add(out, "kernel", CR_CHECK_PASS, NULL, "%s %s", u.sysname, u.release);
	cr_checks_add(out, "landlock", cr_harden_landlock_available() ? CR_CHECK_PASS : CR_CHECK_WARN,
		      "use a kernel with CONFIG_SECURITY_LANDLOCK and landlock in the lsm= list",
		      cr_harden_landlock_available() ? "available"
						     : "not available: writes are limited by mounts only");
}

void cr_netns_doctor(cr_checks *out)
{
	check_kernel(out);
	check_userns(out);
	check_root(out);
	check_cgroups(out);
}
