/* SPDX-License-Identifier: Apache-2.0 */
/* upstream.c -- cached gets of the fronts (upstream.h): one op per get,
 * started from a zero timer (never inside the call that made it), then
 *   lookup   a fresh document or a stored, verified artifact is a hit;
 *   offline  otherwise the cache is all there is: a stale document is
 *            served, a miss is an error starting "offline";
 *   lock     the key's cache lock is taken (single flight across every
 *            gateway); while another holder has it the op polls every
 *            CR_UPSTREAM_LOCK_POLL_MS and re-reads the entry, which the
 *            holder has probably stored by then;
 *   fetch    upstream_fetch.c.
 * Counters are summed here and added to the cache's shared counters once a
 * second and when the upstream is freed. */
#include "gateway/upstream/upstream_impl.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gateway/upstream/sri.h"
#include "util/cleanup.h"
#include "util/clock.h"
#include "util/xalloc.h"

#define FLUSH_MS 1000
/* how long a get waits for another holder of its key before fetching
 * anyway: the holder's own limits, so a dead holder never blocks a get */
#define LOCK_WAIT_MS (CR_FETCH_CONNECT_MS + CR_FETCH_HEADERS_MS + CR_FETCH_STALL_MS)

static void arm_ms(struct event *ev, int64_t ms)
{
	struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
	evtimer_add(ev, &tv);
}

/* ---- counters ---- */

static void add_counters(cr_cache_counters *to, const cr_cache_counters *d)
{
	to->hits += d->hits;
	to->misses += d->misses;
	to->stale_served += d->stale_served;
	to->revalidated += d->revalidated;
	to->bytes_served += d->bytes_served;
	to->bytes_fetched += d->bytes_fetched;
	to->upstream_requests += d->upstream_requests;
	to->upstream_ms_total += d->upstream_ms_total;
	to->upstream_errors += d->upstream_errors;
	to->integrity_failures += d->integrity_failures;
}

void cr_upstream_flush_counters(cr_upstream *u)
{
	if (!u->dirty)
		return;
	cleanup_error cr_error *err = NULL;
	/* counters are statistics: a busy or failing index loses one batch */
	(void)cr_cache_counters_add(u->cache, &u->pending, &err);
	u->pending = (cr_cache_counters){0};
	u->dirty = false;
	if (u->flush_ev)
		evtimer_del(u->flush_ev);
}

static void on_flush(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	cr_upstream_flush_counters(arg);
}

void us_count(cr_upstream *u, const cr_cache_counters *d)
{
	add_counters(&u->pending, d);
	if (!u->dirty && u->flush_ev)
		arm_ms(u->flush_ev, FLUSH_MS);
	u->dirty = true;
}

void cr_upstream_count_served(cr_upstream *u, uint64_t bytes)
{
	if (u)
		us_count(u, &(cr_cache_counters){.bytes_served = bytes});
}

/* ---- ops ---- */

