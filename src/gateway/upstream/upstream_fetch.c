/* SPDX-License-Identifier: Apache-2.0 */
/* upstream_fetch.c -- the upstream request of a cached get (upstream.h):
 * conditional headers for a document being revalidated, the answer streamed
 * into a cache writer (which computes the digests the integrity needs),
 * integrity checked before anything is stored, redirects of artifacts
 * followed when the caller allows the new URL, the entry stored and
 * reported. */
#include "gateway/upstream/upstream_impl.h"

#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gateway/upstream/sri.h"
#include "util/buf.h"
#include "util/cleanup.h"
#include "util/clock.h"
#include "util/xalloc.h"

/* ---- integrity of stored entries ---- */

static bool hex_digest(const char *hex, uint8_t out[32])
{
	cleanup_free char *sri = cr_sri_from_hex("sha256", hex);
	cr_sri s;
	cleanup_error cr_error *err = NULL;
	if (!sri || cr_sri_parse(sri, &s, &err) < 0)
		return false;
	bool ok = s.n == 1;
	if (ok)
		memcpy(out, s.items[0].digest, 32);
	cr_sri_clear(&s);
	return ok;
}

/* The digests an entry's stored integrity (what was computed when it was
 * fetched) and its blob name say it has. */
static bool stored_digests(const cr_cache_entry *e, cr_digests *d)
{
	*d = (cr_digests){.size = e->size};
	snprintf(d->sha256, sizeof(d->sha256), "%s", e->blob);
	cr_sri s;
	cleanup_error cr_error *err = NULL;
	if (cr_sri_parse(e->integrity, &s, &err) < 0)
		return false;
	for (size_t i = 0; i < s.n; i++) {
		const cr_sri_entry *x = &s.items[i];
		switch (x->alg) {
		case CR_SRI_SHA1:
			memcpy(d->sha1, x->digest, 20);
			d->have |= CR_HASH_SHA1;
			break;
		case CR_SRI_SHA384:
			memcpy(d->sha384, x->digest, 48);
			d->have |= CR_HASH_SHA384;
			break;
		case CR_SRI_SHA512:
			memcpy(d->sha512, x->digest, 64);
			d->have |= CR_HASH_SHA512;
			break;
		default: break;
		}
	}
	cr_sri_clear(&s);
	return true;
}

