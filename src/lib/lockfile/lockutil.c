/* SPDX-License-Identifier: Apache-2.0 */
/* lockutil.c -- what the npm, yarn and pip parsers share.
 *
 * The parse context (diagnostics with the lockfile's path, the per-file
 * artifact cap, the warnings for entries the gateway cannot enforce), and the
 * small pure functions that give every format the same artifact shape:
 * registry host from a URL, kind from a resolved URL, hex digest to SRI. */
#include "lockfile/internal.h"

#include <ctype.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/cleanup.h"
#include "util/hex.h"
#include "util/xalloc.h"

void cr_lock_ctx_init(cr_lock_ctx *c, const char *manager, const char *path, cr_artifact_list *out,
		      cr_diags *diags)
{
	*c = (cr_lock_ctx){.path = path ? path : "",
			   .manager = manager,
			   .out = out,
			   .diags = diags,
			   .start_n = out->n,
			   .start_errors = diags->n_errors};
}

int cr_lock_ctx_result(const cr_lock_ctx *c)
{
	return c->diags->n_errors > c->start_errors ? -1 : 0;
}

__attribute__((format(printf, 6, 0))) static void vreport(cr_lock_ctx *c, cr_diag_severity sev, unsigned line,
							  const char *jpath, const char *hint,
							  const char *fmt, va_list ap)
{
	cleanup_free char *msg = cr_vasprintf(fmt, ap);
	cr_diags_add(c->diags, sev, CR_REASON_POLICY_INVALID,
		     (cr_diag_loc){.file = c->path, .line = line, .col = 0, .path = jpath}, hint, "%s", msg);
}

void cr_lock_error(cr_lock_ctx *c, unsigned line, const char *jpath, const char *hint, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vreport(c, CR_DIAG_ERROR, line, jpath, hint, fmt, ap);
	va_end(ap);
}

void cr_lock_warn(cr_lock_ctx *c, unsigned line, const char *jpath, const char *hint, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vreport(c, CR_DIAG_WARNING, line, jpath, hint, fmt, ap);
	va_end(ap);
}

/* Entries the gateway cannot pin by registry coordinates and digest. */
static void warn_unenforceable(cr_lock_ctx *c, const cr_artifact *a)
{
	if (a->kind == CR_ARTIFACT_GIT)
		cr_lock_warn(c, a->line, a->name, "git dependencies are allowed by URL and commit only",
			     "'%s' is a git dependency (%s); the registry gateway cannot verify it", a->name,
			     a->resolved);
	else if (a->kind == CR_ARTIFACT_TARBALL)
		cr_lock_warn(c, a->line, a->name, "remote tarballs are allowed by exact URL only",
			     "'%s' is a remote tarball (%s), not a registry artifact", a->name, a->resolved);
	else if (a->kind == CR_ARTIFACT_REGISTRY && !a->bundled && !*a->integrity)
		cr_lock_warn(c, a->line, a->name, "regenerate the lockfile so that it records hashes",
			     "'%s@%s' has no integrity; it is allowed by name and version only", a->name,
			     a->version);
}

static void fill_empty(char **s)
{
	if (!*s)
		*s = cr_xstrdup("");
}

/* Bytes allowed after lead byte b for a well-formed sequence (RFC 3629):
 * the first continuation's range and the number of continuations. */
static int utf8_seq(unsigned char b, unsigned char *lo, unsigned char *hi)
{
	*lo = 0x80, *hi = 0xbf;
	if (b >= 0xc2 && b <= 0xdf)
		return 1;
	if (b == 0xe0)
		*lo = 0xa0;
	if (b == 0xed)
		*hi = 0x9f;
	if (b >= 0xe0 && b <= 0xef)
		return 2;
	if (b == 0xf0)
		*lo = 0x90;
	if (b == 0xf4)
		*hi = 0x8f;
	return b >= 0xf0 && b <= 0xf4 ? 3 : -1;
}

static bool valid_utf8(const char *str)
{
	const unsigned char *s = (const unsigned char *)str;
	while (*s) {
		unsigned char lo, hi;
		if (*s < 0x80) {
			s++;
			continue;
		}
		int n = utf8_seq(*s++, &lo, &hi);
		if (n < 0 || *s < lo || *s > hi)
			return false;
		for (s++; --n > 0; s++)
			if (*s < 0x80 || *s > 0xbf)
				return false;
	}
	return true;
}

int cr_lock_emit(cr_lock_ctx *c, cr_artifact *a)
{
	if (c->out->n - c->start_n >= CR_LOCKFILE_MAX_ARTIFACTS) {
		if (!c->full)
			cr_lock_error(c, a->line, NULL, NULL, "lockfile yields more than %u artifacts",
				      CR_LOCKFILE_MAX_ARTIFACTS);
		c->full = true;
		cr_artifact_clear(a);
		return -1;
	}
	char **fields[] = {&a->name, &a->version, &a->registry, &a->resolved, &a->integrity, &a->alias};
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		if (i < 5)
			fill_empty(fields[i]);
		if (*fields[i] && (strlen(*fields[i]) > CR_LOCK_MAX_FIELD || !valid_utf8(*fields[i]))) {
			cr_lock_error(c, a->line, NULL, NULL, "a value is longer than %u bytes or not UTF-8",
				      CR_LOCK_MAX_FIELD);
			cr_artifact_clear(a);
			return -1;
		}
	}
	if (!*a->name) { /* parsers check names; an empty one must never reach a policy */
		cr_lock_error(c, a->line, NULL, NULL, "entry without a package name");
		cr_artifact_clear(a);
		return -1;
	}
	free(a->manager);
	a->manager = cr_xstrdup(c->manager);
	free(a->lockfile);
	a->lockfile = cr_xstrdup(c->path);
	warn_unenforceable(c, a);
	cr_artifact_list_push(c->out, *a);
	memset(a, 0, sizeof(*a));
	return 0;
}

