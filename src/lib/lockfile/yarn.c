/* SPDX-License-Identifier: Apache-2.0 */
/* yarn.c -- yarn classic (v1) yarn.lock.
 *
 * The v1 format is yarn's own indentation language with no C library, so
 * this is the one hand-written lockfile parser. It reads line by line, every
 * line capped at CR_LOCK_MAX_LINE: an unindented `spec, spec:` line opens an
 * entry, two-space lines are its fields (version, resolved, integrity; others
 * ignored) and deeper lines belong to a skipped `dependencies:`-style block.
 * Berry (v2+) lockfiles are YAML with a `__metadata:` key; they are refused
 * with a clear error rather than half-understood. */
#include "lockfile/lockfile.h"

#include <string.h>

#include "lockfile/internal.h"
#include "util/cleanup.h"
#include "util/xalloc.h"

#define YARN_HEADER  "# yarn lockfile v1"
#define NOT_V1_ERROR "not a yarn v1 lockfile (yarn berry lockfiles are not supported yet)"

typedef struct yarn_entry {
	bool open;
	bool in_block; /* inside a `dependencies:`-like block */
	unsigned line; /* line of the entry header */
	char *name;    /* real package name */
	char *alias;   /* installed-as name for `alias@npm:real@range` */
	char *range;   /* range of the first specifier */
	char *version; /* the fields below are NULL until seen */
	char *resolved;
	char *integrity;
} yarn_entry;

typedef struct yarn_parse {
	cr_lock_ctx ctx;
	yarn_entry e;
	bool broken; /* the last header was malformed: skip its fields */
} yarn_parse;

static void entry_clear(yarn_entry *e)
{
	free(e->name);
	free(e->alias);
	free(e->range);
	free(e->version);
	free(e->resolved);
	free(e->integrity);
	memset(e, 0, sizeof(*e));
}

typedef struct span {
	const char *s;
	size_t n;
} span;

static span trim(span t)
{
	while (t.n && (t.s[0] == ' ' || t.s[0] == '\t'))
		t.s++, t.n--;
	while (t.n && (t.s[t.n - 1] == ' ' || t.s[t.n - 1] == '\t'))
		t.n--;
	return t;
}

/* Reads a double-quoted string at *t (a backslash takes the next byte
 * literally) and advances past it. Returns NULL when it is not closed. */
static char *read_quoted(span *t)
{
	cleanup_free char *out = cr_xmalloc(t->n + 1);
	size_t w = 0, i = 1;
	for (; i < t->n && t->s[i] != '"'; i++) {
		if (t->s[i] == '\\' && i + 1 < t->n)
			i++;
		out[w++] = t->s[i];
	}
	if (i >= t->n)
		return NULL;
	out[w] = '\0';
	t->s += i + 1;
	t->n -= i + 1;
	return steal_pointer(&out);
}

/* A value: "quoted" or a bare word, nothing after it. NULL when malformed. */
static char *read_value(span t)
{
	t = trim(t);
	if (t.n && t.s[0] == '"') {
		char *v = read_quoted(&t);
		if (v && trim(t).n) {
			free(v);
			return NULL;
		}
		return v;
	}
	return cr_xstrndup(t.s, t.n);
}

/* Splits "name@range" at the first '@' after the first byte. */
static int split_spec(const char *spec, char **name, char **range)
{
	const char *at = *spec ? strchr(spec + 1, '@') : NULL;
	if (!at)
		return -1;
	*name = cr_xstrndup(spec, (size_t)(at - spec));
	*range = cr_xstrdup(at + 1);
	return 0;
}

/* Fills name/alias/range of the entry from its first specifier. */
static int entry_identity(yarn_parse *p, const char *spec)
{
	yarn_entry *e = &p->e;
	cleanup_free char *name = NULL, *range = NULL;
	if (split_spec(spec, &name, &range) < 0)
		return -1;
	if (strncmp(range, "npm:", 4) == 0) {
		cleanup_free char *real = NULL, *real_range = NULL;
		if (split_spec(range + 4, &real, &real_range) < 0)
			return -1;
		e->alias = steal_pointer(&name);
		e->name = steal_pointer(&real);
		e->range = steal_pointer(&real_range);
	} else {
		e->name = steal_pointer(&name);
		e->range = steal_pointer(&range);
	}
	return cr_lock_valid_npm_name(e->name) && (!e->alias || cr_lock_valid_npm_name(e->alias)) ? 0 : -1;
}

