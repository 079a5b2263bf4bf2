/* SPDX-License-Identifier: Apache-2.0 */
/* store.c -- SQLite state of the control plane (see store.h). */
#include "server/store/store.h"
#include "server/store/store_internal.h"

#include <errno.h>
#include <jansson.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "util/cleanup.h"
#include "util/xalloc.h"

#define SCHEMA_VERSION 3
#define CR_STR_(x)     #x
#define CR_STR(x)      CR_STR_(x)

static const char schema[] =
	"CREATE TABLE IF NOT EXISTS sandboxes(id TEXT PRIMARY KEY, status INTEGER NOT NULL, backend TEXT NOT "
	"NULL,"
	" policy_hash TEXT NOT NULL, run_id TEXT NOT NULL, actor TEXT NOT NULL, reason TEXT NOT NULL,"
	" created_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL, expires_ms INTEGER NOT NULL);"
	"CREATE TABLE IF NOT EXISTS executions(id TEXT PRIMARY KEY,"
	" sandbox_id TEXT NOT NULL REFERENCES sandboxes(id) ON DELETE CASCADE, status INTEGER NOT NULL,"
	" exit_code INTEGER NOT NULL, run_id TEXT NOT NULL, actor TEXT NOT NULL, reason TEXT NOT NULL,"
	" command TEXT NOT NULL, tty INTEGER NOT NULL, created_ms INTEGER NOT NULL, started_ms INTEGER NOT "
	"NULL,"
	" finished_ms INTEGER NOT NULL, output_bytes INTEGER NOT NULL DEFAULT 0,"
	" term_signal INTEGER NOT NULL DEFAULT 0, timeout_s INTEGER NOT NULL DEFAULT 0,"
	" message TEXT NOT NULL DEFAULT '');"
	"CREATE INDEX IF NOT EXISTS executions_by_sandbox ON executions(sandbox_id);"
	"CREATE TABLE IF NOT EXISTS output(execution_id TEXT NOT NULL REFERENCES executions(id) ON DELETE "
	"CASCADE,"
	" seq INTEGER NOT NULL, stream INTEGER NOT NULL, data BLOB NOT NULL, PRIMARY KEY(execution_id, seq));"
	"CREATE TABLE IF NOT EXISTS events(seq INTEGER PRIMARY KEY AUTOINCREMENT,"
	" sandbox_id TEXT NOT NULL REFERENCES sandboxes(id) ON DELETE CASCADE, status INTEGER NOT NULL,"
	" message TEXT NOT NULL, ts_ms INTEGER NOT NULL, reason TEXT NOT NULL DEFAULT '');"
	"CREATE TABLE IF NOT EXISTS leases(idx INTEGER PRIMARY KEY, sandbox_id TEXT NOT NULL UNIQUE);";

static int user_version(cr_store *s)
{
	sqlite3_stmt *st = NULL;
	int v = -1;
	if (sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return v;
}

/* Version 1 had no reason on events and no signal, timeout or message on
 * executions; version 2 had no leases table (the schema above creates it
 * in every version). A new database is created at the current version by
 * the schema above. */
static int migrate(cr_store *s, cr_error **err)
{
	int v = user_version(s);
	if (v == 1 && cr_sql_exec(s,
				  "ALTER TABLE events ADD COLUMN reason TEXT NOT NULL DEFAULT '';"
				  "ALTER TABLE executions ADD COLUMN term_signal INTEGER NOT NULL DEFAULT 0;"
				  "ALTER TABLE executions ADD COLUMN timeout_s INTEGER NOT NULL DEFAULT 0;"
				  "ALTER TABLE executions ADD COLUMN message TEXT NOT NULL DEFAULT '';",
				  err) < 0)
		return -1;
	if (v > SCHEMA_VERSION)
		return cr_error_make(
			err, 0, CR_REASON_INTERNAL,
			"state database '%s' is from a newer cleanroom (schema %d, this one knows %d)",
			s->path, v, SCHEMA_VERSION);
	return cr_sql_exec(s, "PRAGMA user_version=" CR_STR(SCHEMA_VERSION) ";", err);
}

int cr_store_open(const char *path, cr_store **out, cr_error **err)
{
	cr_store *s = cr_xcalloc(1, sizeof(*s));
	s->path = cr_xstrdup(path);
	if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
			    NULL) != SQLITE_OK) {
		cr_sql_error(s, err, "open state database");
		cr_store_close(s);
		return -1;
	}
	sqlite3_busy_timeout(s->db, 5000);
	if (cr_sql_exec(s, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
			err) < 0 ||
	    cr_sql_exec(s, schema, err) < 0 || migrate(s, err) < 0) {
		cr_store_close(s);
		return -1;
	}
	*out = s;
	return 0;
}

