/* SPDX-License-Identifier: Apache-2.0 */
/* gc.c -- keeping the cache within its bound and honest: temp-file litter,
 * blobs the index does not know (a crash between rename and record), rows
 * whose blob is gone, unreferenced blobs, then least-recently-used entries
 * while blobs exceed the bound; lock files nobody holds. A blob is removed
 * only inside an index transaction that has just checked nothing refers to
 * it, and only when its file is older than a grace period (a writer may have
 * committed it a moment ago and be about to put its entry); an entry whose
 * key is locked is never evicted. verify re-hashes every blob. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cache/cache_internal.h"
#include "util/cleanup.h"
#include "util/xalloc.h"

#define LRU_BATCH 64

typedef struct blob_ref {
	char sha256[CR_SHA256_HEX_LEN + 1];
	char *key; /* LRU candidates only */
	uint64_t size;
} blob_ref;

typedef struct blob_list {
	blob_ref *v;
	size_t n, cap;
} blob_list;

static void blob_list_clear(blob_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i].key);
	free(l->v);
	memset(l, 0, sizeof(*l));
}

static void blob_list_add(blob_list *l, const char *sha256, const char *key, uint64_t size)
{
	l->v = cr_xgrow(l->v, &l->cap, l->n + 1, sizeof(*l->v));
	blob_ref *r = &l->v[l->n++];
	snprintf(r->sha256, sizeof(r->sha256), "%s", sha256 ? sha256 : "");
	r->key = key ? cr_xstrdup(key) : NULL;
	r->size = size;
}

/* Rows of a query as (text, int) or (key text, blob text) pairs. */
static int collect(cr_cache *c, cr_cache_stmt id, int64_t limit, int64_t offset, blob_list *out,
		   cr_error **err)
{
	sqlite3_stmt *st = cr_cache_st(c, id, err);
	if (!st)
		return -1;
	if (id == ST_LRU) {
		sqlite3_bind_int64(st, 1, limit);
		sqlite3_bind_int64(st, 2, offset);
	}
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *a = (const char *)sqlite3_column_text(st, 0);
		if (id == ST_LRU)
			blob_list_add(out, (const char *)sqlite3_column_text(st, 1), a, 0);
		else
			blob_list_add(out, a, NULL, (uint64_t)sqlite3_column_int64(st, 1));
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : cr_cache_sql_error(c, "list blobs", err);
}

static int64_t blob_count_refs(cr_cache *c, const char *sha256, cr_error **err)
{
	sqlite3_stmt *st = cr_cache_st(c, ST_BLOB_REFS, err);
	if (!st)
		return -1;
	sqlite3_bind_text(st, 1, sha256, -1, SQLITE_STATIC);
	int64_t n = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
	sqlite3_reset(st);
	return n >= 0 ? n : cr_cache_sql_error(c, "count blob references", err);
}

static int run_keyed(cr_cache *c, cr_cache_stmt id, const char *v, const char *what, cr_error **err)
{
	sqlite3_stmt *st = cr_cache_st(c, id, err);
	if (!st)
		return -1;
	sqlite3_bind_text(st, 1, v, -1, SQLITE_STATIC);
	return cr_cache_st_run(c, st, what, err);
}

/* 1 when the blob's file is younger than the grace period. */
static bool blob_young(cr_cache *c, const char *sha256, int64_t now)
{
	char rel[68];
	struct stat sb;
	cr_cache_blob_rel(sha256, rel);
	if (fstatat(c->blobs_fd, rel, &sb, AT_SYMLINK_NOFOLLOW) < 0)
		return false;
	return now - (int64_t)sb.st_mtime < CR_CACHE_BLOB_GRACE_S;
}

/* The blob file's size, 0 when it is gone. */
static uint64_t blob_file_size(cr_cache *c, const char *sha256)
{
	char rel[68];
	struct stat sb;
	cr_cache_blob_rel(sha256, rel);
	return fstatat(c->blobs_fd, rel, &sb, AT_SYMLINK_NOFOLLOW) == 0 ? (uint64_t)sb.st_size : 0;
}

