/* SPDX-License-Identifier: Apache-2.0 */
/* fileio.h -- reading whole files under a size cap. */
#pragma once

#include <stddef.h>

#include "util/error.h"

enum {
	CR_READ_NOFOLLOW = 1 << 0, /* never follow a final symlink */
	CR_READ_BENEATH = 1 << 1, /* path must resolve inside dirfd: no "..", absolute or escaping symlinks */
};

/* Reads the regular file `path` (relative to dirfd, or AT_FDCWD) into a new
 * NUL-terminated buffer, with the CR_READ_* `flags`. Fails with E2BIG when it
 * is larger than `cap` bytes and when it is not a regular file. On success
 * *out is owned by the caller. */
int cr_read_file_at(int dirfd, const char *path, size_t cap, int flags, char **out, size_t *len,
		    cr_error **err);

static inline int cr_read_file(const char *path, size_t cap, char **out, size_t *len, cr_error **err)
{
	return cr_read_file_at(-100 /* AT_FDCWD */, path, cap, 0, out, len, err);
}

/* Writes all of data to fd, retrying after EINTR and partial writes and
 * waiting (poll) while a non-blocking fd is full. Returns 0, or -1 with errno. */
int cr_write_all(int fd, const void *data, size_t len);

/* Returns 1 when `path` (relative to dirfd) exists (a symlink counts, even a
 * dangling one, so that opening it reports the real problem), 0 when it does
 * not, -1 on any other error. */
int cr_path_exists_at(int dirfd, const char *path, cr_error **err);
