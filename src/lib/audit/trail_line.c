/* SPDX-License-Identifier: Apache-2.0 */
/* trail_line.c -- the audit trail's line codec: an event becomes a record
 * (strings made valid UTF-8 and capped, keys checked), a record becomes its
 * canonical JSON line and hash, and a line is parsed back strictly. One
 * member table drives both directions, so the writer and the readers cannot
 * disagree about the format (docs/internals/audit.md). */
#include <errno.h>
#include <jansson.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "audit/trail_internal.h"
#include "util/buf.h"
#include "util/canonjson.h"
#include "util/cleanup.h"
#include "util/sha256.h"
#include "util/utf8.h"
#include "util/xalloc.h"

#define cleanup_json __attribute__((cleanup(json_decrefp)))

/* 10000-01-01T00:00:00Z: the first instant RFC 3339's four-digit year cannot write. */
#define TS_END_MS 253402300800000LL

/* The string members of a line (besides ts, seq and detail), by name. */
static const struct {
	const char *name;
	size_t off;
} string_members[] = {
	{"actor", offsetof(cr_audit_record, actor)},
	{"backend", offsetof(cr_audit_record, backend)},
	{"execution_id", offsetof(cr_audit_record, execution_id)},
	{"hash", offsetof(cr_audit_record, hash)},
	{"kind", offsetof(cr_audit_record, kind)},
	{"policy_hash", offsetof(cr_audit_record, policy_hash)},
	{"prev_hash", offsetof(cr_audit_record, prev_hash)},
	{"reason_code", offsetof(cr_audit_record, reason_code)},
	{"run_id", offsetof(cr_audit_record, run_id)},
	{"sandbox_id", offsetof(cr_audit_record, sandbox_id)},
};
#define N_STRING_MEMBERS (sizeof(string_members) / sizeof(string_members[0]))
#define N_MEMBERS        (N_STRING_MEMBERS + 3) /* + detail, seq, ts */

static char **member(cr_audit_record *r, size_t i)
{
	return (char **)((char *)r + string_members[i].off);
}

static const char *member_c(const cr_audit_record *r, size_t i)
{
	return *(char *const *)((const char *)r + string_members[i].off);
}

int cr_audit_ts_format(int64_t ms, char out[CR_AUDIT_TS_LEN + 1])
{
	if (ms < 0 || ms >= TS_END_MS)
		return -1;
	time_t secs = (time_t)(ms / 1000);
	struct tm tm;
	if (!gmtime_r(&secs, &tm) || strftime(out, CR_AUDIT_TS_LEN + 1, "%Y-%m-%dT%H:%M:%S", &tm) != 19)
		return -1;
	snprintf(out + 19, CR_AUDIT_TS_LEN + 1 - 19, ".%03dZ", (int)(ms % 1000));
	return 0;
}

/* The n decimal digits at s, or -1 when one is not a digit. */
static int digits(const char *s, int n)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

int cr_audit_ts_parse(const char *s, size_t len, int64_t *ms)
{
	static const char shape[] = "0000-00-00T00:00:00.000Z";
	if (len != CR_AUDIT_TS_LEN)
		return -1;
	for (size_t i = 0; i < len; i++)
		if (shape[i] != '0' && s[i] != shape[i])
			return -1;
	struct tm tm = {.tm_year = digits(s, 4) - 1900,
			.tm_mon = digits(s + 5, 2) - 1,
			.tm_mday = digits(s + 8, 2),
			.tm_hour = digits(s + 11, 2),
			.tm_min = digits(s + 14, 2),
			.tm_sec = digits(s + 17, 2)};
	int frac = digits(s + 20, 3);
	if (tm.tm_year < -1900 || tm.tm_mon < -1 || tm.tm_mday < 0 || tm.tm_hour < 0 || tm.tm_min < 0 ||
	    tm.tm_sec < 0 || frac < 0)
		return -1;
	time_t secs = timegm(&tm);
	if (secs == (time_t)-1)
		return -1;
	/* timegm normalises (month 13, Feb 30, 24:00); only the canonical form round-trips */
	char again[CR_AUDIT_TS_LEN + 1];
	int64_t v = (int64_t)secs * 1000 + frac;
	if (cr_audit_ts_format(v, again) < 0 || memcmp(again, s, len) != 0)
		return -1;
	*ms = v;
	return 0;
}

