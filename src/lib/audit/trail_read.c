/* SPDX-License-Identifier: Apache-2.0 */
/* trail_read.c -- the audit trail's readers: a query with filters and
 * paging, and the verifier that re-computes the hash chain. Both read the
 * file line by line through one capped reader, never holding more than one
 * line (plus the query's page) in memory, and may run while the writer
 * appends: an unterminated last line is a write in progress and is left
 * alone. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit/trail_internal.h"
#include "util/canonjson.h"
#include "util/cleanup.h"
#include "util/sha256.h"
#include "util/xalloc.h"

#define READ_CHUNK (64u * 1024)

typedef struct line_reader {
	int fd;
	const char *path;
	char *buf; /* CR_AUDIT_LINE_MAX + 1 + READ_CHUNK bytes */
	size_t start, end;
	bool eof;
	uint64_t lineno; /* of the last line returned, 1-based */
} line_reader;

static void reader_close(line_reader *lr)
{
	if (lr->fd >= 0)
		close(lr->fd);
	free(lr->buf);
}
#define cleanup_reader __attribute__((cleanup(reader_close)))

static int reader_open(line_reader *lr, const char *path, cr_error **err)
{
	*lr = (line_reader){.fd = open(path, O_RDONLY | O_CLOEXEC), .path = path};
	if (lr->fd < 0)
		return cr_error_make(err, errno, CR_REASON_INTERNAL, "open audit trail '%s'", path);
	struct stat st;
	if (fstat(lr->fd, &st) < 0)
		return cr_error_make(err, errno, CR_REASON_INTERNAL, "stat audit trail '%s'", path);
	if (!S_ISREG(st.st_mode))
		return cr_error_make(err, EINVAL, CR_REASON_INTERNAL,
				     "audit trail '%s' is not a regular file", path);
	lr->buf = cr_xmalloc(CR_AUDIT_LINE_MAX + 1 + READ_CHUNK);
	return 0;
}

/* An integrity failure of line `lineno`; callers add the path. */
static int bad_line(cr_error **err, uint64_t lineno, const char *what)
{
	cr_error_make(err, 0, CR_REASON_INTERNAL, "line %llu %s", (unsigned long long)lineno, what);
	cr_audit_mark_damage(err);
	return -1;
}

/* Whether *err is integrity damage (which needs the path added; I/O errors
 * name the file already). */
static bool is_damage(cr_error **err)
{
	return err && *err && (*err)->status == EBADMSG;
}

/* 1 with the next complete line (valid until the next call, newline not
 * included), 0 at the end, -1 on a read error or a line longer than
 * CR_AUDIT_LINE_MAX (EBADMSG). */
static int next_line(line_reader *lr, const char **line, size_t *len, cr_error **err)
{
	for (;;) {
		char *p = lr->buf + lr->start;
		char *nl = memchr(p, '\n', lr->end - lr->start);
		if (nl) {
			*line = p;
			*len = (size_t)(nl - p);
			lr->start += *len + 1;
			lr->lineno++;
			return 1;
		}
		if (lr->end - lr->start > CR_AUDIT_LINE_MAX)
			return bad_line(err, lr->lineno + 1, "is longer than any event");
		if (lr->eof)
			return 0;
		memmove(lr->buf, p, lr->end - lr->start);
		lr->end -= lr->start;
		lr->start = 0;
		ssize_t r = read(lr->fd, lr->buf + lr->end, CR_AUDIT_LINE_MAX + 1 + READ_CHUNK - lr->end);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return cr_error_make(err, errno, CR_REASON_INTERNAL, "read audit trail '%s'",
					     lr->path);
		lr->eof = r == 0;
		lr->end += (size_t)r;
	}
}

/* The seq of a canonical line without parsing it: the top-level "seq" is
 * the only member written as `"seq":` followed by a digit (a detail key
 * "seq" has a string value, and a quote inside a string is escaped). */
static bool quick_seq(const char *line, size_t len, uint64_t *seq)
{
	for (size_t i = len >= 7 ? len - 7 + 1 : 0; i-- > 0;) {
		if (memcmp(line + i, "\"seq\":", 6) != 0 || line[i + 6] < '0' || line[i + 6] > '9')
			continue;
		uint64_t v = 0;
		for (size_t j = i + 6; j < len && line[j] >= '0' && line[j] <= '9'; j++) {
			if (v > (UINT64_MAX - 9) / 10)
				return false;
			v = v * 10 + (uint64_t)(line[j] - '0');
		}
		*seq = v;
		return true;
	}
	return false;
}

/* The query's string filters as the bytes a matching canonical line must
 * contain (`"run_id":"abc"`): most lines are skipped without a parse. */
typedef struct needles {
	char *s[5];
	size_t len[5];
} needles;

static void needles_free(needles *n)
{
	for (size_t i = 0; i < 5; i++)
		free(n->s[i]);
}

/* 0, or 1 when a filter value is not valid UTF-8 and so matches nothing. */
static int make_needles(const cr_audit_filter *f, needles *n)
{
	const char *names[5] = {"run_id", "sandbox_id", "execution_id", "kind", "reason_code"};
	const char *values[5] = {f->run_id, f->sandbox_id, f->execution_id, f->kind, f->reason_code};
	*n = (needles){0};
	for (size_t i = 0; i < 5; i++) {
		if (!values[i] || !*values[i])
			continue;
		json_t *s = json_string(values[i]);
		if (!s)
			return 1;
		cleanup_free char *enc = cr_json_canonical(s, NULL, NULL);
		json_decref(s);
		n->s[i] = cr_asprintf("\"%s\":%s", names[i], enc);
		n->len[i] = strlen(n->s[i]);
	}
	return 0;
}

