/* SPDX-License-Identifier: Apache-2.0 */
/* index.c -- the cache's SQLite index: entries (key -> upstream validators,
 * freshness and the blob holding the body), the blobs table that accounts
 * for blob bytes, and the counters every gateway adds to. last_used_at, the
 * LRU clock, is written at most once a minute per entry so that a hot entry
 * read by many gateways does not turn every lookup into a write. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cache/cache_internal.h"
#include "util/xalloc.h"

#define FIELD_MAX 8192 /* bytes of an upstream URL, validator, content type or SRI list */

static char *col_text(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);
	return cr_xstrdup(t ? (const char *)t : "");
}

static void read_entry(sqlite3_stmt *st, cr_cache_entry *e)
{
	e->key = col_text(st, 0);
	e->upstream = col_text(st, 1);
	e->etag = col_text(st, 2);
	e->last_modified = col_text(st, 3);
	e->content_type = col_text(st, 4);
	e->fetched_at = sqlite3_column_int64(st, 5);
	e->ttl_s = sqlite3_column_int64(st, 6);
	const unsigned char *blob = sqlite3_column_text(st, 7);
	snprintf(e->blob, sizeof(e->blob), "%s", blob ? (const char *)blob : "");
	e->size = (uint64_t)sqlite3_column_int64(st, 8);
	e->integrity = col_text(st, 9);
	e->last_used_at = sqlite3_column_int64(st, 10);
}

void cr_cache_entry_clear(cr_cache_entry *e)
{
	if (!e)
		return;
	free(e->key);
	free(e->upstream);
	free(e->etag);
	free(e->last_modified);
	free(e->content_type);
	free(e->integrity);
	memset(e, 0, sizeof(*e));
}

static char *dup_or_null(const char *s)
{
	return s ? cr_xstrdup(s) : NULL;
}

void cr_cache_entry_copy(cr_cache_entry *dst, const cr_cache_entry *src)
{
	*dst = *src;
	dst->key = dup_or_null(src->key);
	dst->upstream = dup_or_null(src->upstream);
	dst->etag = dup_or_null(src->etag);
	dst->last_modified = dup_or_null(src->last_modified);
	dst->content_type = dup_or_null(src->content_type);
	dst->integrity = dup_or_null(src->integrity);
}

bool cr_cache_entry_fresh(const cr_cache_entry *e, int64_t now)
{
	if (e->ttl_s == 0)
		return true;
	return now < e->fetched_at + e->ttl_s;
}

void cr_cache_blob_rel(const char *sha256, char buf[68])
{
	snprintf(buf, 68, "%.2s/%.64s", sha256, sha256);
}

