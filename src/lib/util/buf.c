/* SPDX-License-Identifier: Apache-2.0 */
/* buf.c -- capped growable buffer. */
#include "util/buf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/xalloc.h"

void cr_buf_init(cr_buf *b, size_t limit)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->limit = limit;
}

int cr_buf_append(cr_buf *b, const void *p, size_t n)
{
	if (n > b->limit || b->len > b->limit - n) {
		errno = E2BIG;
		return -1;
	}
	b->data = cr_xgrow(b->data, &b->cap, b->len + n + 1, 1);
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

int cr_buf_puts(cr_buf *b, const char *s)
{
	return cr_buf_append(b, s, strlen(s));
}

int cr_buf_putc(cr_buf *b, char c)
{
	return cr_buf_append(b, &c, 1);
}

int cr_buf_printf(cr_buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *s = cr_vasprintf(fmt, ap);
	va_end(ap);
	int r = cr_buf_puts(b, s);
	free(s);
	return r;
}

char *cr_buf_steal(cr_buf *b, size_t *len)
{
	char *d = b->data ? b->data : cr_xstrdup("");
	if (len)
		*len = b->len;
	cr_buf_init(b, b->limit);
	return d;
}

void cr_buf_free(cr_buf *b)
{
	free(b->data);
	cr_buf_init(b, b->limit);
}
