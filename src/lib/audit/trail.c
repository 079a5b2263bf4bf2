/* SPDX-License-Identifier: Apache-2.0 */
/* trail.c -- the audit trail's one writer: opens the file under an exclusive
 * lock, repairs a torn last line, recovers seq and the last hash, and appends
 * each event as one write(2) of one canonical JSON line chained to the one
 * before (docs/internals/audit.md). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "audit/trail_internal.h"
#include "util/cleanup.h"
#include "util/clock.h"
#include "util/sha256.h"
#include "util/xalloc.h"

struct cr_audit {
	int fd;
	char *path;
	uint64_t seq;                          /* last seq written */
	char last_hash[CR_SHA256_HEX_LEN + 1]; /* "" before the first event */
	off_t size;                            /* bytes of complete lines in the file */
	size_t repaired;                       /* torn bytes removed at open */
	bool broken;                           /* a partial line could not be removed */
};

/* Creates the directory that holds path (one level, 0700) when missing, and
 * returns an fd on it to sync the new directory entry. */
static int open_parent_dir(const char *path, cr_error **err)
{
	const char *slash = strrchr(path, '/');
	cleanup_free char *dir =
		slash ? cr_xstrndup(path, slash == path ? 1 : (size_t)(slash - path)) : cr_xstrdup(".");
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return cr_error_make(err, errno, CR_REASON_INTERNAL, "create audit directory '%s'", dir);
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return cr_error_make(err, errno, CR_REASON_INTERNAL, "open audit directory '%s'", dir);
	return fd;
}

