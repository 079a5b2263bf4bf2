/* SPDX-License-Identifier: Apache-2.0 */
/* test_upstream.c -- the cached gets of gateway/upstream/upstream.h over a real
 * content cache in a temporary directory and the forked HTTPS server of
 * upstream_fixture.h: a document's miss then hit, revalidation (304) and
 * replacement (200), stale-if-error (5xx, unreachable) but not for a 404,
 * offline hits and misses, artifacts verified (stored with the digest that
 * decided) or refused on a mismatch with nothing stored, a missing
 * integrity refused before any request, redirects followed only when
 * allowed, single flight (two gets of one key, one upstream request),
 * cancellation, and the counters reaching the cache. */
#include "testutil.h"

#include <fcntl.h>
#include <ftw.h>
#include <openssl/evp.h>

#include "upstream_fixture.h"

#include "cache/cache.h"
#include "gateway/upstream/internal.h"
#include "gateway/upstream/sri.h"
#include "gateway/upstream/upstream.h"

typedef struct env {
	cr_gateway gw;
	char dir[64];
	cr_cache *cache;
	cr_fetcher *f;
	cr_upstream *u;
} env;

typedef struct res {
	bool done;
	int calls;
	char from[16];
	long status;
	char *warning, *err, *body, *integrity, *etag;
	cr_reason reason;
	bool had_entry;
} res;

static char *read_blob(cr_cache *c, const char *sha)
{
	uint64_t size = 0;
	cr_error *err = NULL;
	int fd = cr_cache_blob_open(c, sha, &size, &err);
	assert_true(fd >= 0);
	char *b = calloc(1, size + 1);
	assert_int_equal(read(fd, b, size), (ssize_t)size);
	close(fd);
	return b;
}

static env *E; /* the callback reads blobs through it */

static void on_result(void *ud, const cr_upstream_result *r, cr_error *err)
{
	res *x = ud;
	x->done = true;
	x->calls++;
	snprintf(x->from, sizeof(x->from), "%s", r->from ? r->from : "");
	x->status = r->upstream_status;
	x->warning = r->warning ? strdup(r->warning) : NULL;
	x->had_entry = r->entry != NULL;
	if (err) {
		x->err = strdup(err->msg);
		x->reason = err->reason;
		cr_error_free(err);
		return;
	}
	x->body = read_blob(E->cache, r->entry->blob);
	x->integrity = strdup(r->entry->integrity);
	x->etag = strdup(r->entry->etag);
}

static void res_clear(res *x)
{
	free(x->warning);
	free(x->err);
	free(x->body);
	free(x->integrity);
	free(x->etag);
	memset(x, 0, sizeof(*x));
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	chmod(path, 0700);
	return remove(path);
}

static cr_upstream *new_upstream(env *e, bool offline)
{
	return cr_upstream_new(&e->gw, e->cache, e->f, offline);
}

