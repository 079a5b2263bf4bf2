/* SPDX-License-Identifier: Apache-2.0 */
/* npm_doc.c -- npm request paths and packument rewriting, no I/O
 * (npm_doc.h). Everything that comes from the sandbox or upstream is checked
 * against a cap before it is used. */
#include "gateway/npm/npm_doc.h"

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "util/buf.h"
#include "util/cleanup.h"
#include "util/xalloc.h"

struct cr_npm_doc {
	json_t *root;
};

/* ---- names and versions ---- */

static bool name_byte(unsigned char ch)
{
	if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9'))
		return true;
	return ch != '\0' && strchr("-._~!*'()", ch) != NULL;
}

/* One part of a name (scope without '@', or the name proper). */
static bool valid_part(const char *s, size_t n)
{
	if (n == 0 || s[0] == '.')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!name_byte((unsigned char)s[i]))
			return false;
	return true;
}

bool cr_npm_valid_name(const char *name)
{
	size_t n = strlen(name);
	if (n == 0 || n > CR_NPM_NAME_MAX)
		return false;
	if (name[0] != '@')
		return valid_part(name, n);
	const char *slash = strchr(name, '/');
	if (!slash)
		return false;
	return valid_part(name + 1, (size_t)(slash - name - 1)) &&
	       valid_part(slash + 1, n - (size_t)(slash + 1 - name));
}

static bool is_digit(char ch)
{
	return ch >= '0' && ch <= '9';
}

static bool ident_byte(char ch)
{
	return is_digit(ch) || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '-';
}

/* Skips 1+ digits; NULL when there are none. */
static const char *skip_number(const char *p)
{
	const char *s = p;
	while (is_digit(*p))
		p++;
	return p == s ? NULL : p;
}

/* Skips dot-separated non-empty identifiers; NULL when one is empty. */
static const char *skip_idents(const char *p)
{
	for (;;) {
		const char *s = p;
		while (ident_byte(*p))
			p++;
		if (p == s)
			return NULL;
		if (*p != '.')
			return p;
		p++;
	}
}

bool cr_npm_valid_version(const char *v)
{
	if (strnlen(v, CR_NPM_VERSION_MAX + 1) > CR_NPM_VERSION_MAX)
		return false;
	const char *p = v;
	for (int i = 0; i < 3; i++) {
		if (!(p = skip_number(p)))
			return false;
		if (i < 2 && *p++ != '.')
			return false;
	}
	if (*p == '-' && !(p = skip_idents(p + 1)))
		return false;
	if (*p == '+' && !(p = skip_idents(p + 1)))
		return false;
	return *p == '\0';
}

/* Compares two digit strings of lengths na, nb numerically. */
static int cmp_numeric(const char *a, size_t na, const char *b, size_t nb)
{
	while (na > 1 && *a == '0')
		a++, na--;
	while (nb > 1 && *b == '0')
		b++, nb--;
	if (na != nb)
		return na < nb ? -1 : 1;
	int r = memcmp(a, b, na);
	return (r > 0) - (r < 0);
}

static bool all_digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!is_digit(s[i]))
			return false;
	return n > 0;
}

/* One prerelease identifier against another (semver 2.0.0 §11). */
static int cmp_ident(const char *a, size_t na, const char *b, size_t nb)
{
	bool da = all_digits(a, na), db = all_digits(b, nb);
	if (da && db)
		return cmp_numeric(a, na, b, nb);
	if (da != db)
		return da ? -1 : 1;
	int r = memcmp(a, b, na < nb ? na : nb);
	if (r)
		return r < 0 ? -1 : 1;
	return na == nb ? 0 : (na < nb ? -1 : 1);
}

static int cmp_prerelease(const char *a, size_t na, const char *b, size_t nb)
{
	while (na && nb) {
		size_t la = strcspn(a, ".+"), lb = strcspn(b, ".+");
		la = la < na ? la : na;
		lb = lb < nb ? lb : nb;
		int r = cmp_ident(a, la, b, lb);
		if (r)
			return r;
		a += la, na -= la, b += lb, nb -= lb;
		if (na)
			a++, na--;
		if (nb)
			b++, nb--;
	}
	return na ? 1 : (nb ? -1 : 0);
}

