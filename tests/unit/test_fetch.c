/* SPDX-License-Identifier: Apache-2.0 */
/* test_fetch.c -- the gateway's upstream fetcher (gateway/upstream/fetch.h)
 * against a forked HTTPS server with a CA made at test time
 * (upstream_fixture.h): bodies, statuses, names resolved through the
 * gateway's evdns, the size cap, the header and stall timeouts, TLS against
 * the wrong CA, the address guard (metadata, loopback without the test
 * switch, a name resolving to a mix), cancellation (before the start, inside
 * on_headers, inside on_data), Basic credentials (sent, and absent from
 * error texts), POST bodies copied, malformed requests refused. */
#include "testutil.h"

#include "upstream_fixture.h"

#include "gateway/upstream/fetch.h"
#include "gateway/upstream/internal.h"
#include "util/buf.h"

typedef struct got {
	bool headers_called, done, data_seen;
	int done_calls;
	long status;
	char *content_type, *etag, *location, *remote_ip;
	int64_t content_length;
	cr_buf body;
	char *err;
	/* behaviour */
	int headers_rc;
	bool cancel_in_headers, cancel_in_data;
	cr_fetch *self;
} got;

static int on_headers(void *ud, const cr_fetch_response *r)
{
	got *g = ud;
	g->headers_called = true;
	g->status = r->status;
	g->content_type = strdup(r->content_type);
	g->etag = strdup(r->etag);
	g->location = strdup(r->location);
	g->content_length = r->content_length;
	if (g->cancel_in_headers)
		cr_fetch_cancel(g->self);
	return g->headers_rc;
}

static int on_data(void *ud, const void *data, size_t len)
{
	got *g = ud;
	cr_buf_append(&g->body, data, len);
	g->data_seen = true;
	if (g->cancel_in_data)
		cr_fetch_cancel(g->self);
	return 0;
}

static void on_done(void *ud, const cr_fetch_response *r, cr_error *err, uint64_t elapsed_ms)
{
	(void)elapsed_ms;
	got *g = ud;
	g->done = true;
	g->done_calls++;
	g->status = r->status;
	g->remote_ip = strdup(r->remote_ip);
	g->err = err ? strdup(err->msg) : NULL;
	if (getenv("TEST_FETCH_VERBOSE"))
		fprintf(stderr, "# on_done: %ld %s\n", r->status, err ? err->msg : "ok");
	cr_error_free(err);
}

static const cr_fetch_cbs cbs = {on_headers, on_data, on_done};

static void got_init(got *g)
{
	memset(g, 0, sizeof(*g));
	cr_buf_init(&g->body, 64 << 20);
}

static void got_clear(got *g)
{
	free(g->content_type);
	free(g->etag);
	free(g->location);
	free(g->remote_ip);
	free(g->err);
	cr_buf_free(&g->body);
}

typedef struct env {
	cr_gateway gw;
	cr_fetcher *f;
} env;

static int setup(void **state)
{
	env *e = calloc(1, sizeof(*e));
	fx_gateway_init(&e->gw, &srv);
	cr_error *err = NULL;
	e->f = cr_fetcher_new(&e->gw, srv.ca.data, srv.ca.len, &err);
	assert_non_null(e->f);
	cr_fetcher_allow_loopback_for_tests(e->f);
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	env *e = *state;
	cr_fetcher_free(e->f);
	fx_gateway_free(&e->gw);
	free(e);
	return 0;
}

static char *url(const char *host, const char *target)
{
	char *u = NULL;
	if (asprintf(&u, "https://%s:%u%s", host, srv.port, target) < 0)
		abort();
	return u;
}

/* Starts a GET of target on host and runs it to completion. */
static void fetch_req(env *e, cr_fetch_req *req, got *g)
{
	cr_error *err = NULL;
	cr_fetch *x = cr_fetch_start(e->f, req, &cbs, g, &err);
	assert_non_null(x);
	g->self = x;
	assert_false(g->done); /* never called from inside cr_fetch_start */
	assert_int_equal(cr_fetcher_active(e->f), 1);
	assert_true(fx_run_until(&e->gw, &g->done, 10000));
	assert_int_equal(g->done_calls, 1);
	assert_int_equal(cr_fetcher_active(e->f), 0);
}