static bool is_sri_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* A one-token integrity (no options) found verbatim among the entry's
 * tokens names the same algorithm and digest, so the full check would say
 * yes: the warm path of the usual case (the lockfile's one sha512) without
 * parsing or decoding anything. */
static bool token_stored(const char *stored, const char *want)
{
	size_t n = strlen(want);
	if (n == 0 || !stored || strpbrk(want, " \t\n\r?"))
		return false;
	for (const char *p = stored; (p = strstr(p, want)) != NULL; p += n)
		if ((p == stored || is_sri_space(p[-1])) && (p[n] == '\0' || is_sri_space(p[n])))
			return true;
	return false;
}

bool us_entry_verified_for(const cr_cache_entry *e, const char *integrity)
{
	if (!integrity)
		return false;
	if (token_stored(e->integrity, integrity))
		return true;
	cr_digests d;
	return stored_digests(e, &d) && cr_sri_check(integrity, &d, NULL) == 1;
}

/* What a verified artifact's entry records: the digest of the algorithm
 * that decided, and sha256 (its blob name), as SRI. */
static char *computed_integrity(const char *integrity, const cr_digests *d)
{
	cleanup_buf cr_buf b;
	cr_buf_init(&b, 512);
	cr_sri s;
	cleanup_error cr_error *err = NULL;
	if (cr_sri_parse(integrity, &s, &err) == 0) {
		int best = cr_sri_strongest(&s);
		const uint8_t *raw = best == CR_SRI_SHA1     ? d->sha1
				     : best == CR_SRI_SHA384 ? d->sha384
				     : best == CR_SRI_SHA512 ? d->sha512
							     : NULL;
		if (raw) {
			cleanup_free char *one = cr_sri_format((cr_sri_alg)best, raw);
			cr_buf_printf(&b, "%s ", one);
		}
		cr_sri_clear(&s);
	}
	uint8_t sha256[32];
	if (hex_digest(d->sha256, sha256)) {
		cleanup_free char *one = cr_sri_format(CR_SRI_SHA256, sha256);
		cr_buf_puts(&b, one);
	}
	return cr_buf_steal(&b, NULL);
}

/* ---- storing ---- */

static void store(cr_upstream_op *op)
{
	cr_cache_writer *w = steal_pointer(&op->writer);
	cleanup_free char *integrity = NULL;
	if (op->kind == US_ARTIFACT && !op->no_integrity) {
		cleanup_free char *why = NULL;
		int rc = cr_sri_check(op->integrity, cr_cache_writer_digests(w), &why);
		if (rc != 1) {
			cr_cache_writer_abort(w);
			cr_error *err = NULL;
			if (rc == 0)
				us_count(op->u, &(cr_cache_counters){.integrity_failures = 1});
			cr_error_make(&err, 0, rc == 0 ? CR_REASON_INTEGRITY_MISMATCH : CR_REASON_INTERNAL,
				      "%s %s: %s%s", op->key,
				      rc == 0 ? "integrity mismatch" : "cannot verify", why,
				      rc == 0 ? "; nothing was stored" : "");
			us_deliver(op, NULL, "miss", NULL, err);
			return;
		}
		integrity = computed_integrity(op->integrity, cr_cache_writer_digests(w));
	}
	cr_cache_entry e = {
		.key = op->key,
		.upstream = op->first_url,
		.etag = op->etag ? op->etag : "",
		.last_modified = op->last_modified ? op->last_modified : "",
		.content_type = op->content_type ? op->content_type : "",
		.fetched_at = cr_now_ms() / 1000,
		.ttl_s = op->kind == US_ARTIFACT ? 0
			 : op->ttl_s > 0         ? op->ttl_s
						 : 1,
		.size = cr_cache_writer_digests(w)->size,
		.integrity = integrity ? integrity : "",
	};
	e.last_used_at = e.fetched_at;
	cr_error *err = NULL;
	if (cr_cache_writer_commit(w, e.blob, &err) < 0 || cr_cache_put(op->u->cache, &e, &err) < 0) {
		us_deliver(op, NULL, "miss", NULL, err);
		return;
	}
	if (op->have_stale) /* revalidated with a new body */
		us_count(op->u, &(cr_cache_counters){.misses = 1});
	us_deliver(op, &e, "miss", NULL, NULL);
}

static void revalidated(cr_upstream_op *op)
{
	int64_t now = cr_now_ms() / 1000;
	cr_error *err = NULL;
	if (cr_cache_touch(op->u->cache, op->key, now, &err) < 0) {
		us_deliver(op, NULL, "miss", NULL, err);
		return;
	}
	op->stale.fetched_at = now;
	us_count(op->u, &(cr_cache_counters){.revalidated = 1});
	us_deliver(op, &op->stale, "revalidated", NULL, NULL);
}

/* ---- redirects ---- */

/* "scheme://host:port" of url, or NULL. */
static char *origin_of(const char *url)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL, *port = NULL, *res = NULL;
	if (u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) == CURLUE_OK)
		res = cr_asprintf("%s://%s:%s", scheme, host, port);
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_url_cleanup(u);
	return res;
}

static void forget(char **secret)
{
	if (*secret) {
		explicit_bzero(*secret, strlen(*secret));
		free(*secret);
		*secret = NULL;
	}
}

/* Credentials were given for the first URL's origin: a redirect elsewhere
 * (a CDN) goes without them. */
static void drop_credentials_for(cr_upstream_op *op, const char *next)
{
	cleanup_free char *a = origin_of(op->url), *b = origin_of(next);
	if (a && b && strcasecmp(a, b) == 0)
		return;
	forget(&op->username);
	forget(&op->password);
}

/* The absolute URL a Location names, relative to base; NULL when it is not
 * a URL. */
static char *resolve_location(const char *base, const char *location)
{
	CURLU *u = curl_url();
	char *out = NULL, *res = NULL;
	if (u && curl_url_set(u, CURLUPART_URL, base, 0) == CURLUE_OK &&
	    curl_url_set(u, CURLUPART_URL, location, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_URL, &out, 0) == CURLUE_OK)
		res = cr_xstrdup(out);
	curl_free(out);
	curl_url_cleanup(u);
	return res;
}

static void follow(cr_upstream_op *op)
{
	cleanup_free char *loc = steal_pointer(&op->redirect_to);
	cleanup_free char *next = resolve_location(op->url, loc);
	cr_error *err = NULL;
	if (++op->redirects > CR_FETCH_MAX_REDIRECTS)
		cr_error_make(&err, 0, CR_REASON_INTERNAL, "%s: more than %d redirects", op->key,
			      CR_FETCH_MAX_REDIRECTS);
	else if (!next)
		cr_error_make(&err, 0, CR_REASON_INTERNAL, "%s: upstream redirected to something not a URL",
			      op->key);
	else if (!op->allow_redirect(op->ud, next))
		cr_error_make(&err, 0, CR_REASON_INTERNAL,
			      "%s: upstream redirected to a URL the policy does not allow", op->key);
	if (err) {
		us_deliver(op, NULL, "miss", NULL, err);
		return;
	}
	drop_credentials_for(op, next);
	free(op->url);
	op->url = steal_pointer(&next);
	us_fetch(op);
}

