/* SPDX-License-Identifier: Apache-2.0 */
/* diag.c -- the diagnostics list. */
#include "util/diag.h"

#include <stdarg.h>
#include <stdlib.h>

#include "util/xalloc.h"

static char *dup_or_null(const char *s)
{
	return s ? cr_xstrdup(s) : NULL;
}

static void push(cr_diags *d, cr_diag item)
{
	if (item.severity == CR_DIAG_ERROR)
		d->n_errors++;
	else
		d->n_warnings++;
	if (d->n >= CR_DIAGS_MAX) {
		free(item.file);
		free(item.path);
		free(item.message);
		free(item.hint);
		return;
	}
	d->items = cr_xgrow(d->items, &d->cap, d->n + 1, sizeof(*d->items));
	d->items[d->n++] = item;
}

void cr_diags_add(cr_diags *d, cr_diag_severity sev, cr_reason reason, cr_diag_loc loc, const char *hint,
		  const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *msg = cr_vasprintf(fmt, ap);
	va_end(ap);
	push(d, (cr_diag){.severity = sev,
			  .reason = reason,
			  .file = dup_or_null(loc.file),
			  .line = loc.line,
			  .col = loc.col,
			  .path = (loc.path && *loc.path) ? cr_xstrdup(loc.path) : NULL,
			  .message = msg,
			  .hint = dup_or_null(hint)});
}

void cr_diags_merge(cr_diags *dst, const cr_diags *src)
{
	for (size_t i = 0; i < src->n; i++) {
		const cr_diag *s = &src->items[i];
		push(dst, (cr_diag){.severity = s->severity,
				    .reason = s->reason,
				    .file = dup_or_null(s->file),
				    .line = s->line,
				    .col = s->col,
				    .path = dup_or_null(s->path),
				    .message = cr_xstrdup(s->message),
				    .hint = dup_or_null(s->hint)});
	}
}

static const char *severity_name(cr_diag_severity s)
{
	return s == CR_DIAG_ERROR ? "error" : "warning";
}

void cr_diags_print(const cr_diags *d, FILE *out)
{
	for (size_t i = 0; i < d->n; i++) {
		const cr_diag *g = &d->items[i];
		if (g->file && g->line && g->col)
			fprintf(out, "%s:%u:%u: ", g->file, g->line, g->col);
		else if (g->file && g->line)
			fprintf(out, "%s:%u: ", g->file, g->line);
		else if (g->file)
			fprintf(out, "%s: ", g->file);
		if (g->reason == CR_REASON_NONE)
			fprintf(out, "%s: ", severity_name(g->severity));
		else
			fprintf(out, "%s[%s]: ", severity_name(g->severity), cr_reason_name(g->reason));
		if (g->path)
			fprintf(out, "%s: ", g->path);
		fprintf(out, "%s\n", g->message);
		if (g->hint)
			fprintf(out, "  hint: %s\n", g->hint);
	}
	size_t shown = d->n, total = d->n_errors + d->n_warnings;
	if (total > shown)
		fprintf(out, "... and %zu more diagnostics not shown\n", total - shown);
}

json_t *cr_diags_to_json(const cr_diags *d)
{
	json_t *arr = json_array();
	for (size_t i = 0; i < d->n; i++) {
		const cr_diag *g = &d->items[i];
		json_t *o = json_pack("{s:s, s:s, s:s}", "severity", severity_name(g->severity),
				      "reason_code", cr_reason_name(g->reason), "message", g->message);
		if (g->file)
			json_object_set_new(o, "file", json_string(g->file));
		if (g->line) {
			json_object_set_new(o, "line", json_integer(g->line));
			json_object_set_new(o, "column", json_integer(g->col));
		}
		if (g->path)
			json_object_set_new(o, "path", json_string(g->path));
		if (g->hint)
			json_object_set_new(o, "hint", json_string(g->hint));
		json_array_append_new(arr, o);
	}
	return arr;
}

cr_reason cr_diags_first_reason(const cr_diags *d)
{
	for (size_t i = 0; i < d->n; i++)
		if (d->items[i].severity == CR_DIAG_ERROR)
			return d->items[i].reason;
	return CR_REASON_NONE;
}

void cr_diags_clear(cr_diags *d)
{
	for (size_t i = 0; i < d->n; i++) {
		free(d->items[i].file);
		free(d->items[i].path);
		free(d->items[i].message);
		free(d->items[i].hint);
	}
	free(d->items);
	*d = (cr_diags){0};
}
