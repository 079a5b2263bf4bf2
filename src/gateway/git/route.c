/* SPDX-License-Identifier: Apache-2.0 */
/* route.c -- splitting a git front request into host, repository and
 * smart-HTTP service (route.h). The repository path is checked after
 * percent-decoding, so that "%2e%2e" is refused like "..", and re-encoded
 * for the upstream URL, so that what upstream sees is what was checked. */
#include "gateway/git/route.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/buf.h"
#include "util/xalloc.h"

static const struct {
	const char *suffix; /* "/<service path>" at the end of the request path */
	cr_git_service service;
} smart_paths[] = {
	{"/info/refs", CR_GIT_REFS_UPLOAD}, /* the query decides which service */
	{"/git-upload-pack", CR_GIT_UPLOAD_PACK},
	{"/git-receive-pack", CR_GIT_RECEIVE_PACK},
};

#define N_ITEMS(a) (sizeof(a) / sizeof((a)[0]))

static int bad(cr_error **err, const char *what)
{
	return cr_error_make(err, 0, CR_REASON_NONE, "git front: %s", what);
}

static int parse_host(const char *s, size_t n, char out[CR_GIT_HOST_MAX + 1], cr_error **err)
{
	if (n == 0)
		return bad(err, "no host in the path (expected /git/<host>/<repository>/...)");
	if (n > CR_GIT_HOST_MAX)
		return bad(err, "host name too long");
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.';
		if (c == ':')
			return bad(err,
				   "a port in the host is not supported (upstream is https on port 443)");
		if (!ok)
			return bad(err, "host is not a DNS name");
		if (c == '.' && (i == 0 || s[i - 1] == '.' || i + 1 == n))
			return bad(err, "host has an empty label");
		out[i] = c;
	}
	out[n] = '\0';
	return 0;
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int decode_repo(const char *s, size_t n, char out[CR_GIT_REPO_MAX + 1], cr_error **err)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '%') {
			int hi = i + 2 < n ? hex_digit(s[i + 1]) : -1;
			int lo = hi >= 0 ? hex_digit(s[i + 2]) : -1;
			if (lo < 0)
				return bad(err, "bad percent-escape in the repository path");
			c = (unsigned char)(hi * 16 + lo);
			i += 2;
		}
		if (o == CR_GIT_REPO_MAX)
			return bad(err, "repository path too long");
		out[o++] = (char)c;
	}
	out[o] = '\0';
	return 0;
}

static int check_repo(const char *repo, cr_error **err)
{
	size_t n = strlen(repo);
	if (n == 0)
		return bad(err, "no repository path");
	if (strstr(repo, ".."))
		return bad(err, "repository path contains \"..\"");
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)repo[i];
		if (c < 0x20 || c == 0x7f || c == '\\')
			return bad(err, "repository path contains a control character or backslash");
	}
	/* segments: none empty (leading, trailing or doubled '/'), none "." */
	const char *seg = repo;
	for (;;) {
		const char *slash = strchr(seg, '/');
		size_t len = slash ? (size_t)(slash - seg) : strlen(seg);
		if (len == 0)
			return bad(err, "repository path has an empty segment");
		if (len == 1 && seg[0] == '.')
			return bad(err, "repository path has a \".\" segment");
		if (!slash)
			return 0;
		seg = slash + 1;
	}
}

/* The value of `name` in an &-separated query, or NULL; *len its length. */
static const char *query_param(const char *query, const char *name, size_t *len)
{
	size_t k = strlen(name);
	for (const char *p = query; p && *p;) {
		const char *amp = strchr(p, '&');
		size_t n = amp ? (size_t)(amp - p) : strlen(p);
		if (n > k && memcmp(p, name, k) == 0 && p[k] == '=') {
			*len = n - k - 1;
			return p + k + 1;
		}
		p = amp ? amp + 1 : NULL;
	}
	return NULL;
}

static bool value_is(const char *v, size_t n, const char *want)
{
	return v && strlen(want) == n && memcmp(v, want, n) == 0;
}

/* info/refs: the service parameter picks upload or receive; none is dumb
 * HTTP. */
static int refs_service(const char *query, cr_git_service *out, cr_error **err)
{
	size_t n = 0;
	const char *v = query_param(query ? query : "", "service", &n);
	if (!v)
		*out = CR_GIT_DUMB;
	else if (value_is(v, n, "git-upload-pack"))
		*out = CR_GIT_REFS_UPLOAD;
	else if (value_is(v, n, "git-receive-pack"))
		*out = CR_GIT_REFS_RECEIVE;
	else
		return bad(err, "info/refs asks for an unknown service");
	return 0;
}

