/* SPDX-License-Identifier: Apache-2.0 */
/* pip.c -- pip requirements files used as lockfiles.
 *
 * A requirements file is a lockfile only when every requirement is pinned
 * with `==` to one exact version, as `pip-compile --generate-hashes` writes
 * it: `name[extras]==version ; marker --hash=sha256:<hex> ...`, continued
 * over lines with backslashes. Physical lines are joined into logical lines
 * the way pip does (a comment ends a continuation), each capped at
 * CR_LOCK_MAX_LINE; every pinned requirement becomes one artifact with its
 * PEP 503 name and its hashes as SRI. Nested files (-r, -c) are refused: the
 * policy must list each file so that all of them are parsed and hashed. */
#include "lockfile/lockfile.h"

#include <ctype.h>
#include <string.h>

#include "lockfile/internal.h"
#include "util/buf.h"
#include "util/cleanup.h"
#include "util/xalloc.h"

#define NESTED_ERROR "nested requirement files are not supported; list each file in lockfiles"

typedef struct pip_parse {
	cr_lock_ctx ctx;
	cr_buf logical;  /* the logical line being assembled */
	unsigned line;   /* its first physical line */
	bool building;   /* a continuation is open */
	bool overflowed; /* it passed CR_LOCK_MAX_LINE (reported) */
} pip_parse;

typedef struct span {
	const char *s;
	size_t n;
} span;

/* Whitespace-separated words of a logical line. */
typedef struct words {
	span *w;
	size_t n, cap;
} words;

static void words_free(words *w)
{
	free(w->w);
}

#define cleanup_words __attribute__((cleanup(words_free)))

static void split_words(const char *s, words *out)
{
	while (*s) {
		s += strspn(s, " \t\f\v");
		size_t n = strcspn(s, " \t\f\v");
		if (!n)
			break;
		out->w = cr_xgrow(out->w, &out->cap, out->n + 1, sizeof(*out->w));
		out->w[out->n++] = (span){s, n};
		s += n;
	}
}

static bool word_is(span w, const char *lit)
{
	return w.n == strlen(lit) && memcmp(w.s, lit, w.n) == 0;
}

/* PEP 503: lowercase, runs of '-', '_' and '.' become one '-'. */
static char *pep503(const char *s, size_t n)
{
	char *out = cr_xmalloc(n + 1);
	size_t w = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '-' || s[i] == '_' || s[i] == '.') {
			if (w == 0 || out[w - 1] != '-')
				out[w++] = '-';
		} else {
			out[w++] = (char)tolower((unsigned char)s[i]);
		}
	}
	out[w] = '\0';
	return out;
}

/* ---- options lines ---- */

enum opt_action { OPT_NESTED, OPT_INDEX, OPT_IGNORE, OPT_IGNORE_ARG, OPT_EDITABLE };

static const struct pip_option {
	const char *short_name; /* NULL when none */
	const char *long_name;
	enum opt_action action;
} pip_options[] = {
	{"-r", "--requirement", OPT_NESTED},     {"-c", "--constraint", OPT_NESTED},
	{"-i", "--index-url", OPT_INDEX},        {NULL, "--extra-index-url", OPT_INDEX},
	{"-f", "--find-links", OPT_INDEX},       {NULL, "--trusted-host", OPT_INDEX},
	{NULL, "--no-index", OPT_IGNORE},        {NULL, "--pre", OPT_IGNORE},
	{NULL, "--prefer-binary", OPT_IGNORE},   {NULL, "--require-hashes", OPT_IGNORE},
	{NULL, "--only-binary", OPT_IGNORE_ARG}, {NULL, "--no-binary", OPT_IGNORE_ARG},
	{NULL, "--use-feature", OPT_IGNORE_ARG}, {"-e", "--editable", OPT_EDITABLE},
};

/* Finds the option a word names; *inline_arg gets "x" of "--opt=x"/"-ox". */
static const struct pip_option *find_option(span w, span *inline_arg)
{
	for (size_t i = 0; i < sizeof(pip_options) / sizeof(pip_options[0]); i++) {
		const struct pip_option *o = &pip_options[i];
		size_t ln = strlen(o->long_name);
		*inline_arg = (span){NULL, 0};
		if (word_is(w, o->long_name))
			return o;
		if (w.n > ln && memcmp(w.s, o->long_name, ln) == 0 && w.s[ln] == '=') {
			*inline_arg = (span){w.s + ln + 1, w.n - ln - 1};
			return o;
		}
		if (o->short_name && w.n >= 2 && memcmp(w.s, o->short_name, 2) == 0 && w.s[1] != '-') {
			if (w.n > 2)
				*inline_arg = (span){w.s + 2, w.n - 2};
			return o;
		}
	}
	return NULL;
}

