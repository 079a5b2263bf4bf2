/* SPDX-License-Identifier: Apache-2.0 */
/* fileio.c -- capped whole-file reads. */
#include "util/fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/buf.h"
#include "util/cleanup.h"
#include "util/syscalls.h"

static int read_all(int fd, const char *path, size_t cap, cr_buf *b, cr_error **err)
{
	char chunk[16384];
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return cr_error_make(err, errno, CR_REASON_INTERNAL, "read '%s'", path);
		if (n == 0)
			return 0;
		if (cr_buf_append(b, chunk, (size_t)n) < 0)
			return cr_error_make(err, E2BIG, CR_REASON_NONE, "'%s' is larger than %zu bytes",
					     path, cap);
	}
}

static int open_for_read(int dirfd, const char *path, int flags)
{
	int oflags = O_RDONLY | O_CLOEXEC | O_NOCTTY | ((flags & CR_READ_NOFOLLOW) ? O_NOFOLLOW : 0);
	if (!(flags & CR_READ_BENEATH))
		return openat(dirfd, path, oflags);
	struct open_how how = {.flags = (unsigned long long)oflags,
			       .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS};
	return cr_openat2(dirfd, path, &how);
}

int cr_read_file_at(int dirfd, const char *path, size_t cap, int flags, char **out, size_t *len,
		    cr_error **err)
{
	cleanup_close int fd = open_for_read(dirfd, path, flags);
	if (fd < 0 && errno == EXDEV)
		return cr_error_make(err, 0, CR_REASON_NONE, "open '%s': it resolves outside the repository",
				     path);
	if (fd < 0)
		return cr_error_make(err, errno, CR_REASON_NONE, "open '%s'", path);
	struct stat st;
	if (fstat(fd, &st) < 0)
		return cr_error_make(err, errno, CR_REASON_INTERNAL, "stat '%s'", path);
	if (!S_ISREG(st.st_mode))
		return cr_error_make(err, 0, CR_REASON_NONE, "'%s' is not a regular file", path);
	if ((unsigned long long)st.st_size > cap)
		return cr_error_make(err, E2BIG, CR_REASON_NONE, "'%s' is larger than %zu bytes", path, cap);
	cleanup_buf cr_buf b;
	cr_buf_init(&b, cap);
	if (read_all(fd, path, cap, &b, err) < 0)
		return -1;
	*out = cr_buf_steal(&b, len);
	return 0;
}

int cr_path_exists_at(int dirfd, const char *path, cr_error **err)
{
	struct stat st;
	if (fstatat(dirfd, path, &st, AT_SYMLINK_NOFOLLOW) == 0)
		return 1;
	if (errno == ENOENT || errno == ENOTDIR)
		return 0;
	return cr_error_make(err, errno, CR_REASON_INTERNAL, "stat '%s'", path);
}

int cr_write_all(int fd, const void *data, size_t len)
{
	const unsigned char *p = data;
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			struct pollfd pfd = {.fd = fd, .events = POLLOUT};
			if (poll(&pfd, 1, -1) < 0 && errno != EINTR)
				return -1;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}
