/* SPDX-License-Identifier: Apache-2.0 */
/* rootfs.c -- building a sandbox's root filesystem (see rootfs.h). Runs in
 * the sandbox's first process, in its own mount namespace, before the agent
 * starts; errors are returned to the caller, which reports them to the owner
 * and exits. */
#include "backend/netns/rootfs.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/fileio.h"
#include "util/xalloc.h"

const char *const cr_rootfs_writable[] = {"/tmp", "/var/tmp",   "/home", "/root",
					  "/run", "/workspace", "/dev",  NULL};

static const char *const host_dirs[] = {"usr", "etc",   "opt",   "bin",    "sbin",
					"lib", "lib32", "lib64", "libx32", NULL};
static const char *const masked[] = {"etc/cleanroom", NULL};
static const char *const dev_nodes[] = {"null", "zero", "full", "random", "urandom", "tty", NULL};

static int fail(cr_error **err, const char *what, const char *path)
{
	return cr_error_make(err, errno, CR_REASON_RUNTIME_LAUNCH_FAILED, "%s '%s'", what, path);
}

static char *at(const char *root, const char *rel)
{
	return cr_asprintf("%s/%s", root, rel);
}

static int mkdirs(const char *root, const char *rel, mode_t mode, cr_error **err)
{
	cleanup_free char *path = at(root, rel);
	for (char *p = path + strlen(root) + 1; (p = strchr(p, '/')); p++) {
		*p = '\0';
		int rc = mkdir(path, 0755);
		*p = '/';
		if (rc < 0 && errno != EEXIST)
			return fail(err, "mkdir", path);
	}
	if (mkdir(path, mode) < 0 && errno != EEXIST)
		return fail(err, "mkdir", path);
	return 0;
}

/* The flags a remount must keep: in a user namespace, nosuid/nodev/noexec and
 * the atime flags of the original mount are locked. */
static unsigned long locked_flags(const char *path)
{
	struct statvfs sv;
	if (statvfs(path, &sv) < 0)
		return 0;
	unsigned long f = 0;
	f |= (sv.f_flag & ST_NOSUID) ? MS_NOSUID : 0;
	f |= (sv.f_flag & ST_NODEV) ? MS_NODEV : 0;
	f |= (sv.f_flag & ST_NOEXEC) ? MS_NOEXEC : 0;
	f |= (sv.f_flag & ST_NOATIME) ? MS_NOATIME : 0;
	f |= (sv.f_flag & ST_NODIRATIME) ? MS_NODIRATIME : 0;
	f |= (sv.f_flag & ST_RELATIME) ? MS_RELATIME : 0;
	return f;
}

static int remount_ro(const char *path, cr_error **err)
{
	unsigned long flags = MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | locked_flags(path);
	if (mount(NULL, path, NULL, flags, NULL) < 0)
		return fail(err, "remount read-only", path);
	return 0;
}

/* Decodes mountinfo's octal escapes (\040 for a space) in place. */
static void unescape(char *s)
{
	char *out = s;
	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' && s[3] >= '0' &&
		    s[3] <= '7') {
			*out++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 3;
		} else {
			*out++ = *s;
		}
	}
	*out = '\0';
}

/* Remounts read-only every mount at or below `target` (a recursive bind
 * brings the submounts along, each with its own flags). */
static int remount_tree_ro(const char *target, cr_error **err)
{
	cleanup_free char *info = NULL;
	if (cr_read_file("/proc/self/mountinfo", 4u << 20, &info, NULL, err) < 0)
		return -1;
	size_t tl = strlen(target);
	for (char *line = info, *nl; line && *line; line = nl ? nl + 1 : NULL) {
		nl = strchr(line, '\n');
		if (nl)
			*nl = '\0';
		char mnt[PATH_MAX];
		if (sscanf(line, "%*s %*s %*s %*s %4095s", mnt) != 1)
			continue;
		unescape(mnt);
		if (strncmp(mnt, target, tl) == 0 && (mnt[tl] == '\0' || mnt[tl] == '/'))
			if (remount_ro(mnt, err) < 0)
				return -1;
	}
	return 0;
}

static int bind_ro(const char *src, const char *dst, cr_error **err)
{
	if (mount(src, dst, NULL, MS_BIND | MS_REC, NULL) < 0)
		return fail(err, "bind", src);
	return remount_tree_ro(dst, err);
}