static void add_url_requirement(pip_parse *p, const char *name_hint, const char *url, const char *integrity);

/* `-e <url or path>`: a git/URL requirement or a local directory. */
static void editable(pip_parse *p, span arg)
{
	cleanup_free char *target = cr_xstrndup(arg.s, arg.n);
	add_url_requirement(p, NULL, target, "");
}

static void option_line(pip_parse *p, const words *w)
{
	span arg;
	const struct pip_option *o = find_option(w->w[0], &arg);
	if (!arg.s && w->n > 1)
		arg = w->w[1];
	if (!o) {
		cr_lock_error(&p->ctx, p->line, NULL, NULL, "unknown option '%.*s'", (int)w->w[0].n,
			      w->w[0].s);
	} else if (o->action == OPT_NESTED) {
		cr_lock_error(&p->ctx, p->line, NULL,
			      "add the file to registries.pip.lockfile_enforcement.lockfiles", NESTED_ERROR);
	} else if (o->action == OPT_INDEX) {
		cr_lock_warn(&p->ctx, p->line, NULL, "configure registries in the policy instead",
			     "option '%s' is ignored; packages are fetched through the registry gateway",
			     o->long_name);
	} else if (o->action == OPT_EDITABLE) {
		if (arg.s)
			editable(p, arg);
		else
			cr_lock_error(&p->ctx, p->line, NULL, NULL, "'%s' needs a path or URL", o->long_name);
	}
}

/* ---- hashes ---- */

static const struct {
	const char *algo;
	size_t hexlen;
} hash_algos[] = {{"sha256", 64}, {"sha384", 96}, {"sha512", 128}};

/* "sha256:<hex>" -> SRI, appended to the space-separated list in *b. */
static int add_hash(pip_parse *p, span v, cr_buf *b)
{
	for (size_t i = 0; i < sizeof(hash_algos) / sizeof(hash_algos[0]); i++) {
		size_t al = strlen(hash_algos[i].algo);
		if (v.n != al + 1 + hash_algos[i].hexlen || memcmp(v.s, hash_algos[i].algo, al) != 0 ||
		    v.s[al] != ':')
			continue;
		cleanup_free char *sri =
			cr_lock_hex_to_sri(hash_algos[i].algo, v.s + al + 1, hash_algos[i].hexlen);
		if (!sri)
			break;
		if (b->data && strstr(b->data, sri))
			return 0; /* listed twice */
		if ((b->len && cr_buf_putc(b, ' ') < 0) || cr_buf_puts(b, sri) < 0) {
			cr_lock_error(&p->ctx, p->line, NULL, NULL, "too many --hash options");
			return -1;
		}
		return 0;
	}
	cr_lock_error(&p->ctx, p->line, NULL, "pip accepts sha256, sha384 and sha512 hashes in hex",
		      "invalid --hash value '%.*s'", (int)(v.n > 200 ? 200 : v.n), v.s);
	return -1;
}

/* The options after a requirement; only --hash matters. */
static int requirement_options(pip_parse *p, const words *w, size_t first, cr_buf *hashes)
{
	for (size_t i = first; i < w->n; i++) {
		span o = w->w[i];
		if (word_is(o, "--hash") && i + 1 < w->n) {
			if (add_hash(p, w->w[++i], hashes) < 0)
				return -1;
		} else if (o.n > 7 && memcmp(o.s, "--hash=", 7) == 0) {
			if (add_hash(p, (span){o.s + 7, o.n - 7}, hashes) < 0)
				return -1;
		} else if (o.n && o.s[0] == '-') {
			cr_lock_warn(&p->ctx, p->line, NULL, NULL, "option '%.*s' is ignored",
				     (int)(o.n > 100 ? 100 : o.n), o.s);
		}
	}
	return 0;
}

/* ---- requirements ---- */

static bool is_name_char(char c)
{
	return isalnum((unsigned char)c) || c == '-' || c == '_' || c == '.';
}

static bool is_version_char(char c)
{
	return isalnum((unsigned char)c) || c == '.' || c == '!' || c == '+' || c == '-' || c == '_';
}

static const char *skip_blank(const char *s)
{
	return s + strspn(s, " \t");
}

static void add_pinned(pip_parse *p, char *name, const char *version, const char *integrity)
{
	cr_artifact a = {.line = p->line, .kind = CR_ARTIFACT_REGISTRY};
	a.name = name;
	a.version = cr_xstrdup(version);
	a.integrity = cr_xstrdup(integrity);
	cr_lock_emit(&p->ctx, &a);
}