void cr_store_close(cr_store *s)
{
	if (!s)
		return;
	sqlite3_close_v2(s->db);
	free(s->path);
	free(s);
}

static char *col_text(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);
	return cr_xstrdup(t ? (const char *)t : "");
}

/* ---- sandboxes ---- */

int cr_store_sandbox_put(cr_store *s, const cr_sandbox_row *r, cr_error **err)
{
	return cr_sql_run(
		s,
		cr_sql_prepare(s, err,
			       "INSERT OR REPLACE INTO sandboxes(id, status, backend, policy_hash, run_id, "
			       "actor, reason,"
			       " created_ms, updated_ms, expires_ms) VALUES(?,?,?,?,?,?,?,?,?,?)",
			       "sisssssiii", r->sandbox_id, (int64_t)r->status, r->backend, r->policy_hash,
			       r->run_id, r->actor, r->reason ? r->reason : "", r->created_ms, r->updated_ms,
			       r->expires_ms),
		err);
}

static int changed_one(cr_store *s, const char *what, const char *id, cr_error **err)
{
	if (sqlite3_changes(s->db) == 1)
		return 0;
	return cr_error_make(err, ENOENT, CR_REASON_NONE, "%s '%s' not found", what, id);
}

int cr_store_sandbox_set_status(cr_store *s, const char *id, int status, const char *reason, int64_t now_ms,
				cr_error **err)
{
	if (cr_sql_run(s,
		       cr_sql_prepare(s, err,
				      "UPDATE sandboxes SET status=?, reason=?, updated_ms=? WHERE id=?",
				      "isis", (int64_t)status, reason ? reason : "", now_ms, id),
		       err) < 0)
		return -1;
	return changed_one(s, "sandbox", id, err);
}

static void read_sandbox(sqlite3_stmt *st, cr_sandbox_row *r)
{
	*r = (cr_sandbox_row){.sandbox_id = col_text(st, 0),
			      .status = sqlite3_column_int(st, 1),
			      .backend = col_text(st, 2),
			      .policy_hash = col_text(st, 3),
			      .run_id = col_text(st, 4),
			      .actor = col_text(st, 5),
			      .reason = col_text(st, 6),
			      .created_ms = sqlite3_column_int64(st, 7),
			      .updated_ms = sqlite3_column_int64(st, 8),
			      .expires_ms = sqlite3_column_int64(st, 9)};
}

#define SANDBOX_COLUMNS \
	"id, status, backend, policy_hash, run_id, actor, reason, created_ms, updated_ms, expires_ms"

int cr_store_sandbox_get(cr_store *s, const char *id, cr_sandbox_row *out, cr_error **err)
{
	sqlite3_stmt *st =
		cr_sql_prepare(s, err, "SELECT " SANDBOX_COLUMNS " FROM sandboxes WHERE id=?", "s", id);
	if (!st)
		return -1;
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		read_sandbox(st, out);
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return cr_sql_error(s, err, "read");
	return rc == SQLITE_ROW;
}

int cr_store_sandbox_list(cr_store *s, cr_sandbox_row **rows, size_t *n, cr_error **err)
{
	sqlite3_stmt *st = cr_sql_prepare(
		s, err, "SELECT " SANDBOX_COLUMNS " FROM sandboxes ORDER BY created_ms DESC, id", "");
	if (!st)
		return -1;
	size_t cap = 0;
	*rows = NULL;
	*n = 0;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		*rows = cr_xgrow(*rows, &cap, *n + 1, sizeof(**rows));
		read_sandbox(st, &(*rows)[(*n)++]);
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : cr_sql_error(s, err, "read");
}

void cr_sandbox_row_clear(cr_sandbox_row *r)
{
	free(r->sandbox_id);
	free(r->backend);
	free(r->policy_hash);
	free(r->run_id);
	free(r->actor);
	free(r->reason);
	*r = (cr_sandbox_row){0};
}

