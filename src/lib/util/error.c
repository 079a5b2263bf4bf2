/* SPDX-License-Identifier: Apache-2.0 */
/* error.c -- construction and wrapping of cr_error. */
#include "util/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/xalloc.h"

int cr_error_make(cr_error **err, int status, cr_reason reason, const char *fmt, ...)
{
	if (!err)
		return -1;
	va_list ap;
	va_start(ap, fmt);
	char *base = cr_vasprintf(fmt, ap);
	va_end(ap);
	cr_error *e = cr_xcalloc(1, sizeof(*e));
	e->status = status;
	e->reason = reason;
	e->msg = status ? cr_asprintf("%s: %s", base, strerror(status)) : cr_xstrdup(base);
	free(base);
	cr_error_free(*err);
	*err = e;
	return -1;
}

int cr_error_status(cr_error **err, int status, cr_reason reason, const char *fmt, ...)
{
	if (!err)
		return -1;
	va_list ap;
	va_start(ap, fmt);
	char *msg = cr_vasprintf(fmt, ap);
	va_end(ap);
	cr_error *e = cr_xcalloc(1, sizeof(*e));
	*e = (cr_error){.status = status, .reason = reason, .msg = msg};
	cr_error_free(*err);
	*err = e;
	return -1;
}

int cr_error_wrap(cr_error **err, const char *fmt, ...)
{
	if (!err || !*err)
		return -1;
	va_list ap;
	va_start(ap, fmt);
	char *ctx = cr_vasprintf(fmt, ap);
	va_end(ap);
	char *msg = cr_asprintf("%s: %s", ctx, (*err)->msg);
	free(ctx);
	free((*err)->msg);
	(*err)->msg = msg;
	return -1;
}

void cr_error_free(cr_error *err)
{
	if (!err)
		return;
	free(err->msg);
	free(err);
}
