/* SPDX-License-Identifier: Apache-2.0 */
/* store_internal.h -- what the files of the state store share: the handle
 * and the statement helpers (sql.c). */
#pragma once

#include <sqlite3.h>

#include "server/store/store.h"

struct cr_store {
	sqlite3 *db;
	char *path;
};

/* An error naming the database and SQLite's message. Returns -1. */
int cr_sql_error(cr_store *s, cr_error **err, const char *what);
/* Runs statements that return no rows. */
int cr_sql_exec(cr_store *s, const char *sql, cr_error **err);
/* Prepares sql and binds arguments described by `types`: 's' text, 'i'
 * int64, 'b' blob (pointer then size_t length). NULL with *err on failure. */
sqlite3_stmt *cr_sql_prepare(cr_store *s, cr_error **err, const char *sql, const char *types, ...);
/* Steps a statement that returns no rows and finalizes it (st may be NULL:
 * the failed prepare's error stands). */
int cr_sql_run(cr_store *s, sqlite3_stmt *st, cr_error **err);
