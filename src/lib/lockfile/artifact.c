/* SPDX-License-Identifier: Apache-2.0 */
/* artifact.c -- the artifact allowlist entries every lockfile parser yields.
 *
 * Owns the life cycle of cr_artifact (copy, clear, list), the normalisation
 * that makes a compiled policy byte-identical for equal inputs (sort, then
 * merge exact duplicates), and the JSON form stored in the compiled policy,
 * read back with strict validation because a compiled policy may come from
 * outside. */
#include "lockfile/lockfile.h"

#include <stdlib.h>
#include <string.h>

#include "lockfile/internal.h"
#include "util/cleanup.h"
#include "util/xalloc.h"

static const char *const kind_names[] = {
	[CR_ARTIFACT_REGISTRY] = "registry",
	[CR_ARTIFACT_GIT] = "git",
	[CR_ARTIFACT_TARBALL] = "tarball",
	[CR_ARTIFACT_LOCAL] = "local",
};

#define N_KINDS (sizeof(kind_names) / sizeof(kind_names[0]))

const char *cr_artifact_kind_name(cr_artifact_kind k)
{
	if ((unsigned)k >= N_KINDS)
		return "unknown";
	return kind_names[k];
}

static int kind_from_name(const char *s, cr_artifact_kind *out)
{
	for (size_t i = 0; i < N_KINDS; i++) {
		if (strcmp(s, kind_names[i]) == 0) {
			*out = (cr_artifact_kind)i;
			return 0;
		}
	}
	return -1;
}

static char *dup_or_null(const char *s)
{
	return s ? cr_xstrdup(s) : NULL;
}

cr_artifact cr_artifact_copy(const cr_artifact *a)
{
	cr_artifact c = *a;
	c.manager = dup_or_null(a->manager);
	c.name = dup_or_null(a->name);
	c.version = dup_or_null(a->version);
	c.registry = dup_or_null(a->registry);
	c.resolved = dup_or_null(a->resolved);
	c.integrity = dup_or_null(a->integrity);
	c.alias = dup_or_null(a->alias);
	c.lockfile = dup_or_null(a->lockfile);
	return c;
}

void cr_artifact_clear(cr_artifact *a)
{
	if (!a)
		return;
	free(a->manager);
	free(a->name);
	free(a->version);
	free(a->registry);
	free(a->resolved);
	free(a->integrity);
	free(a->alias);
	free(a->lockfile);
	memset(a, 0, sizeof(*a));
}

void cr_artifact_list_push(cr_artifact_list *l, cr_artifact a)
{
	l->items = cr_xgrow(l->items, &l->cap, l->n + 1, sizeof(*l->items));
	l->items[l->n++] = a;
}

void cr_artifact_list_free(cr_artifact_list *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->n; i++)
		cr_artifact_clear(&l->items[i]);
	free(l->items);
	l->items = NULL;
	l->n = l->cap = 0;
}

/* NULL sorts before every string, so an unset alias sorts first. */
static int cmp_str(const char *a, const char *b)
{
	if (!a || !b)
		return (a != NULL) - (b != NULL);
	return strcmp(a, b);
}

/* The identity that makes two entries duplicates (lockfile.h), then the
 * remaining fields so that the order is total. */
static int cmp_identity(const cr_artifact *x, const cr_artifact *y)
{
	int r;
	if ((r = cmp_str(x->name, y->name)) || (r = cmp_str(x->version, y->version)) ||
	    (r = cmp_str(x->resolved, y->resolved)) || (r = cmp_str(x->registry, y->registry)) ||
	    (r = cmp_str(x->integrity, y->integrity)) || (r = cmp_str(x->alias, y->alias)) ||
	    (r = cmp_str(x->manager, y->manager)))
		return r;
	return (x->kind > y->kind) - (x->kind < y->kind);
}