/* The blob's size when it is a regular file under blobs/, -1 otherwise. */
static int64_t blob_size(cr_cache *c, const char *sha256)
{
	char rel[68];
	struct stat sb;
	if (!cr_is_sha256_hex(sha256))
		return -1;
	cr_cache_blob_rel(sha256, rel);
	if (fstatat(c->blobs_fd, rel, &sb, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(sb.st_mode))
		return -1;
	return (int64_t)sb.st_size;
}

int cr_cache_blob_record(cr_cache *c, const char *sha256, uint64_t size, cr_error **err)
{
	sqlite3_stmt *st = cr_cache_st(c, ST_BLOB_ADD, err);
	if (!st)
		return -1;
	sqlite3_bind_text(st, 1, sha256, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (int64_t)size);
	sqlite3_bind_int64(st, 3, cr_cache_now());
	return cr_cache_st_run(c, st, "record blob", err);
}

/* Best effort: a failed LRU update (a busy index) only ages the entry. */
static void mark_used(cr_cache *c, cr_cache_entry *e)
{
	int64_t now = cr_cache_now();
	if (c->read_only || now - e->last_used_at < CR_CACHE_TOUCH_EVERY_S)
		return;
	e->last_used_at = now;
	sqlite3_stmt *st = cr_cache_st(c, ST_USED, NULL);
	if (!st)
		return;
	sqlite3_bind_text(st, 1, e->key, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, now);
	cr_cache_st_run(c, st, "mark entry used", NULL);
}

void cr_cache_blob_used(cr_cache *c, const char *sha256)
{
	int64_t now = cr_cache_now();
	if (c->read_only)
		return;
	sqlite3_stmt *st = cr_cache_st(c, ST_BLOB_USED_AT, NULL);
	if (!st)
		return;
	sqlite3_bind_text(st, 1, sha256, -1, SQLITE_STATIC);
	bool stale = sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL &&
		     now - sqlite3_column_int64(st, 0) >= CR_CACHE_TOUCH_EVERY_S;
	sqlite3_reset(st);
	if (!stale || !(st = cr_cache_st(c, ST_USED_BLOB, NULL)))
		return;
	sqlite3_bind_text(st, 1, sha256, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, now);
	sqlite3_bind_int64(st, 3, now - CR_CACHE_TOUCH_EVERY_S + 1);
	cr_cache_st_run(c, st, "mark blob used", NULL);
}

/* Drops the row of an entry whose blob has gone (only if it still names
 * that blob: another process may have replaced it meanwhile). */
static void drop_orphan(cr_cache *c, const cr_cache_entry *e)
{
	if (c->read_only || cr_cache_begin(c, NULL) < 0)
		return;
	sqlite3_stmt *st = cr_cache_st(c, ST_GET, NULL);
	bool same = false;
	if (st) {
		sqlite3_bind_text(st, 1, e->key, -1, SQLITE_STATIC);
		same = sqlite3_step(st) == SQLITE_ROW &&
		       strcmp((const char *)sqlite3_column_text(st, 7), e->blob) == 0;
		sqlite3_reset(st);
	}
	if (same && blob_size(c, e->blob) < 0 && (st = cr_cache_st(c, ST_REMOVE, NULL))) {
		sqlite3_bind_text(st, 1, e->key, -1, SQLITE_STATIC);
		cr_cache_st_run(c, st, "drop entry", NULL);
		if ((st = cr_cache_st(c, ST_BLOB_DEL, NULL))) {
			sqlite3_bind_text(st, 1, e->blob, -1, SQLITE_STATIC);
			cr_cache_st_run(c, st, "drop blob", NULL);
		}
	}
	if (cr_cache_commit(c, NULL) < 0)
		cr_cache_rollback(c);
}

/* The memoized immutable entry of key while its blob is still mapped or on
 * disk: 1 (*out filled), else 0. */
static int memo_get(cr_cache *c, const char *key, cr_cache_entry *out)
{
	cr_cache_entry *m = cr_cache_memo_entry(c->memo, key);
	if (!m)
		return 0;
	if (!cr_cache_memo_has_map(c->memo, m->blob) && blob_size(c, m->blob) < 0) {
		cr_cache_memo_forget(c->memo, key);
		return 0;
	}
	mark_used(c, m);
	cr_cache_entry_copy(out, m);
	return 1;
}

int cr_cache_get(cr_cache *c, const char *key, cr_cache_entry *out, cr_error **err)
{
	memset(out, 0, sizeof(*out));
	if (cr_cache_check_key(key, err) < 0)
		return -1;
	if (memo_get(c, key, out) == 1)
		return 1;
	sqlite3_stmt *st = cr_cache_st(c, ST_GET, err);
	if (!st)
		return -1;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_DONE) {
		sqlite3_reset(st);
		return 0;
	}
	if (rc != SQLITE_ROW) {
		cr_cache_sql_error(c, "look up entry", err);
		sqlite3_reset(st);
		return -1;
	}
	read_entry(st, out);
	sqlite3_reset(st);
	if (blob_size(c, out->blob) < 0) {
		drop_orphan(c, out);
		cr_cache_entry_clear(out);
		return 0;
	}
	mark_used(c, out);
	cr_cache_memo_keep_entry(c->memo, out);
	return 1;
}

static int check_field(const char *what, const char *v, cr_error **err)
{
	if (v && strnlen(v, FIELD_MAX + 1) > FIELD_MAX)
		return cr_error_make(err, E2BIG, CR_REASON_INTERNAL, "cache entry %s is longer than %d bytes",
				     what, FIELD_MAX);
	return 0;
}

static int check_entry(const cr_cache_entry *e, cr_error **err)
{
	if (cr_cache_check_key(e->key, err) < 0)
		return -1;
	if (!cr_is_sha256_hex(e->blob))
		return cr_error_make(err, EINVAL, CR_REASON_INTERNAL,
				     "cache entry '%s': blob '%.70s' is not a sha256 hex digest", e->key,
				     e->blob);
	if (check_field("upstream URL", e->upstream, err) < 0 || check_field("etag", e->etag, err) < 0 ||
	    check_field("last-modified", e->last_modified, err) < 0 ||
	    check_field("content type", e->content_type, err) < 0 ||
	    check_field("integrity", e->integrity, err) < 0)
		return cr_error_wrap(err, "cache entry '%s'", e->key);
	return 0;
}

