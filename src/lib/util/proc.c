/* SPDX-License-Identifier: Apache-2.0 */
/* proc.c -- posix_spawn with a captured, capped stdout. */
#include "util/proc.h"

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/buf.h"
#include "util/cleanup.h"

extern char **environ;

static int drain(int fd, cr_buf *b)
{
	char chunk[4096];
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return (int)n;
		if (cr_buf_append(b, chunk, (size_t)n) < 0)
			return -1;
	}
}

static int wait_child(pid_t pid)
{
	int status;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int cr_proc_run(char *const argv[], cr_buf *out, cr_error **err)
{
	int fds[2];
	if (pipe2(fds, O_CLOEXEC) < 0)
		return cr_error_make(err, errno, CR_REASON_INTERNAL, "pipe");
	cleanup_close int rd = fds[0];
	cleanup_close int wr = fds[1];
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, wr, 1);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	pid_t pid;
	int rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (rc != 0)
		return cr_error_make(err, rc, CR_REASON_INTERNAL, "run %s", argv[0]);
	close(cr_steal_fd(&wr));
	int drained = drain(rd, out);
	close(cr_steal_fd(&rd));
	int status = wait_child(pid);
	if (drained < 0)
		return cr_error_make(err, E2BIG, CR_REASON_NONE, "%s printed more than %zu bytes", argv[0],
				     out->limit);
	if (status < 0)
		return cr_error_make(err, 0, CR_REASON_INTERNAL, "%s was killed", argv[0]);
	return status;
}

int cr_proc_capture(char *const argv[], size_t cap, char **out, cr_error **err)
{
	cleanup_buf cr_buf b;
	cr_buf_init(&b, cap);
	int status = cr_proc_run(argv, &b, err);
	if (status < 0)
		return -1;
	while (b.len && (b.data[b.len - 1] == '\n' || b.data[b.len - 1] == '\r'))
		b.data[--b.len] = '\0';
	*out = cr_buf_steal(&b, NULL);
	return status;
}