/* Inside a transaction: removes the blob when nothing refers to it and it is
 * past the grace period. Returns 1 when removed (*freed = its size), 0 when
 * kept (*pending = its size when it is unreferenced but young: the next gc
 * frees it), -1 on error. */
static int drop_blob_if_unreferenced(cr_cache *c, const char *sha256, int64_t now, uint64_t *freed,
				     uint64_t *pending, cr_error **err)
{
	char rel[68];
	struct stat sb;
	*freed = *pending = 0;
	int64_t refs = blob_count_refs(c, sha256, err);
	if (refs != 0)
		return refs < 0 ? -1 : 0;
	if (blob_young(c, sha256, now)) {
		*pending = blob_file_size(c, sha256);
		return 0;
	}
	if (run_keyed(c, ST_BLOB_DEL, sha256, "forget blob", err) < 0)
		return -1;
	cr_cache_blob_rel(sha256, rel);
	if (fstatat(c->blobs_fd, rel, &sb, AT_SYMLINK_NOFOLLOW) < 0)
		return 1; /* only its row was left */
	if (unlinkat(c->blobs_fd, rel, 0) < 0 && errno != ENOENT)
		return cr_error_make(err, errno, CR_REASON_INTERNAL, "remove cache blob '%s/blobs/sha256/%s'",
				     c->dir, rel);
	*freed = (uint64_t)sb.st_size;
	return 1;
}

/* One transaction: the entry `key` (NULL: none) goes, then its blob when
 * nothing else refers to it (*pending, may be NULL: bytes of a young blob
 * left for the next gc). */
static int drop_in_txn(cr_cache *c, const char *key, const char *sha256, int64_t now, cr_cache_gc_result *out,
		       uint64_t *pending, cr_error **err)
{
	uint64_t freed = 0, young = 0;
	int removed = 0;
	if (cr_cache_begin(c, err) < 0)
		return -1;
	if ((key && run_keyed(c, ST_REMOVE, key, "evict entry", err) < 0) ||
	    (removed = drop_blob_if_unreferenced(c, sha256, now, &freed, &young, err)) < 0 ||
	    cr_cache_commit(c, err) < 0) {
		cr_cache_rollback(c);
		return -1;
	}
	if (pending)
		*pending += young;
	if (key)
		out->entries_evicted++;
	if (removed) {
		out->blobs_removed++;
		out->bytes_freed += freed;
	}
	return 0;
}

static int remove_unreferenced(cr_cache *c, int64_t now, cr_cache_gc_result *out, cr_error **err)
{
	blob_list l = {0};
	int rc = collect(c, ST_UNREFERENCED, 0, 0, &l, err);
	for (size_t i = 0; i < l.n && rc == 0; i++)
		if (!blob_young(c, l.v[i].sha256, now))
			rc = drop_in_txn(c, NULL, l.v[i].sha256, now, out, NULL, err);
	blob_list_clear(&l);
	return rc;
}

static int blob_total(cr_cache *c, uint64_t *total, cr_error **err)
{
	sqlite3_stmt *st = cr_cache_st(c, ST_BLOB_TOTAL, err);
	if (!st)
		return -1;
	int rc = sqlite3_step(st);
	*total = rc == SQLITE_ROW ? (uint64_t)sqlite3_column_int64(st, 1) : 0;
	sqlite3_reset(st);
	return rc == SQLITE_ROW ? 0 : cr_cache_sql_error(c, "sum blob sizes", err);
}