/* Reads up to `max` bytes ending at `end` into a new buffer. */
static int read_tail(cr_audit *a, off_t end, size_t max, char **out, size_t *n, cr_error **err)
{
	size_t want = (size_t)end < max ? (size_t)end : max;
	cleanup_free char *buf = cr_xmalloc(want + 1);
	size_t got = 0;
	while (got < want) {
		ssize_t r = pread(a->fd, buf + got, want - got, end - (off_t)want + (off_t)got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return cr_error_make(err, r < 0 ? errno : EIO, CR_REASON_INTERNAL,
					     "read audit trail '%s'", a->path);
		got += (size_t)r;
	}
	buf[want] = '\0';
	*n = want;
	*out = steal_pointer(&buf);
	return 0;
}

static int damaged(const cr_audit *a, const char *what, cr_error **err)
{
	cr_error_make(
		err, 0, CR_REASON_INTERNAL,
		"audit trail '%s' is damaged: %s (run `cleanroom audit verify`; the writer will not append "
		"to it)",
		a->path, what);
	cr_audit_mark_damage(err);
	return -1;
}

/* A last line without its newline is what a crash or a full disk leaves
 * mid-write: the event was never acknowledged, so it is cut away. */
static int repair_torn_tail(cr_audit *a, cr_error **err)
{
	if (a->size == 0)
		return 0;
	cleanup_free char *buf = NULL;
	size_t n = 0;
	if (read_tail(a, a->size, CR_AUDIT_LINE_MAX + 1, &buf, &n, err) < 0)
		return -1;
	if (buf[n - 1] == '\n')
		return 0;
	char *nl = memrchr(buf, '\n', n);
	if (!nl && (size_t)a->size > n)
		return damaged(a, "its last line is unterminated and longer than any event", err);
	off_t keep = a->size - (off_t)n + (nl ? (off_t)(nl - buf) + 1 : 0);
	if (ftruncate(a->fd, keep) < 0 || fdatasync(a->fd) < 0)
		return cr_error_make(err, errno, CR_REASON_INTERNAL,
				     "cut the torn last line of audit trail '%s'", a->path);
	a->repaired = (size_t)(a->size - keep);
	a->size = keep;
	return 0;
}

/* Recovers seq and the last hash from the last complete line, which must be
 * an intact event: appending after a damaged one would hide the damage. */
static int recover_chain(cr_audit *a, cr_error **err)
{
	if (a->size == 0)
		return 0;
	cleanup_free char *buf = NULL;
	size_t n = 0;
	if (read_tail(a, a->size, CR_AUDIT_LINE_MAX + 2, &buf, &n, err) < 0)
		return -1;
	char *nl = n >= 2 ? memrchr(buf, '\n', n - 1) : NULL;
	if (!nl && (size_t)a->size > n)
		return damaged(a, "its last line is longer than any event", err);
	const char *line = nl ? nl + 1 : buf;
	size_t len = (size_t)(buf + n - 1 - line);
	cleanup_record cr_audit_record r;
	cleanup_error cr_error *perr = NULL;
	if (cr_audit_line_parse(line, len, &r, &perr) < 0)
		return damaged(a, perr->msg, err);
	char hex[CR_SHA256_HEX_LEN + 1];
	if (cr_audit_record_digest(&r, hex, err) < 0)
		return -1;
	if (strcmp(hex, r.hash) != 0)
		return damaged(a, "its last event's hash does not match its content", err);
	a->seq = r.seq;
	memcpy(a->last_hash, r.hash, sizeof(a->last_hash));
	return 0;
}

static int open_file(cr_audit *a, cr_error **err)
{
	a->fd = open(a->path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (a->fd < 0)
		return cr_error_make(err, errno, CR_REASON_INTERNAL, "open audit trail '%s'", a->path);
	/* locked before its size is read: nobody else appends from here on */
	if (flock(a->fd, LOCK_EX | LOCK_NB) < 0)
		return cr_error_make(err, errno, CR_REASON_INTERNAL,
				     "lock audit trail '%s' (is another cleanroom server writing it?)",
				     a->path);
	struct stat st;
	if (fstat(a->fd, &st) < 0)
		return cr_error_make(err, errno, CR_REASON_INTERNAL, "stat audit trail '%s'", a->path);
	if (!S_ISREG(st.st_mode))
		return cr_error_make(err, EINVAL, CR_REASON_INTERNAL,
				     "audit trail '%s' is not a regular file", a->path);
	if ((st.st_mode & 07777) != 0600 && fchmod(a->fd, 0600) < 0)
		return cr_error_make(err, errno, CR_REASON_INTERNAL, "make audit trail '%s' mode 0600",
				     a->path);
	a->size = st.st_size;
	return 0;
}

/* The trail itself records that bytes were cut, so every reader sees the
 * repair, not only the process that made it. */
static int note_repair(cr_audit *a, cr_error **err)
{
	char bytes[24];
	snprintf(bytes, sizeof(bytes), "%zu", a->repaired);
	const char *detail[] = {"bytes_removed", bytes, NULL};
	cr_audit_event ev = {.kind = "audit.repaired", .detail = detail};
	if (cr_audit_append(a, &ev, err) < 0)
		return -1;
	if (fdatasync(a->fd) < 0)
		return cr_error_make(err, errno, CR_REASON_INTERNAL, "sync audit trail '%s'", a->path);
	return 0;
}

int cr_audit_open(const char *path, cr_audit **out, cr_error **err)
{
	cleanup_close int dirfd = open_parent_dir(path, err);
	if (dirfd < 0)
		return -1;
	cr_audit *a = cr_xcalloc(1, sizeof(*a));
	a->fd = -1;
	a->path = cr_xstrdup(path);
	if (open_file(a, err) < 0 || repair_torn_tail(a, err) < 0 || recover_chain(a, err) < 0) {
		cr_audit_close(a);
		return -1;
	}
	/* a new (or emptied) file must survive a crash as an entry of its directory */
	if (a->size == 0 && fsync(dirfd) < 0) {
		cr_error_make(err, errno, CR_REASON_INTERNAL, "sync the directory of audit trail '%s'", path);
		cr_audit_close(a);
		return -1;
	}
	if (a->repaired && note_repair(a, err) < 0) {
		cr_audit_close(a);
		return -1;
	}
	*out = a;
	return 0;
}

/* Removes what a failed write left; when that fails too, the trail ends in
 * a partial line and nothing may follow it until a reopen repairs it. */
static void roll_back(cr_audit *a)
{
	int saved = errno;
	if (ftruncate(a->fd, a->size) < 0)
		a->broken = true;
	errno = saved;
}

static int write_line(cr_audit *a, const char *line, size_t len, uint64_t seq, cr_error **err)
{
	ssize_t w;
	do
		w = write(a->fd, line, len);
	while (w < 0 && errno == EINTR);
	if (w == (ssize_t)len)
		return 0;
	int e = w < 0 ? errno : ENOSPC;
	roll_back(a);
	if (w < 0)
		return cr_error_make(err, e, CR_REASON_INTERNAL, "append event %llu to audit trail '%s'",
				     (unsigned long long)seq, a->path);
	return cr_error_make(err, e, CR_REASON_INTERNAL,
			     "append event %llu to audit trail '%s': short write (%zd of %zu bytes)",
			     (unsigned long long)seq, a->path, w, len);
}

int cr_audit_append(cr_audit *a, const cr_audit_event *ev, cr_error **err)
{
	if (a->broken)
		return cr_error_make(
			err, EIO, CR_REASON_INTERNAL,
			"audit trail '%s' ends in a partial line that could not be removed; reopen it",
			a->path);
	cleanup_record cr_audit_record r;
	if (cr_audit_record_from_event(ev, ev->ts_ms ? ev->ts_ms : cr_now_ms(), &r, err) < 0)
		return -1;
	r.seq = a->seq + 1;
	free(r.prev_hash);
	r.prev_hash = cr_xstrdup(a->last_hash);
	size_t len = 0;
	cleanup_free char *line = cr_audit_record_seal(&r, &len, err);
	if (!line || write_line(a, line, len, r.seq, err) < 0)
		return -1;
	a->seq = r.seq;
	memcpy(a->last_hash, r.hash, sizeof(a->last_hash));
	a->size += (off_t)len;
	/* failures and denials are what an investigation needs: never lose them
	 * to a power cut; routine events ride on the page cache until close */
	if (ev->reason != CR_REASON_NONE && fdatasync(a->fd) < 0)
		return cr_error_make(err, errno, CR_REASON_INTERNAL, "sync audit trail '%s' after event %llu",
				     a->path, (unsigned long long)r.seq);
	return 0;
}

uint64_t cr_audit_seq(const cr_audit *a)
{
	return a->seq;
}

const char *cr_audit_last_hash(const cr_audit *a)
{
	return a->last_hash;
}

size_t cr_audit_repaired(const cr_audit *a)
{
	return a->repaired;
}

void cr_audit_close(cr_audit *a)
{
	if (!a)
		return;
	if (a->fd >= 0) {
		fdatasync(a->fd);
		close(a->fd); /* releases the flock */
	}
	free(a->path);
	free(a);
}
