/* SPDX-License-Identifier: Apache-2.0 */
/* cgroup.c -- a sandbox's cgroup: where the memory, pids and cpu controllers
 * live (cgroup v2, v1, or a hybrid of both, found in /proc/self/mountinfo),
 * one directory per hierarchy that holds a needed controller, the limits
 * written into it, its OOM-kill count, and a teardown that kills whatever is
 * left inside and removes the directory. Every file written is a cgroupfs
 * control file under a mount point the kernel reported; nothing here follows
 * a path that comes from a sandbox. */
#include "backend/netns/cgroup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/buf.h"
#include "util/cleanup.h"
#include "util/fileio.h"
#include "util/xalloc.h"

#define MOUNTINFO_CAP   (8u << 20)
#define CONTROL_CAP     (64u << 10)
#define PROCS_CAP       (4u << 20)
#define CPU_PERIOD_US   100000LL
#define CPU_MIN_QUOTA   1000LL /* the kernel's minimum cfs quota */
#define KILL_WAIT_MS    2000
#define RMDIR_WAIT_MS   1000
#define MAX_CHILD_DEPTH 16

static const char *const controller_names[CR_CG__COUNT] = {"memory", "pids", "cpu"};

/* ---- detection ---------------------------------------------------------- */

/* True when `word` is one of the `sep`-separated tokens of `list`. */
static bool has_token(const char *list, const char *word, const char *sep)
{
	size_t wl = strlen(word);
	for (const char *p = list; *p;) {
		size_t n = strcspn(p, sep);
		if (n == wl && strncmp(p, word, wl) == 0)
			return true;
		p += n;
		p += strspn(p, sep);
	}
	return false;
}

/* Mount points in mountinfo escape space, tab, newline and backslash as \ooo. */
static char *unescape_field(const char *s, size_t n)
{
	char *out = cr_xmalloc(n + 1);
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\\' && i + 3 < n && s[i + 1] >= '0' && s[i + 1] <= '3' && s[i + 2] >= '0' &&
		    s[i + 2] <= '7' && s[i + 3] >= '0' && s[i + 3] <= '7') {
			out[o++] = (char)((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0'));
			i += 3;
		} else {
			out[o++] = s[i];
		}
	}
	out[o] = '\0';
	return out;
}

typedef struct mount_entry {
	char *mount_point;
	char *fstype;
	char *super_opts;
} mount_entry;

static void mount_entry_clear(mount_entry *m)
{
	free(m->mount_point);
	free(m->fstype);
	free(m->super_opts);
}

/* Splits one mountinfo line ("ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS
 * [OPTIONAL...] - FSTYPE SOURCE SUPEROPTS"). Returns false when malformed. */
static bool parse_mount_line(const char *line, size_t len, mount_entry *m)
{
	const char *field[64];
	size_t flen[64], n = 0;
	for (size_t i = 0; i < len && n < 64;) {
		while (i < len && line[i] == ' ')
			i++;
		size_t start = i;
		while (i < len && line[i] != ' ')
			i++;
		if (i > start) {
			field[n] = line + start;
			flen[n++] = i - start;
		}
	}
	size_t sep = 6;
	while (sep < n && !(flen[sep] == 1 && field[sep][0] == '-'))
		sep++;
	if (sep + 3 >= n)
		return false;
	m->mount_point = unescape_field(field[4], flen[4]);
	m->fstype = cr_xstrndup(field[sep + 1], flen[sep + 1]);
	m->super_opts = cr_xstrndup(field[sep + 3], flen[sep + 3]);
	return true;
}

static void take_v1_controllers(const mount_entry *m, cr_cgroup_layout *l)
{
	for (int c = 0; c < CR_CG__COUNT; c++) {
		if (!l->mount[c] && has_token(m->super_opts, controller_names[c], ",")) {
			l->mount[c] = cr_xstrdup(m->mount_point);
			l->v2[c] = false;
		}
	}
}