static int evict_lru(cr_cache *c, uint64_t max_bytes, const char *except_key, int64_t now,
		     cr_cache_gc_result *out, cr_error **err)
{
	int64_t skipped = 0;  /* locked entries stay at the head of the LRU order */
	uint64_t pending = 0; /* young blobs this run left unreferenced: freed by the next gc */
	for (;;) {
		uint64_t total = 0;
		blob_list l = {0};
		if (blob_total(c, &total, err) < 0)
			return -1;
		total = pending < total ? total - pending : 0;
		if (total <= max_bytes)
			return 0;
		if (collect(c, ST_LRU, LRU_BATCH, skipped, &l, err) < 0)
			return -1;
		if (l.n == 0)
			return 0; /* nothing left to evict: the rest is young or locked */
		int rc = 0;
		for (size_t i = 0; i < l.n && rc == 0 && total > max_bytes; i++) {
			const blob_ref *r = &l.v[i];
			if ((except_key && strcmp(r->key, except_key) == 0) ||
			    cr_cache_key_locked(c, r->key)) {
				skipped++;
				continue;
			}
			uint64_t before = out->bytes_freed, young = pending;
			rc = drop_in_txn(c, r->key, r->sha256, now, out, &pending, err);
			uint64_t freed = out->bytes_freed - before + (pending - young);
			total = freed < total ? total - freed : 0;
		}
		blob_list_clear(&l);
		if (rc < 0)
			return -1;
	}
}

int cr_cache_evict(cr_cache *c, uint64_t max_bytes, const char *except_key, cr_cache_gc_result *out,
		   cr_error **err)
{
	cr_cache_gc_result local = {0};
	if (!out)
		out = &local;
	if (cr_cache_writable(c, "evict", err) < 0)
		return -1;
	int64_t now = cr_cache_now();
	if (remove_unreferenced(c, now, out, err) < 0)
		return -1;
	return evict_lru(c, max_bytes ? max_bytes : c->max_bytes, except_key, now, out, err);
}

/* ---- directory scans ---- */

/* Calls fn for every entry of the directory at (at, name) that is not "."
 * or "..". */
static int scan_dir(cr_cache *c, int at, const char *name, const char *shown,
		    int (*fn)(cr_cache *c, int dfd, const char *name, void *ud), void *ud, cr_error **err)
{
	int fd = openat(at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return cr_error_make(err, errno, CR_REASON_INTERNAL, "open cache directory '%s/%s'", c->dir,
				     shown);
	DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return cr_error_make(err, errno, CR_REASON_INTERNAL, "read cache directory '%s/%s'", c->dir,
				     shown);
	}
	int rc = 0;
	struct dirent *de;
	while (rc == 0 && (de = readdir(d)))
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			rc = fn(c, dirfd(d), de->d_name, ud);
	closedir(d);
	return rc;
}

typedef struct tmp_scan {
	int64_t now, older_than;
	uint64_t removed;
} tmp_scan;

static int tmp_one(cr_cache *c, int dfd, const char *name, void *ud)
{
	(void)c;
	tmp_scan *t = ud;
	struct stat sb;
	if (fstatat(dfd, name, &sb, AT_SYMLINK_NOFOLLOW) < 0 || S_ISDIR(sb.st_mode))
		return 0;
	if (t->now - (int64_t)sb.st_mtime > t->older_than && unlinkat(dfd, name, 0) == 0)
		t->removed++;
	return 0;
}

