/* SPDX-License-Identifier: Apache-2.0 */
/* jsonread.c -- strict JSON object reading (see jsonread.h). */
#include "policy/jsonread.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "util/cleanup.h"
#include "util/xalloc.h"

void cr_jread_error(struct cr_jread *r, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	cleanup_free char *msg = cr_vasprintf(fmt, ap);
	va_end(ap);
	cr_diags_add(r->diags, CR_DIAG_ERROR, CR_REASON_POLICY_INVALID,
		     (cr_diag_loc){r->file, 0, 0, r->path.text}, NULL, "%s", msg);
}

size_t cr_jread_push(struct cr_jread *r, const char *key)
{
	return cr_keypath_push_key(&r->path, key);
}

size_t cr_jread_push_index(struct cr_jread *r, size_t i)
{
	return cr_keypath_push_index(&r->path, i);
}

void cr_jread_pop(struct cr_jread *r, size_t mark)
{
	cr_keypath_pop(&r->path, mark);
}

static bool listed(const char *const *keys, const char *k)
{
	for (size_t i = 0; keys[i]; i++)
		if (strcmp(keys[i], k) == 0)
			return true;
	return false;
}

bool cr_jread_object(struct cr_jread *r, const json_t *v, const char *const *keys)
{
	if (!json_is_object(v)) {
		cr_jread_error(r, "expected an object");
		return false;
	}
	bool ok = true;
	const char *k;
	json_t *val;
	json_object_foreach ((json_t *)v, k, val) {
		if (!listed(keys, k)) {
			cr_jread_error(r, "unknown key '%s'", k);
			ok = false;
		}
	}
	for (size_t i = 0; keys[i]; i++)
		if (!json_object_get(v, keys[i])) {
			cr_jread_error(r, "missing key '%s'", keys[i]);
			ok = false;
		}
	return ok;
}

static const json_t *member(struct cr_jread *r, const json_t *obj, const char *key, json_type t,
			    const char *what)
{
	const json_t *v = json_object_get(obj, key);
	if (v && json_typeof(v) == t)
		return v;
	size_t mark = cr_jread_push(r, key);
	cr_jread_error(r, v ? "expected %s" : "missing %s", what);
	cr_jread_pop(r, mark);
	return NULL;
}

const char *cr_jread_string(struct cr_jread *r, const json_t *obj, const char *key)
{
	const json_t *v = member(r, obj, key, JSON_STRING, "a string");
	return v ? json_string_value(v) : NULL;
}

bool cr_jread_bool(struct cr_jread *r, const json_t *obj, const char *key, bool *out)
{
	const json_t *v = json_object_get(obj, key);
	if (!json_is_boolean(v)) {
		size_t mark = cr_jread_push(r, key);
		cr_jread_error(r, "expected true or false");
		cr_jread_pop(r, mark);
		return false;
	}
	*out = json_is_true(v);
	return true;
}

bool cr_jread_int(struct cr_jread *r, const json_t *obj, const char *key, long long min, long long max,
		  long long *out)
{
	const json_t *v = member(r, obj, key, JSON_INTEGER, "an integer");
	if (!v)
		return false;
	long long n = json_integer_value(v);
	if (n < min || n > max) {
		size_t mark = cr_jread_push(r, key);
		cr_jread_error(r, "%lld is out of range (%lld-%lld)", n, min, max);
		cr_jread_pop(r, mark);
		return false;
	}
	*out = n;
	return true;
}

const json_t *cr_jread_array(struct cr_jread *r, const json_t *obj, const char *key)
{
	return member(r, obj, key, JSON_ARRAY, "an array");
}