/* A copy of s (NULL = "") that is valid UTF-8 (each byte that starts no
 * valid sequence becomes U+FFFD) and at most CR_AUDIT_FIELD_MAX bytes: a
 * longer one is cut at a character boundary and ends in U+2026. */
static bool valid_utf8(const char *s, size_t n)
{
	for (size_t i = 0, k; i < n; i += k)
		if ((k = cr_utf8_seq((const unsigned char *)s + i, n - i)) == 0)
			return false;
	return true;
}

static char *field_copy(const char *s)
{
	static const char replacement[] = "\xef\xbf\xbd", ellipsis[] = "\xe2\x80\xa6";
	/* each input byte yields at least one output byte, so this much input
	 * is enough to see whether the output overflows */
	size_t n = s ? strnlen(s, CR_AUDIT_FIELD_MAX + 8) : 0, fit = 0;
	if (n <= CR_AUDIT_FIELD_MAX && valid_utf8(s, n)) /* the common case: as it is */
		return cr_xstrndup(s ? s : "", n);
	cr_buf b;
	cr_buf_init(&b, CR_AUDIT_FIELD_MAX);
	for (size_t i = 0, k; i < n; i += k ? k : 1) {
		k = cr_utf8_seq((const unsigned char *)s + i, n - i);
		const char *piece = k ? s + i : replacement;
		size_t plen = k ? k : 3;
		if (b.len + plen > CR_AUDIT_FIELD_MAX) {
			b.len = fit; /* the last boundary that leaves room for the ellipsis */
			cr_buf_append(&b, ellipsis, 3);
			break;
		}
		cr_buf_append(&b, piece, plen);
		if (b.len <= CR_AUDIT_FIELD_MAX - 3)
			fit = b.len;
	}
	return cr_buf_steal(&b, NULL);
}

static bool name_ok(const char *s, size_t n, const char *extra)
{
	if (n == 0 || n > CR_AUDIT_KEY_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
		      (c && strchr(extra, c))))
			return false;
	}
	return true;
}

static bool kind_ok(const char *s)
{
	return s && name_ok(s, strnlen(s, CR_AUDIT_KEY_MAX + 1), ".");
}

static bool key_ok(const char *s)
{
	return s && name_ok(s, strnlen(s, CR_AUDIT_KEY_MAX + 1), "");
}

static int pair_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorts the key/value pairs by key; -1 when a key repeats. */
static int sort_detail(char **kv, size_t n_pairs)
{
	qsort(kv, n_pairs, 2 * sizeof(char *), pair_cmp);
	for (size_t i = 1; i < n_pairs; i++)
		if (strcmp(kv[2 * i - 2], kv[2 * i]) == 0)
			return -1;
	return 0;
}

static int detail_from_event(const char *const *detail, cr_audit_record *r, cr_error **err)
{
	size_t n = 0;
	while (detail && detail[2 * n]) {
		const char *key = detail[2 * n];
		if (n == CR_AUDIT_DETAIL_MAX)
			return cr_error_make(err, EINVAL, CR_REASON_INTERNAL,
					     "audit event has more than %d detail entries",
					     CR_AUDIT_DETAIL_MAX);
		if (!key_ok(key))
			return cr_error_make(err, EINVAL, CR_REASON_INTERNAL,
					     "audit detail key '%.80s' is not 1-%d of [a-z0-9_]", key,
					     CR_AUDIT_KEY_MAX);
		/* a NULL value counts as "" and ends the list (nothing past it may
		 * exist): a slip in a caller must not cost the event */
		if (!detail[2 * n++ + 1])
			break;
	}
	r->detail = cr_xcalloc(2 * n + 1, sizeof(char *));
	for (size_t i = 0; i < n; i++) {
		r->detail[2 * i] = cr_xstrdup(detail[2 * i]);
		r->detail[2 * i + 1] = field_copy(detail[2 * i + 1]);
		r->n_detail++;
	}
	if (sort_detail(r->detail, n) < 0)
		return cr_error_make(err, EINVAL, CR_REASON_INTERNAL, "audit event repeats a detail key");
	return 0;
}