static void bind_text_or_empty(sqlite3_stmt *st, int i, const char *v)
{
	sqlite3_bind_text(st, i, v ? v : "", -1, SQLITE_STATIC);
}

static int insert_entry(cr_cache *c, const cr_cache_entry *e, uint64_t size, cr_error **err)
{
	sqlite3_stmt *st = cr_cache_st(c, ST_PUT, err);
	if (!st)
		return -1;
	sqlite3_bind_text(st, 1, e->key, -1, SQLITE_STATIC);
	bind_text_or_empty(st, 2, e->upstream);
	bind_text_or_empty(st, 3, e->etag);
	bind_text_or_empty(st, 4, e->last_modified);
	bind_text_or_empty(st, 5, e->content_type);
	sqlite3_bind_int64(st, 6, e->fetched_at);
	sqlite3_bind_int64(st, 7, e->ttl_s);
	sqlite3_bind_text(st, 8, e->blob, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 9, (int64_t)size);
	bind_text_or_empty(st, 10, e->integrity);
	sqlite3_bind_int64(st, 11, e->last_used_at ? e->last_used_at : cr_cache_now());
	return cr_cache_st_run(c, st, "store entry", err);
}

/* After a put: at most once a minute per process, evict down to the bound
 * when blobs exceed it. A failed eviction does not fail the put. */
static void maybe_evict(cr_cache *c, const char *just_put)
{
	int64_t now = cr_cache_now();
	if (now - c->last_evict_at < CR_CACHE_EVICT_EVERY_S)
		return;
	c->last_evict_at = now;
	cr_cache_stats s;
	cr_error *e = NULL;
	if (cr_cache_stats_get(c, &s, &e) == 0 && s.blob_bytes > c->max_bytes) {
		/* The entry just stored is its putter's: it is never the victim. */
		cr_cache_evict(c, c->max_bytes, just_put, NULL, &e);
	}
	cr_error_free(e);
}

int cr_cache_put(cr_cache *c, const cr_cache_entry *e, cr_error **err)
{
	if (cr_cache_writable(c, "store entry", err) < 0 || check_entry(e, err) < 0)
		return -1;
	int64_t size = blob_size(c, e->blob);
	if (size < 0)
		return cr_error_make(err, ENOENT, CR_REASON_INTERNAL,
				     "cache entry '%s': blob '%s/blobs/sha256/%.2s/%s'", e->key, c->dir,
				     e->blob, e->blob);
	if (cr_cache_begin(c, err) < 0)
		return -1;
	if (cr_cache_blob_record(c, e->blob, (uint64_t)size, err) < 0 ||
	    insert_entry(c, e, (uint64_t)size, err) < 0) {
		cr_cache_rollback(c);
		return cr_error_wrap(err, "cache entry '%s'", e->key);
	}
	if (cr_cache_commit(c, err) < 0)
		return -1;
	cr_cache_memo_forget(c->memo, e->key);
	maybe_evict(c, e->key);
	return 0;
}

static int keyed_write(cr_cache *c, cr_cache_stmt id, const char *key, int64_t v, const char *what,
		       cr_error **err)
{
	if (cr_cache_writable(c, what, err) < 0 || cr_cache_check_key(key, err) < 0)
		return -1;
	cr_cache_memo_forget(c->memo, key);
	sqlite3_stmt *st = cr_cache_st(c, id, err);
	if (!st)
		return -1;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	if (id == ST_TOUCH)
		sqlite3_bind_int64(st, 2, v);
	if (cr_cache_st_run(c, st, what, err) < 0)
		return cr_error_wrap(err, "cache entry '%s'", key);
	return 0;
}

int cr_cache_touch(cr_cache *c, const char *key, int64_t fetched_at, cr_error **err)
{
	return keyed_write(c, ST_TOUCH, key, fetched_at, "refresh entry", err);
}

int cr_cache_remove(cr_cache *c, const char *key, cr_error **err)
{
	return keyed_write(c, ST_REMOVE, key, 0, "remove entry", err);
}