int cr_npm_semver_cmp(const char *a, const char *b)
{
	for (int i = 0; i < 3; i++) {
		size_t na = strspn(a, "0123456789"), nb = strspn(b, "0123456789");
		int r = cmp_numeric(a, na, b, nb);
		if (r)
			return r;
		a += na + (a[na] == '.');
		b += nb + (b[nb] == '.');
	}
	/* a and b are at "-prerelease", "+build" or the end */
	bool pa = *a == '-', pb = *b == '-';
	if (!pa || !pb)
		return pa ? -1 : (pb ? 1 : 0); /* a release ranks above its prereleases */
	return cmp_prerelease(a + 1, strcspn(a + 1, "+"), b + 1, strcspn(b + 1, "+"));
}

/* ---- request paths ---- */

static int name_too_long(cr_error **err)
{
	return cr_error_make(err, 0, CR_REASON_NONE, "package name longer than %d bytes", CR_NPM_NAME_MAX);
}

/* Decodes a request's name into out. Only "%2f"/"%2F" after a scope is
 * decoded; every other '%' is refused (no valid name contains one). */
int cr_npm_parse_name(const char *s, cr_npm_name *out, cr_error **err)
{
	char name[CR_NPM_NAME_MAX + 1];
	size_t scope = 0, sep = 0;
	if (s[0] == '@') {
		scope = strcspn(s, "/%");
		sep = s[scope] == '/' ? 1 : (strncasecmp(s + scope, "%2f", 3) == 0 ? 3 : 0);
		if (!sep)
			return cr_error_make(err, 0, CR_REASON_NONE,
					     "a scoped package name needs '/' or '%%2f'");
	}
	size_t rest = strlen(s + scope + sep), n = scope + (sep ? 1 : 0) + rest;
	if (n > CR_NPM_NAME_MAX)
		return name_too_long(err);
	memcpy(name, s, scope);
	if (sep)
		name[scope] = '/';
	memcpy(name + n - rest, s + scope + sep, rest + 1);
	if (!cr_npm_valid_name(name))
		return cr_error_make(err, 0, CR_REASON_NONE,
				     "not a package name (letters, digits and -._~!*'() in a name or "
				     "@scope/name, not starting with '.')");
	memcpy(out->name, name, n + 1);
	out->unscoped_at = sep ? scope + 1 : 0;
	if (sep) {
		memcpy(out->encoded, name, scope);
		memcpy(out->encoded + scope, "%2f", 3);
		memcpy(out->encoded + scope + 3, cr_npm_unscoped(out), rest + 1);
	} else {
		memcpy(out->encoded, name, n + 1);
	}
	return 0;
}

int cr_npm_parse_tarball(const char *s, cr_npm_tarball *out, cr_error **err)
{
	/* a scoped name has one '/' (or %2f) of its own before "/-/" */
	const char *from = s;
	if (s[0] == '@') {
		size_t scope = strcspn(s, "/%");
		from = s + scope + (s[scope] == '/' ? 1 : (strncasecmp(s + scope, "%2f", 3) == 0 ? 3 : 0));
	}
	const char *sep = strstr(from, "/-/");
	if (!sep)
		return cr_error_make(err, 0, CR_REASON_NONE, "not a tarball path (<name>/-/<file>.tgz)");
	size_t name_len = (size_t)(sep - s);
	if (name_len > CR_NPM_ENCODED_MAX)
		return cr_error_make(err, 0, CR_REASON_NONE, "package name longer than %d bytes",
				     CR_NPM_NAME_MAX);
	char name[CR_NPM_ENCODED_MAX + 1];
	memcpy(name, s, name_len);
	name[name_len] = '\0';
	if (cr_npm_parse_name(name, &out->pkg, err) < 0)
		return cr_error_wrap(err, "tarball path");
	const char *file = sep + 3;
	const char *unscoped = cr_npm_unscoped(&out->pkg);
	size_t file_len = strlen(file), un = strlen(unscoped);
	if (file_len < un + 1 + 4 || strcmp(file + file_len - 4, ".tgz") != 0 ||
	    strncmp(file, unscoped, un) != 0 || file[un] != '-')
		return cr_error_make(err, 0, CR_REASON_NONE, "tarball file is not %s-<version>.tgz",
				     unscoped);
	size_t vlen = file_len - un - 1 - 4;
	if (vlen > CR_NPM_VERSION_MAX)
		return cr_error_make(err, 0, CR_REASON_NONE, "version longer than %d bytes",
				     CR_NPM_VERSION_MAX);
	memcpy(out->version, file + un + 1, vlen);
	out->version[vlen] = '\0';
	if (!cr_npm_valid_version(out->version))
		return cr_error_make(err, 0, CR_REASON_NONE, "tarball version is not a semver version");
	int n = snprintf(out->path, sizeof(out->path), "%s/-/%s-%s.tgz", out->pkg.name, unscoped,
			 out->version);
	if (n < 0 || (size_t)n >= sizeof(out->path))
		return cr_error_make(err, 0, CR_REASON_NONE, "tarball path too long");
	return 0;
}