int cr_store_event_append(cr_store *s, const char *sandbox_id, int status, const char *reason,
			  const char *message, int64_t now_ms, cr_error **err)
{
	return cr_sql_run(
		s,
		cr_sql_prepare(
			s, err,
			"INSERT INTO events(sandbox_id, status, reason, message, ts_ms) VALUES(?,?,?,?,?)",
			"sissi", sandbox_id, (int64_t)status, reason ? reason : "", message ? message : "",
			now_ms),
		err);
}

int cr_store_event_list(cr_store *s, const char *sandbox_id, int64_t after, cr_event_row **rows, size_t *n,
			cr_error **err)
{
	sqlite3_stmt *st = cr_sql_prepare(
		s, err,
		"SELECT seq, status, reason, message, ts_ms FROM events WHERE sandbox_id=? AND "
		"seq>? ORDER BY seq LIMIT 10000",
		"si", sandbox_id, after);
	if (!st)
		return -1;
	size_t cap = 0;
	*rows = NULL;
	*n = 0;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		*rows = cr_xgrow(*rows, &cap, *n + 1, sizeof(**rows));
		(*rows)[(*n)++] = (cr_event_row){.seq = sqlite3_column_int64(st, 0),
						 .status = sqlite3_column_int(st, 1),
						 .reason = col_text(st, 2),
						 .message = col_text(st, 3),
						 .ts_ms = sqlite3_column_int64(st, 4)};
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : cr_sql_error(s, err, "read");
}

void cr_event_rows_free(cr_event_row *rows, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(rows[i].reason);
		free(rows[i].message);
	}
	free(rows);
}

/* ---- executions ---- */

static char *command_json(char *const *argv)
{
	json_t *a = json_array();
	for (size_t i = 0; argv && argv[i]; i++)
		json_array_append_new(a, json_string(argv[i]));
	char *text = json_dumps(a, JSON_COMPACT);
	json_decref(a);
	return text;
}

static char **command_argv(const char *text)
{
	json_t *a = json_loads(text ? text : "[]", 0, NULL);
	size_t n = json_array_size(a);
	char **argv = cr_xcalloc(n + 1, sizeof(char *));
	for (size_t i = 0; i < n; i++)
		argv[i] = cr_xstrdup(json_string_value(json_array_get(a, i)) ?: "");
	json_decref(a);
	return argv;
}

int cr_store_execution_put(cr_store *s, const cr_execution_row *r, cr_error **err)
{
	cleanup_free char *cmd = command_json(r->command);
	return cr_sql_run(
		s,
		cr_sql_prepare(
			s, err,
			"INSERT OR REPLACE INTO executions(id, sandbox_id, status, exit_code, run_id, actor, "
			"reason, command, tty, created_ms, started_ms, finished_ms, term_signal, timeout_s, "
			"message) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
			"ssiissssiiiiiis", r->execution_id, r->sandbox_id, (int64_t)r->status,
			(int64_t)r->exit_code, r->run_id, r->actor, r->reason ? r->reason : "", cmd,
			(int64_t)r->tty, r->created_ms, r->started_ms, r->finished_ms,
			(int64_t)r->term_signal, r->timeout_s, r->message ? r->message : ""),
		err);
}

int cr_store_execution_set_running(cr_store *s, const char *id, int64_t now_ms, cr_error **err)
{
	if (cr_sql_run(s,
		       cr_sql_prepare(s, err, "UPDATE executions SET status=?, started_ms=? WHERE id=?",
				      "iis", (int64_t)CR_EX_RUNNING, now_ms, id),
		       err) < 0)
		return -1;
	return changed_one(s, "execution", id, err);
}

int cr_store_execution_finish(cr_store *s, const char *id, int status, int exit_code, int term_signal,
			      const char *reason, const char *message, int64_t now_ms, cr_error **err)
{
	if (cr_sql_run(s,
		       cr_sql_prepare(s, err,
				      "UPDATE executions SET status=?, exit_code=?, term_signal=?, reason=?, "
				      "message=?, "
				      "finished_ms=? WHERE id=?",
				      "iiissis", (int64_t)status, (int64_t)exit_code, (int64_t)term_signal,
				      reason ? reason : "", message ? message : "", now_ms, id),
		       err) < 0)
		return -1;
	return changed_one(s, "execution", id, err);
}

#define EXECUTION_COLUMNS                                                                                  \
	"id, sandbox_id, status, exit_code, run_id, actor, reason, command, tty, created_ms, started_ms, " \
	"finished_ms, term_signal, timeout_s, message"