int cr_audit_record_from_event(const cr_audit_event *ev, int64_t ts_ms, cr_audit_record *r, cr_error **err)
{
	*r = (cr_audit_record){0};
	if (!kind_ok(ev->kind))
		return cr_error_make(err, EINVAL, CR_REASON_INTERNAL,
				     "audit event kind '%.80s' is not 1-%d of [a-z0-9_.]",
				     ev->kind ? ev->kind : "(null)", CR_AUDIT_KEY_MAX);
	char ts[CR_AUDIT_TS_LEN + 1];
	if (cr_audit_ts_format(ts_ms, ts) < 0)
		return cr_error_make(err, EINVAL, CR_REASON_INTERNAL,
				     "audit event time %lld ms is outside years 1970-9999", (long long)ts_ms);
	r->ts_ms = ts_ms;
	r->kind = cr_xstrdup(ev->kind);
	r->run_id = field_copy(ev->run_id);
	r->sandbox_id = field_copy(ev->sandbox_id);
	r->execution_id = field_copy(ev->execution_id);
	r->actor = field_copy(ev->actor);
	r->backend = field_copy(ev->backend);
	r->policy_hash = field_copy(ev->policy_hash);
	r->reason_code = cr_xstrdup(ev->reason == CR_REASON_NONE ? "" : cr_reason_name(ev->reason));
	r->prev_hash = cr_xstrdup("");
	r->hash = cr_xstrdup("");
	if (detail_from_event(ev->detail, r, err) < 0) {
		cr_audit_record_clear(r);
		return -1;
	}
	return 0;
}

static int put_string(json_t *o, const char *key, const char *value)
{
	json_t *s = json_string(value);
	return s ? json_object_set_new(o, key, s) : -1;
}

static json_t *record_json(const cr_audit_record *r, bool with_hash)
{
	char ts[CR_AUDIT_TS_LEN + 1];
	if (r->seq == 0 || r->seq > (uint64_t)INT64_MAX || cr_audit_ts_format(r->ts_ms, ts) < 0)
		return NULL;
	json_t *o = json_object(), *detail = json_object();
	int bad = json_object_set_new(o, "detail", detail);
	bad |= json_object_set_new(o, "seq", json_integer((json_int_t)r->seq));
	bad |= put_string(o, "ts", ts);
	for (size_t i = 0; i < N_STRING_MEMBERS; i++)
		if (with_hash || strcmp(string_members[i].name, "hash") != 0)
			bad |= put_string(o, string_members[i].name, member_c(r, i) ? member_c(r, i) : "");
	for (size_t i = 0; i < r->n_detail; i++)
		bad |= put_string(detail, r->detail[2 * i], r->detail[2 * i + 1]);
	if (bad) {
		json_decref(o);
		return NULL;
	}
	return o;
}

char *cr_audit_record_line(const cr_audit_record *r, bool with_hash, size_t *len, cr_error **err)
{
	cleanup_json json_t *o = record_json(r, with_hash);
	if (!o) {
		cr_error_make(err, EINVAL, CR_REASON_INTERNAL,
			      "audit event %llu cannot be encoded (seq, time or a string out of range)",
			      (unsigned long long)r->seq);
		return NULL;
	}
	return cr_json_canonical(o, len, err);
}

int cr_audit_record_digest(const cr_audit_record *r, char hex[CR_SHA256_HEX_LEN + 1], cr_error **err)
{
	size_t n = 0;
	cleanup_free char *body = cr_audit_record_line(r, false, &n, err);
	if (!body)
		return -1;
	cr_sha256_hex(body, n, hex);
	return 0;
}

char *cr_audit_record_seal(cr_audit_record *r, size_t *len, cr_error **err)
{
	size_t n = 0;
	char hex[CR_SHA256_HEX_LEN + 1];
	if (cr_audit_record_digest(r, hex, err) < 0)
		return NULL;
	free(r->hash);
	r->hash = cr_xstrdup(hex);
	cleanup_free char *line = cr_audit_record_line(r, true, &n, err);
	if (!line)
		return NULL;
	if (n > CR_AUDIT_LINE_MAX) {
		cr_error_make(err, E2BIG, CR_REASON_INTERNAL, "audit event %llu would be a %zu-byte line",
			      (unsigned long long)r->seq, n);
		return NULL;
	}
	line = cr_xrealloc(line, n + 2);
	line[n] = '\n';
	line[n + 1] = '\0';
	*len = n + 1;
	return steal_pointer(&line);
}

