/* SPDX-License-Identifier: Apache-2.0 */
/* leases.c -- which blocks of the egress address pool are taken, and by
 * which sandbox (net/pool.h maps a block index to addresses). One row per
 * sandbox with a network link; the lowest free index is taken, so indices
 * (and interface names) are reused and never collide. */
#include <errno.h>

#include "server/store/store_internal.h"
#include "util/error.h"

/* The lowest index not in the table. */
static const char lowest_free_sql[] =
	"SELECT CASE WHEN NOT EXISTS (SELECT 1 FROM leases WHERE idx = 0) THEN 0"
	" ELSE (SELECT MIN(idx) + 1 FROM leases WHERE idx + 1 NOT IN (SELECT idx FROM leases)) END";

int cr_store_lease_take(cr_store *s, const char *sandbox_id, uint32_t pool_size, uint32_t *index,
			cr_error **err)
{
	if (cr_sql_exec(s, "BEGIN IMMEDIATE", err) < 0)
		return -1;
	sqlite3_stmt *st = cr_sql_prepare(s, err, lowest_free_sql, "");
	int64_t idx = -1;
	if (st && sqlite3_step(st) == SQLITE_ROW)
		idx = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	int rc = -1;
	if (idx < 0)
		cr_sql_error(s, err, "find a free address block");
	else if (idx >= pool_size)
		cr_error_status(err, ENOSPC, CR_REASON_RUNTIME_LAUNCH_FAILED,
				"the egress address pool is exhausted (%u sandboxes have a network link); "
				"terminate some, or give serve a larger --egress-pool",
				pool_size);
	else
		rc = cr_sql_run(s,
				cr_sql_prepare(s, err, "INSERT INTO leases(idx, sandbox_id) VALUES(?, ?)",
					       "is", idx, sandbox_id),
				err);
	cr_sql_exec(s, rc == 0 ? "COMMIT" : "ROLLBACK", rc == 0 ? err : NULL);
	if (rc == 0)
		*index = (uint32_t)idx;
	return rc;
}

int cr_store_lease_release(cr_store *s, const char *sandbox_id, cr_error **err)
{
	return cr_sql_run(
		s, cr_sql_prepare(s, err, "DELETE FROM leases WHERE sandbox_id = ?", "s", sandbox_id), err);
}

int cr_store_lease_clear(cr_store *s, cr_error **err)
{
	return cr_sql_exec(s, "DELETE FROM leases", err);
}