static void fetch(env *e, const char *host, const char *target, uint64_t max_bytes, got *g)
{
	char *u = url(host, target);
	cr_fetch_req req = {.url = u, .max_bytes = max_bytes};
	fetch_req(e, &req, g);
	free(u);
}

static void test_body(void **state)
{
	env *e = *state;
	got g;
	got_init(&g);
	fetch(e, "127.0.0.1", "/body?n=200000", 0, &g);
	assert_null(g.err);
	assert_int_equal(g.status, 200);
	assert_true(g.headers_called);
	assert_int_equal(g.content_length, 200000);
	assert_string_equal(g.content_type, "text/plain");
	assert_string_equal(g.remote_ip, "127.0.0.1");
	char *want = fx_pattern(200000);
	assert_int_equal(g.body.len, 200000);
	assert_memory_equal(g.body.data, want, 200000);
	free(want);
	got_clear(&g);
	/* without Content-Length (read to the close) */
	got_init(&g);
	fetch(e, "127.0.0.1", "/body?n=5000&nolen=1", 0, &g);
	assert_null(g.err);
	assert_int_equal(g.content_length, -1);
	assert_int_equal(g.body.len, 5000);
	got_clear(&g);
}

static void test_by_name(void **state)
{
	env *e = *state;
	got g;
	got_init(&g);
	/* resolved by the gateway's evdns, verified against the name */
	fetch(e, "registry.test", "/doc?etag=n1&v=7", 0, &g);
	assert_null(g.err);
	assert_int_equal(g.status, 200);
	assert_string_equal(g.etag, "\"n1\"");
	assert_string_equal(g.body.data, "document 7");
	got_clear(&g);
	/* upper case in the URL is the same host */
	got_init(&g);
	fetch(e, "Registry.TEST", "/status?code=204", 0, &g);
	assert_null(g.err);
	assert_int_equal(g.status, 204);
	got_clear(&g);
	/* a name that does not exist */
	got_init(&g);
	fetch(e, "nothere.test", "/body?n=1", 0, &g);
	assert_non_null(g.err);
	assert_non_null(strstr(g.err, "nothere.test"));
	assert_non_null(strstr(g.err, "does not exist"));
	got_clear(&g);
}

static void test_status(void **state)
{
	env *e = *state;
	got g;
	got_init(&g);
	fetch(e, "127.0.0.1", "/status?code=404", 0, &g);
	assert_null(g.err); /* any HTTP status is a success of the fetch */
	assert_int_equal(g.status, 404);
	assert_string_equal(g.body.data, "status 404");
	got_clear(&g);
	/* a redirect is not followed; on_headers stops it without error */
	got_init(&g);
	g.headers_rc = 1;
	fetch(e, "127.0.0.1", "/redirect?to=/elsewhere", 0, &g);
	assert_null(g.err);
	assert_int_equal(g.status, 302);
	assert_string_equal(g.location, "/elsewhere");
	assert_int_equal(g.body.len, 0);
	assert_int_equal(fx_count(&srv, "/elsewhere"), 0);
	got_clear(&g);
	/* on_headers aborting is an error */
	got_init(&g);
	g.headers_rc = -1;
	fetch(e, "127.0.0.1", "/body?n=10", 0, &g);
	assert_non_null(g.err);
	assert_non_null(strstr(g.err, "aborted"));
	got_clear(&g);
	/* a header the callers need may not be longer than the cap; others
	 * are skipped */
	got_init(&g);
	fetch(e, "127.0.0.1", "/longheader?name=ETag", 0, &g);
	assert_non_null(g.err);
	assert_non_null(strstr(g.err, "longer than 8192 bytes"));
	got_clear(&g);
	got_init(&g);
	fetch(e, "127.0.0.1", "/longheader?name=X-Padding", 0, &g);
	assert_null(g.err);
	assert_string_equal(g.body.data, "long");
	got_clear(&g);
	/* the server closes without answering */
	got_init(&g);
	fetch(e, "127.0.0.1", "/close", 0, &g);
	assert_non_null(g.err);
	assert_non_null(strstr(g.err, "upstream 127.0.0.1:"));
	got_clear(&g);
}

