/* SPDX-License-Identifier: Apache-2.0 */
/* cache.c -- opening and closing the content cache: the directory layout
 * (blobs/sha256, tmp, locks), the SQLite index (WAL, busy timeout, schema
 * versioned with user_version) and the statement helpers the other files of
 * src/cache/ use. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cache/cache_internal.h"
#include "util/cleanup.h"
#include "util/xalloc.h"

#define ENTRY_COLS CR_CACHE_ENTRY_COLS
#define COUNTER_COLS                                                                                \
	"hits, misses, stale_served, revalidated, bytes_served, bytes_fetched, upstream_requests, " \
	"upstream_ms_total, upstream_errors, integrity_failures"

/* One statement per query, in cr_cache_stmt order. */
static const char *const stmt_sql[ST__COUNT] = {
	[ST_GET] = "SELECT " ENTRY_COLS " FROM entries WHERE key = ?1",
	[ST_PUT] = "INSERT OR REPLACE INTO entries (" ENTRY_COLS
		   ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
	[ST_TOUCH] = "UPDATE entries SET fetched_at = ?2 WHERE key = ?1",
	[ST_REMOVE] = "DELETE FROM entries WHERE key = ?1",
	[ST_USED] = "UPDATE entries SET last_used_at = ?2 WHERE key = ?1",
	[ST_USED_BLOB] = "UPDATE entries SET last_used_at = ?2 WHERE blob = ?1 AND last_used_at < ?3",
	[ST_BLOB_USED_AT] = "SELECT min(last_used_at) FROM entries WHERE blob = ?1",
	[ST_BLOB_ADD] =
		"INSERT INTO blobs (sha256, size, added_at) VALUES (?1, ?2, ?3) "
		"ON CONFLICT (sha256) DO UPDATE SET size = excluded.size, added_at = excluded.added_at",
	[ST_BLOB_DEL] = "DELETE FROM blobs WHERE sha256 = ?1",
	[ST_BLOB_REFS] = "SELECT count(*) FROM entries WHERE blob = ?1",
	[ST_BLOB_HAS] = "SELECT size FROM blobs WHERE sha256 = ?1",
	[ST_BLOB_TOTAL] = "SELECT count(*), coalesce(sum(size), 0) FROM blobs",
	[ST_DEL_BY_BLOB] = "DELETE FROM entries WHERE blob = ?1",
	[ST_COUNTERS_ADD] =
		"UPDATE counters SET hits = hits + ?1, misses = misses + ?2, "
		"stale_served = stale_served + ?3, revalidated = revalidated + ?4, "
		"bytes_served = bytes_served + ?5, bytes_fetched = bytes_fetched + ?6, "
		"upstream_requests = upstream_requests + ?7, "
		"upstream_ms_total = upstream_ms_total + ?8, upstream_errors = upstream_errors + ?9, "
		"integrity_failures = integrity_failures + ?10 WHERE id = 1",
	[ST_COUNTERS_GET] = "SELECT " COUNTER_COLS " FROM counters WHERE id = 1",
	[ST_ENTRY_COUNT] = "SELECT count(*) FROM entries",
	[ST_LRU] = "SELECT key, blob FROM entries ORDER BY last_used_at, key LIMIT ?1 OFFSET ?2",
	[ST_UNREFERENCED] = "SELECT sha256, size FROM blobs WHERE NOT EXISTS "
			    "(SELECT 1 FROM entries WHERE entries.blob = blobs.sha256)",
	[ST_BLOBS_ALL] = "SELECT sha256, 0 FROM blobs UNION SELECT blob, 0 FROM entries",
	[ST_BEGIN] = "BEGIN IMMEDIATE",
	[ST_COMMIT] = "COMMIT",
	[ST_ROLLBACK] = "ROLLBACK",
};

static const char schema_sql[] =
	"CREATE TABLE IF NOT EXISTS entries ("
	" key TEXT PRIMARY KEY NOT NULL, upstream TEXT NOT NULL, etag TEXT NOT NULL,"
	" last_modified TEXT NOT NULL, content_type TEXT NOT NULL, fetched_at INTEGER NOT NULL,"
	" ttl_s INTEGER NOT NULL, blob TEXT NOT NULL, size INTEGER NOT NULL, integrity TEXT NOT NULL,"
	" last_used_at INTEGER NOT NULL);"
	"CREATE INDEX IF NOT EXISTS entries_blob ON entries (blob);"
	"CREATE INDEX IF NOT EXISTS entries_used ON entries (last_used_at);"
	"CREATE TABLE IF NOT EXISTS blobs ("
	" sha256 TEXT PRIMARY KEY NOT NULL, size INTEGER NOT NULL, added_at INTEGER NOT NULL);"
	"CREATE TABLE IF NOT EXISTS counters ("
	" id INTEGER PRIMARY KEY CHECK (id = 1),"
	" hits INTEGER NOT NULL DEFAULT 0, misses INTEGER NOT NULL DEFAULT 0,"
	" stale_served INTEGER NOT NULL DEFAULT 0, revalidated INTEGER NOT NULL DEFAULT 0,"
	" bytes_served INTEGER NOT NULL DEFAULT 0, bytes_fetched INTEGER NOT NULL DEFAULT 0,"
	" upstream_requests INTEGER NOT NULL DEFAULT 0, upstream_ms_total INTEGER NOT NULL DEFAULT 0,"
	" upstream_errors INTEGER NOT NULL DEFAULT 0, integrity_failures INTEGER NOT NULL DEFAULT 0);"
	"INSERT OR IGNORE INTO counters (id) VALUES (1);"
	"PRAGMA user_version = 1;";