int cr_cache_list(cr_cache *c, const char *prefix, int (*fn)(void *ud, const cr_cache_entry *e), void *ud,
		  cr_error **err)
{
	/* Its own statement: fn may call back into the cache. */
	sqlite3_stmt *st = NULL;
	const char *sql = "SELECT " CR_CACHE_ENTRY_COLS " FROM entries WHERE key >= ?1 ORDER BY key";
	if (!prefix)
		prefix = "";
	if (strnlen(prefix, CR_CACHE_KEY_MAX + 1) > CR_CACHE_KEY_MAX)
		return cr_error_make(err, ENAMETOOLONG, CR_REASON_INTERNAL,
				     "cache key prefix is longer than %d bytes", CR_CACHE_KEY_MAX);
	if (sqlite3_prepare_v2(c->db, sql, -1, &st, NULL) != SQLITE_OK)
		return cr_cache_sql_error(c, "list entries", err);
	sqlite3_bind_text(st, 1, prefix, -1, SQLITE_STATIC);
	size_t plen = strlen(prefix);
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *key = (const char *)sqlite3_column_text(st, 0);
		if (!key || strncmp(key, prefix, plen) != 0) {
			rc = SQLITE_DONE; /* keys are ordered: past the prefix */
			break;
		}
		cr_cache_entry e;
		read_entry(st, &e);
		int stop = fn(ud, &e);
		cr_cache_entry_clear(&e);
		if (stop)
			break;
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		cr_cache_sql_error(c, "list entries", err);
		sqlite3_finalize(st);
		return -1;
	}
	sqlite3_finalize(st);
	return 0;
}

int cr_cache_counters_add(cr_cache *c, const cr_cache_counters *d, cr_error **err)
{
	if (cr_cache_writable(c, "add counters", err) < 0)
		return -1;
	sqlite3_stmt *st = cr_cache_st(c, ST_COUNTERS_ADD, err);
	if (!st)
		return -1;
	const uint64_t v[] = {d->hits,
			      d->misses,
			      d->stale_served,
			      d->revalidated,
			      d->bytes_served,
			      d->bytes_fetched,
			      d->upstream_requests,
			      d->upstream_ms_total,
			      d->upstream_errors,
			      d->integrity_failures};
	for (int i = 0; i < (int)(sizeof(v) / sizeof(v[0])); i++)
		sqlite3_bind_int64(st, i + 1, (int64_t)v[i]);
	return cr_cache_st_run(c, st, "add counters", err);
}

static int read_counters(cr_cache *c, cr_cache_counters *out, cr_error **err)
{
	sqlite3_stmt *st = cr_cache_st(c, ST_COUNTERS_GET, err);
	if (!st)
		return -1;
	uint64_t *v[] = {&out->hits,
			 &out->misses,
			 &out->stale_served,
			 &out->revalidated,
			 &out->bytes_served,
			 &out->bytes_fetched,
			 &out->upstream_requests,
			 &out->upstream_ms_total,
			 &out->upstream_errors,
			 &out->integrity_failures};
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		for (int i = 0; i < (int)(sizeof(v) / sizeof(v[0])); i++)
			*v[i] = (uint64_t)sqlite3_column_int64(st, i);
	sqlite3_reset(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : cr_cache_sql_error(c, "read counters", err);
}

/* One-row, integer-column query (count, sum). */
static int query_u64(cr_cache *c, cr_cache_stmt id, uint64_t *a, uint64_t *b, cr_error **err)
{
	sqlite3_stmt *st = cr_cache_st(c, id, err);
	if (!st)
		return -1;
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*a = (uint64_t)sqlite3_column_int64(st, 0);
		if (b)
			*b = (uint64_t)sqlite3_column_int64(st, 1);
	}
	sqlite3_reset(st);
	return rc == SQLITE_ROW ? 0 : cr_cache_sql_error(c, "read sizes", err);
}

int cr_cache_stats_get(cr_cache *c, cr_cache_stats *out, cr_error **err)
{
	memset(out, 0, sizeof(*out));
	out->max_bytes = c->max_bytes;
	if (read_counters(c, &out->counters, err) < 0 ||
	    query_u64(c, ST_ENTRY_COUNT, &out->entries, NULL, err) < 0 ||
	    query_u64(c, ST_BLOB_TOTAL, &out->blobs, &out->blob_bytes, err) < 0)
		return -1;
	return 0;
}