static int parse_detail(json_t *d, cr_audit_record *r, cr_error **err)
{
	if (!json_is_object(d) || json_object_size(d) > CR_AUDIT_DETAIL_MAX)
		return cr_error_make(err, 0, CR_REASON_INTERNAL,
				     "\"detail\" is not an object of at most %d strings",
				     CR_AUDIT_DETAIL_MAX);
	size_t n = json_object_size(d);
	r->detail = cr_xcalloc(2 * n + 1, sizeof(char *));
	const char *k;
	json_t *v;
	json_object_foreach (d, k, v) {
		if (!key_ok(k) || !json_is_string(v))
			return cr_error_make(
				err, 0, CR_REASON_INTERNAL,
				"detail key '%.80s' is not 1-%d of [a-z0-9_] with a string value", k,
				CR_AUDIT_KEY_MAX);
		r->detail[2 * r->n_detail] = cr_xstrdup(k);
		r->detail[2 * r->n_detail + 1] = cr_xstrdup(json_string_value(v));
		r->n_detail++;
	}
	sort_detail(r->detail, r->n_detail); /* keys of a JSON object are distinct already */
	return 0;
}

static int parse_strings(json_t *o, cr_audit_record *r, cr_error **err)
{
	for (size_t i = 0; i < N_STRING_MEMBERS; i++) {
		json_t *v = json_object_get(o, string_members[i].name);
		if (!json_is_string(v))
			return cr_error_make(err, 0, CR_REASON_INTERNAL, "\"%s\" is missing or not a string",
					     string_members[i].name);
		*member(r, i) = cr_xstrdup(json_string_value(v));
	}
	if (!kind_ok(r->kind))
		return cr_error_make(err, 0, CR_REASON_INTERNAL, "\"kind\" is not 1-%d of [a-z0-9_.]",
				     CR_AUDIT_KEY_MAX);
	if (!cr_is_sha256_hex(r->hash))
		return cr_error_make(err, 0, CR_REASON_INTERNAL, "\"hash\" is not 64 lowercase hex digits");
	if (*r->prev_hash && !cr_is_sha256_hex(r->prev_hash))
		return cr_error_make(err, 0, CR_REASON_INTERNAL,
				     "\"prev_hash\" is neither empty nor 64 lowercase hex digits");
	return 0;
}

static int parse_object(json_t *o, cr_audit_record *r, cr_error **err)
{
	if (!json_is_object(o) || json_object_size(o) != N_MEMBERS)
		return cr_error_make(err, 0, CR_REASON_INTERNAL, "not an object of exactly %zu members",
				     (size_t)N_MEMBERS);
	if (parse_strings(o, r, err) < 0)
		return -1;
	json_t *seq = json_object_get(o, "seq"), *ts = json_object_get(o, "ts");
	if (!json_is_integer(seq) || json_integer_value(seq) < 1)
		return cr_error_make(err, 0, CR_REASON_INTERNAL,
				     "\"seq\" is missing or not a positive integer");
	r->seq = (uint64_t)json_integer_value(seq);
	if (!json_is_string(ts) ||
	    cr_audit_ts_parse(json_string_value(ts), json_string_length(ts), &r->ts_ms) < 0)
		return cr_error_make(err, 0, CR_REASON_INTERNAL,
				     "\"ts\" is missing or not of the form 2006-01-02T15:04:05.000Z");
	return parse_detail(json_object_get(o, "detail"), r, err);
}

int cr_audit_line_parse(const char *line, size_t len, cr_audit_record *out, cr_error **err)
{
	*out = (cr_audit_record){0};
	if (len > CR_AUDIT_LINE_MAX)
		return cr_error_make(err, 0, CR_REASON_INTERNAL, "audit line of %zu bytes is longer than %u",
				     len, CR_AUDIT_LINE_MAX);
	json_error_t je;
	cleanup_json json_t *o = json_loadb(line, len, JSON_REJECT_DUPLICATES, &je);
	if (!o)
		return cr_error_make(err, 0, CR_REASON_INTERNAL, "audit line is not JSON: %s (byte %d)",
				     je.text, je.position);
	if (parse_object(o, out, err) < 0) {
		cr_audit_record_clear(out);
		return cr_error_wrap(err, "audit line");
	}
	return 0;
}

void cr_audit_record_clear(cr_audit_record *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < N_STRING_MEMBERS; i++)
		free(*member(r, i));
	for (size_t i = 0; r->detail && i < 2 * r->n_detail; i++)
		free(r->detail[i]);
	free(r->detail);
	*r = (cr_audit_record){0};
}

void cr_audit_records_free(cr_audit_record *r, size_t n)
{
	for (size_t i = 0; r && i < n; i++)
		cr_audit_record_clear(&r[i]);
	free(r);
}