static void read_execution(sqlite3_stmt *st, cr_execution_row *r)
{
	*r = (cr_execution_row){.execution_id = col_text(st, 0),
				.sandbox_id = col_text(st, 1),
				.status = sqlite3_column_int(st, 2),
				.exit_code = sqlite3_column_int(st, 3),
				.run_id = col_text(st, 4),
				.actor = col_text(st, 5),
				.reason = col_text(st, 6),
				.command = command_argv((const char *)sqlite3_column_text(st, 7)),
				.tty = sqlite3_column_int(st, 8) != 0,
				.created_ms = sqlite3_column_int64(st, 9),
				.started_ms = sqlite3_column_int64(st, 10),
				.finished_ms = sqlite3_column_int64(st, 11),
				.term_signal = sqlite3_column_int(st, 12),
				.timeout_s = sqlite3_column_int64(st, 13),
				.message = col_text(st, 14)};
}

int cr_store_execution_get(cr_store *s, const char *id, cr_execution_row *out, cr_error **err)
{
	sqlite3_stmt *st =
		cr_sql_prepare(s, err, "SELECT " EXECUTION_COLUMNS " FROM executions WHERE id=?", "s", id);
	if (!st)
		return -1;
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		read_execution(st, out);
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return cr_sql_error(s, err, "read");
	return rc == SQLITE_ROW;
}

int cr_store_execution_list(cr_store *s, const char *sandbox_id, cr_execution_row **rows, size_t *n,
			    cr_error **err)
{
	sqlite3_stmt *st =
		sandbox_id ? cr_sql_prepare(s, err,
					    "SELECT " EXECUTION_COLUMNS
					    " FROM executions WHERE sandbox_id=? ORDER BY created_ms, id",
					    "s", sandbox_id)
			   : cr_sql_prepare(s, err,
					    "SELECT " EXECUTION_COLUMNS
					    " FROM executions ORDER BY created_ms, id",
					    "");
	if (!st)
		return -1;
	size_t cap = 0;
	*rows = NULL;
	*n = 0;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		*rows = cr_xgrow(*rows, &cap, *n + 1, sizeof(**rows));
		read_execution(st, &(*rows)[(*n)++]);
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : cr_sql_error(s, err, "read");
}

void cr_execution_row_clear(cr_execution_row *r)
{
	free(r->execution_id);
	free(r->sandbox_id);
	free(r->run_id);
	free(r->actor);
	free(r->reason);
	free(r->message);
	for (size_t i = 0; r->command && r->command[i]; i++)
		free(r->command[i]);
	free(r->command);
	*r = (cr_execution_row){0};
}

/* ---- output history ---- */

