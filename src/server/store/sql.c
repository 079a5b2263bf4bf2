/* SPDX-License-Identifier: Apache-2.0 */
/* sql.c -- the statement helpers every file of the store uses. */
#include <stdarg.h>
#include <stdint.h>

#include "server/store/store_internal.h"
#include "util/error.h"

int cr_sql_error(cr_store *s, cr_error **err, const char *what)
{
	return cr_error_make(err, 0, CR_REASON_INTERNAL, "%s in '%s': %s", what, s->path,
			     sqlite3_errmsg(s->db));
}

int cr_sql_exec(cr_store *s, const char *sql, cr_error **err)
{
	char *msg = NULL;
	if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) == SQLITE_OK)
		return 0;
	cr_error_make(err, 0, CR_REASON_INTERNAL, "state database '%s': %s", s->path, msg ? msg : "error");
	sqlite3_free(msg);
	return -1;
}

/* Prepares sql and binds arguments described by `types`: 's' text, 'i'
 * int64, 'b' blob (pointer then size_t length). */
sqlite3_stmt *cr_sql_prepare(cr_store *s, cr_error **err, const char *sql, const char *types, ...)
{
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) {
		cr_sql_error(s, err, "prepare");
		return NULL;
	}
	va_list ap;
	va_start(ap, types);
	for (int i = 0; types[i]; i++) {
		if (types[i] == 's')
			sqlite3_bind_text(st, i + 1, va_arg(ap, const char *), -1, SQLITE_TRANSIENT);
		else if (types[i] == 'i')
			sqlite3_bind_int64(st, i + 1, va_arg(ap, int64_t));
		else {
			const void *p = va_arg(ap, const void *);
			sqlite3_bind_blob64(st, i + 1, p, (sqlite3_uint64)va_arg(ap, size_t),
					    SQLITE_TRANSIENT);
		}
	}
	va_end(ap);
	return st;
}

/* Steps a statement that returns no rows and finalizes it. */
int cr_sql_run(cr_store *s, sqlite3_stmt *st, cr_error **err)
{
	if (!st)
		return -1;
	int rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : cr_sql_error(s, err, "write");
}