static int cmp_rest(const cr_artifact *x, const cr_artifact *y)
{
	int r;
	if ((r = cmp_str(x->lockfile, y->lockfile)))
		return r;
	if (x->optional != y->optional)
		return x->optional ? 1 : -1;
	if (x->bundled != y->bundled)
		return x->bundled ? 1 : -1;
	if (x->dev != y->dev)
		return x->dev ? 1 : -1;
	return (x->line > y->line) - (x->line < y->line);
}

static int cmp_dedup(const void *pa, const void *pb)
{
	const cr_artifact *x = pa, *y = pb;
	int r = cmp_identity(x, y);
	return r ? r : cmp_rest(x, y);
}

/* The documented order: name, version, resolved, lockfile, then the rest. */
static int cmp_final(const void *pa, const void *pb)
{
	const cr_artifact *x = pa, *y = pb;
	int r;
	if ((r = cmp_str(x->name, y->name)) || (r = cmp_str(x->version, y->version)) ||
	    (r = cmp_str(x->resolved, y->resolved)) || (r = cmp_str(x->lockfile, y->lockfile)))
		return r;
	return cmp_dedup(pa, pb);
}

/* A merged entry is optional, bundled or dev only when every copy was, so
 * that merging never narrows what an install may need. */
static void merge_into(cr_artifact *keep, cr_artifact *dup)
{
	keep->optional = keep->optional && dup->optional;
	keep->bundled = keep->bundled && dup->bundled;
	keep->dev = keep->dev && dup->dev;
	cr_artifact_clear(dup);
}

void cr_artifact_list_normalize(cr_artifact_list *l)
{
	if (!l || l->n == 0)
		return;
	qsort(l->items, l->n, sizeof(*l->items), cmp_dedup);
	size_t w = 0;
	for (size_t i = 1; i < l->n; i++) {
		if (cmp_identity(&l->items[w], &l->items[i]) == 0)
			merge_into(&l->items[w], &l->items[i]);
		else
			l->items[++w] = l->items[i];
	}
	l->n = w + 1;
	qsort(l->items, l->n, sizeof(*l->items), cmp_final);
}

/* Parsers only yield UTF-8; bytes of an artifact built elsewhere are kept
 * as they are rather than dropped. */
static json_t *str_or_empty(const char *s)
{
	s = s ? s : "";
	json_t *j = json_string(s);
	return j ? j : json_stringn_nocheck(s, strlen(s));
}

json_t *cr_artifact_to_json(const cr_artifact *a)
{
	json_t *o = json_object();
	json_object_set_new(o, "name", str_or_empty(a->name));
	json_object_set_new(o, "version", str_or_empty(a->version));
	json_object_set_new(o, "registry", str_or_empty(a->registry));
	json_object_set_new(o, "resolved", str_or_empty(a->resolved));
	json_object_set_new(o, "integrity", str_or_empty(a->integrity));
	json_object_set_new(o, "kind", json_string(cr_artifact_kind_name(a->kind)));
	if (a->alias)
		json_object_set_new(o, "alias", str_or_empty(a->alias));
	json_object_set_new(o, "optional", json_boolean(a->optional));
	json_object_set_new(o, "bundled", json_boolean(a->bundled));
	json_object_set_new(o, "dev", json_boolean(a->dev));
	json_object_set_new(o, "lockfile", str_or_empty(a->lockfile));
	return o;
}

enum field_type { F_STR, F_BOOL };

typedef struct field_spec {
	const char *key;
	enum field_type type;
	bool required;
	size_t str_off;  /* offsetof the char * member (F_STR) */
	size_t bool_off; /* offsetof the bool member (F_BOOL) */
} field_spec;

#define STR_FIELD(k, member, req)                               \
	{                                                       \
		k, F_STR, req, offsetof(cr_artifact, member), 0 \
	}
#define BOOL_FIELD(k, member)                                     \
	{                                                         \
		k, F_BOOL, true, 0, offsetof(cr_artifact, member) \
	}

