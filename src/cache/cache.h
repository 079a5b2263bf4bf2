/* SPDX-License-Identifier: Apache-2.0 */
/* cache.h -- the content cache shared by every gateway process (DESIGN.md §7,
 * spec §6.2).
 *
 * Layout under the cache directory (created by cr_cache_open):
 *   blobs/sha256/<2 hex>/<64 hex>   content-addressed blobs, read-only 0444
 *   tmp/                            blobs being written (unique names)
 *   locks/<64 hex>                  per-key lock files (flock), key = sha256(key text)
 *   index.db                        SQLite (WAL): documents, blob refs, counters
 *
 * A blob is written to tmp/, hashed while written, fsynced and renamed into
 * place, so readers never see a partial blob and a crash leaves only tmp/
 * litter (removed by gc). The index maps a key (what a front asked upstream
 * for, e.g. "npm:registry.npm.example/lodash:full") to one entry: upstream
 * URL, validators (ETag / Last-Modified), fetched_at, TTL, content type and
 * the blob holding the body. Many gateway processes (one per sandbox, all the
 * same unprivileged uid) open the same cache at once: SQLite WAL with a busy
 * timeout, and per-key flock()s for single-flight downloads across
 * processes. Every function here is synchronous but short (SQLite on local
 * disk, no network); the gateway calls them from its loop. A cr_cache handle
 * is used by one thread at a time, and a forked child opens its own.
 * docs/internals/cache.md describes the layout, concurrency and eviction.
 *
 * Counters (hits, misses, bytes served and fetched, upstream latency, errors)
 * live in the index so that `cleanroom cache stats` and the server see the
 * sum over all gateways. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "util/error.h"
#include "util/sha256.h"

#define CR_CACHE_KEY_MAX       2048          /* bytes of a key */
#define CR_CACHE_DEFAULT_LIMIT (10ull << 30) /* bytes of blobs before eviction */
#define CR_CACHE_BLOB_MAX      (2ull << 30)  /* one blob, hard cap */
#define CR_CACHE_BUSY_MS       5000          /* SQLite busy timeout */

typedef struct cr_cache cr_cache;

typedef struct cr_cache_opts {
	uint64_t max_bytes; /* eviction bound for blobs; 0 = CR_CACHE_DEFAULT_LIMIT */
	bool read_only;     /* open for inspection only (no writes, no directory creation) */
} cr_cache_opts;

/* Opens (creating when missing, unless read_only) the cache in dir. The
 * directory and its files are created with the caller's uid, mode 0700 for
 * directories. Returns 0, or -1 with *err (what failed, on which path). */
int cr_cache_open(const char *dir, const cr_cache_opts *opts, cr_cache **out, cr_error **err);
void cr_cache_close(cr_cache *c);
static inline void cr_cache_closep(cr_cache **c)
{
	if (*c)
		cr_cache_close(*c);
}
#define cleanup_cache __attribute__((cleanup(cr_cache_closep)))
const char *cr_cache_dir(const cr_cache *c);

/* When running as root on `path` (sb: its stat) that another user owns,
 * becomes that user for good: setgroups(0), setresgid and setresuid to its
 * owner and group. A root process calls it before opening a cache the
 * gateways' user owns (SQLite would create root-owned -wal / -shm files).
 * Returns 1 after switching, 0 when there was nothing to do (not root, or
 * path owned by root), -1 with *err (reason internal, naming the uid, gid
 * and path) when a call failed. */
int cr_cache_become_owner(const char *path, const struct stat *sb, cr_error **err);

/* ---- blobs ---- */

/* Digests the writer computes besides SHA-256 (bit flags). */
enum { CR_HASH_SHA1 = 1u << 0, CR_HASH_SHA384 = 1u << 1, CR_HASH_SHA512 = 1u << 2 };

typedef struct cr_digests {
	char sha256[CR_SHA256_HEX_LEN + 1]; /* always */
	unsigned have;                      /* CR_HASH_* computed */
	uint8_t sha1[20], sha384[48], sha512[64];
	uint64_t size;
} cr_digests;

typedef struct cr_cache_writer cr_cache_writer;

/* Starts a blob in tmp/; `hashes` = extra CR_HASH_* digests to compute;
 * writes past max_bytes (0 = CR_CACHE_BLOB_MAX) fail. NULL with *err. */
cr_cache_writer *cr_cache_writer_new(cr_cache *c, unsigned hashes, uint64_t max_bytes, cr_error **err);
int cr_cache_writer_write(cr_cache_writer *w, const void *data, size_t len, cr_error **err);
/* The digests of everything written so far (final after the last write). */
const cr_digests *cr_cache_writer_digests(cr_cache_writer *w);
/* fsyncs, renames into blobs/ (an existing blob of that name has the same
 * content; it is replaced atomically, so its readers keep their file and a
 * blob damaged on disk is healed), frees w.
 * On success *sha256_out (may be NULL) gets the blob's name. -1 with *err
 * (w freed, temp file removed). */
int cr_cache_writer_commit(cr_cache_writer *w, char sha256_out[CR_SHA256_HEX_LEN + 1], cr_error **err);
/* Removes the temp file and frees w (NULL accepted). */
void cr_cache_writer_abort(cr_cache_writer *w);

/* Opens a blob for reading (O_RDONLY|O_CLOEXEC) and records the access for
 * eviction. Returns the fd (size in *size), -1 with *err (reason
 * CR_REASON_INTERNAL) when missing or unreadable. */
int cr_cache_blob_open(cr_cache *c, const char *sha256, uint64_t *size, cr_error **err);
bool cr_cache_blob_exists(cr_cache *c, const char *sha256);