static const struct {
	const char *prefix;
	const char *host;
} git_shorthands[] = {
	{"github:", "github.com"},
	{"gitlab:", "gitlab.com"},
	{"bitbucket:", "bitbucket.org"},
	{"gist:", "gist.github.com"},
};

#define N_SHORTHANDS (sizeof(git_shorthands) / sizeof(git_shorthands[0]))

static char *lower_span(const char *s, size_t n)
{
	char *h = cr_xstrndup(s, n);
	for (char *p = h; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	return h;
}

/* Host part of an authority ("user@host:port"); brackets kept for IPv6. */
static char *authority_host(const char *auth, size_t n)
{
	const char *at = NULL;
	for (size_t i = 0; i < n; i++) /* the last '@': userinfo may hold one too */
		if (auth[i] == '@')
			at = auth + i;
	if (at) {
		n -= (size_t)(at + 1 - auth);
		auth = at + 1;
	}
	if (n && auth[0] == '[') {
		const char *close = memchr(auth, ']', n);
		return close ? lower_span(auth, (size_t)(close - auth) + 1) : cr_xstrdup("");
	}
	const char *colon = memchr(auth, ':', n);
	return lower_span(auth, colon ? (size_t)(colon - auth) : n);
}

char *cr_lock_url_host(const char *url)
{
	for (size_t i = 0; i < N_SHORTHANDS; i++)
		if (strncmp(url, git_shorthands[i].prefix, strlen(git_shorthands[i].prefix)) == 0)
			return cr_xstrdup(git_shorthands[i].host);
	const char *sep = strstr(url, "://");
	if (sep) {
		const char *auth = sep + 3;
		return authority_host(auth, strcspn(auth, "/?#\\"));
	}
	/* scp-like "git@host:owner/repo": no '/' before the colon */
	const char *at = strchr(url, '@');
	const char *colon = strchr(url, ':');
	const char *slash = strchr(url, '/');
	if (at && colon && at < colon && (!slash || slash > colon))
		return lower_span(at + 1, (size_t)(colon - at - 1));
	return cr_xstrdup("");
}

bool cr_lock_is_git_url(const char *r)
{
	static const char *const prefixes[] = {
		"git+", "git:", "git@", "github:", "gitlab:", "bitbucket:", "gist:"};
	for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++)
		if (strncmp(r, prefixes[i], strlen(prefixes[i])) == 0)
			return true;
	return false;
}

static bool has_prefix(const char *s, const char *p)
{
	return strncmp(s, p, strlen(p)) == 0;
}

/* "/-/<basename>-<version>.tgz" at the end of the URL path. */
static bool is_registry_tarball(const char *url, const char *name, const char *version)
{
	const char *base = name;
	if (name[0] == '@' && strchr(name, '/'))
		base = strchr(name, '/') + 1;
	size_t plen = strcspn(url, "?#");
	cleanup_free char *want = cr_asprintf("/-/%s-%s.tgz", base, version);
	size_t wlen = strlen(want);
	return *version && plen >= wlen && memcmp(url + plen - wlen, want, wlen) == 0;
}

cr_artifact_kind cr_lock_classify(const char *resolved, const char *name, const char *version)
{
	if (cr_lock_is_git_url(resolved))
		return CR_ARTIFACT_GIT;
	if (has_prefix(resolved, "http://") || has_prefix(resolved, "https://"))
		return is_registry_tarball(resolved, name, version) ? CR_ARTIFACT_REGISTRY
								    : CR_ARTIFACT_TARBALL;
	if (strstr(resolved, "://"))
		return has_prefix(resolved, "file:") ? CR_ARTIFACT_LOCAL : CR_ARTIFACT_TARBALL;
	return CR_ARTIFACT_LOCAL; /* file:, link:, relative or absolute path */
}

char *cr_lock_hex_to_sri(const char *algo, const char *hex, size_t hexlen)
{
	unsigned char raw[64];
	if (hexlen == 0 || hexlen % 2 || hexlen / 2 > sizeof(raw) ||
	    !cr_hex_decode(hex, hexlen, raw, hexlen / 2))
		return NULL;
	unsigned char b64[4 * ((sizeof(raw) + 2) / 3) + 1];
	EVP_EncodeBlock(b64, raw, (int)(hexlen / 2));
	return cr_asprintf("%s-%s", algo, (const char *)b64);
}

bool cr_lock_is_token(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x21 || (unsigned char)*s == 0x7f)
			return false;
	return true;
}

bool cr_lock_is_printable(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s == 0x7f)
			return false;
	return true;
}

bool cr_lock_valid_npm_name(const char *name)
{
	size_t n = strlen(name);
	if (n == 0 || n > 214 || !cr_lock_is_token(name))
		return false;
	if (name[0] == '@') {
		const char *slash = strchr(name, '/');
		return slash && slash > name + 1 && slash[1] && !strchr(slash + 1, '/');
	}
	return !strchr(name, '/');
}