/* A controller the v2 hierarchy offers wins over a v1 mount of it. */
static void take_v2_controllers(const char *controllers, cr_cgroup_layout *l)
{
	for (int c = 0; c < CR_CG__COUNT; c++) {
		if (!has_token(controllers, controller_names[c], " \t\n"))
			continue;
		free(l->mount[c]);
		l->mount[c] = cr_xstrdup(l->v2_mount);
		l->v2[c] = true;
	}
}

static void scan_line(const char *line, size_t len, cr_cgroup_layout *l)
{
	mount_entry m = {0};
	if (!parse_mount_line(line, len, &m))
		return;
	if (strcmp(m.fstype, "cgroup") == 0)
		take_v1_controllers(&m, l);
	else if (strcmp(m.fstype, "cgroup2") == 0 && !l->v2_mount)
		l->v2_mount = cr_xstrdup(m.mount_point);
	mount_entry_clear(&m);
}

int cr_cgroup_detect_from(const char *mountinfo, cr_cgroup_controllers_fn read_controllers, void *data,
			  cr_cgroup_layout *l, cr_error **err)
{
	(void)err;
	*l = (cr_cgroup_layout){0};
	for (const char *p = mountinfo; p && *p;) {
		size_t len = strcspn(p, "\n");
		scan_line(p, len, l);
		p += len;
		if (*p == '\n')
			p++;
	}
	if (l->v2_mount && read_controllers) {
		cleanup_free char *controllers = read_controllers(l->v2_mount, data);
		if (controllers)
			take_v2_controllers(controllers, l);
	}
	return 0;
}

static char *read_v2_controllers(const char *mount, void *data)
{
	(void)data;
	cleanup_free char *path = cr_asprintf("%s/cgroup.controllers", mount);
	cleanup_error cr_error *err = NULL;
	char *text = NULL;
	size_t len;
	if (cr_read_file(path, CONTROL_CAP, &text, &len, &err) < 0)
		return NULL;
	return text;
}

int cr_cgroup_detect(cr_cgroup_layout *l, cr_error **err)
{
	cleanup_free char *mountinfo = NULL;
	size_t len;
	if (cr_read_file("/proc/self/mountinfo", MOUNTINFO_CAP, &mountinfo, &len, err) < 0)
		return cr_error_wrap(err, "detect cgroup controllers");
	return cr_cgroup_detect_from(mountinfo, read_v2_controllers, NULL, l, err);
}

void cr_cgroup_layout_clear(cr_cgroup_layout *l)
{
	if (!l)
		return;
	for (int c = 0; c < CR_CG__COUNT; c++)
		free(l->mount[c]);
	free(l->v2_mount);
	*l = (cr_cgroup_layout){0};
}

/* "memory, pids" of the controllers whose v2 flag is `v2` (or missing). */
static void list_controllers(const cr_cgroup_layout *l, int which, cr_buf *b)
{
	size_t before = b->len;
	for (int c = 0; c < CR_CG__COUNT; c++) {
		int kind = !l->mount[c] ? 2 : l->v2[c] ? 1 : 0;
		if (kind == which)
			cr_buf_printf(b, "%s%s", b->len > before ? ", " : "", controller_names[c]);
	}
	if (b->len == before)
		cr_buf_puts(b, "none");
}