static bool ends_with(const char *s, size_t n, const char *suffix, size_t *at)
{
	size_t k = strlen(suffix);
	if (n <= k || memcmp(s + n - k, suffix, k) != 0)
		return false;
	*at = n - k;
	return true;
}

/* Where the LFS part of the path starts ("/info/lfs" as whole segments). */
static bool find_lfs(const char *s, size_t n, size_t *at)
{
	for (const char *p = s; (p = strstr(p, "/info/lfs")) && (size_t)(p - s) < n; p++) {
		char next = p[9];
		if (next == '\0' || next == '/') {
			*at = (size_t)(p - s);
			return true;
		}
	}
	return false;
}

static int parse_service(const char *path, const char *query, cr_git_route *out, size_t *repo_len,
			 cr_error **err)
{
	size_t n = strlen(path), at = 0;
	for (size_t i = 0; i < N_ITEMS(smart_paths); i++) {
		if (!ends_with(path, n, smart_paths[i].suffix, &at))
			continue;
		out->service = smart_paths[i].service;
		out->path = path + at + 1;
		*repo_len = at;
		if (out->service == CR_GIT_REFS_UPLOAD)
			return refs_service(query, &out->service, err);
		return 0;
	}
	if (find_lfs(path, n, &at)) {
		out->service = CR_GIT_LFS;
		out->path = path + at + 1;
		*repo_len = at;
		return 0;
	}
	out->service = CR_GIT_DUMB;
	out->path = path;
	*repo_len = 0;
	return 0;
}

int cr_git_route_parse(const char *rest, const char *query, cr_git_route *out, cr_error **err)
{
	*out = (cr_git_route){0};
	const char *slash = strchr(rest, '/');
	if (parse_host(rest, slash ? (size_t)(slash - rest) : strlen(rest), out->host, err) < 0)
		return -1;
	if (!slash || !slash[1])
		return bad(err, "no repository path after the host");
	const char *path = slash + 1;
	size_t repo_len = 0;
	if (parse_service(path, query, out, &repo_len, err) < 0)
		return -1;
	if (out->service == CR_GIT_DUMB && repo_len == 0) {
		out->repo[0] = '\0';
		return 0;
	}
	if (decode_repo(path, repo_len, out->repo, err) < 0 || check_repo(out->repo, err) < 0)
		return -1;
	/* info/refs without a service: dumb HTTP, but the repository is known */
	return 0;
}

const char *cr_git_service_name(cr_git_service s)
{
	static const char *const names[] = {
		[CR_GIT_REFS_UPLOAD] = "info/refs?service=git-upload-pack",
		[CR_GIT_REFS_RECEIVE] = "info/refs?service=git-receive-pack",
		[CR_GIT_UPLOAD_PACK] = "git-upload-pack",
		[CR_GIT_RECEIVE_PACK] = "git-receive-pack",
		[CR_GIT_LFS] = "git LFS",
		[CR_GIT_DUMB] = "dumb HTTP",
	};
	return (unsigned)s < N_ITEMS(names) ? names[s] : "?";
}

static bool path_char_plain(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       strchr("-._~/!$&'()*+,;=:@", c);
}

char *cr_git_upstream_url(const char *scheme, const cr_git_route *r, const char *suffix)
{
	cr_buf b;
	cr_buf_init(&b, 16 + strlen(scheme) + strlen(r->host) + 3 * strlen(r->repo) + strlen(suffix));
	int rc = cr_buf_printf(&b, "%s://%s/", scheme, r->host);
	for (const unsigned char *p = (const unsigned char *)r->repo; rc == 0 && *p; p++)
		rc = path_char_plain(*p) ? cr_buf_putc(&b, (char)*p) : cr_buf_printf(&b, "%%%02X", *p);
	if (rc == 0)
		rc = cr_buf_printf(&b, "/%s", suffix);
	if (rc < 0)
		abort(); /* the limit above is exact */
	return cr_buf_steal(&b, NULL);
}

bool cr_git_protocol_valid(const char *v)
{
	size_t n = strlen(v);
	bool ok = n <= CR_GIT_PROTOCOL_MAX;
	for (size_t i = 0; ok && i < n; i++)
		ok = v[i] >= 0x20 && v[i] < 0x7f;
	return ok;
}

bool cr_git_type_is(const char *have, const char *want)
{
	size_t n = strlen(want);
	return have && strncasecmp(have, want, n) == 0 &&
	       (have[n] == '\0' || have[n] == ';' || have[n] == ' ');
}