static void test_size_cap(void **state)
{
	env *e = *state;
	got g;
	got_init(&g);
	fetch(e, "127.0.0.1", "/body?n=5000", 1000, &g);
	assert_non_null(g.err);
	assert_non_null(strstr(g.err, "larger than 1000 bytes"));
	assert_true(g.body.len <= 1000);
	got_clear(&g);
	/* no Content-Length: stopped by the count */
	got_init(&g);
	fetch(e, "127.0.0.1", "/body?n=300000&nolen=1", 100000, &g);
	assert_non_null(g.err);
	assert_non_null(strstr(g.err, "larger than 100000 bytes"));
	assert_true(g.body.len <= 100000);
	got_clear(&g);
	/* exactly the cap passes */
	got_init(&g);
	fetch(e, "127.0.0.1", "/body?n=1000&nolen=1", 1000, &g);
	assert_null(g.err);
	assert_int_equal(g.body.len, 1000);
	got_clear(&g);
}

static void test_timeouts(void **state)
{
	env *e = *state;
	cr_fetcher_set_timeouts_for_tests(e->f, 1000, 300, 400);
	got g;
	got_init(&g);
	int64_t t0 = cr_monotonic_ms();
	fetch(e, "127.0.0.1", "/body?n=10&delay=5000", 0, &g);
	assert_non_null(g.err);
	assert_non_null(strstr(g.err, "timed out: no response"));
	assert_true(cr_monotonic_ms() - t0 < 3000);
	got_clear(&g);
	/* headers and half the body, then silence: the stall limit counts
	 * from the last byte, not from the start */
	cr_fetcher_set_timeouts_for_tests(e->f, 5000, 5000, 400);
	got_init(&g);
	t0 = cr_monotonic_ms();
	fetch(e, "127.0.0.1", "/body?n=100&stall=5000", 0, &g);
	assert_non_null(g.err);
	assert_non_null(strstr(g.err, "no data for 400 ms"));
	assert_int_equal(g.status, 200);
	assert_int_equal(g.body.len, 50);
	assert_true(cr_monotonic_ms() - t0 < 3000);
	got_clear(&g);
	/* a short pause within the limit is fine */
	got_init(&g);
	fetch(e, "127.0.0.1", "/body?n=100&stall=50", 0, &g);
	assert_null(g.err);
	assert_int_equal(g.body.len, 100);
	got_clear(&g);
	cr_fetcher_set_timeouts_for_tests(e->f, CR_FETCH_CONNECT_MS, CR_FETCH_HEADERS_MS, CR_FETCH_STALL_MS);
}

static void test_wrong_ca(void **state)
{
	env *e = *state;
	cr_error *err = NULL;
	cr_fetcher *saved = e->f;
	e->f = cr_fetcher_new(&e->gw, srv.other_ca.data, srv.other_ca.len, &err);
	cr_fetcher_allow_loopback_for_tests(e->f);
	got g;
	got_init(&g);
	fetch(e, "registry.test", "/body?n=10&ca=wrong", 0, &g);
	assert_non_null(g.err);
	assert_non_null(strstr(g.err, "TLS"));
	assert_int_equal(fx_count(&srv, "/body?n=10&ca=wrong"), 0); /* no request was sent */
	got_clear(&g);
	cr_fetcher_free(e->f);
	/* the system store does not know the test CA either */
	e->f = cr_fetcher_new(&e->gw, NULL, 0, &err);
	cr_fetcher_allow_loopback_for_tests(e->f);
	got_init(&g);
	fetch(e, "registry.test", "/body?n=10", 0, &g);
	assert_non_null(g.err);
	assert_non_null(strstr(g.err, "TLS"));
	got_clear(&g);
	cr_fetcher_free(e->f);
	e->f = saved;
	/* the right CA, but a name the certificate does not carry */
	got_init(&g);
	fetch(e, "mixed.test", "/body?n=10", 0, &g);
	assert_non_null(g.err);
	assert_non_null(strstr(g.err, "TLS"));
	got_clear(&g);
}