/* "kind" is a string too but is decoded separately. */
static const field_spec artifact_fields[] = {
	STR_FIELD("name", name, true),           STR_FIELD("version", version, true),
	STR_FIELD("registry", registry, true),   STR_FIELD("resolved", resolved, true),
	STR_FIELD("integrity", integrity, true), STR_FIELD("alias", alias, false),
	STR_FIELD("lockfile", lockfile, true),   BOOL_FIELD("optional", optional),
	BOOL_FIELD("bundled", bundled),          BOOL_FIELD("dev", dev),
};

#define N_FIELDS (sizeof(artifact_fields) / sizeof(artifact_fields[0]))

static const field_spec *find_field(const char *key)
{
	for (size_t i = 0; i < N_FIELDS; i++)
		if (strcmp(artifact_fields[i].key, key) == 0)
			return &artifact_fields[i];
	return NULL;
}

/* A string field: bounded, no NUL inside. */
static int read_str(const json_t *v, const char *key, char **dst, char **why)
{
	if (!json_is_string(v)) {
		*why = cr_asprintf("artifact field '%s' must be a string", key);
		return -1;
	}
	size_t n = json_string_length(v);
	const char *s = json_string_value(v);
	if (n > CR_LOCK_MAX_FIELD || strlen(s) != n) {
		*why = cr_asprintf("artifact field '%s' is too long or contains NUL", key);
		return -1;
	}
	*dst = cr_xstrndup(s, n);
	return 0;
}

static int read_field(const field_spec *f, const json_t *v, cr_artifact *a, char **why)
{
	if (f->type == F_BOOL) {
		if (!json_is_boolean(v)) {
			*why = cr_asprintf("artifact field '%s' must be a boolean", f->key);
			return -1;
		}
		*(bool *)((char *)a + f->bool_off) = json_is_true(v);
		return 0;
	}
	return read_str(v, f->key, (char **)((char *)a + f->str_off), why);
}

static int read_kind(const json_t *v, cr_artifact *a, char **why)
{
	if (!json_is_string(v) || kind_from_name(json_string_value(v), &a->kind) < 0) {
		*why = cr_xstrdup("artifact field 'kind' must be one of registry, git, tarball, local");
		return -1;
	}
	return 0;
}

static int check_required(const json_t *j, char **why)
{
	for (size_t i = 0; i < N_FIELDS; i++) {
		if (artifact_fields[i].required && !json_object_get(j, artifact_fields[i].key)) {
			*why = cr_asprintf("artifact lacks field '%s'", artifact_fields[i].key);
			return -1;
		}
	}
	if (!json_object_get(j, "kind")) {
		*why = cr_xstrdup("artifact lacks field 'kind'");
		return -1;
	}
	return 0;
}

static int read_artifact(const json_t *j, cr_artifact *a, char **why)
{
	const char *key;
	json_t *v;
	json_object_foreach ((json_t *)j, key, v) {
		const field_spec *f = find_field(key);
		if (strcmp(key, "kind") == 0) {
			if (read_kind(v, a, why) < 0)
				return -1;
		} else if (!f) {
			*why = cr_asprintf("unknown artifact field '%.64s'", key);
			return -1;
		} else if (read_field(f, v, a, why) < 0) {
			return -1;
		}
	}
	if (a->name && !*a->name) {
		*why = cr_xstrdup("artifact field 'name' must not be empty");
		return -1;
	}
	return 0;
}

int cr_artifact_from_json(const json_t *j, const char *manager, cr_artifact *out, char **why)
{
	*why = NULL;
	if (!json_is_object(j)) {
		*why = cr_xstrdup("artifact must be an object");
		return -1;
	}
	if (check_required(j, why) < 0)
		return -1;
	cr_artifact a = {0};
	if (read_artifact(j, &a, why) < 0) {
		cr_artifact_clear(&a);
		return -1;
	}
	a.manager = cr_xstrdup(manager ? manager : "");
	*out = a;
	return 0;
}