/* One specifier of a header; advances *t past it and its comma. */
static char *next_spec(span *t)
{
	*t = trim(*t);
	char *spec;
	if (t->n && t->s[0] == '"') {
		spec = read_quoted(t);
	} else {
		const char *comma = memchr(t->s, ',', t->n);
		size_t n = comma ? (size_t)(comma - t->s) : t->n;
		spec = cr_xstrndup(t->s, trim((span){t->s, n}).n);
		t->s += n;
		t->n -= n;
	}
	*t = trim(*t);
	if (spec && t->n) {
		if (t->s[0] != ',') {
			free(spec);
			return NULL;
		}
		t->s++, t->n--;
	}
	return spec;
}

static int open_entry(yarn_parse *p, span line, unsigned lineno)
{
	if (!line.n || line.s[line.n - 1] != ':') {
		cr_lock_error(&p->ctx, lineno, NULL, NULL, "expected an entry header ending in ':'");
		p->broken = true;
		return -1;
	}
	p->broken = false;
	p->e.open = true;
	p->e.line = lineno;
	span t = {line.s, line.n - 1};
	bool first = true;
	while (trim(t).n) {
		cleanup_free char *spec = next_spec(&t);
		if (!spec || (first && entry_identity(p, spec) < 0) || !strchr(spec, '@')) {
			cr_lock_error(&p->ctx, lineno, NULL, NULL,
				      "malformed package specifier in entry header");
			entry_clear(&p->e);
			p->broken = true;
			return -1;
		}
		first = false;
	}
	if (first) {
		cr_lock_error(&p->ctx, lineno, NULL, NULL, "entry header names no package");
		entry_clear(&p->e);
		p->broken = true;
		return -1;
	}
	return 0;
}

/* Splits the fragment off an http(s) resolved URL; a 40-hex fragment is the
 * tarball's sha1 and becomes the integrity when none is given. */
static void settle_resolved(yarn_entry *e, cr_artifact *a)
{
	char *hash = strchr(e->resolved, '#');
	bool http = strncmp(e->resolved, "http://", 7) == 0 || strncmp(e->resolved, "https://", 8) == 0;
	if (hash && http) {
		if (!e->integrity && strlen(hash + 1) == 40)
			a->integrity = cr_lock_hex_to_sri("sha1", hash + 1, 40);
		a->resolved = cr_xstrndup(e->resolved, (size_t)(hash - e->resolved));
	} else {
		a->resolved = cr_xstrdup(e->resolved);
	}
	a->kind = cr_lock_classify(a->resolved, a->name, a->version);
}

static void close_entry(yarn_parse *p)
{
	yarn_entry *e = &p->e;
	if (!e->open)
		return;
	const char *label = e->alias ? e->alias : e->name;
	if (!e->version) {
		cr_lock_error(&p->ctx, e->line, label, NULL, "entry '%s' has no version", label);
		entry_clear(e);
		return;
	}
	cr_artifact a = {.line = e->line};
	a.name = steal_pointer(&e->name);
	a.alias = steal_pointer(&e->alias);
	a.version = steal_pointer(&e->version);
	if (e->integrity)
		a.integrity = cr_xstrdup(e->integrity);
	if (e->resolved)
		settle_resolved(e, &a);
	else if (cr_lock_is_git_url(e->range))
		a.kind = CR_ARTIFACT_GIT;
	else if (strncmp(e->range, "file:", 5) == 0 || strncmp(e->range, "link:", 5) == 0)
		a.kind = CR_ARTIFACT_LOCAL;
	else
		cr_lock_warn(&p->ctx, e->line, a.name, NULL,
			     "'%s@%s' has no \"resolved\" URL; its registry host is unknown", a.name,
			     a.version);
	if (a.kind != CR_ARTIFACT_LOCAL && a.resolved)
		a.registry = cr_lock_url_host(a.resolved);
	cr_lock_emit(&p->ctx, &a);
	entry_clear(e);
}

static char **field_slot(yarn_entry *e, const char *key)
{
	if (strcmp(key, "version") == 0)
		return &e->version;
	if (strcmp(key, "resolved") == 0)
		return &e->resolved;
	if (strcmp(key, "integrity") == 0)
		return &e->integrity;
	return NULL;
}

