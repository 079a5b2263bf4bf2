/* SPDX-License-Identifier: Apache-2.0 */
/* walk.c -- schema walking helpers (see walk.h). */
#include "policy/walk.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "util/cleanup.h"
#include "util/xalloc.h"

__attribute__((format(printf, 6, 0))) static void add(struct cr_walk *w, cr_diag_severity sev,
						      const cr_ynode *at, cr_reason reason, const char *hint,
						      const char *fmt, va_list ap)
{
	cleanup_free char *msg = cr_vasprintf(fmt, ap);
	cr_diag_loc loc = {w->file, at ? at->line : 0, at ? at->col : 0, w->path.text};
	cr_diags_add(w->diags, sev, reason, loc, hint, "%s", msg);
}

void cr_walk_error(struct cr_walk *w, const cr_ynode *at, cr_reason reason, const char *hint, const char *fmt,
		   ...)
{
	va_list ap;
	va_start(ap, fmt);
	add(w, CR_DIAG_ERROR, at, reason, hint, fmt, ap);
	va_end(ap);
}

void cr_walk_warn(struct cr_walk *w, const cr_ynode *at, const char *hint, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	add(w, CR_DIAG_WARNING, at, CR_REASON_POLICY_INVALID, hint, fmt, ap);
	va_end(ap);
}

size_t cr_walk_push_key(struct cr_walk *w, const char *key)
{
	return cr_keypath_push_key(&w->path, key);
}

size_t cr_walk_push_index(struct cr_walk *w, size_t i)
{
	return cr_keypath_push_index(&w->path, i);
}

void cr_walk_pop(struct cr_walk *w, size_t mark)
{
	cr_keypath_pop(&w->path, mark);
}

const char *cr_walk_type_name(const cr_ynode *n)
{
	if (n->type == CR_Y_MAP)
		return "a mapping";
	if (n->type == CR_Y_SEQ)
		return "a list";
	if (cr_yscalar_is_null(n))
		return "nothing (null)";
	return "a scalar";
}

/* Levenshtein distance, capped: enough to suggest "allow" for "alow". */
static size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	if (la > 64 || lb > 64)
		return 99;
	size_t row[65];
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t prev = row[0];
		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t cur = row[j];
			size_t sub = prev + (a[i - 1] != b[j - 1]);
			size_t best = row[j] + 1 < row[j - 1] + 1 ? row[j] + 1 : row[j - 1] + 1;
			row[j] = sub < best ? sub : best;
			prev = cur;
		}
	}
	return row[lb];
}

static char *unknown_key_hint(const char *key, const struct cr_walk_field *fields)
{
	const char *best = NULL;
	size_t best_d = 3;
	for (const struct cr_walk_field *f = fields; f->key; f++) {
		size_t d = edit_distance(key, f->key);
		if (d < best_d)
			best_d = d, best = f->key;
	}
	if (best)
		return cr_asprintf("did you mean '%s'?", best);
	cleanup_buf cr_buf b;
	cr_buf_init(&b, 4096);
	cr_buf_puts(&b, "allowed keys: ");
	for (const struct cr_walk_field *f = fields; f->key; f++)
		cr_buf_printf(&b, "%s%s", f == fields ? "" : ", ", f->key);
	return cr_buf_steal(&b, NULL);
}

static const struct cr_walk_field *find_field(const struct cr_walk_field *fields, const char *key)
{
	for (const struct cr_walk_field *f = fields; f->key; f++)
		if (strcmp(f->key, key) == 0)
			return f;
	return NULL;
}

static bool seen_before(const cr_ynode *map, size_t upto, const char *key)
{
	for (size_t i = 0; i < upto; i += 2)
		if (map->items[i]->type == CR_Y_SCALAR && strcmp(map->items[i]->value, key) == 0)
			return true;
	return false;
}

static void read_pair(struct cr_walk *w, const cr_ynode *map, size_t i, const struct cr_walk_field *fields,
		      void *obj)
{
	const cr_ynode *k = map->items[i], *v = map->items[i + 1];
	if (k->type != CR_Y_SCALAR) {
		cr_walk_error(w, k, CR_REASON_POLICY_INVALID, NULL, "keys must be plain strings");
		return;
	}
	const struct cr_walk_field *f = find_field(fields, k->value);
	size_t mark = cr_walk_push_key(w, k->value);
	if (seen_before(map, i, k->value)) {
		cr_walk_error(w, k, CR_REASON_POLICY_INVALID, "remove one of the two", "duplicate key '%s'",
			      k->value);
	} else if (!f) {
		cleanup_free char *hint = unknown_key_hint(k->value, fields);
		cr_walk_error(w, k, CR_REASON_POLICY_INVALID, hint, "unknown key '%s'", k->value);
	} else {
		f->read(w, v, obj);
	}
	cr_walk_pop(w, mark);
}