static int lock_one(cr_cache *c, int dfd, const char *name, void *ud)
{
	(void)c;
	tmp_scan *t = ud;
	struct stat sb;
	if (fstatat(dfd, name, &sb, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(sb.st_mode) ||
	    t->now - (int64_t)sb.st_mtime <= t->older_than)
		return 0;
	int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return 0;
	/* Unlinked only while held: a taker that opened it re-checks the name. */
	if (flock(fd, LOCK_EX | LOCK_NB) == 0 && unlinkat(dfd, name, 0) == 0)
		t->removed++;
	close(fd);
	return 0;
}

/* fn(c, sha256, ud) for every file under blobs/sha256/<2 hex>/ named by a
 * sha256 digest. */
typedef int (*blob_fn)(cr_cache *c, const char *sha256, void *ud);
typedef struct blob_scan {
	blob_fn fn;
	void *ud;
	cr_error **err;
} blob_scan;

static int blob_file(cr_cache *c, int dfd, const char *name, void *ud)
{
	(void)dfd;
	blob_scan *s = ud;
	return cr_is_sha256_hex(name) ? s->fn(c, name, s->ud) : 0;
}

static int blob_fanout(cr_cache *c, int dfd, const char *name, void *ud)
{
	blob_scan *s = ud;
	char shown[32];
	if (strlen(name) != 2 || strspn(name, "0123456789abcdef") != 2)
		return 0;
	snprintf(shown, sizeof(shown), "blobs/sha256/%s", name);
	return scan_dir(c, dfd, name, shown, blob_file, s, s->err);
}

static int scan_blobs(cr_cache *c, blob_fn fn, void *ud, cr_error **err)
{
	blob_scan s = {fn, ud, err};
	return scan_dir(c, c->blobs_fd, ".", "blobs/sha256", blob_fanout, &s, err);
}

/* A blob file the index does not know (crash between rename and record). */
static int reconcile_one(cr_cache *c, const char *sha256, void *ud)
{
	cr_error **err = ud;
	char rel[68];
	struct stat sb;
	sqlite3_stmt *st = cr_cache_st(c, ST_BLOB_HAS, err);
	if (!st)
		return -1;
	sqlite3_bind_text(st, 1, sha256, -1, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc == SQLITE_ROW)
		return 0;
	if (rc != SQLITE_DONE)
		return cr_cache_sql_error(c, "look up blob", err);
	cr_cache_blob_rel(sha256, rel);
	if (fstatat(c->blobs_fd, rel, &sb, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(sb.st_mode))
		return 0;
	return cr_cache_blob_record(c, sha256, (uint64_t)sb.st_size, err);
}

/* Forgets a blob and every entry naming it (inside one transaction). */
static int forget_blob(cr_cache *c, const char *sha256, cr_error **err)
{
	if (cr_cache_begin(c, err) < 0)
		return -1;
	if (run_keyed(c, ST_DEL_BY_BLOB, sha256, "drop entries", err) < 0 ||
	    run_keyed(c, ST_BLOB_DEL, sha256, "forget blob", err) < 0) {
		cr_cache_rollback(c);
		return -1;
	}
	return cr_cache_commit(c, err);
}

/* Known blobs (table rows and entries' blobs) whose file is gone. */
static int find_missing(cr_cache *c, blob_list *missing, cr_error **err)
{
	blob_list l = {0};
	if (collect(c, ST_BLOBS_ALL, 0, 0, &l, err) < 0) {
		blob_list_clear(&l);
		return -1;
	}
	for (size_t i = 0; i < l.n; i++)
		if (!cr_cache_blob_exists(c, l.v[i].sha256))
			blob_list_add(missing, l.v[i].sha256, NULL, 0);
	blob_list_clear(&l);
	return 0;
}

static int drop_missing(cr_cache *c, cr_error **err)
{
	blob_list missing = {0};
	int rc = find_missing(c, &missing, err);
	for (size_t i = 0; rc == 0 && i < missing.n; i++)
		rc = forget_blob(c, missing.v[i].sha256, err);
	blob_list_clear(&missing);
	return rc;
}

int cr_cache_gc(cr_cache *c, uint64_t max_bytes, cr_cache_gc_result *out, cr_error **err)
{
	cr_cache_gc_result local = {0};
	if (!out)
		out = &local;
	memset(out, 0, sizeof(*out));
	if (cr_cache_writable(c, "collect garbage", err) < 0)
		return -1;
	cr_cache_memo_forget_entries(c->memo); /* their blobs may go */
	tmp_scan t = {cr_cache_now(), CR_CACHE_TMP_STALE_S, 0};
	if (scan_dir(c, c->tmp_fd, ".", "tmp", tmp_one, &t, err) < 0)
		return -1;
	out->tmp_removed = t.removed;
	if (scan_blobs(c, reconcile_one, err, err) < 0 || drop_missing(c, err) < 0)
		return -1;
	if (cr_cache_evict(c, max_bytes, NULL, out, err) < 0)
		return -1;
	tmp_scan locks = {cr_cache_now(), CR_CACHE_LOCK_STALE_S, 0};
	return scan_dir(c, c->locks_fd, ".", "locks", lock_one, &locks, err);
}

/* ---- verify ---- */

typedef struct verify_ctx {
	void (*fn)(void *ud, const char *blob, const char *problem);
	void *ud;
	cr_cache_verify_result *res;
	cr_error **err;
} verify_ctx;

/* The SHA-256 of the blob file, as hex; -1 with errno. */
static int hash_file(cr_cache *c, const char *sha256, char out[CR_SHA256_HEX_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	char rel[68];
	uint8_t buf[65536], md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	cr_cache_blob_rel(sha256, rel);
	cleanup_close int fd = openat(c->blobs_fd, rel, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -1;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	if (!ctx || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1)
		abort();
	ssize_t r;
	while ((r = read(fd, buf, sizeof(buf))) > 0 || (r < 0 && errno == EINTR))
		if (r > 0)
			EVP_DigestUpdate(ctx, buf, (size_t)r);
	int saved = errno;
	if (r == 0)
		EVP_DigestFinal_ex(ctx, md, &n);
	EVP_MD_CTX_free(ctx);
	if (r < 0) {
		errno = saved;
		return -1;
	}
	for (unsigned i = 0; i < 32; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[CR_SHA256_HEX_LEN] = '\0';
	return 0;
}

static void report(verify_ctx *v, const char *blob, const char *problem)
{
	if (v->fn)
		v->fn(v->ud, blob, problem);
}

static int verify_one(cr_cache *c, const char *sha256, void *ud)
{
	verify_ctx *v = ud;
	char actual[CR_SHA256_HEX_LEN + 1], problem[160];
	v->res->blobs_checked++;
	if (hash_file(c, sha256, actual) < 0)
		snprintf(problem, sizeof(problem), "unreadable: %s", strerror(errno));
	else if (strcmp(actual, sha256) != 0)
		snprintf(problem, sizeof(problem), "content does not match its name (sha256 %s)", actual);
	else
		return 0;
	v->res->bad++;
	report(v, sha256, problem);
	if (c->read_only)
		return 0;
	char rel[68];
	cr_cache_blob_rel(sha256, rel);
	if (forget_blob(c, sha256, v->err) < 0)
		return -1;
	if (unlinkat(c->blobs_fd, rel, 0) < 0 && errno != ENOENT)
		return cr_error_make(v->err, errno, CR_REASON_INTERNAL,
				     "remove bad cache blob '%s/blobs/sha256/%s'", c->dir, rel);
	return 0;
}

int cr_cache_verify(cr_cache *c, void (*fn)(void *ud, const char *blob, const char *problem), void *ud,
		    cr_cache_verify_result *out, cr_error **err)
{
	cr_cache_verify_result local = {0};
	if (!out)
		out = &local;
	memset(out, 0, sizeof(*out));
	cr_cache_memo_forget_entries(c->memo); /* a bad blob's entries go */
	verify_ctx v = {fn, ud, out, err};
	if (scan_blobs(c, verify_one, &v, err) < 0)
		return -1;
	blob_list missing = {0};
	int rc = find_missing(c, &missing, err);
	for (size_t i = 0; rc == 0 && i < missing.n; i++) {
		out->missing++;
		report(&v, missing.v[i].sha256, "missing: the index refers to it but its file is gone");
		if (!c->read_only)
			rc = forget_blob(c, missing.v[i].sha256, err);
	}
	blob_list_clear(&missing);
	return rc;
}