/* A two-space line: `key value` or `key:` opening a skipped block. */
static int entry_field(yarn_parse *p, span t, unsigned lineno)
{
	t = trim(t);
	cleanup_free char *key = NULL;
	if (t.s[0] == '"') {
		key = read_quoted(&t);
	} else {
		size_t n = strcspn(t.s, " :\r\n");
		key = cr_xstrndup(t.s, n < t.n ? n : t.n);
		t.s += strlen(key), t.n -= strlen(key);
	}
	if (key && t.n == 1 && t.s[0] == ':') {
		p->e.in_block = true;
		return 0;
	}
	cleanup_free char *value = key && t.n && t.s[0] == ' ' ? read_value(t) : NULL;
	if (!value || !cr_lock_is_printable(value) || strlen(value) > CR_LOCK_MAX_FIELD) {
		cr_lock_error(&p->ctx, lineno, NULL, NULL, "malformed field line");
		return -1;
	}
	char **slot = field_slot(&p->e, key);
	if (slot && *slot) {
		cr_lock_error(&p->ctx, lineno, NULL, NULL, "duplicate \"%s\" field", key);
		return -1;
	}
	if (slot)
		*slot = steal_pointer(&value);
	return 0;
}

static size_t indent_of(span line)
{
	size_t i = 0;
	while (i < line.n && line.s[i] == ' ')
		i++;
	return i;
}

static void parse_line(yarn_parse *p, span line, unsigned lineno)
{
	span body = trim(line);
	if (!body.n || body.s[0] == '#')
		return;
	size_t indent = indent_of(line);
	if (line.s[indent] == '\t') {
		cr_lock_error(&p->ctx, lineno, NULL, NULL, "tab in indentation");
	} else if (indent == 0) {
		close_entry(p);
		open_entry(p, body, lineno);
	} else if (!p->e.open) {
		if (!p->broken) /* a broken entry's fields were already reported */
			cr_lock_error(&p->ctx, lineno, NULL, NULL, "indented line outside an entry");
	} else if (indent == 2) {
		p->e.in_block = false;
		entry_field(p, (span){line.s + 2, line.n - 2}, lineno);
	} else if (indent < 4 || !p->e.in_block) {
		cr_lock_error(&p->ctx, lineno, NULL, NULL, "unexpected indentation");
	}
}

/* The leading comment block must contain "# yarn lockfile v1"; a berry file
 * has "__metadata:" instead. */
static bool is_v1(const char *text, size_t len)
{
	const char *s = text, *end = text + len;
	while (s < end) {
		const char *nl = memchr(s, '\n', (size_t)(end - s));
		span line = trim((span){s, nl ? (size_t)(nl - s) : (size_t)(end - s)});
		if (line.n && line.s[line.n - 1] == '\r')
			line.n--;
		if (line.n == strlen(YARN_HEADER) && memcmp(line.s, YARN_HEADER, line.n) == 0)
			return true;
		if (line.n && line.s[0] != '#')
			return false;
		s = nl ? nl + 1 : end;
	}
	return false;
}

static void parse_lines(yarn_parse *p, const char *text, size_t len)
{
	const char *s = text, *end = text + len;
	for (unsigned lineno = 1; s < end && !p->ctx.full; lineno++) {
		const char *nl = memchr(s, '\n', (size_t)(end - s));
		span line = {s, nl ? (size_t)(nl - s) : (size_t)(end - s)};
		s = nl ? nl + 1 : end;
		if (line.n && line.s[line.n - 1] == '\r')
			line.n--;
		if (line.n > CR_LOCK_MAX_LINE || memchr(line.s, '\0', line.n)) {
			cr_lock_error(&p->ctx, lineno, NULL, NULL,
				      "line is longer than %u bytes or has a NUL byte", CR_LOCK_MAX_LINE);
			continue;
		}
		parse_line(p, line, lineno);
	}
	close_entry(p);
}

int cr_lockfile_parse_yarn(const char *path, const char *text, size_t len, cr_artifact_list *out,
			   cr_diags *diags)
{
	yarn_parse p = {0};
	cr_lock_ctx_init(&p.ctx, "npm", path, out, diags);
	if (len > CR_LOCKFILE_MAX_BYTES) {
		cr_lock_error(&p.ctx, 0, NULL, NULL, "lockfile is larger than %u bytes",
			      CR_LOCKFILE_MAX_BYTES);
		return -1;
	}
	if (!is_v1(text, len)) {
		cr_lock_error(&p.ctx, 1, NULL, "regenerate it with yarn 1, or use package-lock.json",
			      NOT_V1_ERROR);
		return -1;
	}
	parse_lines(&p, text, len);
	entry_clear(&p.e);
	return cr_lock_ctx_result(&p.ctx);
}