/* The name a URL requirement gives itself: "#egg=name", else the file name
 * of a wheel or sdist ("pkg-1.0-py3-none-any.whl"), else the last path part. */
static char *name_from_url(const char *url)
{
	const char *egg = strstr(url, "#egg=");
	if (!egg)
		egg = strstr(url, "&egg=");
	if (egg) {
		egg += 5;
		return pep503(egg, strcspn(egg, "&#[ "));
	}
	const char *sep = strstr(url, "://");
	size_t path = sep ? (size_t)(sep + 3 - url) + strcspn(sep + 3, "/?#") : 0;
	size_t end = strcspn(url, "?#");
	while (end > path && url[end - 1] == '/')
		end--;
	size_t start = end;
	while (start > path && url[start - 1] != '/')
		start--;
	size_t n = 0;
	while (start + n < end && url[start + n] != '-' && (url[start + n] != '.' || n == 0))
		n++;
	return pep503(url + start, n);
}

static void add_url_requirement(pip_parse *p, const char *name_hint, const char *url, const char *integrity)
{
	cleanup_free char *name = name_hint ? pep503(name_hint, strlen(name_hint)) : name_from_url(url);
	cr_artifact_kind kind = cr_lock_classify(url, name, "");
	if (!cr_lock_is_token(url) || strlen(url) > CR_LOCK_MAX_FIELD) {
		cr_lock_error(&p->ctx, p->line, NULL, NULL, "invalid URL or path in requirement");
		return;
	}
	if (!isalnum((unsigned char)name[0])) {
		if (kind == CR_ARTIFACT_LOCAL)
			cr_lock_warn(&p->ctx, p->line, NULL, NULL,
				     "local requirement '%.200s' is not fetched from a registry; ignored",
				     url);
		else
			cr_lock_error(&p->ctx, p->line, NULL, "name it: 'name @ <url>' or '<url>#egg=name'",
				      "cannot tell the package name of requirement '%.200s'", url);
		return;
	}
	cr_artifact a = {.line = p->line, .kind = kind};
	a.resolved = cr_xstrdup(url);
	if (kind != CR_ARTIFACT_LOCAL)
		a.registry = cr_lock_url_host(url);
	if (kind == CR_ARTIFACT_REGISTRY) /* a bare URL is never a registry pin for pip */
		a.kind = CR_ARTIFACT_TARBALL;
	a.name = steal_pointer(&name);
	a.integrity = cr_xstrdup(integrity);
	cr_lock_emit(&p->ctx, &a);
}

static void unpinned(pip_parse *p, const char *req, const char *why)
{
	cr_lock_error(&p->ctx, p->line, NULL, "pin it with 'name==version' (pip-compile --generate-hashes)",
		      "requirement '%.200s' is not pinned: %s", req, why);
}

/* "==<version>" and nothing else; the rest is a message for unpinned(). */
static const char *pinned_version(const char *spec, char **version)
{
	spec = skip_blank(spec);
	if (!*spec)
		return "it has no version";
	if (strncmp(spec, "===", 3) == 0)
		return "'===' (arbitrary equality) is not supported";
	if (strncmp(spec, "==", 2) != 0)
		return "only '==' pins one exact version";
	const char *v = skip_blank(spec + 2);
	size_t n = 0;
	while (is_version_char(v[n]))
		n++;
	if (v[n] == '*')
		return "a wildcard version matches many releases";
	if (n == 0 || *skip_blank(v + n))
		return "it must name exactly one version";
	*version = cr_xstrndup(v, n);
	return NULL;
}

/* `name [extras] ==version` or `name [extras] @ url`, markers already cut. */
static void requirement(pip_parse *p, const char *req, const char *integrity)
{
	const char *s = req;
	size_t n = 0;
	while (is_name_char(s[n]))
		n++;
	if (n == 0 || !isalnum((unsigned char)s[0])) {
		cr_lock_error(&p->ctx, p->line, NULL, NULL, "invalid requirement '%.200s'", req);
		return;
	}
	cleanup_free char *raw = cr_xstrndup(s, n);
	const char *rest = skip_blank(s + n);
	if (*rest == '[') { /* extras do not change what is downloaded */
		const char *close = strchr(rest, ']');
		if (!close) {
			cr_lock_error(&p->ctx, p->line, NULL, NULL, "unclosed extras in '%.200s'", req);
			return;
		}
		rest = skip_blank(close + 1);
	}
	if (*rest == '@') {
		add_url_requirement(p, raw, skip_blank(rest + 1), integrity);
		return;
	}
	cleanup_free char *version = NULL;
	const char *why = pinned_version(rest, &version);
	if (why) {
		unpinned(p, req, why);
		return;
	}
	add_pinned(p, pep503(raw, n), version, integrity);
}

