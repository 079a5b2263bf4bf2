/* SPDX-License-Identifier: Apache-2.0 */
/* npm.c -- package-lock.json / npm-shrinkwrap.json (lockfileVersion 1, 2, 3).
 *
 * Versions 2 and 3 list every installed package in the flat "packages" map
 * keyed by its node_modules path; version 1 nests "dependencies" maps. Both
 * are read with jansson (size-capped, duplicate keys rejected) and every
 * entry becomes one artifact: the name is the last node_modules segment (or
 * the entry's "name" for an alias), the kind follows from "resolved". JSON
 * carries no positions, so entry lines come from a forward-only scan of the
 * text for each key, which stays linear because jansson keeps key order. */
#include "lockfile/lockfile.h"

#include <string.h>

#include "lockfile/internal.h"
#include "util/cleanup.h"
#include "util/xalloc.h"

/* Deepest nesting of v1 "dependencies" maps we follow. */
#define NPM_V1_MAX_DEPTH 64
/* How far ahead the line scan looks for the next key, and how many keys it
 * may fail to find before it stops looking (lines are then 0). */
#define LINE_SCAN_WINDOW     (1u << 20)
#define LINE_SCAN_MAX_MISSES 16u

typedef struct npm_parse {
	cr_lock_ctx ctx;
	const char *text;
	size_t len;
	size_t pos;      /* line scan cursor */
	unsigned line;   /* line of text[pos] */
	unsigned misses; /* keys the scan did not find; past a few it gives up */
} npm_parse;

/* jansson provides json_decrefp() for its json_auto_t */
#define cleanup_json __attribute__((cleanup(json_decrefp)))

static void advance_to(npm_parse *p, size_t to)
{
	for (const char *s = p->text + p->pos, *end = p->text + to; s < end; s++) {
		s = memchr(s, '\n', (size_t)(end - s));
		if (!s)
			break;
		p->line++;
	}
	p->pos = to;
}

/* `"key"` followed by optional blanks and ':', then (when need_object)
 * optional blanks and '{'. */
