/* SPDX-License-Identifier: Apache-2.0 */
/* lock.c -- single flight across processes: one lock file per key under
 * locks/ (named by the SHA-256 of the key text, so any key is a safe file
 * name), held with flock(LOCK_EX). The kernel releases a dead holder's lock.
 * gc may unlink an old, unheld lock file; a taker therefore checks, once it
 * holds the lock, that the file it locked is still the one at that name, and
 * starts over otherwise (two holders of two different inodes would both
 * believe they own the key). */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cache/cache_internal.h"

void cr_cache_lock_name(const char *key, char out[CR_SHA256_HEX_LEN + 1])
{
	cr_sha256_hex(key, strlen(key), out);
}

/* 1 when fd is the file currently named `name` in locks/. */
static int still_linked(cr_cache *c, int fd, const char *name)
{
	struct stat a, b;
	if (fstat(fd, &a) < 0)
		return -1;
	if (fstatat(c->locks_fd, name, &b, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : -1;
	return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

int cr_cache_lock_try(cr_cache *c, const char *key, cr_error **err)
{
	char name[CR_SHA256_HEX_LEN + 1];
	if (cr_cache_writable(c, "take key lock", err) < 0 || cr_cache_check_key(key, err) < 0)
		return -1;
	cr_cache_lock_name(key, name);
	for (int attempt = 0; attempt < 16; attempt++) {
		int fd = openat(c->locks_fd, name, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd < 0)
			return cr_error_make(err, errno, CR_REASON_INTERNAL, "open cache lock '%s/locks/%s'",
					     c->dir, name);
		if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
			int e = errno;
			close(fd);
			if (e == EWOULDBLOCK)
				return -2;
			return cr_error_make(err, e, CR_REASON_INTERNAL, "lock '%s/locks/%s'", c->dir, name);
		}
		int linked = still_linked(c, fd, name);
		if (linked == 1)
			return fd;
		int e = errno;
		close(fd);
		if (linked < 0)
			return cr_error_make(err, e, CR_REASON_INTERNAL, "check cache lock '%s/locks/%s'",
					     c->dir, name);
	}
	return cr_error_make(err, EAGAIN, CR_REASON_INTERNAL, "cache lock '%s/locks/%s' keeps being replaced",
			     c->dir, name);
}

void cr_cache_unlock(cr_cache *c, int lock_fd)
{
	(void)c;
	if (lock_fd >= 0)
		close(lock_fd);
}

int cr_cache_key_locked(cr_cache *c, const char *key)
{
	char name[CR_SHA256_HEX_LEN + 1];
	cr_cache_lock_name(key, name);
	int fd = openat(c->locks_fd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return 0; /* never locked (or its file was collected): nobody holds it */
	int held = flock(fd, LOCK_SH | LOCK_NB) < 0 && errno == EWOULDBLOCK;
	close(fd); /* releases the probe's shared lock */
	return held;
}