/* "scheme://" or "file:" at the start: a URL requirement without a name. */
static bool starts_with_scheme(const char *s)
{
	size_t n = 0;
	while (isalnum((unsigned char)s[n]) || s[n] == '+' || s[n] == '-' || s[n] == '.')
		n++;
	return n && isalpha((unsigned char)s[0]) && s[n] == ':' &&
	       (strncmp(s + n, "://", 3) == 0 || strncmp(s, "file:", 5) == 0);
}

/* Requirement words come before the first option word. */
static void requirement_line(pip_parse *p, const words *w)
{
	size_t k = 0;
	while (k < w->n && w->w[k].s[0] != '-')
		k++;
	const char *start = w->w[0].s, *end = w->w[k - 1].s + w->w[k - 1].n;
	cleanup_free char *req = cr_xstrndup(start, (size_t)(end - start));
	char *semi = strchr(req, ';'); /* environment marker: kept out of the name */
	if (semi)
		*semi = '\0';
	for (size_t n = strlen(req); n && (req[n - 1] == ' ' || req[n - 1] == '\t'); n--)
		req[n - 1] = '\0';
	cleanup_buf cr_buf hashes;
	cr_buf_init(&hashes, CR_LOCK_MAX_FIELD);
	if (requirement_options(p, w, k, &hashes) < 0)
		return;
	const char *integrity = hashes.data ? hashes.data : "";
	if (starts_with_scheme(req) || req[0] == '.' || req[0] == '/')
		add_url_requirement(p, NULL, req, integrity);
	else
		requirement(p, req, integrity);
}

static void logical_line(pip_parse *p, const char *text)
{
	cleanup_words words w = {0};
	split_words(text, &w);
	if (w.n == 0)
		return;
	if (w.w[0].s[0] == '-')
		option_line(p, &w);
	else
		requirement_line(p, &w);
}

/* ---- physical lines ---- */

/* pip's comment rule: '#' at the start or after whitespace. Returns the
 * length before the comment, or n when there is none. */
static size_t comment_start(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] == '#' && (i == 0 || s[i - 1] == ' ' || s[i - 1] == '\t'))
			return i;
	return n;
}

static void finish_logical(pip_parse *p)
{
	if (!p->overflowed && p->logical.data)
		logical_line(p, p->logical.data);
	cr_buf_free(&p->logical);
	cr_buf_init(&p->logical, CR_LOCK_MAX_LINE);
	p->building = p->overflowed = false;
}

static void physical_line(pip_parse *p, const char *s, size_t n, unsigned lineno)
{
	if (!p->building)
		p->line = lineno;
	size_t keep = comment_start(s, n);
	bool cont = keep == n && n && s[n - 1] == '\\';
	if (cont)
		keep--;
	if (memchr(s, '\0', n)) {
		cr_lock_error(&p->ctx, lineno, NULL, NULL, "NUL byte in requirements file");
		p->overflowed = true;
	} else if (!p->overflowed && cr_buf_append(&p->logical, s, keep) < 0) {
		cr_lock_error(&p->ctx, p->line, NULL, NULL, "logical line is longer than %u bytes",
			      CR_LOCK_MAX_LINE);
		p->overflowed = true;
	}
	p->building = cont;
	if (!cont)
		finish_logical(p);
}

int cr_lockfile_parse_pip(const char *path, const char *text, size_t len, cr_artifact_list *out,
			  cr_diags *diags)
{
	pip_parse p = {0};
	cr_lock_ctx_init(&p.ctx, "pip", path, out, diags);
	cr_buf_init(&p.logical, CR_LOCK_MAX_LINE);
	if (len > CR_LOCKFILE_MAX_BYTES) {
		cr_lock_error(&p.ctx, 0, NULL, NULL, "requirements file is larger than %u bytes",
			      CR_LOCKFILE_MAX_BYTES);
		return -1;
	}
	const char *s = text, *end = text + len;
	for (unsigned lineno = 1; s < end && !p.ctx.full; lineno++) {
		const char *nl = memchr(s, '\n', (size_t)(end - s));
		size_t n = nl ? (size_t)(nl - s) : (size_t)(end - s);
		physical_line(&p, s, n && s[n - 1] == '\r' ? n - 1 : n, lineno);
		s = nl ? nl + 1 : end;
	}
	finish_logical(&p);
	cr_buf_free(&p.logical);
	return cr_lock_ctx_result(&p.ctx);
}