char *cr_cgroup_describe(const cr_cgroup_layout *l)
{
	int n_v1 = 0, n_v2 = 0, n_missing = 0;
	for (int c = 0; c < CR_CG__COUNT; c++)
		*(!l->mount[c] ? &n_missing : l->v2[c] ? &n_v2 : &n_v1) += 1;
	cr_buf b;
	cr_buf_init(&b, 1024);
	if (n_v1 && l->v2_mount)
		cr_buf_puts(&b, "hybrid: ");
	if (!n_v1 && !l->v2_mount)
		cr_buf_puts(&b, "no cgroup hierarchy");
	if (n_v1) {
		cr_buf_puts(&b, "v1 (");
		list_controllers(l, 0, &b);
		cr_buf_puts(&b, ")");
	}
	if (l->v2_mount) {
		cr_buf_puts(&b, n_v1 ? ", v2 (" : "v2 (");
		list_controllers(l, 1, &b);
		cr_buf_puts(&b, ")");
	}
	if (n_missing) {
		cr_buf_puts(&b, "; unavailable: ");
		list_controllers(l, 2, &b);
	}
	return cr_buf_steal(&b, NULL);
}

/* ---- control files ------------------------------------------------------ */

static int write_control(const char *dir, const char *file, const char *value, cr_error **err)
{
	cleanup_free char *path = cr_asprintf("%s/%s", dir, file);
	cleanup_close int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return cr_error_make(err, errno, CR_REASON_RUNTIME_LAUNCH_FAILED, "open '%s'", path);
	size_t len = strlen(value);
	ssize_t n = write(fd, value, len);
	if (n < 0 || (size_t)n != len)
		return cr_error_make(err, n < 0 ? errno : EIO, CR_REASON_RUNTIME_LAUNCH_FAILED,
				     "write '%s' to '%s'", value, path);
	return 0;
}

/* Like write_control, but a control file the kernel does not offer (swap
 * accounting off, ...) is not an error. */
static int write_optional(const char *dir, const char *file, const char *value, cr_error **err)
{
	cleanup_free char *path = cr_asprintf("%s/%s", dir, file);
	if (access(path, F_OK) < 0 && errno == ENOENT)
		return 0;
	return write_control(dir, file, value, err);
}

static int read_control(const char *dir, const char *file, size_t cap, char **out, cr_error **err)
{
	cleanup_free char *path = cr_asprintf("%s/%s", dir, file);
	size_t len;
	return cr_read_file(path, cap, out, &len, err);
}

/* The value of the "key N" line of a flat-keyed control file, or 0. */
static uint64_t read_keyed(const char *dir, const char *file, const char *key, bool *found)
{
	cleanup_error cr_error *err = NULL;
	cleanup_free char *text = NULL;
	*found = false;
	if (read_control(dir, file, CONTROL_CAP, &text, &err) < 0)
		return 0;
	size_t kl = strlen(key);
	for (const char *p = text; *p; p += strcspn(p, "\n"), p += (*p == '\n')) {
		if (strncmp(p, key, kl) == 0 && p[kl] == ' ') {
			*found = true;
			return strtoull(p + kl + 1, NULL, 10);
		}
	}
	return 0;
}

static uint64_t read_number(const char *dir, const char *file, bool *found)
{
	cleanup_error cr_error *err = NULL;
	cleanup_free char *text = NULL;
	*found = read_control(dir, file, CONTROL_CAP, &text, &err) == 0;
	return *found ? strtoull(text, NULL, 10) : 0;
}

/* ---- creation ----------------------------------------------------------- */

/* A relative path of plain components: no "", "." or "..", no leading '/'. */
static int check_name(const char *name, cr_error **err)
{
	for (const char *p = name;;) {
		size_t n = strcspn(p, "/");
		if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
			return cr_error_make(err, EINVAL, CR_REASON_INTERNAL, "bad cgroup name '%s'", name);
		p += n;
		if (!*p)
			return 0;
		p++;
	}
}

static void push_unique(char ***dirs, size_t *n, size_t *cap, const char *dir)
{
	for (size_t i = 0; i < *n; i++)
		if (strcmp((*dirs)[i], dir) == 0)
			return;
	*dirs = cr_xgrow(*dirs, cap, *n + 1, sizeof(**dirs));
	(*dirs)[(*n)++] = cr_xstrdup(dir);
}

static void free_dirs(char **dirs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(dirs[i]);
	free(dirs);
}

