/* SPDX-License-Identifier: Apache-2.0 */
/* readfile.c -- files back out of a sandbox, and the two hidden commands the
 * agent runs inside it.
 *
 * cr_workspace_read_file resolves the path beneath a directory fd with
 * openat2 (no "..", no absolute or escaping symlinks, no /proc magic links),
 * accepts only a regular file and copies at most `max` bytes of it, failing
 * rather than truncating when the file is or becomes larger. `cleanroom
 * __extract` and `cleanroom __read-file` are the thin command-line wrappers
 * the agent execs as the workload user. */
#include "workspace/workspace.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/xalloc.h"
#include "util/fileio.h"
#include "util/syscalls.h"

static int open_beneath(int dirfd, const char *path, const char *shown, cr_error **err)
{
	/* O_NONBLOCK: opening a fifo must not hang waiting for a writer; it is
	 * refused below like every other non-regular file. */
	struct open_how how = {.flags = O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC,
			       .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS};
	int fd = cr_openat2(dirfd, path, &how);
	if (fd < 0 && errno == EXDEV)
		return cr_error_make(err, EXDEV, CR_REASON_NONE,
				     "read '%s': it resolves outside the directory", shown);
	if (fd < 0)
		return cr_error_make(err, errno, CR_REASON_NONE, "read '%s'", shown);
	return fd;
}

static int copy_capped(int fd, const char *shown, uint64_t max, int out_fd, cr_error **err)
{
	char buf[65536];
	uint64_t total = 0;
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return cr_error_make(err, errno, CR_REASON_INTERNAL, "read '%s'", shown);
		if (n == 0)
			return 0;
		total += (uint64_t)n;
		if (total > max) /* grew since fstat */
			return cr_error_make(err, E2BIG, CR_REASON_NONE,
					     "read '%s': more than %" PRIu64 " bytes", shown, max);
		if (cr_write_all(out_fd, buf, (size_t)n) < 0)
			return cr_error_make(err, errno, CR_REASON_INTERNAL, "read '%s': write", shown);
	}
}

/* cr_workspace_read_file, with the name messages use given separately. */
static int read_file_as(int dirfd, const char *path, const char *shown, uint64_t max, int out_fd,
			cr_error **err)
{
	cleanup_close int fd = open_beneath(dirfd, path, shown, err);
	if (fd < 0)
		return -1;
	struct stat st;
	if (fstat(fd, &st) < 0)
		return cr_error_make(err, errno, CR_REASON_INTERNAL, "read '%s': stat", shown);
	if (!S_ISREG(st.st_mode))
		return cr_error_make(err, 0, CR_REASON_NONE, "read '%s': not a regular file", shown);
	if ((uint64_t)st.st_size > max)
		return cr_error_make(err, E2BIG, CR_REASON_NONE, "read '%s': %lld bytes, more than %" PRIu64,
				     shown, (long long)st.st_size, max);
	return copy_capped(fd, shown, max, out_fd, err);
}

int cr_workspace_read_file(int dirfd, const char *path, uint64_t max, int out_fd, cr_error **err)
{
	return read_file_as(dirfd, path, path, max, out_fd, err);
}

/* Prints "cleanroom <cmd>: error: <msg>" and returns the exit status 1. */
static int fail(const char *cmd, const char *msg)
{
	fprintf(stderr, "cleanroom %s: error: %s\n", cmd, msg);
	return 1;
}

/* mkdir -p, for --create: the destination of an upload may not exist yet
 * (errors show up when it is opened). */
static void make_dirs(const char *path)
{
	cleanup_free char *p = cr_xstrdup(path);
	for (char *s = p + 1; *s; s++)
		if (*s == '/') {
			*s = '\0';
			(void)mkdir(p, 0755);
			*s = '/';
		}
	(void)mkdir(p, 0755);
}

/* Flags after DIR: --create (mkdir -p DIR first), --summary (print what was
 * written on stdout, for the owner: netns_files.c reads it back). */
static int extract_flags(int argc, char **argv, bool *create, bool *summary)
{
	for (int i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--create") == 0)
			*create = true;
		else if (strcmp(argv[i], "--summary") == 0)
			*summary = true;
		else
			return -1;
	}
	return argc >= 2 ? 0 : -1;
}

int cmd_extract(int argc, char **argv)
{
	const char *cmd = argc > 0 ? argv[0] : "__extract";
	bool create = false, summary = false;
	if (extract_flags(argc, argv, &create, &summary) < 0)
		return fail(cmd,
			    "usage: cleanroom __extract DIR [--create] [--summary] (a tar stream on stdin)");
	if (create)
		make_dirs(argv[1]);
	cleanup_close int dirfd = open(argv[1], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0) {
		cleanup_error cr_error *oerr = NULL;
		cr_error_make(&oerr, errno, CR_REASON_NONE, "open '%s'", argv[1]);
		return fail(cmd, oerr->msg);
	}
	cleanup_error cr_error *err = NULL;
	cr_workspace_stats st = {0};
	if (cr_workspace_extract(STDIN_FILENO, dirfd, NULL, &st, &err) < 0)
		return fail(cmd, err->msg);
	if (!summary)
		return 0;
	printf("files %llu dirs %llu symlinks %llu bytes %llu\n", (unsigned long long)st.files,
	       (unsigned long long)st.dirs, (unsigned long long)st.symlinks, (unsigned long long)st.bytes);
	return fflush(stdout) == 0 ? 0 : 1;
}

/* Parses MAX: decimal digits only, no sign, no overflow. */
static int parse_max(const char *s, uint64_t *out)
{
	if (!*s || strspn(s, "0123456789") != strlen(s))
		return -1;
	errno = 0;
	unsigned long long v = strtoull(s, NULL, 10);
	if (errno == ERANGE)
		return -1;
	*out = v;
	return 0;
}

int cmd_read_file(int argc, char **argv)
{
	const char *cmd = argc > 0 ? argv[0] : "__read-file";
	uint64_t max = 0;
	if (argc != 3 || argv[1][0] != '/' || parse_max(argv[2], &max) < 0)
		return fail(cmd, "usage: cleanroom __read-file /ABSOLUTE/PATH MAX_BYTES");
	cleanup_close int root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (root < 0)
		return fail(cmd, "open /");
	/* Beneath "/": the sandbox's root, without /proc magic-link tricks. */
	const char *rel = argv[1] + strspn(argv[1], "/");
	cleanup_error cr_error *err = NULL;
	if (read_file_as(root, *rel ? rel : ".", argv[1], max, STDOUT_FILENO, &err) < 0)
		return fail(cmd, err->msg);
	return 0;
}
