/* SPDX-License-Identifier: Apache-2.0 */
/* cache_internal.h -- what the files of the content cache share: the handle
 * (directory fds, the SQLite connection and its prepared statements) and the
 * small helpers every file uses. Not for use outside src/cache/. */
#pragma once

#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

#include "cache/cache.h"

#define CR_CACHE_SCHEMA_VERSION 1
#define CR_CACHE_TOUCH_EVERY_S  60   /* last_used_at is updated at most this often */
#define CR_CACHE_EVICT_EVERY_S  60   /* put-triggered eviction, per process */
#define CR_CACHE_TMP_STALE_S    3600 /* temp files older than this are litter */
#define CR_CACHE_LOCK_STALE_S   3600 /* unlocked lock files older than this are removed */
#define CR_CACHE_BLOB_GRACE_S   600  /* an unreferenced blob younger than this may be about to be put */
/* the per-process memo (memo.c) */
#define CR_CACHE_MEMO_ENTRIES_MAX 4096           /* immutable entries */
#define CR_CACHE_MEMO_MAPS_MAX    1024           /* mapped blobs */
#define CR_CACHE_MEMO_MAP_BYTES   (256ull << 20) /* bytes of mapped blobs */
#define CR_CACHE_MEMO_MAP_ONE_MAX (32ull << 20)  /* a bigger blob is mapped for its request only */

/* The columns of an entry, in cr_cache_entry order (index.c reads them). */
#define CR_CACHE_ENTRY_COLS                                                                            \
	"key, upstream, etag, last_modified, content_type, fetched_at, ttl_s, blob, size, integrity, " \
	"last_used_at"

/* The prepared statements, one per query; prepared on first use. */
typedef enum cr_cache_stmt {
	ST_GET,
	ST_PUT,
	ST_TOUCH,
	ST_REMOVE,
	ST_USED,
	ST_USED_BLOB,
	ST_BLOB_USED_AT,
	ST_BLOB_ADD,
	ST_BLOB_DEL,
	ST_BLOB_REFS,
	ST_BLOB_HAS,
	ST_BLOB_TOTAL,
	ST_DEL_BY_BLOB,
	ST_COUNTERS_ADD,
	ST_COUNTERS_GET,
	ST_ENTRY_COUNT,
	ST_LRU,
	ST_UNREFERENCED,
	ST_BLOBS_ALL,
	ST_BEGIN,
	ST_COMMIT,
	ST_ROLLBACK,
	ST__COUNT,
} cr_cache_stmt;

typedef struct cr_cache_memo cr_cache_memo;

struct cr_cache {
	char *dir;     /* as given to cr_cache_open */
	char *db_path; /* <dir>/index.db, for messages */
	int dirfd;     /* the cache directory */
	int blobs_fd;  /* blobs/sha256 */
	int tmp_fd;    /* tmp */
	int locks_fd;  /* locks */
	sqlite3 *db;
	sqlite3_stmt *st[ST__COUNT];
	bool read_only;
	uint64_t max_bytes;
	int64_t last_evict_at; /* put-triggered eviction, unix seconds */
	cr_cache_memo *memo;   /* memo.c */
};

/* Unix time in seconds. */
int64_t cr_cache_now(void);

/* The statement `id`, reset and with its bindings cleared; NULL with *err. */
sqlite3_stmt *cr_cache_st(cr_cache *c, cr_cache_stmt id, cr_error **err);
/* An error naming the index and SQLite's message. Returns -1. */
int cr_cache_sql_error(cr_cache *c, const char *what, cr_error **err);
/* Steps a statement that returns no rows, then resets it. */
int cr_cache_st_run(cr_cache *c, sqlite3_stmt *st, const char *what, cr_error **err);
/* BEGIN IMMEDIATE / COMMIT / ROLLBACK (rollback never fails). */
int cr_cache_begin(cr_cache *c, cr_error **err);
int cr_cache_commit(cr_cache *c, cr_error **err);
void cr_cache_rollback(cr_cache *c);
/* -1 with EROFS when the cache was opened read-only; 0 otherwise. */
int cr_cache_writable(cr_cache *c, const char *what, cr_error **err);
/* Checks a key: non-empty, at most CR_CACHE_KEY_MAX bytes. */
int cr_cache_check_key(const char *key, cr_error **err);

/* The relative path "<2 hex>/<64 hex>" of a blob under blobs_fd (buf >= 68). */
void cr_cache_blob_rel(const char *sha256, char buf[68]);
/* Records that blob was read (its entries' last_used_at, coarsely). */
void cr_cache_blob_used(cr_cache *c, const char *sha256);
/* Adds (or keeps) the blob's row in the blobs table. */
int cr_cache_blob_record(cr_cache *c, const char *sha256, uint64_t size, cr_error **err);

/* Lock file name of a key (sha256 of the key text). */
void cr_cache_lock_name(const char *key, char out[CR_SHA256_HEX_LEN + 1]);
/* 1 when another open file description holds the key's lock, 0 when not. */
int cr_cache_key_locked(cr_cache *c, const char *key);

/* The index part of gc, without directory scans (also the put-triggered
 * eviction): unreferenced blobs past the grace period, then LRU entries
 * (never `except_key`, may be NULL, nor a locked key) while blobs exceed
 * max_bytes. Adds to *out. */
int cr_cache_evict(cr_cache *c, uint64_t max_bytes, const char *except_key, cr_cache_gc_result *out,
		   cr_error **err);

/* ---- memo.c: this process's memory of immutable entries and mapped blobs ---- */
cr_cache_memo *cr_cache_memo_new(void);
void cr_cache_memo_free(cr_cache_memo *memo);
/* The memoized immutable entry for key (made the most recent), or NULL. */
cr_cache_entry *cr_cache_memo_entry(cr_cache_memo *memo, const char *key);
/* Memoizes a copy of e when it is immutable (ttl_s 0). */
void cr_cache_memo_keep_entry(cr_cache_memo *memo, const cr_cache_entry *e);
/* Drops the memoized entry of key / every memoized entry. */
void cr_cache_memo_forget(cr_cache_memo *memo, const char *key);
void cr_cache_memo_forget_entries(cr_cache_memo *memo);
bool cr_cache_memo_has_map(cr_cache_memo *memo, const char *sha256);

/* ---- index.c ---- */
/* A deep copy of src into dst (cleared first by nobody: dst is overwritten). */
void cr_cache_entry_copy(cr_cache_entry *dst, const cr_cache_entry *src);
