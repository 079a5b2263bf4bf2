/* SPDX-License-Identifier: Apache-2.0 */
/* diag.h -- positioned diagnostics for files a user wrote.
 *
 * Validation reports every problem it finds, not only the first, each with
 * the file, 1-based line and column, the key path inside the document
 * (`sandbox.network.allow[2].host`), a message, an optional one-line hint and
 * a stable reason code. Rendered as
 *   cleanroom.yaml:12:9: error[policy_invalid]: sandbox.network...: message
 *     hint: ...
 * or as JSON for --json. */
#pragma once

#include <jansson.h>
#include <stdio.h>

#include "audit/reason.h"

typedef enum cr_diag_severity { CR_DIAG_ERROR, CR_DIAG_WARNING } cr_diag_severity;

typedef struct cr_diag {
	cr_diag_severity severity;
	cr_reason reason;
	char *file;    /* may be NULL */
	unsigned line; /* 1-based; 0 when unknown */
	unsigned col;  /* 1-based; 0 when unknown */
	char *path;    /* key path; may be NULL */
	char *message;
	char *hint; /* may be NULL */
} cr_diag;

typedef struct cr_diags {
	cr_diag *items;
	size_t n, cap;
	size_t n_errors, n_warnings; /* counted even past the storage cap */
} cr_diags;

/* At most this many diagnostics are stored; later ones are only counted. */
#define CR_DIAGS_MAX 200

typedef struct cr_diag_loc {
	const char *file;
	unsigned line, col;
	const char *path;
} cr_diag_loc;

void cr_diags_add(cr_diags *d, cr_diag_severity sev, cr_reason reason, cr_diag_loc loc, const char *hint,
		  const char *fmt, ...) __attribute__((format(printf, 6, 7)));
/* Appends copies of every diagnostic of src. */
void cr_diags_merge(cr_diags *dst, const cr_diags *src);
void cr_diags_print(const cr_diags *d, FILE *out);
/* Returns a new JSON array of {severity, reason_code, file, line, column,
 * path, message, hint}. */
json_t *cr_diags_to_json(const cr_diags *d);
/* The reason of the first error, or CR_REASON_NONE when there is none. */
cr_reason cr_diags_first_reason(const cr_diags *d);
void cr_diags_clear(cr_diags *d);