/* A blob mapped read-only, reference counted: what the fronts serve from
 * (evbuffer_add_reference, unref when sent). The handle memoizes maps of
 * blobs up to 32 MiB (at most 1,024 maps, 256 MiB, least recently used
 * dropped first), so a warm blob costs no open, mmap or munmap; its use is
 * recorded for eviction as cr_cache_blob_open does, coarsely. A map outlives
 * the removal of its file and the closing of the handle (until its last
 * reference goes). Returns 0 with *out (one reference for the caller), -1
 * with *err when the blob is missing or unreadable. */
typedef struct cr_blob_map cr_blob_map;
int cr_cache_blob_map(cr_cache *c, const char *sha256, cr_blob_map **out, cr_error **err);
const void *cr_blob_map_data(const cr_blob_map *m);
uint64_t cr_blob_map_size(const cr_blob_map *m);
void cr_blob_map_unref(cr_blob_map *m); /* NULL accepted */

/* ---- entries (the index) ---- */

typedef struct cr_cache_entry {
	char *key;
	char *upstream;      /* the URL fetched */
	char *etag;          /* "" when none */
	char *last_modified; /* "" when none */
	char *content_type;  /* "" when none */
	int64_t fetched_at;  /* unix seconds */
	int64_t ttl_s;       /* fresh while now < fetched_at + ttl_s; 0 = forever (immutable artifacts) */
	char blob[CR_SHA256_HEX_LEN + 1];
	uint64_t size;        /* of the blob */
	char *integrity;      /* SRI list verified for it ("" for documents) */
	int64_t last_used_at; /* unix seconds, updated by lookups (coarsely) */
} cr_cache_entry;

void cr_cache_entry_clear(cr_cache_entry *e);
static inline void cr_cache_entry_clearp(cr_cache_entry *e)
{
	cr_cache_entry_clear(e);
}
#define cleanup_cache_entry __attribute__((cleanup(cr_cache_entry_clearp)))
/* True when the entry is fresh at `now` (unix seconds). */
bool cr_cache_entry_fresh(const cr_cache_entry *e, int64_t now);

/* Looks key up: 1 found (*out filled, caller clears), 0 absent (or its blob
 * is gone: the row is then dropped), -1 error with *err. Immutable entries
 * (ttl_s 0) are memoized by the handle: found again without a statement
 * while their blob is mapped or on disk (memo.c). */
int cr_cache_get(cr_cache *c, const char *key, cr_cache_entry *out, cr_error **err);
/* Inserts or replaces the entry for e->key (its blob must exist; the stored
 * size is the blob file's; e->last_used_at 0 means now). After a
 * put the blob total may exceed max_bytes; eviction then runs (cr_cache_gc
 * with the configured bound) at most once per minute per process. */
int cr_cache_put(cr_cache *c, const cr_cache_entry *e, cr_error **err);
/* Refreshes fetched_at (a 304 revalidation). */
int cr_cache_touch(cr_cache *c, const char *key, int64_t fetched_at, cr_error **err);
int cr_cache_remove(cr_cache *c, const char *key, cr_error **err);

/* Calls fn for every entry (ordered by key; prefix "" = all) until fn returns
 * non-zero. Returns 0, or -1 with *err. */
int cr_cache_list(cr_cache *c, const char *prefix, int (*fn)(void *ud, const cr_cache_entry *e), void *ud,
		  cr_error **err);

/* ---- single flight across processes ---- */

/* Tries to take the per-key lock (flock LOCK_EX|LOCK_NB on locks/<sha256(key)>).
 * Returns the lock fd (>= 0) when taken, -2 when another holder has it (the
 * caller retries after a short timer, then re-reads the entry: the holder
 * has probably stored it), -1 with *err. Closing the fd releases it; a dead
 * holder's lock is released by the kernel. */
int cr_cache_lock_try(cr_cache *c, const char *key, cr_error **err);
void cr_cache_unlock(cr_cache *c, int lock_fd);

/* ---- counters ---- */

typedef struct cr_cache_counters {
	uint64_t hits, misses, stale_served, revalidated;
	uint64_t bytes_served, bytes_fetched;
	uint64_t upstream_requests, upstream_ms_total, upstream_errors, integrity_failures;
} cr_cache_counters;

/* Adds d to the shared counters. Gateways batch: call at most about once a
 * second or at exit. */
int cr_cache_counters_add(cr_cache *c, const cr_cache_counters *d, cr_error **err);

typedef struct cr_cache_stats {
	cr_cache_counters counters;
	uint64_t entries, blobs, blob_bytes, max_bytes;
} cr_cache_stats;
int cr_cache_stats_get(cr_cache *c, cr_cache_stats *out, cr_error **err);

/* ---- maintenance ---- */

typedef struct cr_cache_gc_result {
	uint64_t entries_evicted, blobs_removed, bytes_freed, tmp_removed;
} cr_cache_gc_result;

/* Removes blobs no entry refers to and temp files older than an hour, then,
 * while blobs exceed max_bytes (0 = the configured bound), evicts the least
 * recently used entries and their then-unreferenced blobs. Blobs whose key is
 * locked right now are kept, and so is an unreferenced blob younger than ten
 * minutes (file mtime: a writer may have just committed it and be about to
 * put its entry). Also removes lock files nobody has held for an hour. */
int cr_cache_gc(cr_cache *c, uint64_t max_bytes, cr_cache_gc_result *out, cr_error **err);

typedef struct cr_cache_verify_result {
	uint64_t blobs_checked, bad, missing;
} cr_cache_verify_result;
/* Re-hashes every blob; a blob whose content no longer matches its name is
 * removed with the entries referring to it (reported through fn, may be
 * NULL, with the blob name and what was wrong). */
int cr_cache_verify(cr_cache *c, void (*fn)(void *ud, const char *blob, const char *problem), void *ud,
		    cr_cache_verify_result *out, cr_error **err);