/* ---- packuments: parse ---- */

static int shape_error(cr_error **err, const char *what)
{
	return cr_error_make(err, 0, CR_REASON_INTERNAL, "packument: %s", what);
}

/* An optional member that must be an object with at most max entries. */
static int check_object(json_t *root, const char *key, size_t max, cr_error **err)
{
	json_t *v = json_object_get(root, key);
	if (!v)
		return 0;
	if (!json_is_object(v))
		return cr_error_make(err, 0, CR_REASON_INTERNAL, "packument: \"%s\" is not an object", key);
	if (json_object_size(v) > max)
		return cr_error_make(err, 0, CR_REASON_INTERNAL, "packument: more than %zu entries in \"%s\"",
				     max, key);
	return 0;
}

static bool string_or_absent(json_t *o, const char *key, size_t max)
{
	json_t *v = json_object_get(o, key);
	return !v || (json_is_string(v) && json_string_length(v) <= max);
}

static int check_version(const char *v, json_t *entry, cr_error **err)
{
	if (!json_is_object(entry))
		return cr_error_make(err, 0, CR_REASON_INTERNAL,
				     "packument: versions[\"%.64s\"] is not an object", v);
	json_t *dist = json_object_get(entry, "dist");
	if (!dist)
		return 0;
	if (!json_is_object(dist) || !string_or_absent(dist, "tarball", CR_NPM_URL_MAX) ||
	    !string_or_absent(dist, "integrity", CR_NPM_INTEGRITY_MAX) ||
	    !string_or_absent(dist, "shasum", 128))
		return cr_error_make(err, 0, CR_REASON_INTERNAL,
				     "packument: versions[\"%.64s\"].dist is not an object of strings within "
				     "their caps",
				     v);
	return 0;
}

static int check_shape(json_t *root, const char *name, cr_error **err)
{
	if (!json_is_object(root))
		return shape_error(err, "not a JSON object");
	json_t *jname = json_object_get(root, "name");
	if (jname && (!json_is_string(jname) || json_string_length(jname) > CR_NPM_NAME_MAX))
		return shape_error(err, "\"name\" is not a package name");
	if (name && (!jname || strcmp(json_string_value(jname), name) != 0))
		return cr_error_make(err, 0, CR_REASON_INTERNAL, "packument: \"name\" is not \"%s\"", name);
	if (check_object(root, "versions", CR_NPM_VERSIONS_MAX, err) < 0 ||
	    check_object(root, "dist-tags", CR_NPM_TAGS_MAX, err) < 0 ||
	    check_object(root, "time", CR_NPM_VERSIONS_MAX + 16, err) < 0)
		return -1;
	json_t *versions = json_object_get(root, "versions"), *entry;
	const char *v;
	json_object_foreach (versions, v, entry)
		if (check_version(v, entry, err) < 0)
			return -1;
	return 0;
}

cr_npm_doc *cr_npm_doc_parse(const void *data, size_t len, const char *name, cr_error **err)
{
	if (len > CR_NPM_DOC_MAX) {
		cr_error_make(err, 0, CR_REASON_INTERNAL, "packument: larger than %u bytes", CR_NPM_DOC_MAX);
		return NULL;
	}
	json_error_t jerr;
	json_t *root = json_loadb(data, len, 0, &jerr);
	if (!root) {
		cr_error_make(err, 0, CR_REASON_INTERNAL, "packument: invalid JSON at byte %d: %s",
			      jerr.position, jerr.text);
		return NULL;
	}
	if (check_shape(root, name, err) < 0) {
		json_decref(root);
		return NULL;
	}
	cr_npm_doc *d = cr_xcalloc(1, sizeof(*d));
	d->root = root;
	return d;
}

void cr_npm_doc_free(cr_npm_doc *d)
{
	if (!d)
		return;
	json_decref(d->root);
	free(d);
}

size_t cr_npm_doc_n_versions(const cr_npm_doc *d)
{
	return json_object_size(json_object_get(d->root, "versions"));
}

bool cr_npm_doc_has_version(const cr_npm_doc *d, const char *version)
{
	return json_object_get(json_object_get(d->root, "versions"), version) != NULL;
}