int cr_cgroup_plan(const cr_cgroup_layout *l, const char *name, char ***dirs, size_t *n, cr_error **err)
{
	if (check_name(name, err) < 0)
		return -1;
	char **out = NULL;
	size_t count = 0, cap = 0;
	for (int c = 0; c < CR_CG__COUNT; c++) {
		if (!l->mount[c])
			continue;
		cleanup_free char *dir = cr_asprintf("%s/%s", l->mount[c], name);
		push_unique(&out, &count, &cap, dir);
	}
	*dirs = out;
	*n = count;
	return 0;
}

/* A requested limit whose controller is missing is refused: a limit is never
 * silently unenforced. */
static int check_limits(const cr_cgroup_layout *l, const cr_cgroup_limits *lim, cr_error **err)
{
	long long wanted[CR_CG__COUNT] = {lim->memory_bytes, lim->pids, lim->millicpus};
	for (int c = 0; c < CR_CG__COUNT; c++) {
		if (wanted[c] < 0)
			return cr_error_make(err, EINVAL, CR_REASON_RUNTIME_LAUNCH_FAILED,
					     "negative %s limit %lld", controller_names[c], wanted[c]);
		if (wanted[c] > 0 && !l->mount[c])
			return cr_error_make(
				err, 0, CR_REASON_RUNTIME_LAUNCH_FAILED,
				"a %s limit is requested but this host has no %s cgroup controller",
				controller_names[c], controller_names[c]);
	}
	return 0;
}

/* In v2, a child cgroup has a controller only when every ancestor enables it
 * in cgroup.subtree_control. */
static int enable_v2_controllers(const cr_cgroup_layout *l, const char *parent, cr_error **err)
{
	cleanup_free char *enabled = NULL;
	if (read_control(parent, "cgroup.subtree_control", CONTROL_CAP, &enabled, err) < 0)
		return -1;
	for (int c = 0; c < CR_CG__COUNT; c++) {
		if (!l->mount[c] || !l->v2[c] || has_token(enabled, controller_names[c], " \n"))
			continue;
		cleanup_free char *value = cr_asprintf("+%s", controller_names[c]);
		if (write_control(parent, "cgroup.subtree_control", value, err) < 0)
			return -1;
	}
	return 0;
}

/* Creates <mount>/<name> and its missing parents; the leaf must be new. */
static int make_dirs(const cr_cgroup_layout *l, const char *mount, bool v2, const char *name, cr_error **err)
{
	cleanup_free char *path = cr_xstrdup(mount);
	for (const char *p = name; *p;) {
		size_t n = strcspn(p, "/");
		if (v2 && enable_v2_controllers(l, path, err) < 0)
			return -1;
		char *next = cr_asprintf("%s/%.*s", path, (int)n, p);
		free(path);
		path = next;
		p += n;
		p += (*p == '/');
		bool leaf = !*p;
		if (mkdir(path, 0755) < 0 && (leaf || errno != EEXIST))
			return cr_error_make(err, errno, CR_REASON_RUNTIME_LAUNCH_FAILED,
					     "create cgroup '%s'", path);
	}
	return 0;
}

static int write_memory(const char *dir, bool v2, long long bytes, cr_error **err)
{
	char value[32];
	snprintf(value, sizeof(value), "%lld", bytes);
	if (v2) {
		if (write_control(dir, "memory.max", value, err) < 0)
			return -1;
		return write_optional(dir, "memory.swap.max", "0", err);
	}
	/* memsw (memory + swap) may never be below the memory limit: write it second. */
	if (write_control(dir, "memory.limit_in_bytes", value, err) < 0)
		return -1;
	return write_optional(dir, "memory.memsw.limit_in_bytes", value, err);
}

