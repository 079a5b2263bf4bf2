/* SPDX-License-Identifier: Apache-2.0 */
/* buf.h -- a growable byte buffer with a hard cap fixed at creation.
 *
 * Every buffer filled from outside (a policy file, a lockfile, a request
 * body) is a cr_buf whose limit is set when it is initialised; an append that
 * would pass the limit fails with E2BIG and leaves the buffer unchanged. The
 * data is always NUL-terminated so it can be handed to string APIs. */
#pragma once

#include <stdarg.h>
#include <stddef.h>

typedef struct cr_buf {
	char *data;   /* NUL-terminated, NULL until the first append */
	size_t len;   /* bytes used, excluding the terminator */
	size_t cap;   /* bytes allocated */
	size_t limit; /* maximum len */
} cr_buf;

void cr_buf_init(cr_buf *b, size_t limit);
/* Appends n bytes; returns 0, or -1 with errno = E2BIG past the limit. */
int cr_buf_append(cr_buf *b, const void *p, size_t n);
int cr_buf_puts(cr_buf *b, const char *s);
int cr_buf_putc(cr_buf *b, char c);
int cr_buf_printf(cr_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Returns the owned NUL-terminated data (never NULL) and resets the buffer. */
char *cr_buf_steal(cr_buf *b, size_t *len);
/* Releases the data; accepts a zeroed or already-freed buffer. */
void cr_buf_free(cr_buf *b);

static inline void cr_buf_freep(cr_buf *b)
{
	cr_buf_free(b);
}
#define cleanup_buf __attribute__((cleanup(cr_buf_freep)))