static bool key_at(const char *s, const char *end, bool need_object)
{
	while (s < end && (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n'))
		s++;
	if (s >= end || *s++ != ':')
		return false;
	if (!need_object)
		return true;
	while (s < end && (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n'))
		s++;
	return s < end && *s == '{';
}

/* memmem() without relying on _GNU_SOURCE. */
static const char *find_bytes(const char *s, size_t n, const char *needle, size_t m)
{
	for (const char *end = s + n; m <= (size_t)(end - s);) {
		const char *c = memchr(s, needle[0], (size_t)(end - s) - m + 1);
		if (!c)
			return NULL;
		if (memcmp(c, needle, m) == 0)
			return c;
		s = c + 1;
	}
	return NULL;
}

/* Line of the next `"key":` after the cursor, 0 when not found nearby. A
 * v1 name also appears in "requires" maps, so there it must open an object;
 * a v2/v3 path key is unique and may hold anything. */
static unsigned line_of_key(npm_parse *p, const char *key, bool need_object)
{
	if (strpbrk(key, "\"\\") || p->misses > LINE_SCAN_MAX_MISSES)
		return 0; /* escaped in the text; not worth decoding */
	cleanup_free char *quoted = cr_asprintf("\"%s\"", key);
	size_t qlen = strlen(quoted);
	size_t limit = p->len - p->pos > LINE_SCAN_WINDOW ? p->pos + LINE_SCAN_WINDOW : p->len;
	const char *s = p->text + p->pos, *end = p->text + limit;
	while (s < end) {
		const char *hit = find_bytes(s, (size_t)(end - s), quoted, qlen);
		if (!hit)
			break;
		if (key_at(hit + qlen, p->text + p->len, need_object)) {
			advance_to(p, (size_t)(hit - p->text));
			return p->line;
		}
		s = hit + 1;
	}
	p->misses++; /* keys written with \u escapes: stop paying for a window scan each */
	return 0;
}

/* Reads an optional string member. Returns -1 (error reported) when it is
 * present but not a bounded string; *out is borrowed, NULL when absent. */
static int get_str(npm_parse *p, json_t *e, const char *field, const char *jpath, unsigned line,
		   const char **out)
{
	json_t *v = json_object_get(e, field);
	*out = NULL;
	if (!v)
		return 0;
	if (!json_is_string(v) || json_string_length(v) > CR_LOCK_MAX_FIELD) {
		cr_lock_error(&p->ctx, line, jpath, NULL, "\"%s\" must be a string of at most %u bytes",
			      field, CR_LOCK_MAX_FIELD);
		return -1;
	}
	*out = json_string_value(v);
	return 0;
}

static int get_bool(npm_parse *p, json_t *e, const char *field, const char *jpath, unsigned line, bool *out)
{
	json_t *v = json_object_get(e, field);
	*out = false;
	if (!v)
		return 0;
	if (!json_is_boolean(v)) {
		cr_lock_error(&p->ctx, line, jpath, NULL, "\"%s\" must be a boolean", field);
		return -1;
	}
	*out = json_is_true(v);
	return 0;
}

/* The fields an entry of either layout may carry. */
typedef struct npm_entry {
	const char *name, *version, *resolved, *integrity;
	bool link, bundled, optional, dev;
} npm_entry;

static int read_entry(npm_parse *p, json_t *e, const char *jpath, unsigned line, bool v1, npm_entry *ent)
{
	if (!json_is_object(e)) {
		cr_lock_error(&p->ctx, line, jpath, NULL, "a lockfile entry must be an object");
		return -1;
	}
	int r = 0;
	r |= get_str(p, e, "name", jpath, line, &ent->name);
	r |= get_str(p, e, "version", jpath, line, &ent->version);
	r |= get_str(p, e, "resolved", jpath, line, &ent->resolved);
	r |= get_str(p, e, "integrity", jpath, line, &ent->integrity);
	r |= get_bool(p, e, "link", jpath, line, &ent->link);
	r |= get_bool(p, e, v1 ? "bundled" : "inBundle", jpath, line, &ent->bundled);
	r |= get_bool(p, e, "optional", jpath, line, &ent->optional);
	r |= get_bool(p, e, "dev", jpath, line, &ent->dev);
	if (r == 0 && ent->integrity && !cr_lock_is_printable(ent->integrity)) {
		cr_lock_error(&p->ctx, line, jpath, NULL, "\"integrity\" is not a list of SRI hashes");
		r = -1;
	}
	return r ? -1 : 0;
}

/* Kind, registry host and the missing-resolved warning for an entry whose
 * name/version/resolved/integrity are already in *a. */
static void settle_kind(npm_parse *p, cr_artifact *a, const npm_entry *ent, bool in_node_modules,
			const char *jpath)
{
	if (ent->link || (!ent->resolved && !in_node_modules)) {
		a->kind = CR_ARTIFACT_LOCAL;
		return;
	}
	if (a->resolved && *a->resolved) {
		a->kind = cr_lock_classify(a->resolved, a->name, a->version);
		if (a->kind != CR_ARTIFACT_LOCAL)
			a->registry = cr_lock_url_host(a->resolved);
		return;
	}
	a->kind = CR_ARTIFACT_REGISTRY;
	if (!ent->bundled)
		cr_lock_warn(&p->ctx, a->line, jpath,
			     "regenerate it with --no-omit-lockfile-registry-resolved to record the registry",
			     "'%s@%s' has no \"resolved\" URL; its registry host is unknown", a->name,
			     a->version);
}

static void emit_entry(npm_parse *p, cr_artifact *a, const npm_entry *ent, bool in_node_modules,
		       const char *jpath)
{
	a->integrity = cr_xstrdup(ent->integrity ? ent->integrity : "");
	a->optional = ent->optional;
	a->dev = ent->dev;
	a->bundled = ent->bundled;
	settle_kind(p, a, ent, in_node_modules, jpath);
	cr_lock_emit(&p->ctx, a);
}

/* "node_modules/a/node_modules/@s/b" -> "@s/b"; NULL for a workspace folder. */
static const char *name_from_key(const char *key)
{
	const char *last = NULL;
	for (const char *s = key; (s = strstr(s, "node_modules/")); s++)
		if (s == key || s[-1] == '/')
			last = s + strlen("node_modules/");
	return last;
}

static void packages_entry(npm_parse *p, const char *key, json_t *e)
{
	cleanup_free char *jpath = cr_asprintf("packages[\"%.200s\"]", key);
	unsigned line = line_of_key(p, key, false);
	npm_entry ent = {0};
	if (read_entry(p, e, jpath, line, false, &ent) < 0)
		return;
	const char *key_name = name_from_key(key);
	bool in_node_modules = key_name != NULL;
	if (!key_name) { /* a workspace folder: the package's own sources */
		const char *slash = strrchr(key, '/');
		key_name = ent.name ? ent.name : slash ? slash + 1 : key;
	}
	const char *name = ent.name && !ent.link ? ent.name : key_name;
	if (!cr_lock_valid_npm_name(name) || !cr_lock_valid_npm_name(key_name)) {
		cr_lock_error(&p->ctx, line, jpath, NULL, "invalid package name '%.200s'", name);
		return;
	}
	if (ent.version && !cr_lock_is_token(ent.version)) {
		cr_lock_error(&p->ctx, line, jpath, NULL, "invalid version for '%s'", name);
		return;
	}
	cr_artifact a = {.line = line};
	a.name = cr_xstrdup(name);
	a.alias = strcmp(name, key_name) != 0 ? cr_xstrdup(key_name) : NULL;
	a.version = cr_xstrdup(ent.version ? ent.version : "");
	a.resolved = cr_xstrdup(ent.resolved ? ent.resolved : "");
	emit_entry(p, &a, &ent, in_node_modules, jpath);
}

static void parse_packages(npm_parse *p, json_t *packages)
{
	const char *key;
	json_t *e;
	json_object_foreach (packages, key, e) {
		if (!*key)
			continue; /* the root project itself */
		if (p->ctx.full)
			return;
		if (strlen(key) > CR_LOCK_MAX_FIELD) {
			cr_lock_error(&p->ctx, 0, "packages", NULL, "package path longer than %u bytes",
				      CR_LOCK_MAX_FIELD);
			continue;
		}
		packages_entry(p, key, e);
	}
}

/* v1 "version": "1.0.0", "npm:real@1.0.0" (alias) or a URL/path (git,
 * tarball, file:) that then stands in for "resolved". */
static int v1_identity(npm_parse *p, const char *key, const npm_entry *ent, cr_artifact *a, const char *jpath)
{
	const char *v = ent->version;
	if (strncmp(v, "npm:", 4) == 0) {
		const char *spec = v + 4;
		const char *at = *spec ? strrchr(spec + 1, '@') : NULL;
		if (!at || !at[1]) {
			cr_lock_error(&p->ctx, a->line, jpath, NULL, "invalid alias version '%.200s'", v);
			return -1;
		}
		a->name = cr_xstrndup(spec, (size_t)(at - spec));
		a->alias = cr_xstrdup(key);
		a->version = cr_xstrdup(at + 1);
	} else if (cr_lock_is_git_url(v) || strstr(v, "://") || strncmp(v, "file:", 5) == 0) {
		a->name = cr_xstrdup(key);
		a->version = cr_xstrdup("");
		if (!ent->resolved)
			a->resolved = cr_xstrdup(v);
	} else {
		a->name = cr_xstrdup(key);
		a->version = cr_xstrdup(v);
	}
	if (!a->resolved)
		a->resolved = cr_xstrdup(ent->resolved ? ent->resolved : "");
	if (!cr_lock_valid_npm_name(a->name) || !cr_lock_is_token(a->version)) {
		cr_lock_error(&p->ctx, a->line, jpath, NULL, "invalid package name or version '%.200s'", key);
		return -1;
	}
	return 0;
}

static void parse_v1_deps(npm_parse *p, json_t *deps, const char *parent, unsigned depth);

static void v1_entry(npm_parse *p, const char *key, json_t *e, const char *parent, unsigned depth)
{
	cleanup_free char *jpath =
		cr_asprintf("%s%sdependencies[\"%.128s\"]", parent, *parent ? "." : "", key);
	unsigned line = line_of_key(p, key, true);
	npm_entry ent = {0};
	if (read_entry(p, e, jpath, line, true, &ent) < 0)
		return;
	if (!ent.version) {
		cr_lock_error(&p->ctx, line, jpath, NULL, "'%.200s' has no \"version\"", key);
	} else {
		cr_artifact a = {.line = line};
		if (v1_identity(p, key, &ent, &a, jpath) == 0)
			emit_entry(p, &a, &ent, true, jpath);
		cr_artifact_clear(&a);
	}
	json_t *nested = json_object_get(e, "dependencies");
	if (nested)
		parse_v1_deps(p, nested, jpath, depth + 1);
}

static void parse_v1_deps(npm_parse *p, json_t *deps, const char *parent, unsigned depth)
{
	if (!json_is_object(deps)) {
		cr_lock_error(&p->ctx, 0, parent, NULL, "\"dependencies\" must be an object");
		return;
	}
	if (depth > NPM_V1_MAX_DEPTH) {
		cr_lock_error(&p->ctx, 0, parent, NULL, "dependencies nest deeper than %d levels",
			      NPM_V1_MAX_DEPTH);
		return;
	}
	const char *key;
	json_t *e;
	json_object_foreach (deps, key, e) {
		if (p->ctx.full)
			return;
		v1_entry(p, key, e, parent, depth);
	}
}

static json_t *load(npm_parse *p)
{
	if (p->len > CR_LOCKFILE_MAX_BYTES) {
		cr_lock_error(&p->ctx, 0, NULL, NULL, "lockfile is larger than %u bytes",
			      CR_LOCKFILE_MAX_BYTES);
		return NULL;
	}
	json_error_t jerr;
	json_t *root = json_loadb(p->text, p->len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		cr_diags_add(p->ctx.diags, CR_DIAG_ERROR, CR_REASON_POLICY_INVALID,
			     (cr_diag_loc){.file = p->ctx.path,
					   .line = jerr.line > 0 ? (unsigned)jerr.line : 0,
					   .col = jerr.column > 0 ? (unsigned)jerr.column : 0},
			     NULL, "invalid JSON: %s", jerr.text);
		return NULL;
	}
	if (!json_is_object(root)) {
		cr_lock_error(&p->ctx, 1, NULL, NULL, "a package-lock.json must be a JSON object");
		json_decref(root);
		return NULL;
	}
	return root;
}

static int lockfile_version(npm_parse *p, json_t *root)
{
	json_t *v = json_object_get(root, "lockfileVersion");
	if (!v) {
		cr_lock_error(&p->ctx, 0, "lockfileVersion", NULL, "missing \"lockfileVersion\"");
		return -1;
	}
	if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 3) {
		cr_lock_error(&p->ctx, line_of_key(p, "lockfileVersion", false), "lockfileVersion",
			      "lockfileVersion 1, 2 and 3 are supported", "unsupported \"lockfileVersion\"");
		return -1;
	}
	return (int)json_integer_value(v);
}

int cr_lockfile_parse_npm(const char *path, const char *text, size_t len, cr_artifact_list *out,
			  cr_diags *diags)
{
	npm_parse p = {.text = text, .len = len, .line = 1};
	cr_lock_ctx_init(&p.ctx, "npm", path, out, diags);
	cleanup_json json_t *root = load(&p);
	if (!root)
		return -1;
	int version = lockfile_version(&p, root);
	if (version < 0)
		return -1;
	json_t *packages = json_object_get(root, "packages");
	json_t *deps = json_object_get(root, "dependencies");
	if (version >= 2 && packages) {
		if (json_is_object(packages))
			parse_packages(&p, packages);
		else
			cr_lock_error(&p.ctx, 0, "packages", NULL, "\"packages\" must be an object");
	} else if (version == 3) {
		cr_lock_error(&p.ctx, 0, "packages", NULL, "lockfileVersion 3 requires a \"packages\" map");
	} else if (deps) {
		parse_v1_deps(&p, deps, "", 1);
	}
	return cr_lock_ctx_result(&p.ctx);
}