static int write_cpu(const char *dir, bool v2, long long millicpus, cr_error **err)
{
	long long quota = millicpus * (CPU_PERIOD_US / 1000);
	if (quota < CPU_MIN_QUOTA)
		quota = CPU_MIN_QUOTA;
	char value[48];
	if (v2) {
		snprintf(value, sizeof(value), "%lld %lld", quota, CPU_PERIOD_US);
		return write_control(dir, "cpu.max", value, err);
	}
	snprintf(value, sizeof(value), "%lld", CPU_PERIOD_US);
	if (write_control(dir, "cpu.cfs_period_us", value, err) < 0)
		return -1;
	snprintf(value, sizeof(value), "%lld", quota);
	return write_control(dir, "cpu.cfs_quota_us", value, err);
}

static int write_limits(const cr_cgroup *cg, const cr_cgroup_layout *l, const cr_cgroup_limits *lim,
			cr_error **err)
{
	if (lim->memory_bytes > 0 &&
	    write_memory(cg->dir[CR_CG_MEMORY], l->v2[CR_CG_MEMORY], lim->memory_bytes, err) < 0)
		return -1;
	if (lim->pids > 0) {
		char value[32];
		snprintf(value, sizeof(value), "%lld", lim->pids);
		if (write_control(cg->dir[CR_CG_PIDS], "pids.max", value, err) < 0)
			return -1;
	}
	if (lim->millicpus > 0 && write_cpu(cg->dir[CR_CG_CPU], l->v2[CR_CG_CPU], lim->millicpus, err) < 0)
		return -1;
	return 0;
}

void cr_cgroup_free(cr_cgroup *cg)
{
	if (!cg)
		return;
	for (int c = 0; c < CR_CG__COUNT; c++)
		free(cg->dir[c]);
	free_dirs(cg->all_dirs, cg->n_dirs);
	free(cg);
}

CR_DEFINE_CLEANUP(cr_cgroup, cr_cgroup_free)

/* Removes the leaf directories made so far after a failed creation. */
static void undo_create(cr_cgroup *cg, size_t made)
{
	for (size_t i = 0; i < made; i++)
		rmdir(cg->all_dirs[i]);
}

int cr_cgroup_create(const cr_cgroup_layout *l, const char *name, const cr_cgroup_limits *lim,
		     cr_cgroup **out, cr_error **err)
{
	if (check_limits(l, lim, err) < 0)
		return -1;
	__attribute__((cleanup(cr_cgroup_freep))) cr_cgroup *cg = cr_xcalloc(1, sizeof(*cg));
	if (cr_cgroup_plan(l, name, &cg->all_dirs, &cg->n_dirs, err) < 0)
		return -1;
	for (int c = 0; c < CR_CG__COUNT; c++)
		if (l->mount[c])
			cg->dir[c] = cr_asprintf("%s/%s", l->mount[c], name);
	for (size_t made = 0; made < cg->n_dirs; made++) {
		int c = 0;
		while (!cg->dir[c] || strcmp(cg->dir[c], cg->all_dirs[made]) != 0)
			c++;
		if (make_dirs(l, l->mount[c], l->v2[c], name, err) < 0) {
			undo_create(cg, made);
			return -1;
		}
	}
	if (write_limits(cg, l, lim, err) < 0) {
		undo_create(cg, cg->n_dirs);
		return -1;
	}
	*out = steal_pointer(&cg);
	return 0;
}

int cr_cgroup_attach(const cr_cgroup *cg, pid_t pid, cr_error **err)
{
	char value[24];
	snprintf(value, sizeof(value), "%ld", (long)pid);
	for (size_t i = 0; i < cg->n_dirs; i++)
		if (write_control(cg->all_dirs[i], "cgroup.procs", value, err) < 0)
			return -1;
	return 0;
}

uint64_t cr_cgroup_oom_kills(const cr_cgroup *cg)
{
	const char *dir = cg ? cg->dir[CR_CG_MEMORY] : NULL;
	if (!dir)
		return 0;
	bool found;
	uint64_t n = read_keyed(dir, "memory.events", "oom_kill", &found);
	if (found)
		return n;
	return read_keyed(dir, "memory.oom_control", "oom_kill", &found);
}

