/* SPDX-License-Identifier: Apache-2.0 */
/* record.c -- append-only resource records and the teardown over them (see
 * record.h). Lines are JSON objects: {"kind":"process","pid":N,"start":T},
 * {"kind":"cgroup","path":P}, {"kind":"file","path":P}. */
#include "backend/netns/record.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "backend/netns/cgroup.h"
#include "util/cleanup.h"
#include "util/fileio.h"
#include "util/xalloc.h"

#define RECORD_NAME      "resources.jsonl"
#define RECORD_MAX_BYTES (1u << 20)

int cr_record_open(cr_record *r, const char *dir, cr_error **err)
{
	r->path = cr_asprintf("%s/%s", dir, RECORD_NAME);
	r->fd = open(r->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (r->fd < 0)
		return cr_error_make(err, errno, CR_REASON_RUNTIME_LAUNCH_FAILED, "open '%s'", r->path);
	return 0;
}

void cr_record_close(cr_record *r)
{
	if (r->fd >= 0)
		close(r->fd);
	r->fd = -1;
	free(r->path);
	r->path = NULL;
}

static int append(cr_record *r, json_t *line, cr_error **err)
{
	char *text = json_dumps(line, JSON_COMPACT);
	json_decref(line);
	cleanup_free char *with_nl = cr_asprintf("%s\n", text);
	free(text);
	size_t n = strlen(with_nl);
	if (write(r->fd, with_nl, n) != (ssize_t)n || fsync(r->fd) < 0)
		return cr_error_make(err, errno ? errno : EIO, CR_REASON_RUNTIME_LAUNCH_FAILED, "write '%s'",
				     r->path);
	return 0;
}

int cr_record_cgroup(cr_record *r, const char *path, cr_error **err)
{
	return append(r, json_pack("{s:s, s:s}", "kind", "cgroup", "path", path), err);
}

int cr_record_file(cr_record *r, const char *path, cr_error **err)
{
	return append(r, json_pack("{s:s, s:s}", "kind", "file", "path", path), err);
}

int cr_record_process(cr_record *r, pid_t pid, cr_error **err)
{
	return append(r,
		      json_pack("{s:s, s:i, s:I}", "kind", "process", "pid", (int)pid, "start",
				(json_int_t)cr_proc_starttime(pid)),
		      err);
}

uint64_t cr_proc_starttime(pid_t pid)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	cleanup_free char *text = NULL;
	if (cr_read_file(path, 4096, &text, NULL, NULL) < 0)
		return 0;
	const char *p = strrchr(text, ')'); /* comm may contain spaces and parentheses */
	for (int field = 2; p && field < 22; field++)
		p = strchr(p + 1, ' ');
	return p ? strtoull(p + 1, NULL, 10) : 0;
}

/* Kills a recorded process if it is still the same process, and waits until
 * it is gone (up to ~2 s; it may not be our child). */
static int kill_process(pid_t pid, uint64_t start, cr_error **err)
{
	if (pid <= 1 || !start || cr_proc_starttime(pid) != start)
		return 0;
	kill(pid, SIGKILL);
	for (int i = 0; i < 200 && cr_proc_starttime(pid) == start; i++) {
		waitpid(pid, NULL, WNOHANG);
		nanosleep(&(struct timespec){0, 10 * 1000 * 1000}, NULL);
	}
	if (cr_proc_starttime(pid) == start)
		return cr_error_make(err, 0, CR_REASON_INTERNAL, "process %d did not die", (int)pid);
	return 0;
}

static int undo(const json_t *line, cr_error **err)
{
	const char *kind = json_string_value(json_object_get(line, "kind"));
	const char *path = json_string_value(json_object_get(line, "path"));
	if (!kind)
		return 0;
	if (strcmp(kind, "process") == 0)
		return kill_process((pid_t)json_integer_value(json_object_get(line, "pid")),
				    (uint64_t)json_integer_value(json_object_get(line, "start")), err);
	if (strcmp(kind, "cgroup") == 0 && path)
		return cr_cgroup_remove_dir(path, err);
	if (strcmp(kind, "file") == 0 && path && unlink(path) < 0 && errno != ENOENT)
		return cr_error_make(err, errno, CR_REASON_INTERNAL, "unlink '%s'", path);
	return 0;
}

/* Removes a directory tree without following symlinks. */
static int remove_tree_at(int parent, const char *name)
{
	int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return unlinkat(parent, name, 0) == 0 || errno == ENOENT ? 0 : -1;
	DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -1;
	}
	struct dirent *e;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			remove_tree_at(dirfd(d), e->d_name);
	closedir(d);
	return unlinkat(parent, name, AT_REMOVEDIR) == 0 || errno == ENOENT ? 0 : -1;
}

static void undo_all(json_t **lines, size_t n, cr_error **err)
{
	/* processes first, then the rest in reverse order of creation */
	for (size_t i = 0; i < n; i++)
		if (strcmp(json_string_value(json_object_get(lines[i], "kind")) ?: "", "process") == 0 &&
		    undo(lines[i], err) < 0)
			err = NULL; /* keep the first error, try everything */
	for (size_t i = n; i-- > 0;)
		if (strcmp(json_string_value(json_object_get(lines[i], "kind")) ?: "", "process") != 0 &&
		    undo(lines[i], err) < 0)
			err = NULL;
}

int cr_record_teardown(const char *dir, cr_error **err)
{
	cleanup_free char *path = cr_asprintf("%s/%s", dir, RECORD_NAME);
	cleanup_free char *text = NULL;
	json_t *lines[4096];
	size_t n = 0;
	cr_error *first = NULL;
	if (cr_read_file_at(AT_FDCWD, path, RECORD_MAX_BYTES, CR_READ_NOFOLLOW, &text, NULL, NULL) == 0) {
		for (char *s = text, *nl; s && *s && n < 4096; s = nl ? nl + 1 : NULL) {
			nl = strchr(s, '\n');
			if (nl)
				*nl = '\0';
			json_t *j = json_loads(s, 0, NULL); /* a torn last line is skipped */
			if (j)
				lines[n++] = j;
		}
	}
	undo_all(lines, n, &first);
	for (size_t i = 0; i < n; i++)
		json_decref(lines[i]);
	if (remove_tree_at(AT_FDCWD, dir) < 0 && !first)
		cr_error_make(&first, errno, CR_REASON_INTERNAL, "remove '%s'", dir);
	if (first) {
		if (err)
			*err = first;
		else
			cr_error_free(first);
		return -1;
	}
	return 0;
}
