/* SPDX-License-Identifier: Apache-2.0 */
/* error.h -- the one error object of libcleanroom.
 *
 * A fallible function returns a negative value and fills its last argument,
 * `cr_error **err`, with an errno-like status, a stable reason code and a
 * lower-case message that names the object that failed. Callers add context
 * with cr_error_wrap(); nothing prints and continues. */
#pragma once

#include "audit/reason.h"

typedef struct cr_error {
	int status;       /* errno value, or 0 when not a system error */
	cr_reason reason; /* stable reason code (CR_REASON_NONE if none) */
	char *msg;        /* owned, never NULL */
} cr_error;

/* Fills *err (when err is not NULL) and returns -1. `status` is an errno value
 * or 0; when non-zero its strerror text is appended after ": ". */
int cr_error_make(cr_error **err, int status, cr_reason reason, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Prefixes the message of *err with "<context>: ". Returns -1. */
/* The same, but the message is only fmt's: status classifies the error (an
 * API maps ENOENT to not_found) without its strerror text. */
int cr_error_status(cr_error **err, int status, cr_reason reason, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
int cr_error_wrap(cr_error **err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Frees an error; accepts NULL. */
void cr_error_free(cr_error *err);

static inline void cr_error_freep(cr_error **err)
{
	cr_error_free(*err);
	*err = NULL;
}

#define cleanup_error __attribute__((cleanup(cr_error_freep)))