/* ---- the request ---- */

static int on_headers(void *ud, const cr_fetch_response *r)
{
	cr_upstream_op *op = ud;
	op->status = r->status;
	if (r->status == 304 && op->have_stale)
		return 1;
	if (r->status >= 300 && r->status < 400 && op->kind == US_ARTIFACT && op->allow_redirect &&
	    r->location[0]) {
		op->redirect_to = cr_xstrdup(r->location);
		return 1;
	}
	if (r->status != 200)
		return 1;
	op->etag = cr_xstrdup(r->etag);
	op->last_modified = cr_xstrdup(r->last_modified);
	op->content_type = cr_xstrdup(r->content_type);
	unsigned hashes = op->kind == US_ARTIFACT && !op->no_integrity ? cr_sri_hashes(op->integrity) : 0;
	op->writer = cr_cache_writer_new(op->u->cache, hashes, op->max_bytes, &op->write_err);
	return op->writer ? 0 : -1;
}

static int on_data(void *ud, const void *data, size_t len)
{
	cr_upstream_op *op = ud;
	op->fetched_bytes += len;
	return cr_cache_writer_write(op->writer, data, len, &op->write_err);
}

static void on_done(void *ud, const cr_fetch_response *r, cr_error *err, uint64_t elapsed_ms)
{
	cr_upstream_op *op = ud;
	op->fetch = NULL; /* the fetcher frees it after this returns */
	op->status = r->status;
	us_count(op->u, &(cr_cache_counters){.upstream_requests = 1,
					     .upstream_ms_total = elapsed_ms,
					     .bytes_fetched = op->fetched_bytes});
	op->fetched_bytes = 0;
	if (op->write_err) {
		cr_error_free(err);
		us_deliver(op, NULL, "miss", NULL, steal_pointer(&op->write_err));
	} else if (err) {
		us_fail(op, err, true);
	} else if (op->redirect_to) {
		follow(op);
	} else if (r->status == 304 && op->have_stale) {
		revalidated(op);
	} else if (r->status != 200) {
		cr_error_make(&err, 0, CR_REASON_INTERNAL, "%s: upstream answered %ld", op->key, r->status);
		us_fail(op, err, r->status >= 500 || r->status < 200);
	} else {
		store(op);
	}
}

static char **request_headers(const cr_upstream_op *op)
{
	size_t n = 0;
	while (op->headers[n])
		n++;
	char **h = cr_xcalloc(n + 3, sizeof(*h));
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		h[k++] = cr_xstrdup(op->headers[i]);
	if (op->have_stale && op->stale.etag[0])
		h[k++] = cr_asprintf("If-None-Match: %s", op->stale.etag);
	if (op->have_stale && op->stale.last_modified[0])
		h[k++] = cr_asprintf("If-Modified-Since: %s", op->stale.last_modified);
	return h;
}

static void free_headers(char **h)
{
	for (char **p = h; p && *p; p++)
		free(*p);
	free(h);
}

void us_fetch(cr_upstream_op *op)
{
	op->status = 0;
	free(op->etag);
	free(op->last_modified);
	free(op->content_type);
	op->etag = op->last_modified = op->content_type = NULL;
	char **headers = request_headers(op);
	cr_fetch_req req = {
		.method = op->method,
		.url = op->url,
		.headers = (const char *const *)headers,
		.body = op->body,
		.body_len = op->body_len,
		.max_bytes = op->max_bytes,
		.username = op->username,
		.password = op->password,
	};
	cr_fetch_cbs cbs = {.on_headers = on_headers, .on_data = on_data, .on_done = on_done};
	cr_error *err = NULL;
	op->fetch = cr_fetch_start(op->u->fetcher, &req, &cbs, op, &err);
	free_headers(headers);
	if (!op->fetch)
		us_deliver(op, NULL, "miss", NULL, err);
}

void us_fetch_stop(cr_upstream_op *op)
{
	cr_fetch_cancel(steal_pointer(&op->fetch));
	cr_cache_writer_abort(steal_pointer(&op->writer));
}