static void test_guard(void **state)
{
	env *e = *state;
	got g;
	got_init(&g);
	fetch(e, "169.254.169.254", "/latest/meta-data/", 0, &g);
	assert_non_null(g.err);
	assert_non_null(strstr(g.err, "address_guard"));
	assert_non_null(strstr(g.err, "169.254.169.254"));
	got_clear(&g);
	/* by name */
	got_init(&g);
	fetch(e, "meta.test", "/x", 0, &g);
	assert_non_null(g.err);
	assert_non_null(strstr(g.err, "address_guard"));
	got_clear(&g);
	/* the sandbox pool and the gateway's own address */
	const char *hosts[] = {"10.213.7.2", "10.213.0.1", "0.0.0.0", "224.0.0.1"};
	for (size_t i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++) {
		got_init(&g);
		fetch(e, hosts[i], "/x", 0, &g);
		assert_non_null(g.err);
		assert_non_null(strstr(g.err, "address_guard"));
		got_clear(&g);
	}
	/* a name with a refused and an allowed address uses the allowed one
	 * (the certificate does not name mixed.test: a TLS error, after
	 * connecting to 127.0.0.1, not to the metadata address) */
	got_init(&g);
	fetch(e, "mixed.test", "/status?code=200", 0, &g);
	assert_non_null(g.err);
	assert_null(strstr(g.err, "address_guard"));
	got_clear(&g);
	/* without the test switch loopback is refused too */
	cr_error *err = NULL;
	cr_fetcher *saved = e->f;
	e->f = cr_fetcher_new(&e->gw, srv.ca.data, srv.ca.len, &err);
	got_init(&g);
	int before = fx_count(&srv, "/body?n=3");
	fetch(e, "127.0.0.1", "/body?n=3", 0, &g);
	assert_non_null(g.err);
	assert_non_null(strstr(g.err, "address_guard"));
	assert_int_equal(fx_count(&srv, "/body?n=3"), before);
	got_clear(&g);
	got_init(&g);
	fetch(e, "registry.test", "/body?n=3", 0, &g);
	assert_non_null(g.err);
	assert_non_null(strstr(g.err, "address_guard"));
	got_clear(&g);
	/* loopback spelled otherwise is still loopback */
	const char *odd[] = {"127.1", "2130706433", "0x7f.0.0.1", "0177.0.0.1"};
	for (size_t i = 0; i < sizeof(odd) / sizeof(odd[0]); i++) {
		got_init(&g);
		fetch(e, odd[i], "/body?n=3", 0, &g);
		assert_non_null(g.err);
		if (!strstr(g.err, "address_guard"))
			fail_msg("%s: %s", odd[i], g.err);
		got_clear(&g);
	}
	assert_int_equal(fx_count(&srv, "/body?n=3"), before);
	cr_fetcher_free(e->f);
	e->f = saved;
}

static void test_cancel(void **state)
{
	env *e = *state;
	cr_error *err = NULL;
	got g;
	/* at once: nothing is called, nothing is sent */
	got_init(&g);
	char *u = url("127.0.0.1", "/body?n=11");
	cr_fetch_req req = {.url = u};
	cr_fetch *x = cr_fetch_start(e->f, &req, &cbs, &g, &err);
	cr_fetch_cancel(x);
	assert_int_equal(cr_fetcher_active(e->f), 0);
	fx_run_for(&e->gw, 300);
	assert_false(g.done);
	assert_false(g.headers_called);
	assert_int_equal(fx_count(&srv, "/body?n=11"), 0);
	free(u);
	got_clear(&g);
	/* while resolving */
	got_init(&g);
	u = url("silent.test", "/body?n=12");
	req.url = u;
	x = cr_fetch_start(e->f, &req, &cbs, &g, &err);
	fx_run_for(&e->gw, 100); /* the query is out, never answered */
	assert_false(g.done);
	assert_int_equal(cr_fetcher_active(e->f), 1);
	cr_fetch_cancel(x);
	assert_int_equal(cr_fetcher_active(e->f), 0);
	fx_run_for(&e->gw, 300);
	assert_false(g.done);
	free(u);
	got_clear(&g);
	/* inside on_headers */
	got_init(&g);
	g.cancel_in_headers = true;
	u = url("127.0.0.1", "/body?n=100000");
	req.url = u;
	g.self = cr_fetch_start(e->f, &req, &cbs, &g, &err);
	assert_true(fx_run_until(&e->gw, &g.headers_called, 5000));
	fx_run_for(&e->gw, 300);
	assert_false(g.done);
	assert_int_equal(g.body.len, 0);
	assert_int_equal(cr_fetcher_active(e->f), 0);
	free(u);
	got_clear(&g);
	/* inside on_data */
	got_init(&g);
	g.cancel_in_data = true;
	u = url("127.0.0.1", "/body?n=1000000");
	req.url = u;
	g.self = cr_fetch_start(e->f, &req, &cbs, &g, &err);
	assert_true(fx_run_until(&e->gw, &g.data_seen, 5000));
	fx_run_for(&e->gw, 300);
	assert_false(g.done);
	assert_true(g.body.len > 0 && g.body.len < 1000000);
	assert_int_equal(cr_fetcher_active(e->f), 0);
	free(u);
	got_clear(&g);
	/* NULL is accepted */
	cr_fetch_cancel(NULL);
}

