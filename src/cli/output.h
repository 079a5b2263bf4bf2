/* SPDX-License-Identifier: Apache-2.0 */
/* output.h -- what the inspection and administration commands (status,
 * doctor, sandbox, execution, audit) share that does not talk to a server:
 * their common options (--host, --json, --help), aligned tables, ages and
 * times, enum names as users read them, proto3 JSON output and the error
 * line of spec §8.1. Pure formatting, unit-tested in
 * tests/unit/test_cli_output.c. */
#pragma once

#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "google/protobuf/timestamp.pb-c.h"

/* ---- options ---- */

/* Options every inspection command takes. */
typedef struct cr_cli_opts {
	const char *host; /* --host EP; NULL = $CLEANROOM_HOST, then the default socket */
	bool json;        /* --json */
} cr_cli_opts;

/* One command-specific option: a long name, whether it takes an argument,
 * and the value handed to the callback (a short option letter, or >= 256
 * for long-only options). */
typedef struct cr_cli_opt {
	const char *name;
	bool has_arg;
	int val;
} cr_cli_opt;

/* Handles one command-specific option; returns 0, or -1 after printing a
 * usage error (cr_cli_usage_error). */
typedef int (*cr_cli_opt_fn)(void *ctx, int val, const char *arg);

/* Parses argv (argv[0] is the command's own name) for --host EP, --json,
 * -h/--help and the `extra` options (NULL-name terminated, at most 12).
 * `cmd` names the command in messages ("cleanroom sandbox ls"), `usage` is
 * printed after "Usage: " for --help. Options and operands may be mixed;
 * operands are moved to the end (GNU getopt). Returns the index of the
 * first operand, -1 after a usage error (printed; exit 2), or -2 after
 * --help (exit 0). */
int cr_cli_parse_opts(int argc, char **argv, const char *cmd, const char *usage, cr_cli_opts *o,
		      const cr_cli_opt *extra, cr_cli_opt_fn on_opt, void *ctx);

/* Maps the result of cr_cli_parse_opts that is not an operand index to the
 * process exit code (-2 -> 0, -1 -> 2). */
int cr_cli_parse_exit(int parsed);

/* ---- tables ---- */

/* An aligned text table: a header row and rows of cells, columns separated
 * by two spaces, the last column not padded. Cells are copied; control
 * characters (which a server or a workload could use to rewrite the
 * terminal) are shown as '?'. Widths count UTF-8 code points. */
typedef struct cr_table {
	size_t n_cols;
	char **cells;  /* row-major; row 0 is the header */
	size_t n_rows; /* rows including the header */
	size_t cap;
} cr_table;

/* Starts a table with n_cols columns named by the n_cols strings of header. */
void cr_table_init(cr_table *t, size_t n_cols, const char *const *header);
/* Adds one row of n_cols cells (a NULL cell prints as "-"). */
void cr_table_add(cr_table *t, const char *const *row);
void cr_table_print(const cr_table *t, FILE *out);
void cr_table_clear(cr_table *t);

/* Prints "key:<pad>value" lines with the values aligned, for `get`-style
 * output: keys and values alternate in kv (n_pairs pairs); a NULL value
 * skips its line, an empty key continues the previous field on a new line.
 * Values are sanitised like table cells. */
void cr_print_fields(FILE *out, const char *const *kv, size_t n_pairs);

/* Copies s with control characters replaced by '?' (owned string). */
char *cr_fmt_sanitize(const char *s);

/* ---- times ---- */

/* Seconds since the epoch of a Timestamp; 0 when unset (NULL or zero). */
int64_t cr_ts_seconds(const Google__Protobuf__Timestamp *ts);

/* A duration as at most two units: "0s", "45s", "12m3s", "5h2m", "3d4h". */
void cr_fmt_duration(char *buf, size_t n, int64_t seconds);

/* How long ago `then` was at `now`: "12s ago", "5m ago", "3h ago", "2d ago"
 * (one unit, rounded down), "in 5m" for a time in the future, "-" when then
 * is 0 (unset). */
void cr_fmt_age(char *buf, size_t n, int64_t now, int64_t then);

/* A Timestamp as RFC 3339 UTC with second precision
 * ("2025-01-02T03:04:05Z"), "-" when unset. */
void cr_fmt_time(char *buf, size_t n, const Google__Protobuf__Timestamp *ts);

/* ---- values ---- */

/* An enum value as users read it: its name in lower case without the
 * enum's own prefix (SandboxStatus READY: "SANDBOX_STATUS_READY" ->
 * "ready", ExecutionStatus "EXECUTION_STATUS_TIMED_OUT" -> "timed_out");
 * "unknown(N)" for a value the descriptor does not list. */
void cr_fmt_enum(char *buf, size_t n, const ProtobufCEnumDescriptor *d, int value);

/* The first 12 hex digits of "sha256:<hex>" ("" stays "-"). */
void cr_fmt_short_hash(char *buf, size_t n, const char *hash);

/* argv as one line a shell would read back: words made only of safe
 * characters as they are, others single-quoted. Owned string. */
char *cr_fmt_argv(char *const *argv, size_t argc);

/* A size in bytes as "512 B", "1.5 KiB", "3.0 MiB", "2.0 GiB". */
void cr_fmt_bytes(char *buf, size_t n, uint64_t bytes);

/* Parses a signal given as a number ("9") or a name ("KILL", "SIGKILL",
 * "sigterm"); returns the number, or -1 when it is neither. */
int cr_parse_signal(const char *s);

/* ---- output ---- */

/* Prints msg as one line of proto3 JSON (cr_pbjson_encode_text) on stdout.
 * Returns 0, or -1 after printing the error for `cmd`. */
int cr_cli_print_json(const char *cmd, const ProtobufCMessage *msg);

/* Prints the error line of spec §8.1 on stderr:
 *   <cmd>: error[<reason_code>]: <message>
 *   hint: <hint>            (when hint is not NULL)
 * Control characters in message and hint are shown as '?'. */
void cr_cli_print_error(const char *cmd, const char *reason_code, const char *message, const char *hint);