char *cr_npm_doc_dump(const cr_npm_doc *d, size_t *len)
{
	char *s = json_dumps(d->root, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (!s)
		abort(); /* only on allocation failure: the tree was parsed from valid JSON */
	*len = strlen(s);
	return s;
}

/* ---- packuments: rewrite ---- */

enum keep { KEEP, DROP_HOST, DROP_UNUSABLE, DROP_FILTER };

typedef struct rewriter {
	const cr_npm_rewrite *rw;
	const char *pkg; /* the document's "name" */
	size_t base_len; /* base_url without a trailing '/' */
} rewriter;

static bool in_list(const char *const *list, const char *s)
{
	for (; *list; list++)
		if (strcmp(*list, s) == 0)
			return true;
	return false;
}

/* Splits "http(s)://authority/path" into a lower-case authority and the
 * path; false for anything else (userinfo, query, fragment, empty parts). */
static bool split_url(const char *url, char host[256], const char **path)
{
	size_t skip =
		strncasecmp(url, "https://", 8) == 0 ? 8 : (strncasecmp(url, "http://", 7) == 0 ? 7 : 0);
	if (!skip)
		return false;
	const char *a = url + skip;
	size_t n = strcspn(a, "/?#@");
	if (n == 0 || n >= 256 || a[n] != '/' || strpbrk(a + n, "?#"))
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)a[i];
		if (ch <= 0x20 || ch >= 0x7f)
			return false;
		host[i] = (char)(ch >= 'A' && ch <= 'Z' ? ch + 32 : ch);
	}
	host[n] = '\0';
	*path = a + n + 1;
	return true;
}

/* Decides one version and, when kept, rewrites its tarball URL. */
static enum keep rewrite_version(const rewriter *r, const char *v, json_t *entry)
{
	if (!cr_npm_valid_version(v))
		return DROP_UNUSABLE;
	if (r->rw->allowed_versions && !in_list(r->rw->allowed_versions, v))
		return DROP_FILTER;
	json_t *dist = json_object_get(entry, "dist");
	json_t *tarball = json_object_get(dist, "tarball");
	char host[256];
	const char *path;
	if (!json_is_string(tarball) || !split_url(json_string_value(tarball), host, &path))
		return DROP_UNUSABLE;
	cr_npm_tarball t;
	cr_error *err = NULL;
	int rc = cr_npm_parse_tarball(path, &t, &err);
	cr_error_free(err);
	if (rc < 0 || strcmp(t.pkg.name, r->pkg) != 0 || strcmp(t.version, v) != 0)
		return DROP_UNUSABLE;
	if (r->rw->host_allowed && !r->rw->host_allowed(r->rw->ud, host))
		return DROP_HOST;
	size_t plen = strlen(path);
	if (r->base_len + 5 + plen > CR_NPM_URL_MAX)
		return DROP_UNUSABLE;
	cleanup_free char *url = cr_asprintf("%.*s/npm/%s", (int)r->base_len, r->rw->base_url, path);
	json_object_set_new(dist, "tarball", json_string(url));
	return KEEP;
}

/* Highest version in versions: releases first, prereleases only when no
 * release is left. NULL when versions is empty. */
static const char *highest(json_t *versions)
{
	const char *best = NULL, *v;
	bool best_pre = true;
	json_t *entry;
	json_object_foreach (versions, v, entry) {
		bool pre = v[strcspn(v, "-+")] == '-';
		if (!best || (best_pre && !pre) || (pre == best_pre && cr_npm_semver_cmp(v, best) > 0)) {
			best = v;
			best_pre = pre;
		}
	}
	return best;
}

static void fix_tags(json_t *root, cr_npm_rewrite_stats *st)
{
	json_t *tags = json_object_get(root, "dist-tags"), *versions = json_object_get(root, "versions");
	if (!tags)
		return;
	const char *tag;
	json_t *val, *tmp;
	bool had_latest = false;
	json_object_foreach_safe(tags, tmp, tag, val)
	{
		if (json_is_string(val) && json_object_get(versions, json_string_value(val)))
			continue;
		had_latest |= strcmp(tag, "latest") == 0;
		json_object_del(tags, tag);
		st->tags_dropped++;
	}
	const char *best = had_latest ? highest(versions) : NULL;
	if (best) {
		json_object_set_new(tags, "latest", json_string(best));
		st->latest_moved = true;
	}
}