int64_t cr_cache_now(void)
{
	return (int64_t)time(NULL);
}

int cr_cache_sql_error(cr_cache *c, const char *what, cr_error **err)
{
	return cr_error_make(err, 0, CR_REASON_INTERNAL, "cache index '%s': %s: %s", c->db_path, what,
			     sqlite3_errmsg(c->db));
}

sqlite3_stmt *cr_cache_st(cr_cache *c, cr_cache_stmt id, cr_error **err)
{
	if (!c->st[id] && sqlite3_prepare_v3(c->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT, &c->st[id],
					     NULL) != SQLITE_OK) {
		cr_cache_sql_error(c, "prepare", err);
		return NULL;
	}
	sqlite3_reset(c->st[id]);
	sqlite3_clear_bindings(c->st[id]);
	return c->st[id];
}

int cr_cache_st_run(cr_cache *c, sqlite3_stmt *st, const char *what, cr_error **err)
{
	int rc = sqlite3_step(st);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
		cr_cache_sql_error(c, what, err);
		sqlite3_reset(st);
		return -1;
	}
	sqlite3_reset(st);
	return 0;
}

static int run_simple(cr_cache *c, cr_cache_stmt id, const char *what, cr_error **err)
{
	sqlite3_stmt *st = cr_cache_st(c, id, err);
	return st ? cr_cache_st_run(c, st, what, err) : -1;
}

int cr_cache_begin(cr_cache *c, cr_error **err)
{
	return run_simple(c, ST_BEGIN, "begin transaction", err);
}

int cr_cache_commit(cr_cache *c, cr_error **err)
{
	if (run_simple(c, ST_COMMIT, "commit", err) < 0) {
		cr_cache_rollback(c);
		return -1;
	}
	return 0;
}

void cr_cache_rollback(cr_cache *c)
{
	if (!sqlite3_get_autocommit(c->db))
		run_simple(c, ST_ROLLBACK, "rollback", NULL);
}

int cr_cache_writable(cr_cache *c, const char *what, cr_error **err)
{
	if (!c->read_only)
		return 0;
	return cr_error_make(err, EROFS, CR_REASON_INTERNAL, "%s in cache '%s'", what, c->dir);
}

int cr_cache_check_key(const char *key, cr_error **err)
{
	if (!key || !*key)
		return cr_error_make(err, EINVAL, CR_REASON_INTERNAL, "cache key is empty");
	if (strnlen(key, CR_CACHE_KEY_MAX + 1) > CR_CACHE_KEY_MAX)
		return cr_error_make(err, ENAMETOOLONG, CR_REASON_INTERNAL,
				     "cache key '%.64s...' is longer than %d bytes", key, CR_CACHE_KEY_MAX);
	return 0;
}

const char *cr_cache_dir(const cr_cache *c)
{
	return c->dir;
}