bool cr_walk_map(struct cr_walk *w, const cr_ynode *map, const struct cr_walk_field *fields, void *obj)
{
	bool is_null = cr_yscalar_is_null(map);
	if (map->type != CR_Y_MAP && !is_null) {
		cr_walk_error(w, map, CR_REASON_POLICY_INVALID, NULL, "expected a mapping, found %s",
			      cr_walk_type_name(map));
		return false;
	}
	for (size_t i = 0; !is_null && i + 1 < map->n; i += 2)
		read_pair(w, map, i, fields, obj);
	for (const struct cr_walk_field *f = fields; f->key; f++) {
		if (f->required && (is_null || !cr_ymap_get(map, f->key)))
			cr_walk_error(w, map, CR_REASON_POLICY_INVALID, NULL, "missing required key '%s'",
				      f->key);
	}
	return true;
}

bool cr_walk_seq(struct cr_walk *w, const cr_ynode *seq,
		 void (*item)(struct cr_walk *w, const cr_ynode *n, size_t i, void *obj), void *obj)
{
	if (cr_yscalar_is_null(seq))
		return true;
	if (seq->type != CR_Y_SEQ) {
		cr_walk_error(w, seq, CR_REASON_POLICY_INVALID,
			      "write a list, e.g. [a, b] or one '- item' per line",
			      "expected a list, found %s", cr_walk_type_name(seq));
		return false;
	}
	for (size_t i = 0; i < seq->n; i++) {
		size_t mark = cr_walk_push_index(w, i);
		item(w, seq->items[i], i, obj);
		cr_walk_pop(w, mark);
	}
	return true;
}

bool cr_walk_string(struct cr_walk *w, const cr_ynode *n, const char **out)
{
	if (n->type != CR_Y_SCALAR || cr_yscalar_is_null(n)) {
		cr_walk_error(w, n, CR_REASON_POLICY_INVALID, NULL, "expected a string, found %s",
			      cr_walk_type_name(n));
		return false;
	}
	*out = n->value;
	return true;
}

bool cr_walk_bool(struct cr_walk *w, const cr_ynode *n, bool *out)
{
	if (cr_yscalar_bool(n, out))
		return true;
	cr_walk_error(w, n, CR_REASON_POLICY_INVALID, "write true or false (unquoted)",
		      "expected true or false, found %s%s%s", n->type == CR_Y_SCALAR ? "'" : "",
		      n->type == CR_Y_SCALAR ? n->value : cr_walk_type_name(n),
		      n->type == CR_Y_SCALAR ? "'" : "");
	return false;
}

bool cr_walk_int(struct cr_walk *w, const cr_ynode *n, long long min, long long max, long long *out)
{
	int r = cr_yscalar_int(n, min, max, out);
	if (r == 1)
		return true;
	if (r < 0)
		cr_walk_error(w, n, CR_REASON_POLICY_INVALID, NULL, "%s is out of range (%lld-%lld)",
			      n->value, min, max);
	else
		cr_walk_error(w, n, CR_REASON_POLICY_INVALID,
			      n->quoted ? "write the number without quotes" : NULL,
			      "expected an integer, found %s%s%s", n->type == CR_Y_SCALAR ? "'" : "",
			      n->type == CR_Y_SCALAR ? n->value : cr_walk_type_name(n),
			      n->type == CR_Y_SCALAR ? "'" : "");
	return false;
}

int cr_walk_enum(struct cr_walk *w, const cr_ynode *n, const char *const *choices)
{
	const char *s;
	if (!cr_walk_string(w, n, &s))
		return -1;
	cleanup_buf cr_buf b;
	cr_buf_init(&b, 1024);
	for (int i = 0; choices[i]; i++) {
		if (strcmp(s, choices[i]) == 0)
			return i;
		cr_buf_printf(&b, "%s%s", i ? ", " : "", choices[i]);
	}
	cleanup_free char *hint = cr_asprintf("use one of: %s", b.data ? b.data : "");
	cr_walk_error(w, n, CR_REASON_POLICY_INVALID, hint, "'%s' is not a valid value", s);
	return -1;
}