static void free_secret(char *s)
{
	if (s) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

static void op_free(cr_upstream_op *op)
{
	cr_upstream *u = op->u;
	us_fetch_stop(op);
	if (op->lock_fd >= 0)
		cr_cache_unlock(u->cache, op->lock_fd);
	if (op->ev)
		event_free(op->ev);
	if (op->prev)
		op->prev->next = op->next;
	else
		u->ops = op->next;
	if (op->next)
		op->next->prev = op->prev;
	cr_cache_entry_clear(&op->stale);
	for (char **h = op->headers; h && *h; h++)
		free(*h);
	free(op->headers);
	free(op->key);
	free(op->url);
	free(op->first_url);
	free(op->integrity);
	free(op->method);
	free(op->body);
	free(op->etag);
	free(op->last_modified);
	free(op->content_type);
	free(op->redirect_to);
	cr_error_free(op->write_err);
	free_secret(op->username);
	free_secret(op->password);
	free(op);
}

void us_deliver(cr_upstream_op *op, const cr_cache_entry *entry, const char *from, const char *warning,
		cr_error *err)
{
	/* the lock goes first: waiters may read what was just stored */
	if (op->lock_fd >= 0)
		cr_cache_unlock(op->u->cache, op->lock_fd);
	op->lock_fd = -1;
	us_fetch_stop(op);
	bool cached = entry && strcmp(from, "hit") == 0;
	cr_upstream_result res = {
		.entry = err ? NULL : entry,
		.from = from ? from : "miss",
		.upstream_status = cached ? 0 : op->status,
		.warning = warning,
	};
	op->delivering = true;
	op->cb(op->ud, &res, err);
	op_free(op);
}

void us_fail(cr_upstream_op *op, cr_error *err, bool upstream_failure)
{
	if (upstream_failure)
		us_count(op->u, &(cr_cache_counters){.upstream_errors = 1});
	if (!(upstream_failure && op->kind == US_DOCUMENT && op->have_stale)) {
		us_deliver(op, NULL, "miss", NULL, err);
		return;
	}
	us_count(op->u, &(cr_cache_counters){.stale_served = 1});
	us_deliver(op, &op->stale, "stale", err->msg, NULL);
	cr_error_free(err);
}

static void fail_now(cr_upstream_op *op, const char *what)
{
	cr_error *err = NULL;
	cr_error_make(&err, 0, CR_REASON_INTERNAL, "%s", what);
	us_deliver(op, NULL, "miss", NULL, err);
}

/* A document is fresh within its TTL, or when another holder of its lock
 * stored it after this get began. */
static bool doc_fresh(const cr_upstream_op *op, const cr_cache_entry *e)
{
	int64_t now = cr_now_ms() / 1000;
	if (op->ttl_s > 0 && now < e->fetched_at + op->ttl_s && now >= e->fetched_at - 60)
		return true;
	return op->waited && e->fetched_at >= op->started_s;
}

/* The cache's answer: true when op was delivered (a hit, or an error). */
static bool lookup(cr_upstream_op *op)
{
	cr_cache_entry e = {0};
	cr_error *err = NULL;
	int rc = cr_cache_get(op->u->cache, op->key, &e, &err);
	if (rc < 0) {
		us_deliver(op, NULL, "miss", NULL, err);
		return true;
	}
	if (rc == 0)
		return false;
	bool hit = op->kind == US_DOCUMENT ? doc_fresh(op, &e)
					   : op->no_integrity || us_entry_verified_for(&e, op->integrity);
	if (hit) {
		us_count(op->u, &(cr_cache_counters){.hits = 1});
		us_deliver(op, &e, "hit", NULL, NULL);
		cr_cache_entry_clear(&e);
		return true;
	}
	if (op->kind == US_DOCUMENT) {
		cr_cache_entry_clear(&op->stale);
		op->stale = e;
		op->have_stale = true;
	} else {
		cr_cache_entry_clear(&e); /* stored for another integrity: fetched again and checked */
	}
	return false;
}

static bool serve_offline(cr_upstream_op *op)
{
	if (!op->u->offline)
		return false;
	if (op->have_stale) {
		us_count(op->u, &(cr_cache_counters){.stale_served = 1});
		us_deliver(op, &op->stale, "stale", "offline: served from the cache without revalidation",
			   NULL);
		return true;
	}
	us_count(op->u, &(cr_cache_counters){.misses = 1});
	cleanup_free char *what = cr_asprintf("offline: %s is not in the cache", op->key);
	fail_now(op, what);
	return true;
}

/* Takes the key's lock: true to go on fetching, false when op waits (the
 * timer calls step again) or was delivered. */
static bool take_lock(cr_upstream_op *op)
{
	cr_error *err = NULL;
	int fd = cr_cache_lock_try(op->u->cache, op->key, &err);
	if (fd == -1) {
		us_deliver(op, NULL, "miss", NULL, err);
		return false;
	}
	if (fd == -2) {
		if (cr_monotonic_ms() >= op->wait_until_ms)
			return true; /* a holder that long is stuck: fetch without the lock */
		op->waited = true;
		arm_ms(op->ev, CR_UPSTREAM_LOCK_POLL_MS);
		return false;
	}
	op->lock_fd = fd;
	/* a holder may have stored the entry between the lookup and now */
	return !(op->waited && lookup(op));
}

/* An artifact's integrity must be able to decide before anything is
 * downloaded: present, well formed, with a known algorithm. False when op
 * was delivered (an error). */
static bool integrity_usable(cr_upstream_op *op)
{
	if (op->kind != US_ARTIFACT || op->no_integrity)
		return true;
	cr_sri s = {0};
	cr_error *err = NULL;
	cleanup_free char *what = NULL;
	if (!op->integrity || !*op->integrity)
		what = cr_asprintf(
			"%s: no integrity to verify against; artifacts are never cached unverified", op->key);
	else if (cr_sri_parse(op->integrity, &s, &err) < 0)
		what = cr_asprintf("%s: %s", op->key, err->msg);
	else if (cr_sri_strongest(&s) < 0)
		what = cr_asprintf(
			"%s: the integrity names no supported algorithm (sha1, sha256, sha384, sha512)",
			op->key);
	cr_sri_clear(&s);
	cr_error_free(err);
	if (what)
		fail_now(op, what);
	return what == NULL;
}

static void step(cr_upstream_op *op)
{
	if (lookup(op) || serve_offline(op))
		return;
	if (!integrity_usable(op))
		return;
	if (!take_lock(op))
		return;
	if (!op->have_stale) /* a revalidation is counted by its outcome */
		us_count(op->u, &(cr_cache_counters){.misses = 1});
	us_fetch(op);
}

static void on_step(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	step(arg);
}

static char **copy_headers(const char *const *h)
{
	size_t n = 0;
	while (h && h[n])
		n++;
	char **out = cr_xcalloc(n + 1, sizeof(*out));
	for (size_t i = 0; i < n; i++)
		out[i] = cr_xstrdup(h[i]);
	return out;
}

static char *dup_or_null(const char *s)
{
	return s ? cr_xstrdup(s) : NULL;
}

static cr_upstream_op *op_new(cr_upstream *u, us_kind kind, const cr_upstream_get *g, cr_upstream_cb cb,
			      void *ud)
{
	cr_upstream_op *op = cr_xcalloc(1, sizeof(*op));
	*op = (cr_upstream_op){.u = u, .kind = kind, .cb = cb, .ud = ud, .lock_fd = -1, .next = u->ops};
	if (u->ops)
		u->ops->prev = op;
	u->ops = op;
	op->key = cr_xstrdup(g->key ? g->key : "");
	op->url = cr_xstrdup(g->url ? g->url : "");
	op->first_url = cr_xstrdup(op->url);
	op->headers = copy_headers(g->headers);
	op->username = dup_or_null(g->username);
	op->password = dup_or_null(g->password);
	op->integrity = dup_or_null(g->integrity);
	op->method = dup_or_null(g->method);
	if (g->body_len) {
		op->body = cr_xmalloc(g->body_len);
		memcpy(op->body, g->body, g->body_len);
		op->body_len = g->body_len;
	}
	op->ttl_s = g->ttl_s ? g->ttl_s : CR_UPSTREAM_DOC_TTL_S;
	op->no_integrity = g->no_integrity;
	op->max_bytes = g->max_bytes          ? g->max_bytes
			: kind == US_DOCUMENT ? CR_FETCH_DOC_MAX
					      : CR_CACHE_BLOB_MAX;
	op->start_ms = cr_monotonic_ms();
	op->started_s = cr_now_ms() / 1000;
	op->wait_until_ms = op->start_ms + LOCK_WAIT_MS;
	op->ev = evtimer_new(u->gw->base, on_step, op);
	arm_ms(op->ev, 0);
	return op;
}

cr_upstream_op *cr_upstream_document(cr_upstream *u, const cr_upstream_get *g, cr_upstream_cb cb, void *ud)
{
	return op_new(u, US_DOCUMENT, g, cb, ud);
}

cr_upstream_op *cr_upstream_artifact(cr_upstream *u, const cr_upstream_get *g,
				     bool (*allow_redirect)(void *ud, const char *url), cr_upstream_cb cb,
				     void *ud)
{
	cr_upstream_op *op = op_new(u, US_ARTIFACT, g, cb, ud);
	op->allow_redirect = allow_redirect;
	return op;
}

int cr_upstream_artifact_stored(cr_upstream *u, const cr_upstream_get *g, cr_cache_entry *out)
{
	memset(out, 0, sizeof(*out));
	cleanup_error cr_error *err = NULL;
	if (!u || !g->key || cr_cache_get(u->cache, g->key, out, &err) != 1)
		return 0;
	if (!g->no_integrity && !us_entry_verified_for(out, g->integrity)) {
		cr_cache_entry_clear(out);
		return 0;
	}
	us_count(u, &(cr_cache_counters){.hits = 1});
	return 1;
}

void cr_upstream_cancel(cr_upstream_op *op)
{
	if (op && !op->delivering)
		op_free(op);
}

/* ---- the upstream ---- */

cr_upstream *cr_upstream_new(cr_gateway *gw, cr_cache *cache, cr_fetcher *fetcher, bool offline)
{
	cr_upstream *u = cr_xcalloc(1, sizeof(*u));
	*u = (cr_upstream){.gw = gw, .cache = cache, .fetcher = fetcher, .offline = offline};
	u->flush_ev = evtimer_new(gw->base, on_flush, u);
	return u;
}

void cr_upstream_free(cr_upstream *u)
{
	if (!u)
		return;
	while (u->ops)
		op_free(u->ops);
	cr_upstream_flush_counters(u);
	if (u->flush_ev)
		event_free(u->flush_ev);
	free(u);
}