/* Opens (creating unless read-only) the subdirectory `name` of at. */
static int open_subdir(cr_cache *c, int at, const char *name, const char *shown, cr_error **err)
{
	if (!c->read_only && mkdirat(at, name, 0700) < 0 && errno != EEXIST)
		return cr_error_make(err, errno, CR_REASON_INTERNAL, "create cache directory '%s/%s'", c->dir,
				     shown);
	int fd = openat(at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return cr_error_make(err, errno, CR_REASON_INTERNAL, "open cache directory '%s/%s'", c->dir,
				     shown);
	return fd;
}

static int open_layout(cr_cache *c, cr_error **err)
{
	if (!c->read_only && mkdir(c->dir, 0700) < 0 && errno != EEXIST)
		return cr_error_make(err, errno, CR_REASON_INTERNAL, "create cache directory '%s'", c->dir);
	c->dirfd = open(c->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (c->dirfd < 0)
		return cr_error_make(err, errno, CR_REASON_INTERNAL, "open cache directory '%s'", c->dir);
	cleanup_close int blobs = open_subdir(c, c->dirfd, "blobs", "blobs", err);
	if (blobs < 0)
		return -1;
	if ((c->blobs_fd = open_subdir(c, blobs, "sha256", "blobs/sha256", err)) < 0 ||
	    (c->tmp_fd = open_subdir(c, c->dirfd, "tmp", "tmp", err)) < 0 ||
	    (c->locks_fd = open_subdir(c, c->dirfd, "locks", "locks", err)) < 0)
		return -1;
	return 0;
}

static int pragma(cr_cache *c, const char *sql, cr_error **err)
{
	char *msg = NULL;
	if (sqlite3_exec(c->db, sql, NULL, NULL, &msg) == SQLITE_OK)
		return 0;
	cr_error_make(err, 0, CR_REASON_INTERNAL, "cache index '%s': %s: %s", c->db_path, sql,
		      msg ? msg : sqlite3_errmsg(c->db));
	sqlite3_free(msg);
	return -1;
}

static int schema_version(cr_cache *c, int *version, cr_error **err)
{
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(c->db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK)
		return cr_cache_sql_error(c, "read schema version", err);
	int rc = sqlite3_step(st);
	*version = rc == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 0 : cr_cache_sql_error(c, "read schema version", err);
}

/* Creates the schema once, in one immediate transaction, so that two
 * processes opening a new cache at the same time do not both create it. */
static int init_schema(cr_cache *c, cr_error **err)
{
	int version = 0;
	if (cr_cache_begin(c, err) < 0)
		return -1;
	if (schema_version(c, &version, err) < 0)
		goto fail;
	if (version > CR_CACHE_SCHEMA_VERSION) {
		cr_error_make(err, 0, CR_REASON_INTERNAL,
			      "cache index '%s' has schema version %d, newer than this cleanroom's (%d)",
			      c->db_path, version, CR_CACHE_SCHEMA_VERSION);
		goto fail;
	}
	if (version < CR_CACHE_SCHEMA_VERSION && pragma(c, schema_sql, err) < 0)
		goto fail;
	return cr_cache_commit(c, err);
fail:
	cr_cache_rollback(c);
	return -1;
}

static int check_schema_ro(cr_cache *c, cr_error **err)
{
	int version = 0;
	if (schema_version(c, &version, err) < 0)
		return -1;
	if (version != CR_CACHE_SCHEMA_VERSION)
		return cr_error_make(err, 0, CR_REASON_INTERNAL,
				     "cache index '%s' has schema version %d, this cleanroom reads %d",
				     c->db_path, version, CR_CACHE_SCHEMA_VERSION);
	return 0;
}

static int open_index(cr_cache *c, cr_error **err)
{
	c->db_path = cr_asprintf("%s/index.db", c->dir);
	if (c->read_only && faccessat(c->dirfd, "index.db", F_OK, 0) < 0)
		return cr_error_make(err, errno, CR_REASON_INTERNAL, "open cache index '%s'", c->db_path);
	int flags = (c->read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) |
		    SQLITE_OPEN_NOMUTEX;
	if (sqlite3_open_v2(c->db_path, &c->db, flags, NULL) != SQLITE_OK) {
		if (!c->db)
			return cr_error_make(err, ENOMEM, CR_REASON_INTERNAL, "open cache index '%s'",
					     c->db_path);
		return cr_cache_sql_error(c, "open", err);
	}
	sqlite3_extended_result_codes(c->db, 1);
	sqlite3_busy_timeout(c->db, CR_CACHE_BUSY_MS);
	if (c->read_only)
		return check_schema_ro(c, err);
	if (pragma(c, "PRAGMA journal_mode = WAL", err) < 0 ||
	    pragma(c, "PRAGMA synchronous = NORMAL", err) < 0)
		return -1;
	return init_schema(c, err);
}

int cr_cache_open(const char *dir, const cr_cache_opts *opts, cr_cache **out, cr_error **err)
{
	*out = NULL;
	if (!dir || !*dir)
		return cr_error_make(err, EINVAL, CR_REASON_INTERNAL, "cache directory is empty");
	if (strlen(dir) > 4000)
		return cr_error_make(err, ENAMETOOLONG, CR_REASON_INTERNAL, "cache directory '%.64s...'",
				     dir);
	cr_cache *c = cr_xcalloc(1, sizeof(*c));
	c->dir = cr_xstrdup(dir);
	c->dirfd = c->blobs_fd = c->tmp_fd = c->locks_fd = -1;
	c->memo = cr_cache_memo_new();
	c->read_only = opts && opts->read_only;
	c->max_bytes = opts && opts->max_bytes ? opts->max_bytes : CR_CACHE_DEFAULT_LIMIT;
	if (open_layout(c, err) < 0 || open_index(c, err) < 0) {
		cr_cache_close(c);
		return -1;
	}
	*out = c;
	return 0;
}

void cr_cache_close(cr_cache *c)
{
	if (!c)
		return;
	cr_cache_memo_free(c->memo);
	for (int i = 0; i < ST__COUNT; i++)
		sqlite3_finalize(c->st[i]);
	if (c->db)
		sqlite3_close_v2(c->db);
	int fds[] = {c->dirfd, c->blobs_fd, c->tmp_fd, c->locks_fd};
	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		if (fds[i] >= 0)
			close(fds[i]);
	free(c->db_path);
	free(c->dir);
	free(c);
}
