/* SPDX-License-Identifier: Apache-2.0 */
/* trail.h -- the audit trail: one append-only file of JSON lines, each line
 * one event (spec §9), hash-chained so that an edit, a deletion or a
 * reordering is detected.
 *
 * One writer (cr_audit_open/append/close, held by `cleanroom serve` under an
 * exclusive lock) and read-only readers (cr_audit_query, cr_audit_verify)
 * that may run at any time, also from another process. The line format, the
 * chain, durability and the event kinds are in docs/internals/audit.md; this
 * module is the only code that writes or parses those lines. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "audit/reason.h"
#include "util/error.h"

/* Longest line (newline excluded) written or accepted by a reader. */
#define CR_AUDIT_LINE_MAX (256u * 1024)
/* A string field or detail value longer than this many bytes (after invalid
 * UTF-8 became U+FFFD) is cut at a character boundary and ends in U+2026. */
#define CR_AUDIT_FIELD_MAX 1024
/* At most this many detail pairs per event; a key is 1-64 of [a-z0-9_]. */
#define CR_AUDIT_DETAIL_MAX 32
#define CR_AUDIT_KEY_MAX    64
/* Query page sizes: default and cap. */
#define CR_AUDIT_QUERY_DEFAULT 100
#define CR_AUDIT_QUERY_MAX     1000

typedef struct cr_audit cr_audit;

/* What the caller reports; the trail adds ts, seq, prev_hash and hash. */
typedef struct cr_audit_event {
	const char *kind; /* "sandbox.created", ...: 1-64 of [a-z0-9_.] */
	const char *run_id, *sandbox_id, *execution_id, *actor, *backend, *policy_hash; /* NULL = "" */
	cr_reason reason; /* CR_REASON_NONE unless a failure or denial */
	const char *const
		*detail; /* key, value, ..., NULL (a NULL value = "" and ends the list); may be NULL */
	int64_t ts_ms;   /* Unix ms; 0 = now */
} cr_audit_event;

/* Opens (creating it 0600, and its directory 0700 when missing) the trail at
 * `path` for appending, and takes an exclusive flock on it so that a second
 * writer fails (EWOULDBLOCK) instead of forking the chain. The sequence
 * number and the last hash are recovered from the last complete line, which
 * must parse and hash correctly (else EBADMSG: the trail was damaged; see
 * cr_audit_verify). A torn last line (no final newline: a crash or a full
 * disk mid-write) is truncated away and synced; cr_audit_repaired() then
 * says how many bytes went. On success *out is owned by the caller
 * (cr_audit_close). */
int cr_audit_open(const char *path, cr_audit **out, cr_error **err);

/* Appends one event with one write(2) of one line. Fails (EINVAL) on a kind
 * or detail key outside the rules above, a duplicate detail key, more than
 * CR_AUDIT_DETAIL_MAX pairs, or a ts_ms outside years 1970-9999 (values are
 * never refused: they are made valid UTF-8 and capped); on a write error or a
 * short write the partial line is truncated away, the sequence number is not
 * used and the error is returned (if even that truncation fails, every later
 * append fails until the trail is reopened, which repairs it). An event with
 * a reason other than CR_REASON_NONE is made durable (fdatasync) before this
 * returns; if only that sync fails, -1 is returned although the event was
 * written and its seq used. */
int cr_audit_append(cr_audit *a, const cr_audit_event *ev, cr_error **err);

/* The seq of the last event written (0 for an empty trail). */
uint64_t cr_audit_seq(const cr_audit *a);

/* The hash of the last event written ("" for an empty trail); valid until
 * the next append or close. */
const char *cr_audit_last_hash(const cr_audit *a);

/* Bytes of a torn last line that cr_audit_open removed; 0 when none. */
size_t cr_audit_repaired(const cr_audit *a);

/* Syncs (fdatasync), unlocks, closes and frees; accepts NULL. */
void cr_audit_close(cr_audit *a);

/* One parsed line. Every string is owned and never NULL. */
typedef struct cr_audit_record {
	int64_t ts_ms;
	uint64_t seq;
	char *run_id, *sandbox_id, *execution_id, *actor, *backend, *policy_hash;
	char *kind;
	char *reason_code; /* "" when none */
	size_t n_detail;   /* pairs */
	char **detail;     /* 2 * n_detail strings: key, value, ... sorted by key */
	char *prev_hash;   /* "" for seq 1 */
	char *hash;
} cr_audit_record;

/* Parses one line (without its newline) strictly: exactly the thirteen
 * members with their types, seq >= 1, ts in the RFC 3339 form written,
 * hashes as 64 lowercase hex digits (prev_hash may be ""), detail an object
 * of at most CR_AUDIT_DETAIL_MAX strings, at most CR_AUDIT_LINE_MAX bytes.
 * It does not check the hash (cr_audit_verify does). On success fills *out
 * (release with cr_audit_record_clear); on failure *out is zeroed. */
int cr_audit_line_parse(const char *line, size_t len, cr_audit_record *out, cr_error **err);

/* The canonical line of a record (no newline); with_hash = false omits the
 * "hash" member: the bytes whose SHA-256 is the hash. Returns a new string
 * (length in *len when not NULL), or NULL with *err. */
char *cr_audit_record_line(const cr_audit_record *r, bool with_hash, size_t *len, cr_error **err);

/* Releases the strings of a record and zeroes it; accepts a zeroed record. */
void cr_audit_record_clear(cr_audit_record *r);
void cr_audit_records_free(cr_audit_record *r, size_t n);
#define cleanup_record __attribute__((cleanup(cr_audit_record_clear)))

/* Filters of cr_audit_query; a NULL or "" string matches everything. */
typedef struct cr_audit_filter {
	const char *run_id, *sandbox_id, *execution_id, *kind, *reason_code;
	bool has_since, has_until;
	int64_t since_ms;   /* events with ts_ms >= since_ms */
	int64_t until_ms;   /* events with ts_ms < until_ms */
	uint64_t after_seq; /* events with seq > after_seq (the paging cursor) */
	uint32_t limit;     /* 0 = CR_AUDIT_QUERY_DEFAULT; capped at CR_AUDIT_QUERY_MAX */
} cr_audit_filter;

/* Reads the trail at `path` oldest first and returns, in a new array *out of
 * *n records (cr_audit_records_free), the first `limit` events matching
 * every filter; *truncated is set when more match. An unterminated last
 * line (being written right now, or torn) is ignored. A line that does not
 * parse fails the query (EBADMSG) naming its line number; hashes are not
 * checked (cr_audit_verify does). ENOENT when the file does not exist. */
int cr_audit_query(const char *path, const cr_audit_filter *f, cr_audit_record **out, size_t *n,
		   bool *truncated, cr_error **err);

/* Re-computes the chain of the trail at `path`: every line must parse, be in
 * canonical form, carry seq = its line number, prev_hash = the hash of the
 * line before ("" for the first) and hash = SHA-256 of its line without
 * "hash". Returns 0 with *n_ok = the number of events when all hold; -1 with
 * status EBADMSG, *n_ok = the events verified before the first broken one
 * (whose seq is therefore *n_ok + 1) and a message saying what broke;
 * -1 with another status on an I/O error. An unterminated last line is
 * ignored, as by cr_audit_query. Deleting events at the end of the trail is
 * not detectable from the file alone: compare *n_ok with the writer's
 * cr_audit_seq (the server reports it as ServerStatus.audit_seq). */
int cr_audit_verify(const char *path, uint64_t *n_ok, cr_error **err);