static int add_host_dir(const char *root, const char *name, cr_error **err)
{
	cleanup_free char *src = cr_asprintf("/%s", name);
	cleanup_free char *dst = at(root, name);
	struct stat st;
	if (lstat(src, &st) < 0)
		return 0; /* not on this host */
	if (S_ISLNK(st.st_mode)) {
		char target[PATH_MAX];
		ssize_t n = readlink(src, target, sizeof(target) - 1);
		if (n < 0)
			return fail(err, "readlink", src);
		target[n] = '\0';
		return symlink(target, dst) < 0 ? fail(err, "symlink", dst) : 0;
	}
	if (!S_ISDIR(st.st_mode))
		return 0;
	if (mkdir(dst, 0755) < 0 && errno != EEXIST)
		return fail(err, "mkdir", dst);
	return bind_ro(src, dst, err);
}

static int tmpfs(const char *path, const char *mode, uid_t uid, gid_t gid, long long size, cr_error **err)
{
	char opts[128];
	if (size > 0)
		snprintf(opts, sizeof(opts), "mode=%s,uid=%u,gid=%u,size=%lld", mode, uid, gid, size);
	else
		snprintf(opts, sizeof(opts), "mode=%s,uid=%u,gid=%u", mode, uid, gid);
	if (mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV, opts) < 0)
		return fail(err, "mount tmpfs on", path);
	return 0;
}

static int add_writable(const cr_rootfs_spec *s, const char *root, cr_error **err)
{
	static const struct {
		const char *rel, *mode;
		bool owned; /* owned by the workload user rather than root */
	} dirs[] = {
		{"tmp", "1777", false},  {"var/tmp", "1777", false}, {"run", "0755", false},
		{"root", "0700", false}, {"home", "0755", true},     {"workspace", "0755", true},
	};
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		cleanup_free char *path = at(root, dirs[i].rel);
		if (mkdirs(root, dirs[i].rel, 0755, err) < 0 ||
		    tmpfs(path, dirs[i].mode, dirs[i].owned ? s->owner_uid : 0,
			  dirs[i].owned ? s->owner_gid : 0, s->tmpfs_bytes, err) < 0)
			return -1;
	}
	return 0;
}

static int add_dev_node(const char *dev, const char *name, cr_error **err)
{
	cleanup_free char *src = cr_asprintf("/dev/%s", name);
	cleanup_free char *dst = at(dev, name);
	int fd = open(dst, O_CREAT | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0666);
	if (fd < 0)
		return fail(err, "create", dst);
	close(fd);
	if (mount(src, dst, NULL, MS_BIND, NULL) < 0)
		return fail(err, "bind", src);
	return 0;
}

static int add_dev(const char *root, cr_error **err)
{
	cleanup_free char *dev = at(root, "dev");
	if (mkdir(dev, 0755) < 0 && errno != EEXIST)
		return fail(err, "mkdir", dev);
	if (mount("tmpfs", dev, "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=0755,size=1m") < 0)
		return fail(err, "mount tmpfs on", dev);
	for (size_t i = 0; dev_nodes[i]; i++)
		if (add_dev_node(dev, dev_nodes[i], err) < 0)
			return -1;
	cleanup_free char *pts = at(dev, "pts"), *shm = at(dev, "shm");
	if (mkdir(pts, 0755) < 0 || mkdir(shm, 01777) < 0)
		return fail(err, "mkdir", dev);
	if (mount("devpts", pts, "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620") < 0)
		return fail(err, "mount devpts on", pts);
	if (mount("tmpfs", shm, "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777") < 0)
		return fail(err, "mount tmpfs on", shm);
	static const char *const links[][2] = {{"pts/ptmx", "ptmx"},
					       {"/proc/self/fd", "fd"},
					       {"/proc/self/fd/0", "stdin"},
					       {"/proc/self/fd/1", "stdout"},
					       {"/proc/self/fd/2", "stderr"}};
	for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++) {
		cleanup_free char *l = at(dev, links[i][1]);
		if (symlink(links[i][0], l) < 0)
			return fail(err, "symlink", l);
	}
	return 0;
}

