/* SPDX-License-Identifier: Apache-2.0 */
/* cache_status.c -- reading the content cache as its owner (cache_status.h).
 *
 * The server runs as root and must stay root, so it reads the cache's
 * totals and counters in a forked child: the child closes what it inherited
 * (sockets, the store, the gateways' pipes), becomes the cache directory's
 * owner, opens the cache read-only and writes one fixed-size reply on a pipe
 * (same binary on both ends, smaller than PIPE_BUF, so one atomic write).
 * The server is single-threaded, so the child may allocate and use SQLite.
 * The parent polls the pipe against a deadline: an index locked by someone
 * else (SQLite waits up to CR_CACHE_BUSY_MS) costs the status call at most
 * timeout_ms, never the call itself. */
#include "server/cache_status.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/clock.h"
#include "util/xalloc.h"

/* What the child writes back. */
typedef struct reply {
	bool failed;
	cr_cache_report report;
	char msg[1024]; /* the child's error when failed */
} reply;

_Static_assert(sizeof(reply) <= PIPE_BUF, "the reply is written atomically");

/* The child's work, after the fork: as the owner, the cache's numbers. */
static int read_as_owner(const char *dir, uint64_t max_bytes, cr_cache_report *out, cr_error **err)
{
	struct stat sb;
	if (stat(dir, &sb) < 0)
		return cr_error_make(err, errno, CR_REASON_INTERNAL, "cache directory '%s'", dir);
	if (!S_ISDIR(sb.st_mode))
		return cr_error_make(err, ENOTDIR, CR_REASON_INTERNAL, "cache directory '%s'", dir);
	int switched = cr_cache_become_owner(dir, &sb, err);
	if (switched < 0)
		return -1;
	/* created by the server, not used by any gateway yet: an empty cache */
	cleanup_free char *index = cr_asprintf("%s/index.db", dir);
	if (access(index, F_OK) < 0 && errno == ENOENT) {
		out->empty = true;
		out->stats.max_bytes = max_bytes ? max_bytes : CR_CACHE_DEFAULT_LIMIT;
		return 0;
	}
	cleanup_cache cr_cache *c = NULL;
	cr_cache_opts o = {.max_bytes = max_bytes, .read_only = true};
	if (cr_cache_open(dir, &o, &c, err) < 0 || cr_cache_stats_get(c, &out->stats, err) < 0) {
		if (switched && (*err)->status == EACCES)
			cr_error_wrap(err, "as uid %u, the cache directory's owner", (unsigned)sb.st_uid);
		return -1;
	}
	return 0;
}

static void __attribute__((noreturn)) child_main(int fd, const char *dir, uint64_t max_bytes)
{
	/* dies with the server; killed, not interrupted, by the signals the
	 * server's loop handles */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGPIPE, SIG_DFL);
	if (fd > 3)
		close_range(3, (unsigned)fd - 1, 0);
	close_range((unsigned)fd + 1, ~0u, 0);
	reply r = {0};
	cr_error *err = NULL;
	if (read_as_owner(dir, max_bytes, &r.report, &err) < 0) {
		r.failed = true;
		snprintf(r.msg, sizeof(r.msg), "%s", err->msg);
	}
	ssize_t n = write(fd, &r, sizeof(r));
	_exit(n == (ssize_t)sizeof(r) ? 0 : 1);
}

/* Reads the reply until the deadline: 0; -1 with *err (timeout, read
 * error); -2 when the child ended without answering (its exit status says
 * why). */
static int read_reply(int fd, int timeout_ms, reply *r, cr_error **err)
{
	int64_t deadline = cr_monotonic_ms() + timeout_ms;
	size_t got = 0;
	while (got < sizeof(*r)) {
		int64_t left = deadline - cr_monotonic_ms();
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int rc = left > 0 ? poll(&p, 1, (int)left) : 0;
		if (rc < 0 && errno == EINTR)
			continue;
		if (rc < 0)
			return cr_error_make(err, errno, CR_REASON_INTERNAL, "wait for the cache reader");
		if (rc == 0)
			return cr_error_make(err, 0, CR_REASON_INTERNAL,
					     "the cache reader did not answer within %d ms (is the index "
					     "locked?); it was stopped",
					     timeout_ms);
		ssize_t n = read(fd, (char *)r + got, sizeof(*r) - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return cr_error_make(err, errno, CR_REASON_INTERNAL, "read the cache reader's reply");
		if (n == 0)
			return -2;
		got += (size_t)n;
	}
	return 0;
}

/* Waits for the child: its wait status, or -1. */
static int reap(pid_t pid)
{
	int status = 0;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return status;
}

/* The error for a child that ended without a reply. */
static int no_reply(int status, cr_error **err)
{
	if (status >= 0 && WIFSIGNALED(status))
		return cr_error_make(err, 0, CR_REASON_INTERNAL, "the cache reader was killed by signal %d",
				     WTERMSIG(status));
	if (status >= 0)
		return cr_error_make(err, 0, CR_REASON_INTERNAL,
				     "the cache reader exited with status %d without an answer",
				     WEXITSTATUS(status));
	return cr_error_make(err, 0, CR_REASON_INTERNAL, "the cache reader ended without an answer");
}

int cr_cache_status_read(const char *dir, uint64_t max_bytes, int timeout_ms, cr_cache_report *out,
			 cr_error **err)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return cr_error_make(err, errno, CR_REASON_INTERNAL, "create the cache reader's pipe");
	pid_t pid = fork();
	if (pid < 0) {
		int e = errno;
		close(p[0]);
		close(p[1]);
		return cr_error_make(err, e, CR_REASON_INTERNAL, "start the cache reader");
	}
	if (pid == 0) {
		close(p[0]);
		child_main(p[1], dir, max_bytes);
	}
	close(p[1]);
	reply r;
	int rc = read_reply(p[0], timeout_ms, &r, err);
	close(p[0]);
	if (rc == -1)
		kill(pid, SIGKILL); /* not reaped yet, so the pid is still the child's */
	int status = reap(pid);
	if (rc == -2)
		return no_reply(status, err);
	if (rc < 0)
		return -1;
	if (r.failed)
		return cr_error_make(err, 0, CR_REASON_INTERNAL, "%.*s", (int)sizeof(r.msg), r.msg);
	*out = r.report;
	return 0;
}
