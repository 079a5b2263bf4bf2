/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz_audit_line.c -- libFuzzer target for the audit trail's line parser
 * and the readers and writer recovery built on it.
 *
 * A trail file can be edited by anyone who reaches the disk, so every
 * reader must survive any bytes. The first input byte picks what the rest
 * is: (0) one line for cr_audit_line_parse -- whatever parses must encode
 * to a canonical line that parses back to the same encoding; (1) a whole
 * trail for cr_audit_verify and cr_audit_query, which must agree -- when
 * verify accepts N events, an unfiltered query returns the first min(N,
 * limit) of them in seq order -- and a query with filters taken from the
 * second byte returns only events past its cursor; (2) a trail the writer
 * opens -- repair and recovery must either refuse it or leave a trail whose
 * next append chains to the recovered last event. */
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "audit/trail.h"
#include "util/fileio.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_line(const char *line, size_t len)
{
	cr_audit_record r, again;
	if (cr_audit_line_parse(line, len, &r, NULL) < 0)
		return;
	size_t n1 = 0, n2 = 0;
	char *enc = cr_audit_record_line(&r, true, &n1, NULL);
	if (!enc || cr_audit_line_parse(enc, n1, &again, NULL) < 0)
		abort();
	char *enc2 = cr_audit_record_line(&again, true, &n2, NULL);
	if (!enc2 || n1 != n2 || memcmp(enc, enc2, n1) != 0)
		abort();
	free(enc);
	free(enc2);
	cr_audit_record_clear(&r);
	cr_audit_record_clear(&again);
}

/* Runs a query; returns its result (-1 on error, then *n = 0). */
static int query(const char *fd_path, const cr_audit_filter *f, cr_audit_record **recs, size_t *n,
		 bool *truncated)
{
	cr_error *err = NULL;
	int rc = cr_audit_query(fd_path, f, recs, n, truncated, &err);
	cr_error_free(err);
	return rc;
}

/* verify accepted n_ok events: an unfiltered page holds the first ones */
static void check_agreement(const char *fd_path, uint64_t n_ok, uint32_t limit)
{
	cr_audit_filter f = {.limit = limit};
	cr_audit_record *recs = NULL;
	size_t n = 0;
	bool truncated = false;
	size_t page = limit ? limit : CR_AUDIT_QUERY_DEFAULT;
	size_t want = n_ok < page ? (size_t)n_ok : page;
	if (query(fd_path, &f, &recs, &n, &truncated) < 0 || n != want || truncated != (n_ok > page))
		abort();
	for (size_t i = 0; i < n; i++)
		if (recs[i].seq != i + 1)
			abort();
	cr_audit_records_free(recs, n);
}

static void check_readers(uint8_t knobs, const uint8_t *data, size_t size)
{
	int fd = memfd_create("audit-trail", MFD_CLOEXEC);
	if (fd < 0 || (size && write(fd, data, size) != (ssize_t)size))
		abort();
	char fd_path[64];
	snprintf(fd_path, sizeof(fd_path), "/proc/self/fd/%d", fd);
	uint64_t n_ok = 0;
	cr_error *err = NULL;
	if (cr_audit_verify(fd_path, &n_ok, &err) == 0)
		check_agreement(fd_path, n_ok, (knobs >> 6) * 2u);
	cr_error_free(err);

	cr_audit_filter f = {.run_id = (knobs & 1) ? "run-1" : NULL,
			     .kind = (knobs & 2) ? "sandbox.created" : NULL,
			     .reason_code = (knobs & 4) ? "runtime_launch_failed" : NULL,
			     .has_since = knobs & 8,
			     .since_ms = 1714566896791LL,
			     .after_seq = (knobs >> 4) & 3,
			     .limit = (knobs >> 6) * 2u};
	cr_audit_record *recs = NULL;
	size_t n = 0;
	bool truncated = false;
	query(fd_path, &f, &recs, &n, &truncated);
	for (size_t i = 0; i < n; i++)
		if (recs[i].seq <= f.after_seq || (f.kind && strcmp(recs[i].kind, f.kind) != 0) ||
		    (f.run_id && strcmp(recs[i].run_id, f.run_id) != 0) ||
		    (f.has_since && recs[i].ts_ms < f.since_ms))
			abort();
	cr_audit_records_free(recs, n);
	close(fd);
}

static char dir[] = "/tmp/fuzz-audit-XXXXXX";
static char path[64];

static void remove_dir(void)
{
	unlink(path);
	rmdir(dir);
}

static void check_last_line(uint64_t seq, const char *prev)
{
	char *buf = NULL;
	size_t len = 0;
	if (cr_read_file(path, 8 * CR_AUDIT_LINE_MAX, &buf, &len, NULL) < 0 || len == 0 ||
	    buf[len - 1] != '\n')
		abort();
	const char *last = len > 1 ? memrchr(buf, '\n', len - 1) : NULL;
	last = last ? last + 1 : buf;
	cr_audit_record r;
	if (cr_audit_line_parse(last, (size_t)(buf + len - 1 - last), &r, NULL) < 0 || r.seq != seq ||
	    strcmp(r.prev_hash, prev) != 0 || strcmp(r.kind, "fuzz.event") != 0)
		abort();
	cr_audit_record_clear(&r);
	free(buf);
}

static void check_writer(const uint8_t *data, size_t size)
{
	if (!path[0]) {
		if (!mkdtemp(dir))
			abort();
		snprintf(path, sizeof(path), "%s/audit.jsonl", dir);
		atexit(remove_dir);
	}
	FILE *f = fopen(path, "w");
	if (!f || fwrite(data, 1, size, f) != size || fclose(f) != 0)
		abort();
	cr_audit *a = NULL;
	cr_error *err = NULL;
	if (cr_audit_open(path, &a, &err) < 0) {
		cr_error_free(err);
		return;
	}
	uint64_t seq = cr_audit_seq(a);
	char prev[65];
	memcpy(prev, cr_audit_last_hash(a), sizeof(prev));
	const char *detail[] = {"k", "v", NULL};
	cr_audit_event ev = {.kind = "fuzz.event", .detail = detail, .ts_ms = 1};
	if (cr_audit_append(a, &ev, &err) < 0 || cr_audit_seq(a) != seq + 1)
		abort();
	cr_audit_close(a);
	check_last_line(seq + 1, prev);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2 || size > 4 * CR_AUDIT_LINE_MAX)
		return 0;
	switch (data[0] % 3) {
	case 0: check_line((const char *)data + 2, size - 2); break;
	case 1: check_readers(data[1], data + 2, size - 2); break;
	default: check_writer(data + 2, size - 2); break;
	}
	return 0;
}
