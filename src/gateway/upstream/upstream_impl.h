/* SPDX-License-Identifier: Apache-2.0 */
/* upstream_impl.h -- the state of cached gets of upstream.h, shared by
 * upstream.c (an op's life: cache lookup, offline, single-flight lock,
 * delivery, counters) and upstream_fetch.c (the upstream request of an op:
 * conditional headers, redirects, streaming into a cache writer, integrity,
 * storing). */
#pragma once

#include <event2/event.h>
#include <stdbool.h>
#include <stdint.h>

#include "gateway/upstream/internal.h"

typedef enum us_kind {
	US_DOCUMENT,
	US_ARTIFACT,
} us_kind;

struct cr_upstream {
	cr_gateway *gw;
	cr_cache *cache;
	cr_fetcher *fetcher;
	bool offline;
	cr_upstream_op *ops; /* every live op */
	cr_cache_counters pending;
	bool dirty;
	struct event *flush_ev; /* one second after the first unflushed count */
};

struct cr_upstream_op {
	cr_upstream *u;
	cr_upstream_op *prev, *next;
	us_kind kind;
	/* the get (copied) */
	char *key, *username, *password, *integrity, *method;
	char *first_url; /* what the caller asked for: recorded in the entry */
	char *url;       /* what is fetched now (after redirects) */
	char **headers;  /* NULL-terminated */
	void *body;
	size_t body_len;
	int64_t ttl_s; /* documents: resolved (never 0); < 0 = revalidate every get */
	bool no_integrity;
	uint64_t max_bytes;
	bool (*allow_redirect)(void *ud, const char *url);
	cr_upstream_cb cb;
	void *ud;
	/* progress */
	struct event *ev; /* start, then lock polling */
	int64_t start_ms, started_s, wait_until_ms;
	bool waited; /* another holder had the key's lock */
	int lock_fd;
	cr_cache_entry stale; /* documents: the entry being revalidated */
	bool have_stale;
	cr_fetch *fetch;
	int64_t fetch_start_ms;
	int redirects;
	char *redirect_to; /* a 3xx Location to follow */
	long status;
	char *etag, *last_modified, *content_type;
	cr_cache_writer *writer;
	cr_error *write_err;
	uint64_t fetched_bytes;
	bool delivering;
};

/* ---- upstream.c ---- */
/* Reports a result (entry may be NULL with err) and frees op. */
void us_deliver(cr_upstream_op *op, const cr_cache_entry *entry, const char *from, const char *warning,
		cr_error *err);
/* Reports an error: a document with a stale copy and an upstream failure
 * (network, 5xx) is served stale instead. */
void us_fail(cr_upstream_op *op, cr_error *err, bool upstream_failure);
void us_count(cr_upstream *u, const cr_cache_counters *d);

/* ---- upstream_fetch.c ---- */
/* Starts the upstream request of op (holding its lock, or past waiting). */
void us_fetch(cr_upstream_op *op);
/* Drops op's request and writer, if any. */
void us_fetch_stop(cr_upstream_op *op);
/* True when the stored artifact entry e was verified for integrity too. */
bool us_entry_verified_for(const cr_cache_entry *e, const char *integrity);
