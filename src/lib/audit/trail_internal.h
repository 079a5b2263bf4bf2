/* SPDX-License-Identifier: Apache-2.0 */
/* trail_internal.h -- what the audit trail's writer (trail.c) and readers
 * (trail_read.c) share with the line codec (trail_line.c). Not installed. */
#pragma once

#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#include "audit/trail.h"
#include "util/sha256.h"

/* "2024-05-01T12:34:56.789Z": RFC 3339, UTC, milliseconds. */
#define CR_AUDIT_TS_LEN 24

/* Formats Unix ms (0 <= ms, before year 10000) into out; -1 when outside. */
int cr_audit_ts_format(int64_t ms, char out[CR_AUDIT_TS_LEN + 1]);

/* Parses exactly the form cr_audit_ts_format writes; -1 otherwise. */
int cr_audit_ts_parse(const char *s, size_t len, int64_t *ms);

/* Fills r (owned copies) from ev with the rules of cr_audit_append: strings
 * made valid UTF-8 and capped, kind and detail keys checked, detail sorted.
 * ts_ms must already be resolved (not 0). seq, prev_hash and hash are left
 * for the caller. On failure r is cleared. */
int cr_audit_record_from_event(const cr_audit_event *ev, int64_t ts_ms, cr_audit_record *r, cr_error **err);

/* Computes r->hash (replacing it) from the line without "hash" and returns
 * the full canonical line plus its newline, or NULL with *err. */
/* The hex SHA-256 of r's canonical line without "hash": what r->hash must be. */
int cr_audit_record_digest(const cr_audit_record *r, char hex[CR_SHA256_HEX_LEN + 1], cr_error **err);
char *cr_audit_record_seal(cr_audit_record *r, size_t *len, cr_error **err);

/* Marks the error in *err (if any) as integrity damage: EBADMSG. */
static inline void cr_audit_mark_damage(cr_error **err)
{
	if (err && *err)
		(*err)->status = EBADMSG;
}