static void test_credentials(void **state)
{
	env *e = *state;
	got g;
	got_init(&g);
	char *u = url("127.0.0.1", "/auth");
	cr_fetch_req req = {.url = u, .username = FX_USER, .password = FX_PASS};
	fetch_req(e, &req, &g);
	assert_null(g.err);
	assert_int_equal(g.status, 200);
	assert_string_equal(g.body.data, "welcome");
	assert_string_equal(srv.stats->last_auth, FX_BASIC);
	got_clear(&g);
	/* only for that request */
	got_init(&g);
	req.username = req.password = NULL;
	fetch_req(e, &req, &g);
	assert_int_equal(g.status, 401);
	assert_string_equal(srv.stats->last_auth, "");
	got_clear(&g);
	free(u);
	/* failures never show them */
	const char *targets[] = {"https://169.254.169.254/x", "https://nothere.test/x"};
	for (size_t i = 0; i < 2; i++) {
		got_init(&g);
		req = (cr_fetch_req){.url = targets[i], .username = FX_USER, .password = FX_PASS};
		fetch_req(e, &req, &g);
		assert_non_null(g.err);
		assert_null(strstr(g.err, FX_USER));
		assert_null(strstr(g.err, FX_PASS));
		got_clear(&g);
	}
	cr_fetcher_set_timeouts_for_tests(e->f, 1000, 200, 200);
	got_init(&g);
	u = url("127.0.0.1", "/body?n=1&delay=3000");
	req = (cr_fetch_req){.url = u, .username = FX_USER, .password = FX_PASS};
	fetch_req(e, &req, &g);
	assert_non_null(g.err);
	assert_null(strstr(g.err, FX_PASS));
	free(u);
	got_clear(&g);
	cr_fetcher_set_timeouts_for_tests(e->f, CR_FETCH_CONNECT_MS, CR_FETCH_HEADERS_MS, CR_FETCH_STALL_MS);
	/* credentials in the URL are refused outright, without echoing them */
	cr_error *err = NULL;
	char bad[256];
	snprintf(bad, sizeof(bad), "https://%s:%s@127.0.0.1:%u/auth", FX_USER, FX_PASS, srv.port);
	req = (cr_fetch_req){.url = bad};
	assert_null(cr_fetch_start(e->f, &req, &cbs, &g, &err));
	assert_non_null(strstr(err->msg, "credentials"));
	assert_null(strstr(err->msg, FX_PASS));
	cr_error_free(err);
}

static void test_post(void **state)
{
	env *e = *state;
	got g;
	got_init(&g);
	char *u = url("127.0.0.1", "/echo");
	char body[] = "0032want 0123456789abcdef\n0000";
	const char *headers[] = {"Content-Type: application/x-git-upload-pack-request", NULL};
	cr_fetch_req req = {
		.method = "POST", .url = u, .headers = headers, .body = body, .body_len = strlen(body)};
	cr_error *err = NULL;
	cr_fetch *x = cr_fetch_start(e->f, &req, &cbs, &g, &err);
	assert_non_null(x);
	memset(body, 'X', strlen(body)); /* the fetcher has its own copy */
	assert_true(fx_run_until(&e->gw, &g.done, 5000));
	assert_null(g.err);
	assert_string_equal(g.body.data, "0032want 0123456789abcdef\n0000");
	free(u);
	got_clear(&g);
}

