/* SPDX-License-Identifier: Apache-2.0 */
/* landlock.c -- a Landlock ruleset that confines filesystem writes of the
 * sandbox to its writable directories (/tmp, /home, /workspace, ...), as a
 * second wall behind the read-only mounts: should a mount be missed or made
 * writable by mistake, writing there still fails. Only write-side rights are
 * handled, so reading and executing stay allowed everywhere; the network is
 * not restricted here (the backend's network namespace does that).
 *
 * Landlock needs no_new_privs (or CAP_SYS_ADMIN): the caller calls
 * cr_harden_no_new_privs() first. */
#include "backend/netns/harden.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/landlock.h>
#include <stdint.h>
#include <sys/stat.h>

#include "util/cleanup.h"
#include "util/syscalls.h"

/* Rights of newer ABIs, for older kernel headers (Debian 12 ships ABI 2). */
#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE (1ULL << 14)
#endif

/* ABI 1: every right that changes the filesystem. */
#define WRITE_RIGHTS_V1                                                                                   \
	(LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_REMOVE_DIR | LANDLOCK_ACCESS_FS_REMOVE_FILE | \
	 LANDLOCK_ACCESS_FS_MAKE_CHAR | LANDLOCK_ACCESS_FS_MAKE_DIR | LANDLOCK_ACCESS_FS_MAKE_REG |       \
	 LANDLOCK_ACCESS_FS_MAKE_SOCK | LANDLOCK_ACCESS_FS_MAKE_FIFO | LANDLOCK_ACCESS_FS_MAKE_BLOCK |    \
	 LANDLOCK_ACCESS_FS_MAKE_SYM)

/* The rights that apply to a regular file (the others only to directories). */
#define FILE_RIGHTS (LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_TRUNCATE)

/* Highest ABI version, or 0 when the kernel has no Landlock (not built,
 * or not enabled by the "lsm=" boot parameter). */
static int landlock_abi(void)
{
	int abi = cr_landlock_create_ruleset(NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
	return abi < 0 ? 0 : abi;
}

bool cr_harden_landlock_available(void)
{
	return landlock_abi() > 0;
}

/* The handled rights the running ABI knows. REFER (ABI 2) makes linking and
 * renaming across directories possible at all (ABI 1 denies it outright).
 * TRUNCATE (ABI 3) closes truncate(2) on read-only files. IOCTL_DEV (ABI 5)
 * is left out: it would deny terminal ioctls on /dev/pts and /dev/tty, which
 * are not beneath a writable directory. ABI 4 (network) and 6 (scoping)
 * are not used. */
static uint64_t handled_rights(int abi)
{
	uint64_t rights = WRITE_RIGHTS_V1;
	if (abi >= 2)
		rights |= LANDLOCK_ACCESS_FS_REFER;
	if (abi >= 3)
		rights |= LANDLOCK_ACCESS_FS_TRUNCATE;
	return rights;
}

/* Device files that every program expects to open for writing ("> /dev/null",
 * terminals); only file rights are granted, so nothing can be created in /dev.
 * Missing ones are skipped. */
const char *const cr_harden_landlock_devices[] = {
	"/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom",
	"/dev/tty",  "/dev/ptmx", "/dev/pts",  NULL,
};

static int allow_beneath(int ruleset_fd, const char *dir, uint64_t rights, bool optional, cr_error **err)
{
	cleanup_close int fd = open(dir, O_PATH | O_CLOEXEC);
	if (fd < 0 && optional && errno == ENOENT)
		return 0;
	if (fd < 0)
		return cr_error_make(err, errno, CR_REASON_RUNTIME_LAUNCH_FAILED, "open writable path '%s'",
				     dir);
	struct stat st;
	if (fstat(fd, &st) < 0)
		return cr_error_make(err, errno, CR_REASON_RUNTIME_LAUNCH_FAILED, "stat writable path '%s'",
				     dir);
	struct landlock_path_beneath_attr rule = {
		.allowed_access = S_ISDIR(st.st_mode) ? rights : rights & FILE_RIGHTS,
		.parent_fd = fd,
	};
	if (cr_landlock_add_rule(ruleset_fd, LANDLOCK_RULE_PATH_BENEATH, &rule, 0) < 0)
		return cr_error_make(err, errno, CR_REASON_RUNTIME_LAUNCH_FAILED, "landlock rule for '%s'",
				     dir);
	return 0;
}

int cr_harden_landlock(const char *const *writable_dirs, cr_error **err)
{
	int abi = landlock_abi();
	if (abi == 0)
		return 0;
	struct landlock_ruleset_attr attr = {.handled_access_fs = handled_rights(abi)};
	cleanup_close int ruleset_fd = cr_landlock_create_ruleset(&attr, sizeof(attr), 0);
	if (ruleset_fd < 0 && (errno == ENOSYS || errno == EOPNOTSUPP))
		return 0;
	if (ruleset_fd < 0)
		return cr_error_make(err, errno, CR_REASON_RUNTIME_LAUNCH_FAILED, "create landlock ruleset");
	for (const char *const *d = writable_dirs; d && *d; d++)
		if (allow_beneath(ruleset_fd, *d, attr.handled_access_fs, false, err) < 0)
			return -1;
	for (const char *const *d = cr_harden_landlock_devices; *d; d++)
		if (allow_beneath(ruleset_fd, *d, attr.handled_access_fs & FILE_RIGHTS, true, err) < 0)
			return -1;
	if (cr_landlock_restrict_self(ruleset_fd, 0) < 0)
		return cr_error_make(err, errno, CR_REASON_RUNTIME_LAUNCH_FAILED,
				     "enforce landlock ruleset (is no_new_privs set?)");
	return 1;
}