uint64_t cr_cgroup_memory_peak(const cr_cgroup *cg)
{
	const char *dir = cg ? cg->dir[CR_CG_MEMORY] : NULL;
	if (!dir)
		return 0;
	bool found;
	uint64_t n = read_number(dir, "memory.peak", &found);
	if (found)
		return n;
	return read_number(dir, "memory.max_usage_in_bytes", &found);
}

/* ---- removal ------------------------------------------------------------ */

static void sleep_ms(long ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Sends SIGKILL to every process listed; returns how many were listed, or -1. */
static long kill_listed(const char *dir, bool send, cr_error **err)
{
	cleanup_free char *text = NULL;
	if (read_control(dir, "cgroup.procs", PROCS_CAP, &text, err) < 0)
		return -1;
	long count = 0;
	for (char *p = text; *p;) {
		char *end;
		long pid = strtol(p, &end, 10);
		if (end == p)
			break;
		if (pid > 0) {
			count++;
			if (send)
				kill((pid_t)pid, SIGKILL);
		}
		p = end + strspn(end, "\n");
	}
	return count;
}

long cr_cgroup_procs_count(const char *dir, cr_error **err)
{
	return kill_listed(dir, false, err);
}

static int remove_one(const char *dir, int depth, cr_error **err);

/* Child cgroups first: a directory with children cannot be removed. */
static int remove_children(const char *dir, int depth, cr_error **err)
{
	DIR *d = opendir(dir);
	if (!d)
		return errno == ENOENT
			       ? 0
			       : cr_error_make(err, errno, CR_REASON_INTERNAL, "open cgroup '%s'", dir);
	int rc = 0;
	for (struct dirent *e; rc == 0 && (e = readdir(d));) {
		if (e->d_type != DT_DIR || strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		cleanup_free char *child = cr_asprintf("%s/%s", dir, e->d_name);
		rc = remove_one(child, depth + 1, err);
	}
	closedir(d);
	return rc;
}

static int kill_all(const char *dir, cr_error **err)
{
	cleanup_free char *kill_file = cr_asprintf("%s/cgroup.kill", dir);
	if (access(kill_file, F_OK) == 0)
		write_control(dir, "cgroup.kill", "1", NULL); /* v2 >= 5.14; the loop below is the fallback */
	for (int waited = 0;; waited += 10) {
		cleanup_error cr_error *read_err = NULL;
		long n = kill_listed(dir, true, &read_err);
		if (n < 0 && read_err->status == ENOENT)
			return 0;
		if (n < 0)
			return cr_error_make(err, read_err->status, CR_REASON_INTERNAL, "%s", read_err->msg);
		if (n == 0)
			return 0;
		if (waited >= KILL_WAIT_MS)
			return cr_error_make(err, EBUSY, CR_REASON_INTERNAL,
					     "cgroup '%s' still has %ld processes after SIGKILL", dir, n);
		sleep_ms(10);
	}
}

static int remove_one(const char *dir, int depth, cr_error **err)
{
	if (depth > MAX_CHILD_DEPTH)
		return cr_error_make(err, ELOOP, CR_REASON_INTERNAL, "cgroup '%s' is nested too deeply", dir);
	if (remove_children(dir, depth, err) < 0 || kill_all(dir, err) < 0)
		return -1;
	for (int waited = 0;; waited += 10) {
		if (rmdir(dir) == 0 || errno == ENOENT)
			return 0;
		if (errno != EBUSY || waited >= RMDIR_WAIT_MS)
			return cr_error_make(err, errno, CR_REASON_INTERNAL, "remove cgroup '%s'", dir);
		sleep_ms(10);
	}
}

int cr_cgroup_remove_dir(const char *dir, cr_error **err)
{
	return remove_one(dir, 0, err);
}