static void test_bad_requests(void **state)
{
	env *e = *state;
	char plain[128];
	snprintf(plain, sizeof(plain), "http://127.0.0.1:%u/body?n=1", srv.port);
	const char *nul_hdr[] = {"X-Evil: a\r\nHost: other", NULL};
	struct {
		cr_fetch_req req;
		const char *says;
	} cases[] = {
		{{.url = plain}, "only https"},
		{{.url = "ftp://registry.test/x"}, "only https"},
		{{.url = "not a url"}, "not a URL"},
		{{.url = NULL}, "no URL"},
		{{.url = "https://[::1]/x"}, "host"},
		{{.url = "https://registry.test/x", .method = "DELETE"}, "GET and POST"},
		{{.url = "https://registry.test/x", .headers = nul_hdr}, "header"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cr_error *err = NULL;
		got g;
		got_init(&g);
		assert_null(cr_fetch_start(e->f, &cases[i].req, &cbs, &g, &err));
		assert_non_null(err);
		if (!strstr(err->msg, cases[i].says))
			fail_msg("case %zu: '%s' does not say '%s'", i, err->msg, cases[i].says);
		cr_error_free(err);
		got_clear(&g);
	}
	assert_int_equal(cr_fetcher_active(e->f), 0);
	/* plain http when the configuration allows it (tests of the fronts) */
	e->gw.cfg.upstream_plain_http = true;
	cr_error *err = NULL;
	got g;
	got_init(&g);
	cr_fetch_req req = {.url = plain};
	assert_non_null(cr_fetch_start(e->f, &req, &cbs, &g, &err));
	assert_true(fx_run_until(&e->gw, &g.done, 5000));
	assert_non_null(g.err); /* the server speaks TLS only */
	e->gw.cfg.upstream_plain_http = false;
	got_clear(&g);
}

static void test_many(void **state)
{
	env *e = *state;
	enum { N = 20 };
	got g[N];
	char *u[N];
	int done = 0;
	for (int i = 0; i < N; i++) {
		got_init(&g[i]);
		char t[64];
		snprintf(t, sizeof(t), "/body?n=%d", 1000 + i);
		u[i] = url(i % 2 ? "registry.test" : "127.0.0.1", t);
		cr_fetch_req req = {.url = u[i]};
		cr_error *err = NULL;
		assert_non_null(cr_fetch_start(e->f, &req, &cbs, &g[i], &err));
	}
	assert_int_equal(cr_fetcher_active(e->f), N);
	int64_t until = cr_monotonic_ms() + 10000;
	while (done < N && cr_monotonic_ms() < until) {
		event_base_loop(e->gw.base, EVLOOP_ONCE);
		done = 0;
		for (int i = 0; i < N; i++)
			done += g[i].done;
	}
	assert_int_equal(done, N);
	for (int i = 0; i < N; i++) {
		assert_null(g[i].err);
		assert_int_equal(g[i].body.len, 1000 + i);
		got_clear(&g[i]);
		free(u[i]);
	}
	/* freeing the fetcher with requests in flight calls nothing */
	got_init(&g[0]);
	u[0] = url("127.0.0.1", "/body?n=10&delay=500");
	cr_fetch_req req = {.url = u[0]};
	cr_error *err = NULL;
	assert_non_null(cr_fetch_start(e->f, &req, &cbs, &g[0], &err));
	fx_run_for(&e->gw, 100);
	cr_fetcher_free(e->f);
	e->f = cr_fetcher_new(&e->gw, srv.ca.data, srv.ca.len, &err);
	cr_fetcher_allow_loopback_for_tests(e->f);
	fx_run_for(&e->gw, 200);
	assert_false(g[0].done);
	got_clear(&g[0]);
	free(u[0]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_body, setup, teardown),
		cmocka_unit_test_setup_teardown(test_by_name, setup, teardown),
		cmocka_unit_test_setup_teardown(test_status, setup, teardown),
		cmocka_unit_test_setup_teardown(test_size_cap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_timeouts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wrong_ca, setup, teardown),
		cmocka_unit_test_setup_teardown(test_guard, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cancel, setup, teardown),
		cmocka_unit_test_setup_teardown(test_credentials, setup, teardown),
		cmocka_unit_test_setup_teardown(test_post, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_requests, setup, teardown),
		cmocka_unit_test_setup_teardown(test_many, setup, teardown),
	};
	return cmocka_run_group_tests(tests, fx_group_setup, fx_group_teardown);
}