static int setup(void **state)
{
	env *e = calloc(1, sizeof(*e));
	fx_gateway_init(&e->gw, &srv);
	snprintf(e->dir, sizeof(e->dir), "/tmp/test_upstream.XXXXXX");
	assert_non_null(mkdtemp(e->dir));
	cr_error *err = NULL;
	assert_int_equal(cr_cache_open(e->dir, &(cr_cache_opts){0}, &e->cache, &err), 0);
	e->f = cr_fetcher_new(&e->gw, srv.ca.data, srv.ca.len, &err);
	assert_non_null(e->f);
	cr_fetcher_allow_loopback_for_tests(e->f);
	e->u = new_upstream(e, false);
	E = e;
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	env *e = *state;
	cr_upstream_free(e->u);
	cr_fetcher_free(e->f);
	cr_cache_close(e->cache);
	fx_gateway_free(&e->gw);
	nftw(e->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(e);
	return 0;
}

static char *url(const char *target)
{
	char *u = NULL;
	if (asprintf(&u, "https://127.0.0.1:%u%s", srv.port, target) < 0)
		abort();
	return u;
}

static void wait_for(env *e, res *x)
{
	assert_false(x->done); /* never called from inside the get */
	assert_true(fx_run_until(&e->gw, &x->done, 10000));
	assert_int_equal(x->calls, 1);
}

static void doc(env *e, cr_upstream *u, const char *key, const char *target, int64_t ttl, res *x)
{
	char *uu = url(target);
	cr_upstream_get g = {.key = key, .url = uu, .ttl_s = ttl};
	assert_non_null(cr_upstream_document(u, &g, on_result, x));
	free(uu);
	wait_for(e, x);
}

static bool allow_all(void *ud, const char *u)
{
	(void)ud;
	(void)u;
	return true;
}

static bool allow_none(void *ud, const char *u)
{
	(void)ud;
	(void)u;
	return false;
}

static void artifact(env *e, const char *key, const char *target, const char *integrity, bool no_integrity,
		     bool (*allow)(void *, const char *), res *x)
{
	char *uu = url(target);
	cr_upstream_get g = {.key = key, .url = uu, .integrity = integrity, .no_integrity = no_integrity};
	assert_non_null(cr_upstream_artifact(e->u, &g, allow, on_result, x));
	free(uu);
	wait_for(e, x);
}

/* The SRI of /body?n=N's content in algorithm md ("sha512", ...). */
static char *sri_of_pattern(const char *md, size_t n)
{
	char *p = fx_pattern(n);
	uint8_t raw[64];
	unsigned int len = 0;
	EVP_Digest(p, n, raw, &len, EVP_get_digestbyname(md), NULL);
	free(p);
	char hex[129];
	for (unsigned i = 0; i < len; i++)
		snprintf(hex + 2 * i, 3, "%02x", raw[i]);
	return cr_sri_from_hex(md, hex);
}

static bool stored(env *e, const char *key)
{
	cr_cache_entry ent;
	cr_error *err = NULL;
	int rc = cr_cache_get(e->cache, key, &ent, &err);
	assert_true(rc >= 0);
	if (rc == 1)
		cr_cache_entry_clear(&ent);
	return rc == 1;
}

/* ---- documents ---- */

static void test_doc_miss_hit(void **state)
{
	env *e = *state;
	res x = {0};
	doc(e, e->u, "t:doc:a", "/doc?etag=a&v=1", 0, &x);
	assert_null(x.err);
	assert_string_equal(x.from, "miss");
	assert_int_equal(x.status, 200);
	assert_string_equal(x.body, "document 1");
	assert_string_equal(x.etag, "\"a\"");
	res_clear(&x);
	doc(e, e->u, "t:doc:a", "/doc?etag=a&v=1", 0, &x);
	assert_null(x.err);
	assert_string_equal(x.from, "hit");
	assert_int_equal(x.status, 0);
	assert_string_equal(x.body, "document 1");
	res_clear(&x);
	assert_int_equal(fx_count(&srv, "/doc?etag=a&v=1"), 1);
}

static void test_doc_revalidate(void **state)
{
	env *e = *state;
	res x = {0};
	doc(e, e->u, "t:doc:b", "/doc?etag=b&v=1", -1, &x);
	assert_string_equal(x.from, "miss");
	res_clear(&x);
	/* ttl < 0: asked again, with the validators; 304 keeps the body */
	doc(e, e->u, "t:doc:b", "/doc?etag=b&v=1", -1, &x);
	assert_null(x.err);
	assert_string_equal(x.from, "revalidated");
	assert_int_equal(x.status, 304);
	assert_string_equal(x.body, "document 1");
	assert_string_equal(srv.stats->last_inm, "\"b\"");
	res_clear(&x);
	assert_int_equal(fx_count(&srv, "/doc?etag=b&v=1"), 2);
	/* a changed document (another ETag upstream) replaces the entry */
	doc(e, e->u, "t:doc:b", "/doc?etag=b2&v=2", -1, &x);
	assert_null(x.err);
	assert_string_equal(x.from, "miss");
	assert_int_equal(x.status, 200);
	assert_string_equal(x.body, "document 2");
	res_clear(&x);
	/* within a positive TTL the replaced entry is a hit */
	doc(e, e->u, "t:doc:b", "/doc?etag=b2&v=2", 300, &x);
	assert_string_equal(x.from, "hit");
	assert_string_equal(x.body, "document 2");
	res_clear(&x);
}

static void test_doc_stale_if_error(void **state)
{
	env *e = *state;
	res x = {0};
	doc(e, e->u, "t:doc:c", "/doc?etag=c&v=1", -1, &x);
	assert_string_equal(x.from, "miss");
	res_clear(&x);
	/* 503 upstream: the stale copy, with a warning */
	doc(e, e->u, "t:doc:c", "/status?code=503", -1, &x);
	assert_null(x.err);
	assert_string_equal(x.from, "stale");
	assert_int_equal(x.status, 503);
	assert_non_null(strstr(x.warning, "503"));
	assert_string_equal(x.body, "document 1");
	res_clear(&x);
	/* unreachable upstream (nothing listens on port 1) */
	char *bad = NULL;
	assert_true(asprintf(&bad, "https://127.0.0.1:1/doc") > 0);
	cr_upstream_get g = {.key = "t:doc:c", .url = bad, .ttl_s = -1};
	cr_upstream_document(e->u, &g, on_result, &x);
	wait_for(e, &x);
	free(bad);
	assert_null(x.err);
	assert_string_equal(x.from, "stale");
	assert_non_null(x.warning);
	res_clear(&x);
	/* a 404 is an answer, not a failure: no stale copy */
	doc(e, e->u, "t:doc:c", "/status?code=404", -1, &x);
	assert_non_null(x.err);
	assert_false(x.had_entry);
	assert_int_equal(x.status, 404);
	assert_int_equal(x.reason, CR_REASON_INTERNAL);
	res_clear(&x);
	/* without a stale copy a 503 is an error */
	doc(e, e->u, "t:doc:none", "/status?code=503", -1, &x);
	assert_non_null(x.err);
	assert_int_equal(x.status, 503);
	assert_false(stored(e, "t:doc:none"));
	res_clear(&x);
}

static void test_offline(void **state)
{
	env *e = *state;
	res x = {0};
	doc(e, e->u, "t:doc:d", "/doc?etag=d&v=1", 0, &x);
	res_clear(&x);
	char *sri = sri_of_pattern("sha512", 300);
	artifact(e, "t:art:off", "/body?n=300", sri, false, NULL, &x);
	assert_string_equal(x.from, "miss");
	res_clear(&x);
	int before = srv.stats->requests;
	cr_upstream *off = new_upstream(e, true);
	/* fresh document and stored artifact: hits */
	doc(e, off, "t:doc:d", "/doc?etag=d&v=1", 0, &x);
	assert_string_equal(x.from, "hit");
	res_clear(&x);
	/* a document due for revalidation is served as it is */
	doc(e, off, "t:doc:d", "/doc?etag=d&v=1", -1, &x);
	assert_null(x.err);
	assert_string_equal(x.from, "stale");
	assert_non_null(strstr(x.warning, "offline"));
	assert_string_equal(x.body, "document 1");
	res_clear(&x);
	char *uu = url("/body?n=300");
	cr_upstream_get g = {.key = "t:art:off", .url = uu, .integrity = sri};
	cr_upstream_artifact(off, &g, NULL, on_result, &x);
	wait_for(e, &x);
	assert_string_equal(x.from, "hit");
	res_clear(&x);
	/* a miss says so */
	g.key = "t:art:other";
	cr_upstream_artifact(off, &g, NULL, on_result, &x);
	wait_for(e, &x);
	assert_non_null(x.err);
	assert_int_equal(strncmp(x.err, "offline", 7), 0);
	res_clear(&x);
	assert_int_equal(srv.stats->requests, before); /* nothing went upstream */
	cr_upstream_free(off);
	free(uu);
	free(sri);
}

/* ---- artifacts ---- */

static void test_artifact_integrity(void **state)
{
	env *e = *state;
	res x = {0};
	char *sri = sri_of_pattern("sha512", 4000), *sha1 = sri_of_pattern("sha1", 4000);
	char *both = NULL;
	assert_true(asprintf(&both, "%s %s", sri, sha1) > 0);
	artifact(e, "t:art:ok", "/body?n=4000", both, false, NULL, &x);
	assert_null(x.err);
	assert_string_equal(x.from, "miss");
	assert_int_equal(strlen(x.body), 4000);
	/* what is recorded: the digest that decided and the blob's sha256 */
	assert_non_null(strstr(x.integrity, sri));
	assert_non_null(strstr(x.integrity, "sha256-"));
	res_clear(&x);
	artifact(e, "t:art:ok", "/body?n=4000", both, false, NULL, &x);
	assert_string_equal(x.from, "hit");
	res_clear(&x);
	assert_int_equal(fx_count(&srv, "/body?n=4000"), 1);
	/* the synchronous warm path: stored and verified for this integrity
	 * (or asked without one), else 0 and the caller takes the async get */
	char *wrong = sri_of_pattern("sha512", 4001);
	cr_cache_entry ent;
	cr_upstream_get g = {.key = "t:art:ok", .integrity = sri};
	assert_int_equal(cr_upstream_artifact_stored(e->u, &g, &ent), 1);
	assert_int_equal(ent.size, 4000);
	cr_cache_entry_clear(&ent);
	g.integrity = wrong;
	assert_int_equal(cr_upstream_artifact_stored(e->u, &g, &ent), 0);
	g.integrity = NULL;
	assert_int_equal(cr_upstream_artifact_stored(e->u, &g, &ent), 0);
	g.no_integrity = true;
	assert_int_equal(cr_upstream_artifact_stored(e->u, &g, &ent), 1);
	cr_cache_entry_clear(&ent);
	g = (cr_upstream_get){.key = "t:art:absent", .integrity = sri};
	assert_int_equal(cr_upstream_artifact_stored(e->u, &g, &ent), 0);
	/* a stored artifact asked for with another integrity is fetched again
	 * and checked: it does not match, nothing is served */
	artifact(e, "t:art:ok", "/body?n=4000", wrong, false, NULL, &x);
	assert_non_null(x.err);
	assert_int_equal(x.reason, CR_REASON_INTEGRITY_MISMATCH);
	res_clear(&x);
	/* a sha1-only list is checked with sha1 */
	artifact(e, "t:art:sha1", "/body?n=4000", sha1, false, NULL, &x);
	assert_null(x.err);
	res_clear(&x);
	free(sri);
	free(sha1);
	free(both);
	free(wrong);
}

static void test_artifact_mismatch(void **state)
{
	env *e = *state;
	res x = {0};
	char *wrong = sri_of_pattern("sha512", 999);
	artifact(e, "t:art:bad", "/body?n=1000", wrong, false, NULL, &x);
	assert_non_null(x.err);
	assert_false(x.had_entry);
	assert_int_equal(x.reason, CR_REASON_INTEGRITY_MISMATCH);
	assert_non_null(strstr(x.err, "expected sha512-"));
	assert_non_null(strstr(x.err, "nothing was stored"));
	assert_false(stored(e, "t:art:bad"));
	res_clear(&x);
	free(wrong);
	/* no integrity: refused before any request */
	int before = srv.stats->requests;
	artifact(e, "t:art:none", "/body?n=1000", NULL, false, NULL, &x);
	assert_non_null(x.err);
	assert_non_null(strstr(x.err, "no integrity"));
	res_clear(&x);
	artifact(e, "t:art:none", "/body?n=1000", "", false, NULL, &x);
	assert_non_null(x.err);
	res_clear(&x);
	assert_int_equal(srv.stats->requests, before);
	/* malformed integrity, or none that can decide: refused before any
	 * request too */
	artifact(e, "t:art:garbled", "/body?n=1000", "sha512-???", false, NULL, &x);
	assert_non_null(x.err);
	assert_non_null(strstr(x.err, "integrity entry"));
	assert_int_equal(x.reason, CR_REASON_INTERNAL);
	assert_false(stored(e, "t:art:garbled"));
	res_clear(&x);
	artifact(e, "t:art:md5", "/body?n=1000", "md5-kAFQmDzST7DWlj99KOF/cg==", false, NULL, &x);
	assert_non_null(x.err);
	assert_non_null(strstr(x.err, "no supported algorithm"));
	res_clear(&x);
	assert_int_equal(srv.stats->requests, before);
	/* a 404 artifact */
	char *sri = sri_of_pattern("sha512", 10);
	artifact(e, "t:art:404", "/status?code=404", sri, false, NULL, &x);
	assert_non_null(x.err);
	assert_int_equal(x.status, 404);
	res_clear(&x);
	free(sri);
}

static void test_artifact_no_integrity(void **state)
{
	env *e = *state;
	res x = {0};
	artifact(e, "t:pack:1", "/body?n=2000", NULL, true, NULL, &x);
	assert_null(x.err);
	assert_string_equal(x.from, "miss");
	assert_string_equal(x.integrity, "");
	res_clear(&x);
	artifact(e, "t:pack:1", "/body?n=2000", NULL, true, NULL, &x);
	assert_string_equal(x.from, "hit");
	res_clear(&x);
	/* a POST (git upload-pack) */
	char *uu = url("/echo");
	const char body[] = "0009done\n0000";
	cr_upstream_get g = {.key = "t:pack:post",
			     .url = uu,
			     .no_integrity = true,
			     .method = "POST",
			     .body = body,
			     .body_len = 13};
	cr_upstream_artifact(e->u, &g, NULL, on_result, &x);
	wait_for(e, &x);
	assert_null(x.err);
	assert_string_equal(x.body, "0009done\n0000");
	res_clear(&x);
	free(uu);
}

static void test_artifact_redirect(void **state)
{
	env *e = *state;
	res x = {0};
	char *sri = sri_of_pattern("sha256", 700);
	artifact(e, "t:art:redir", "/redirect?to=/body?n=700", sri, false, allow_all, &x);
	assert_null(x.err);
	assert_string_equal(x.from, "miss");
	assert_int_equal(strlen(x.body), 700);
	res_clear(&x);
	artifact(e, "t:art:redir2", "/redirect?to=/body?n=700", sri, false, allow_none, &x);
	assert_non_null(x.err);
	assert_non_null(strstr(x.err, "does not allow"));
	res_clear(&x);
	/* NULL: never followed */
	artifact(e, "t:art:redir3", "/redirect?to=/body?n=700", sri, false, NULL, &x);
	assert_non_null(x.err);
	assert_int_equal(x.status, 302);
	res_clear(&x);
	/* the entry records what was asked for, not where it was found */
	cr_cache_entry ent;
	cr_error *err = NULL;
	assert_int_equal(cr_cache_get(e->cache, "t:art:redir", &ent, &err), 1);
	assert_non_null(strstr(ent.upstream, "/redirect?to="));
	cr_cache_entry_clear(&ent);
	/* credentials follow a redirect within the origin only */
	char *uu = url("/redirect?to=/auth");
	cr_upstream_get g = {.key = "t:pack:auth1",
			     .url = uu,
			     .no_integrity = true,
			     .username = FX_USER,
			     .password = FX_PASS};
	cr_upstream_artifact(e->u, &g, allow_all, on_result, &x);
	wait_for(e, &x);
	assert_null(x.err);
	assert_string_equal(x.body, "welcome");
	res_clear(&x);
	free(uu);
	char target[128];
	snprintf(target, sizeof(target), "/redirect?to=https://registry.test:%u/auth", srv.port);
	uu = url(target);
	g.url = uu;
	g.key = "t:pack:auth2";
	cr_upstream_artifact(e->u, &g, allow_all, on_result, &x);
	wait_for(e, &x);
	assert_non_null(x.err);
	assert_int_equal(x.status, 401);
	assert_string_equal(srv.stats->last_auth, "");
	res_clear(&x);
	free(uu);
	/* a loop ends */
	artifact(e, "t:art:loop", "/redirect?to=/redirect?to=/redirect", sri, false, allow_all, &x);
	assert_non_null(x.err);
	res_clear(&x);
	free(sri);
}

static void test_single_flight(void **state)
{
	env *e = *state;
	char *sri = sri_of_pattern("sha512", 5000);
	char *uu = url("/body?n=5000&delay=300");
	cr_upstream_get g = {.key = "t:art:sf", .url = uu, .integrity = sri};
	res a = {0}, b = {0};
	cr_upstream_artifact(e->u, &g, NULL, on_result, &a);
	cr_upstream_artifact(e->u, &g, NULL, on_result, &b);
	assert_true(fx_run_until(&e->gw, &a.done, 10000));
	assert_true(fx_run_until(&e->gw, &b.done, 10000));
	assert_null(a.err);
	assert_null(b.err);
	assert_string_equal(a.from, "miss");
	assert_string_equal(b.from, "hit");
	assert_string_equal(a.body, b.body);
	assert_int_equal(fx_count(&srv, "/body?n=5000&delay=300"), 1);
	res_clear(&a);
	res_clear(&b);
	/* documents too */
	free(uu);
	uu = url("/doc?etag=sf&v=1&delay=300");
	g = (cr_upstream_get){.key = "t:doc:sf", .url = uu, .ttl_s = -1};
	cr_upstream_document(e->u, &g, on_result, &a);
	cr_upstream_document(e->u, &g, on_result, &b);
	assert_true(fx_run_until(&e->gw, &a.done, 10000));
	assert_true(fx_run_until(&e->gw, &b.done, 10000));
	assert_null(a.err);
	assert_null(b.err);
	assert_string_equal(b.body, "document 1");
	assert_int_equal(fx_count(&srv, "/doc?etag=sf&v=1&delay=300"), 1);
	res_clear(&a);
	res_clear(&b);
	free(uu);
	free(sri);
}

static void test_cancel(void **state)
{
	env *e = *state;
	res x = {0};
	char *uu = url("/body?n=100&delay=200");
	cr_upstream_get g = {.key = "t:pack:cancel", .url = uu, .no_integrity = true};
	cr_upstream_op *op = cr_upstream_artifact(e->u, &g, NULL, on_result, &x);
	cr_upstream_cancel(op);
	fx_run_for(&e->gw, 100);
	/* during the download */
	op = cr_upstream_artifact(e->u, &g, NULL, on_result, &x);
	fx_run_for(&e->gw, 100);
	cr_upstream_cancel(op);
	fx_run_for(&e->gw, 400);
	assert_false(x.done);
	assert_false(stored(e, "t:pack:cancel"));
	cr_upstream_cancel(NULL);
	/* the lock was released: a new get goes through */
	artifact(e, "t:pack:cancel", "/body?n=100&delay=200", NULL, true, NULL, &x);
	assert_null(x.err);
	res_clear(&x);
	/* freeing with gets pending calls nothing */
	cr_upstream_artifact(e->u, &g, NULL, on_result, &x);
	cr_upstream_free(e->u);
	e->u = new_upstream(e, false);
	fx_run_for(&e->gw, 100);
	assert_false(x.done);
	free(uu);
}

static void test_counters(void **state)
{
	env *e = *state;
	res x = {0};
	doc(e, e->u, "t:doc:cnt", "/doc?etag=cnt&v=1", 0, &x);
	res_clear(&x);
	doc(e, e->u, "t:doc:cnt", "/doc?etag=cnt&v=1", 0, &x);
	res_clear(&x);
	char *wrong = sri_of_pattern("sha512", 1);
	artifact(e, "t:art:cnt", "/body?n=10", wrong, false, NULL, &x);
	res_clear(&x);
	free(wrong);
	cr_upstream_count_served(e->u, 1234);
	/* batched: the timer flushes within about a second */
	fx_run_for(&e->gw, 1300);
	cr_cache_stats st;
	cr_error *err = NULL;
	assert_int_equal(cr_cache_stats_get(e->cache, &st, &err), 0);
	assert_int_equal(st.counters.hits, 1);
	assert_int_equal(st.counters.misses, 2);
	assert_int_equal(st.counters.upstream_requests, 2);
	assert_int_equal(st.counters.integrity_failures, 1);
	assert_int_equal(st.counters.bytes_served, 1234);
	assert_int_equal(st.counters.bytes_fetched, strlen("document 1") + 10);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_doc_miss_hit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_doc_revalidate, setup, teardown),
		cmocka_unit_test_setup_teardown(test_doc_stale_if_error, setup, teardown),
		cmocka_unit_test_setup_teardown(test_offline, setup, teardown),
		cmocka_unit_test_setup_teardown(test_artifact_integrity, setup, teardown),
		cmocka_unit_test_setup_teardown(test_artifact_mismatch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_artifact_no_integrity, setup, teardown),
		cmocka_unit_test_setup_teardown(test_artifact_redirect, setup, teardown),
		cmocka_unit_test_setup_teardown(test_single_flight, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cancel, setup, teardown),
		cmocka_unit_test_setup_teardown(test_counters, setup, teardown),
	};
	return cmocka_run_group_tests(tests, fx_group_setup, fx_group_teardown);
}
