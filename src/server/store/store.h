/* SPDX-License-Identifier: Apache-2.0 */
/* store.h -- the control plane's persistent state (SQLite, WAL).
 *
 * Sandboxes, executions, a bounded output history per execution and the
 * sandbox event log survive a restart of `cleanroom serve` (spec §8.1:
 * GetSandbox and GetExecution must expose terminal status, exit code and
 * failure reason). Status values are the numbers of the API enums
 * (SandboxStatus, ExecutionStatus in proto/cleanroom/v1). One connection per
 * process; every call is a short transaction. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/error.h"

/* SandboxStatus */
enum { CR_SB_UNSPECIFIED, CR_SB_PROVISIONING, CR_SB_READY, CR_SB_STOPPING, CR_SB_STOPPED, CR_SB_FAILED };
/* ExecutionStatus */
enum {
	CR_EX_UNSPECIFIED,
	CR_EX_QUEUED,
	CR_EX_RUNNING,
	CR_EX_SUCCEEDED,
	CR_EX_FAILED,
	CR_EX_CANCELED,
	CR_EX_TIMED_OUT
};

typedef struct cr_store cr_store;

typedef struct cr_sandbox_row {
	char *sandbox_id, *backend, *policy_hash, *run_id, *actor, *reason; /* reason "" unless failed */
	int status;
	int64_t created_ms, updated_ms, expires_ms; /* Unix milliseconds; expires 0 = never */
} cr_sandbox_row;

typedef struct cr_execution_row {
	char *execution_id, *sandbox_id, *run_id, *actor, *reason, *message;
	char **command; /* NULL-terminated */
	int status;
	int exit_code;   /* -1 while not finished */
	int term_signal; /* the signal that ended it, 0 if none */
	int64_t timeout_s;
	bool tty;
	int64_t created_ms, started_ms, finished_ms; /* 0 = not yet */
} cr_execution_row;

typedef struct cr_output_chunk {
	int64_t seq;
	int stream; /* 1 stdout, 2 stderr */
	unsigned char *data;
	size_t len;
} cr_output_chunk;

/* Opens (creating and migrating) the database at path. */
int cr_store_open(const char *path, cr_store **out, cr_error **err);
void cr_store_close(cr_store *s);

int cr_store_sandbox_put(cr_store *s, const cr_sandbox_row *row, cr_error **err);
/* Updates status, reason and updated_ms of one sandbox; 0 when it exists, -1 otherwise (not_found in *err). */
int cr_store_sandbox_set_status(cr_store *s, const char *id, int status, const char *reason, int64_t now_ms,
				cr_error **err);
/* Returns 1 with *out filled, 0 when absent, -1 on error. */
int cr_store_sandbox_get(cr_store *s, const char *id, cr_sandbox_row *out, cr_error **err);
/* All sandboxes, newest first. */
int cr_store_sandbox_list(cr_store *s, cr_sandbox_row **rows, size_t *n, cr_error **err);
void cr_sandbox_row_clear(cr_sandbox_row *r);

int cr_store_execution_put(cr_store *s, const cr_execution_row *row, cr_error **err);
int cr_store_execution_finish(cr_store *s, const char *id, int status, int exit_code, int term_signal,
			      const char *reason, const char *message, int64_t now_ms, cr_error **err);
int cr_store_execution_set_running(cr_store *s, const char *id, int64_t now_ms, cr_error **err);
int cr_store_execution_get(cr_store *s, const char *id, cr_execution_row *out, cr_error **err);
/* Executions of one sandbox (or all when sandbox_id is NULL), oldest first. */
int cr_store_execution_list(cr_store *s, const char *sandbox_id, cr_execution_row **rows, size_t *n,
			    cr_error **err);
void cr_execution_row_clear(cr_execution_row *r);

/* Appends output; keeps at most cap_bytes per execution by dropping the
 * oldest chunks. Returns the chunk's sequence number (1, 2, ...) or -1. */
int64_t cr_store_output_append(cr_store *s, const char *execution_id, int stream, const void *data,
			       size_t len, size_t cap_bytes, cr_error **err);
/* Chunks with seq > after, in order, at most max_chunks. */
int cr_store_output_read(cr_store *s, const char *execution_id, int64_t after, size_t max_chunks,
			 cr_output_chunk **chunks, size_t *n, cr_error **err);
void cr_output_chunks_free(cr_output_chunk *chunks, size_t n);

typedef struct cr_event_row {
	int64_t seq;
	int status;
	char *reason, *message; /* reason "" unless a failure */
	int64_t ts_ms;
} cr_event_row;

/* Appends to a sandbox's event log (status change with a reason code and a
 * message). */
int cr_store_event_append(cr_store *s, const char *sandbox_id, int status, const char *reason,
			  const char *message, int64_t now_ms, cr_error **err);
/* A sandbox's events with seq > after, oldest first (at most 10000). */
int cr_store_event_list(cr_store *s, const char *sandbox_id, int64_t after, cr_event_row **rows, size_t *n,
			cr_error **err);
void cr_event_rows_free(cr_event_row *rows, size_t n);

/* Deletes finished sandboxes (STOPPED, FAILED) and their executions, output
 * and events when they were last updated before cutoff_ms. Returns the
 * number of sandboxes removed. */
int cr_store_prune(cr_store *s, int64_t cutoff_ms, cr_error **err);

/* Marks every sandbox still PROVISIONING/READY/STOPPING as FAILED with
 * `reason`, and their unfinished executions as FAILED (server restart after
 * a crash: their processes are gone). Returns how many sandboxes changed. */
int cr_store_fail_live(cr_store *s, const char *reason, int64_t now_ms, cr_error **err);

/* ---- egress address leases (leases.c) ---- */

/* Takes the lowest free block index below pool_size for sandbox_id.
 * ENOSPC (runtime_launch_failed) when every block is taken. */
int cr_store_lease_take(cr_store *s, const char *sandbox_id, uint32_t pool_size, uint32_t *index,
			cr_error **err);
/* Gives sandbox_id's block back; no lease is not an error. */
int cr_store_lease_release(cr_store *s, const char *sandbox_id, cr_error **err);
/* Forgets every lease (at start, once leftovers are removed). */
int cr_store_lease_clear(cr_store *s, cr_error **err);
