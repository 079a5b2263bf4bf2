/* SPDX-License-Identifier: Apache-2.0 */
/* netns_files.c -- moving files into and out of a namespace sandbox. Both
 * directions are executions of the agent's own binary inside the sandbox, as
 * the workload user: `__extract DEST` reads a tar stream on stdin,
 * `__read-file PATH MAX` writes the file on stdout. So the archive is parsed
 * inside the sandbox, never by the host, and the same path works for a VM
 * guest agent. Frames of other executions that arrive meanwhile are queued
 * for next_event. Both wait for the agent on the caller's thread, bounded:
 * the archive is at most the API's body cap, writes to the agent time out
 * (SO_SNDTIMEO, set at provisioning) and the wait for the end is at most
 * CR_NETNS_FILE_OP_TIMEOUT_MS. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "backend/netns/netns.h"
#include "util/buf.h"
#include "util/cleanup.h"
#include "util/clock.h"
#include "util/xalloc.h"

/* Queues whatever the agent has sent so far, so that it never blocks on a
 * full socket while we are writing a large stream to it. */
static int drain(cr_sandbox *sb, cr_error **err)
{
	cr_agent_frame f;
	int r;
	while ((r = cr_netns_next_frame(sb, &f, 0, err)) == 1)
		cr_netns_queue(sb, &f);
	return r;
}

static int start_internal(cr_sandbox *sb, const char *name, char **args, uint32_t *id, cr_error **err)
{
	char *env[] = {"PATH=/usr/bin:/bin", "LANG=C.UTF-8", NULL};
	cr_agent_exec_req req = {.internal = (char *)name,
				 .argv = args,
				 .env = env,
				 .cwd = "/",
				 .uid = sb->workload_uid,
				 .gid = sb->workload_uid,
				 .cols = 80,
				 .rows = 24};
	return cr_netns_start(sb, &req, id, err);
}

/* Waits for the next frame of any execution until the deadline. */
static int next_frame_by(cr_sandbox *sb, cr_agent_frame *f, int64_t deadline, const char *what,
			 cr_error **err)
{
	int64_t left = deadline - cr_monotonic_ms();
	int r = left > 0 ? cr_netns_next_frame(sb, f, (int)left, err) : 0;
	if (r == 0)
		return cr_error_make(err, ETIMEDOUT, CR_REASON_RUNTIME_LAUNCH_FAILED,
				     "%s took longer than %d s", what, CR_NETNS_FILE_OP_TIMEOUT_MS / 1000);
	return r;
}

/* Consumes the frames of execution `id` until its EXIT, for at most
 * CR_NETNS_FILE_OP_TIMEOUT_MS: stdout goes to out_fd (when >= 0), stderr is
 * kept (capped) for the error message. */
static int finish(cr_sandbox *sb, uint32_t id, int out_fd, const char *what, cr_error **err)
{
	cleanup_buf cr_buf errtext;
	cr_buf_init(&errtext, 4096);
	int64_t deadline = cr_monotonic_ms() + CR_NETNS_FILE_OP_TIMEOUT_MS;
	for (;;) {
		cr_agent_frame f;
		cleanup_free unsigned char *owned = NULL;
		if (!cr_netns_take_queued(sb, id, &f, &owned) &&
		    next_frame_by(sb, &f, deadline, what, err) < 0)
			return -1;
		if (f.exec_id != id) {
			if (f.type != CR_AGENT_HELLO)
				cr_netns_queue(sb, &f);
			continue;
		}
		if (f.type == CR_AGENT_STDOUT && out_fd >= 0 && f.len &&
		    cr_agent_write_all(out_fd, f.payload, f.len, err) < 0)
			return -1;
		if (f.type == CR_AGENT_STDERR || f.type == CR_AGENT_ERROR)
			cr_buf_append(&errtext, f.payload, f.len);
		if (f.type != CR_AGENT_EXIT)
			continue;
		json_t *j = cr_agent_frame_json(&f, err);
		long long code = j ? json_integer_value(json_object_get(j, "code")) : -1;
		json_decref(j);
		if (code == 0)
			return 0;
		while (errtext.len && errtext.data[errtext.len - 1] == '\n')
			errtext.data[--errtext.len] = '\0';
		return cr_error_make(err, 0, CR_REASON_RUNTIME_LAUNCH_FAILED, "%s failed (exit %lld)%s%s",
				     what, code, errtext.len ? ": " : "", errtext.len ? errtext.data : "");
	}
}

/* The summary line `__extract` prints: "files F dirs D symlinks S bytes B". */
static void parse_stats(int fd, cr_workspace_stats *stats)
{
	char line[256] = {0};
	if (pread(fd, line, sizeof(line) - 1, 0) <= 0)
		return;
	unsigned long long f = 0, d = 0, s = 0, b = 0;
	if (sscanf(line, "files %llu dirs %llu symlinks %llu bytes %llu", &f, &d, &s, &b) == 4)
		*stats = (cr_workspace_stats){.files = f, .dirs = d, .symlinks = s, .bytes = b};
}

int cr_netns_upload(cr_sandbox *sb, int archive_fd, const char *dest, cr_workspace_stats *stats,
		    cr_error **err)
{
	char *args[] = {(char *)dest, "--create", "--summary", NULL};
	uint32_t id;
	if (start_internal(sb, "extract", args, &id, err) < 0)
		return -1;
	unsigned char buf[CR_AGENT_MAX_DATA];
	for (;;) {
		ssize_t n = read(archive_fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return cr_error_make(err, errno, CR_REASON_INTERNAL, "read the workspace archive");
		if (n == 0)
			break;
		if (cr_netns_send(sb, CR_AGENT_STDIN, id, buf, (size_t)n, err) < 0 || drain(sb, err) < 0)
			return -1;
	}
	if (cr_netns_send(sb, CR_AGENT_STDIN_EOF, id, NULL, 0, err) < 0)
		return -1;
	cleanup_close int out = memfd_create("extract-stats", MFD_CLOEXEC);
	if (finish(sb, id, out, "unpacking the archive", err) < 0)
		return -1;
	if (stats && out >= 0)
		parse_stats(out, stats);
	return 0;
}

int cr_netns_download(cr_sandbox *sb, const char *path, uint64_t max, int out_fd, cr_error **err)
{
	char maxs[32];
	snprintf(maxs, sizeof(maxs), "%" PRIu64, max);
	char *args[] = {(char *)path, maxs, NULL};
	uint32_t id;
	if (start_internal(sb, "read-file", args, &id, err) < 0)
		return -1;
	if (cr_netns_send(sb, CR_AGENT_STDIN_EOF, id, NULL, 0, err) < 0)
		return -1;
	cleanup_free char *what = cr_asprintf("reading '%s'", path);
	return finish(sb, id, out_fd, what, err);
}