void cr_npm_doc_rewrite(cr_npm_doc *d, const cr_npm_rewrite *rw, cr_npm_rewrite_stats *st)
{
	cr_npm_rewrite_stats local;
	st = st ? st : &local;
	*st = (cr_npm_rewrite_stats){0};
	json_t *jname = json_object_get(d->root, "name");
	rewriter r = {.rw = rw, .pkg = json_is_string(jname) ? json_string_value(jname) : ""};
	r.base_len = strlen(rw->base_url);
	while (r.base_len && rw->base_url[r.base_len - 1] == '/')
		r.base_len--;
	json_t *versions = json_object_get(d->root, "versions"), *time = json_object_get(d->root, "time");
	const char *v;
	json_t *entry, *tmp;
	json_object_foreach_safe(versions, tmp, v, entry)
	{
		switch (rewrite_version(&r, v, entry)) {
		case KEEP: st->kept++; continue;
		case DROP_HOST: st->dropped_host++; break;
		case DROP_UNUSABLE: st->dropped_unusable++; break;
		case DROP_FILTER: st->dropped_filter++; break;
		}
		json_object_del(time, v);
		json_object_del(versions, v);
	}
	fix_tags(d->root, st);
}

/* ---- integrity ---- */

static bool known_algo(const char *s, size_t n)
{
	static const char *const algos[] = {"sha1", "sha256", "sha384", "sha512"};
	for (size_t i = 0; i < sizeof(algos) / sizeof(algos[0]); i++)
		if (strlen(algos[i]) == n && memcmp(algos[i], s, n) == 0)
			return true;
	return false;
}

static bool b64_byte(char ch)
{
	return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || is_digit(ch) || ch == '+' || ch == '/';
}

/* One SRI token "<algo>-<base64>" (options after '?' are not accepted). */
static bool sri_token(const char *s, size_t n)
{
	size_t dash = 0;
	while (dash < n && s[dash] != '-')
		dash++;
	if (dash == n || !known_algo(s, dash))
		return false;
	size_t i = dash + 1, body = 0;
	while (i < n && b64_byte(s[i]))
		i++, body++;
	size_t pad = 0;
	while (i < n && s[i] == '=' && pad < 2)
		i++, pad++;
	return body > 0 && i == n && (body + pad) % 4 == 0;
}

/* The well-formed tokens of an SRI list, space-separated; NULL when none. */
static char *sri_clean(const char *s)
{
	cr_buf b cleanup_buf;
	cr_buf_init(&b, CR_NPM_INTEGRITY_MAX);
	while (*s) {
		s += strspn(s, " \t\r\n");
		size_t n = strcspn(s, " \t\r\n");
		if (n && sri_token(s, n) &&
		    ((b.len && cr_buf_putc(&b, ' ') < 0) || cr_buf_append(&b, s, n) < 0))
			return NULL;
		s += n;
	}
	return b.len ? cr_buf_steal(&b, NULL) : NULL;
}

static int hex_val(char ch)
{
	if (is_digit(ch))
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* "sha1-<base64>" of a 40-hex-digit shasum; NULL when malformed. */
static char *shasum_sri(const char *hex)
{
	static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	uint8_t raw[21] = {0};
	if (strlen(hex) != 40)
		return NULL;
	for (size_t i = 0; i < 20; i++) {
		int hi = hex_val(hex[2 * i]), lo = hex_val(hex[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return NULL;
		raw[i] = (uint8_t)(hi << 4 | lo);
	}
	char out[5 + 28 + 1] = "sha1-";
	char *o = out + 5;
	for (size_t i = 0; i < 21; i += 3) { /* 20 bytes: six full groups, then two bytes and '=' */
		uint32_t w = (uint32_t)raw[i] << 16 | (uint32_t)raw[i + 1] << 8 | raw[i + 2];
		*o++ = b64[w >> 18 & 63];
		*o++ = b64[w >> 12 & 63];
		*o++ = b64[w >> 6 & 63];
		*o++ = i + 2 < 20 ? b64[w & 63] : '=';
	}
	*o = '\0';
	return cr_xstrdup(out);
}

char *cr_npm_doc_integrity(const cr_npm_doc *d, const char *version)
{
	json_t *dist =
		json_object_get(json_object_get(json_object_get(d->root, "versions"), version), "dist");
	json_t *integrity = json_object_get(dist, "integrity"), *shasum = json_object_get(dist, "shasum");
	char *sri = json_is_string(integrity) ? sri_clean(json_string_value(integrity)) : NULL;
	if (!sri && json_is_string(shasum))
		sri = shasum_sri(json_string_value(shasum));
	return sri;
}