static int add_proc_sys(const char *root, cr_error **err)
{
	cleanup_free char *proc = at(root, "proc"), *sys = at(root, "sys");
	if (mkdir(proc, 0555) < 0 || mkdir(sys, 0555) < 0)
		return fail(err, "mkdir", root);
	if (mount("proc", proc, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
		return fail(err, "mount proc on", proc);
	/* Kernel tunables and triggers stay read-only even where this user
	 * namespace would own them (its network sysctls, for instance). */
	static const char *const ro[] = {"sys", "sysrq-trigger", "irq", "bus", NULL};
	for (size_t i = 0; ro[i]; i++) {
		cleanup_free char *p = at(proc, ro[i]);
		if (access(p, F_OK) == 0 && bind_ro(p, p, err) < 0)
			return -1;
	}
	if (mount("sysfs", sys, "sysfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
		return fail(err, "mount sysfs on", sys);
	return 0;
}

static int mask_paths(const char *root, cr_error **err)
{
	for (size_t i = 0; masked[i]; i++) {
		cleanup_free char *p = at(root, masked[i]);
		struct stat st;
		if (stat(p, &st) < 0 || !S_ISDIR(st.st_mode))
			continue;
		if (mount("tmpfs", p, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
			  "mode=0555,size=4k") < 0)
			return fail(err, "mask", p);
	}
	return 0;
}

/* The sandbox's resolver: the gateway, in a file bound over /etc/resolv.conf
 * (which must be a regular file in the view: a symlink would lead the bind
 * elsewhere). */
static int add_resolv_conf(const char *root, const char *src, cr_error **err)
{
	if (!src)
		return 0;
	cleanup_free char *dst = at(root, "etc/resolv.conf");
	struct stat st;
	bool missing = lstat(dst, &st) < 0;
	if (missing || !S_ISREG(st.st_mode))
		return cr_error_make(
			err, 0, CR_REASON_RUNTIME_LAUNCH_FAILED,
			"cannot point the sandbox's resolver at its gateway: /etc/resolv.conf of "
			"the root is %s, not a regular file",
			missing ? "missing" : "a symlink or special file");
	return bind_ro(src, dst, err);
}

static int root_from_host(const char *root, cr_error **err)
{
	if (mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=1m") < 0)
		return fail(err, "mount tmpfs on", root);
	for (size_t i = 0; host_dirs[i]; i++)
		if (add_host_dir(root, host_dirs[i], err) < 0)
			return -1;
	return 0;
}

/* Image root: overlay of the image (lower) and a private tmpfs (upper). */
static int root_from_image(const cr_rootfs_spec *s, const char *root, cr_error **err)
{
	cleanup_free char *rw = cr_asprintf("%s.rw", root); /* created by the owner */
	if (tmpfs(rw, "0700", 0, 0, s->tmpfs_bytes, err) < 0)
		return -1;
	cleanup_free char *upper = at(rw, "upper"), *work = at(rw, "work");
	if (mkdir(upper, 0755) < 0 || mkdir(work, 0700) < 0)
		return fail(err, "mkdir", rw);
	cleanup_free char *opts =
		cr_asprintf("lowerdir=%s,upperdir=%s,workdir=%s,userxattr", s->image_dir, upper, work);
	if (mount("overlay", root, "overlay", MS_NOSUID | MS_NODEV, opts) < 0)
		return fail(err, "mount overlay of image", s->image_dir);
	return 0;
}

static int pivot(const char *root, cr_error **err)
{
	/* pivot_root(".", ".") stacks the old root under the new one; detaching
	 * it then leaves only the new root (no directory for the old one). */
	if (chdir(root) < 0)
		return fail(err, "chdir", root);
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		return fail(err, "pivot_root to", root);
	if (umount2(".", MNT_DETACH) < 0)
		return fail(err, "detach old root from", root);
	if (chdir("/") < 0)
		return fail(err, "chdir", "/");
	if (mount(NULL, "/", NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, NULL) < 0)
		return fail(err, "remount read-only", "/");
	return 0;
}

int cr_rootfs_build(const cr_rootfs_spec *s, cr_error **err)
{
	const char *root = s->root_dir;
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return fail(err, "make private", "/");
	int rc = s->image_dir ? root_from_image(s, root, err) : root_from_host(root, err);
	if (rc < 0 || add_writable(s, root, err) < 0 || add_dev(root, err) < 0 ||
	    add_proc_sys(root, err) < 0 || mask_paths(root, err) < 0 ||
	    add_resolv_conf(root, s->resolv_conf, err) < 0)
		return -1;
	return 0;
}

int cr_rootfs_pivot(const char *root_dir, cr_error **err)
{
	return pivot(root_dir, err);
}