static bool may_match(const needles *n, const char *line, size_t len)
{
	for (size_t i = 0; i < 5; i++)
		if (n->s[i] && !memmem(line, len, n->s[i], n->len[i]))
			return false;
	return true;
}

static bool field_matches(const char *want, const char *have)
{
	return !want || !*want || strcmp(want, have) == 0;
}

static bool matches(const cr_audit_filter *f, const cr_audit_record *r)
{
	return r->seq > f->after_seq && field_matches(f->run_id, r->run_id) &&
	       field_matches(f->sandbox_id, r->sandbox_id) &&
	       field_matches(f->execution_id, r->execution_id) && field_matches(f->kind, r->kind) &&
	       field_matches(f->reason_code, r->reason_code) && (!f->has_since || r->ts_ms >= f->since_ms) &&
	       (!f->has_until || r->ts_ms < f->until_ms);
}

/* Looks at one line: 1 = a match (in *r), 0 = not, -1 = not an audit line. */
static int query_line(const line_reader *lr, const cr_audit_filter *f, const needles *nd, const char *line,
		      size_t len, cr_audit_record *r, cr_error **err)
{
	uint64_t seq = 0;
	if (!quick_seq(line, len, &seq))
		return bad_line(err, lr->lineno, "has no seq (run `cleanroom audit verify`)");
	if (seq <= f->after_seq || !may_match(nd, line, len))
		return 0;
	if (cr_audit_line_parse(line, len, r, err) < 0) {
		cr_audit_mark_damage(err);
		return cr_error_wrap(err, "line %llu", (unsigned long long)lr->lineno);
	}
	if (matches(f, r))
		return 1;
	cr_audit_record_clear(r);
	return 0;
}

int cr_audit_query(const char *path, const cr_audit_filter *f, cr_audit_record **out, size_t *n,
		   bool *truncated, cr_error **err)
{
	*out = NULL;
	*n = 0;
	*truncated = false;
	size_t limit = f->limit == 0                   ? CR_AUDIT_QUERY_DEFAULT
		       : f->limit > CR_AUDIT_QUERY_MAX ? CR_AUDIT_QUERY_MAX
						       : f->limit;
	__attribute__((cleanup(needles_free))) needles nd = {0};
	cleanup_reader line_reader lr = {.fd = -1};
	if (reader_open(&lr, path, err) < 0)
		return -1;
	if (make_needles(f, &nd) > 0)
		return 0;
	cr_audit_record *recs = cr_xcalloc(limit, sizeof(*recs));
	size_t count = 0;
	const char *line;
	size_t len;
	int rc;
	while ((rc = next_line(&lr, &line, &len, err)) > 0) {
		cr_audit_record r;
		int m = query_line(&lr, f, &nd, line, len, &r, err);
		if (m < 0) {
			rc = -1;
			break;
		}
		if (m == 0)
			continue;
		if (count == limit) {
			cr_audit_record_clear(&r);
			*truncated = true;
			break;
		}
		recs[count++] = r;
	}
	if (rc < 0) {
		cr_audit_records_free(recs, count);
		*truncated = false;
		return is_damage(err) ? cr_error_wrap(err, "audit trail '%s'", path) : -1;
	}
	*out = recs;
	*n = count;
	return 0;
}

/* Checks one line against the chain so far; the message says what broke. */
static int verify_line(const char *line, size_t len, uint64_t want, char prev[CR_SHA256_HEX_LEN + 1],
		       cr_error **err)
{
	cleanup_record cr_audit_record r;
	if (cr_audit_line_parse(line, len, &r, err) < 0)
		return -1;
	if (r.seq != want)
		return cr_error_make(err, 0, CR_REASON_INTERNAL,
				     "seq is %llu, expected %llu (an event was deleted, inserted or moved)",
				     (unsigned long long)r.seq, (unsigned long long)want);
	if (strcmp(r.prev_hash, prev) != 0)
		return cr_error_make(err, 0, CR_REASON_INTERNAL,
				     "prev_hash is not the previous event's hash (an event before it was "
				     "deleted, edited or moved)");
	size_t n = 0;
	char hex[CR_SHA256_HEX_LEN + 1];
	if (cr_audit_record_digest(&r, hex, err) < 0)
		return -1;
	if (strcmp(hex, r.hash) != 0)
		return cr_error_make(err, 0, CR_REASON_INTERNAL,
				     "hash does not match the content (it was edited)");
	cleanup_free char *full = cr_audit_record_line(&r, true, &n, err);
	if (!full)
		return -1;
	if (n != len || memcmp(full, line, len) != 0)
		return cr_error_make(err, 0, CR_REASON_INTERNAL,
				     "the line is not in canonical form (it was edited)");
	memcpy(prev, r.hash, CR_SHA256_HEX_LEN + 1);
	return 0;
}

int cr_audit_verify(const char *path, uint64_t *n_ok, cr_error **err)
{
	*n_ok = 0;
	cleanup_reader line_reader lr = {.fd = -1};
	if (reader_open(&lr, path, err) < 0)
		return -1;
	char prev[CR_SHA256_HEX_LEN + 1] = "";
	const char *line;
	size_t len;
	int rc;
	while ((rc = next_line(&lr, &line, &len, err)) > 0) {
		if (verify_line(line, len, *n_ok + 1, prev, err) < 0) {
			cr_audit_mark_damage(err);
			return cr_error_wrap(err, "audit trail '%s': event %llu (line %llu)", path,
					     (unsigned long long)*n_ok + 1, (unsigned long long)lr.lineno);
		}
		(*n_ok)++;
	}
	if (rc < 0) /* damage names the event; an I/O error already names the file */
		return is_damage(err) ? cr_error_wrap(err, "audit trail '%s': event %llu", path,
						      (unsigned long long)*n_ok + 1)
				      : -1;
	return 0;
}
