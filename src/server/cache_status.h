/* SPDX-License-Identifier: Apache-2.0 */
/* cache_status.h -- the server's read of the content cache's totals and
 * counters for AdminService.GetServerStatus, as the cache's owner
 * (cr_cache_become_owner, which `cleanroom cache` uses too).
 *
 * The cache belongs to the gateways' unprivileged user. A root process that
 * opened its SQLite index would create root-owned index.db-wal / -shm files
 * the gateways then cannot open, so whatever opens it as root first becomes
 * the directory's owner; the server, which must stay root, does that in a
 * short child process. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "cache/cache.h"
#include "util/error.h"

/* What the server reports of its cache. */
typedef struct cr_cache_report {
	cr_cache_stats stats;
	bool empty; /* no index yet: no gateway has used the cache (stats are zero) */
} cr_cache_report;

/* Reads the totals and counters of the cache in dir (max_bytes: the bound
 * the gateways use, 0 = the cache's default) in a forked child that closes
 * every inherited descriptor, becomes the directory's owner (above), opens
 * the cache read-only, and writes the result back over a pipe. The caller
 * is blocked for at most timeout_ms; a child still running then is killed.
 * Every child is reaped before returning. Returns 0 with *out, or -1 with
 * *err saying why the numbers are unavailable (the child's own error, a
 * timeout, or a failed fork). */
int cr_cache_status_read(const char *dir, uint64_t max_bytes, int timeout_ms, cr_cache_report *out,
			 cr_error **err);
