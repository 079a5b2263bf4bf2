/* SPDX-License-Identifier: Apache-2.0 */
/* internal.h -- what src/gateway/upstream/ shares beyond fetch.h and
 * upstream.h: the address guard as the fetcher applies it (guard.c), and
 * test-only knobs. Nothing outside this directory and its unit tests
 * includes it. */
#pragma once

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>

#include "gateway/gateway.h"
#include "gateway/proxy/decide.h"
#include "gateway/upstream/fetch.h"
#include "gateway/upstream/upstream.h"

/* ---- guard.c ---- */

/* The proxy's address guard of gw (the host's own addresses found when the
 * proxy started, and a --sandbox-pool other than the default), or NULL when
 * the proxy is not running (unit tests). Read at each use, so a pool set
 * after the fetcher was created counts. */
const cr_gw_guard *cr_gw_upstream_proxy_guard(const cr_gateway *gw);

/* The host's IPv4 addresses plus gw's gateway_addr (getifaddrs). Under the
 * gateway's seccomp filter netlink sockets are refused and the list is just
 * gateway_addr: the proxy's guard, listed before the filter, has the rest.
 * Allocated, *n set. */
struct in_addr *cr_gw_upstream_self_addrs(const cr_gateway *gw, size_t *n);

/* ---- fetch.c, tests only ---- */

/* TEST ONLY: lets the fetcher connect to 127.0.0.0/8 (where unit tests run
 * their fixture servers). Every other refused range stays refused. Never
 * called by the gateway. */
void cr_fetcher_allow_loopback_for_tests(cr_fetcher *f);
/* TEST ONLY: shorter limits than CR_FETCH_CONNECT_MS, CR_FETCH_HEADERS_MS and
 * CR_FETCH_STALL_MS (0 keeps a limit). */
void cr_fetcher_set_timeouts_for_tests(cr_fetcher *f, int connect_ms, int headers_ms, int stall_ms);

/* ---- upstream.c, tests only ---- */

/* TEST ONLY: flushes the batched counters now (normally once a second and at
 * free). */
void cr_upstream_flush_counters(cr_upstream *u);