static int64_t scalar(cr_store *s, sqlite3_stmt *st, cr_error **err)
{
	if (!st)
		return -1;
	int rc = sqlite3_step(st);
	int64_t v = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
	sqlite3_finalize(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? v : cr_sql_error(s, err, "read");
}

/* Drops the oldest chunks of one execution until its total fits cap. */
static int enforce_cap(cr_store *s, const char *id, size_t cap, cr_error **err)
{
	for (;;) {
		int64_t total = scalar(
			s, cr_sql_prepare(s, err, "SELECT output_bytes FROM executions WHERE id=?", "s", id),
			err);
		if (total < 0)
			return -1;
		if ((uint64_t)total <= cap)
			return 0;
		int64_t oldest = scalar(
			s,
			cr_sql_prepare(s, err, "SELECT MIN(seq) FROM output WHERE execution_id=?", "s", id),
			err);
		int64_t len = scalar(
			s,
			cr_sql_prepare(s, err,
				       "SELECT length(data) FROM output WHERE execution_id=? AND seq=?", "si",
				       id, oldest),
			err);
		if (oldest <= 0 || len < 0 ||
		    cr_sql_run(s,
			       cr_sql_prepare(s, err, "DELETE FROM output WHERE execution_id=? AND seq=?",
					      "si", id, oldest),
			       err) < 0 ||
		    cr_sql_run(s,
			       cr_sql_prepare(s, err,
					      "UPDATE executions SET output_bytes=output_bytes-? WHERE id=?",
					      "is", len, id),
			       err) < 0)
			return -1;
	}
}

int64_t cr_store_output_append(cr_store *s, const char *execution_id, int stream, const void *data,
			       size_t len, size_t cap_bytes, cr_error **err)
{
	if (cr_sql_exec(s, "BEGIN IMMEDIATE", err) < 0)
		return -1;
	int64_t seq = scalar(
		s,
		cr_sql_prepare(s, err, "SELECT COALESCE(MAX(seq), 0) + 1 FROM output WHERE execution_id=?",
			       "s", execution_id),
		err);
	bool ok = seq > 0 &&
		  cr_sql_run(s,
			     cr_sql_prepare(
				     s, err,
				     "INSERT INTO output(execution_id, seq, stream, data) VALUES(?,?,?,?)",
				     "siib", execution_id, seq, (int64_t)stream, data ? data : "", len),
			     err) == 0 &&
		  cr_sql_run(s,
			     cr_sql_prepare(s, err,
					    "UPDATE executions SET output_bytes=output_bytes+? WHERE id=?",
					    "is", (int64_t)len, execution_id),
			     err) == 0 &&
		  enforce_cap(s, execution_id, cap_bytes, err) == 0;
	if (cr_sql_exec(s, ok ? "COMMIT" : "ROLLBACK", ok ? err : NULL) < 0 || !ok)
		return -1;
	return seq;
}

int cr_store_output_read(cr_store *s, const char *execution_id, int64_t after, size_t max_chunks,
			 cr_output_chunk **chunks, size_t *n, cr_error **err)
{
	sqlite3_stmt *st = cr_sql_prepare(
		s, err,
		"SELECT seq, stream, data FROM output WHERE execution_id=? AND seq>? ORDER BY seq LIMIT ?",
		"sii", execution_id, after, (int64_t)max_chunks);
	if (!st)
		return -1;
	size_t cap = 0;
	*chunks = NULL;
	*n = 0;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		*chunks = cr_xgrow(*chunks, &cap, *n + 1, sizeof(**chunks));
		cr_output_chunk *c = &(*chunks)[(*n)++];
		c->seq = sqlite3_column_int64(st, 0);
		c->stream = sqlite3_column_int(st, 1);
		c->len = (size_t)sqlite3_column_bytes(st, 2);
		c->data = cr_xmalloc(c->len ? c->len : 1);
		if (c->len)
			memcpy(c->data, sqlite3_column_blob(st, 2), c->len);
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : cr_sql_error(s, err, "read");
}

void cr_output_chunks_free(cr_output_chunk *chunks, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(chunks[i].data);
	free(chunks);
}

/* ---- retention and recovery ---- */

int cr_store_prune(cr_store *s, int64_t cutoff_ms, cr_error **err)
{
	if (cr_sql_run(s,
		       cr_sql_prepare(s, err,
				      "DELETE FROM sandboxes WHERE status IN (?, ?) AND updated_ms < ?",
				      "iii", (int64_t)CR_SB_STOPPED, (int64_t)CR_SB_FAILED, cutoff_ms),
		       err) < 0)
		return -1;
	return sqlite3_changes(s->db);
}

int cr_store_fail_live(cr_store *s, const char *reason, int64_t now_ms, cr_error **err)
{
	if (cr_sql_exec(s, "BEGIN IMMEDIATE", err) < 0)
		return -1;
	bool ok =
		cr_sql_run(
			s,
			cr_sql_prepare(
				s, err,
				"UPDATE executions SET status=?, reason=?, finished_ms=? WHERE status IN (?, "
				"?) AND"
				" sandbox_id IN (SELECT id FROM sandboxes WHERE status IN (?, ?, ?))",
				"isiiiiii", (int64_t)CR_EX_FAILED, reason, now_ms, (int64_t)CR_EX_QUEUED,
				(int64_t)CR_EX_RUNNING, (int64_t)CR_SB_PROVISIONING, (int64_t)CR_SB_READY,
				(int64_t)CR_SB_STOPPING),
			err) == 0;
	int changed = 0;
	if (ok) {
		ok = cr_sql_run(s,
				cr_sql_prepare(s, err,
					       "UPDATE sandboxes SET status=?, reason=?, updated_ms=? WHERE "
					       "status IN (?, "
					       "?, ?)",
					       "isiiii", (int64_t)CR_SB_FAILED, reason, now_ms,
					       (int64_t)CR_SB_PROVISIONING, (int64_t)CR_SB_READY,
					       (int64_t)CR_SB_STOPPING),
				err) == 0;
		changed = sqlite3_changes(s->db);
	}
	if (cr_sql_exec(s, ok ? "COMMIT" : "ROLLBACK", ok ? err : NULL) < 0 || !ok)
		return -1;
	return changed;
}
