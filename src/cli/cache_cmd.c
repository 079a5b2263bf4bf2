/* SPDX-License-Identifier: Apache-2.0 */
/* cache_cmd.c -- `cleanroom cache ls|stats|gc|verify`: inspecting and
 * maintaining the registry content cache the gateways share (src/cache/,
 * docs/internals/cache.md) directly on disk, without a server.
 *
 * The cache belongs to the gateways' unprivileged user. Run as root on a
 * directory another user owns, the command first becomes that user
 * (setgroups, setresgid, setresuid to the directory's owner and group), so
 * that nothing it creates -- SQLite's index.db-wal and -shm, lock files,
 * temp files -- is root-owned and unusable by the gateways afterwards. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cache/cache.h"
#include "cli/cli.h"
#include "cli/output.h"
#include "server/http.h"
#include "util/cleanup.h"
#include "util/utf8.h"
#include "util/xalloc.h"

#define PROG "cleanroom cache"

enum { OPT_CACHE_DIR = 256, OPT_MAX_BYTES };

typedef struct cache_args {
	const char *cmd;    /* "cleanroom cache ls", for messages */
	const char *dir;    /* --cache-dir */
	uint64_t max_bytes; /* --max-bytes (gc); 0 = the default bound */
	bool json;
	const char *prefix; /* ls */
	char *path;         /* the cache directory used (owned) */
} cache_args;

static void cache_args_clear(cache_args *a)
{
	free(a->path);
}
#define cleanup_args __attribute__((cleanup(cache_args_clear)))

/* "10G", "512MiB", "4096": bytes, with binary K/M/G/T suffixes. */
static int parse_size(const char *s, uint64_t *out)
{
	static const char units[] = "kmgt";
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (!*s || *s == '-' || end == s || errno)
		return -1;
	const char *u = *end ? strchr(units, end[0] | 0x20) : NULL;
	if (*end && !u)
		return -1;
	if (u) {
		const char *rest = end + 1;
		if (*rest && strcmp(rest, "iB") != 0 && strcmp(rest, "B") != 0)
			return -1;
		for (int i = 0; i <= u - units; i++) {
			if (v > UINT64_MAX / 1024)
				return -1;
			v *= 1024;
		}
	}
	*out = v;
	return v ? 0 : -1;
}

static int on_opt(void *ctx, int val, const char *arg)
{
	cache_args *a = ctx;
	switch (val) {
	case OPT_CACHE_DIR: a->dir = arg; return 0;
	case OPT_MAX_BYTES:
		if (parse_size(arg, &a->max_bytes) < 0)
			return cr_cli_usage_error(
				       a->cmd, "--max-bytes takes a positive size (e.g. 5G), not '%s'", arg),
			       -1;
		return 0;
	default: return -1;
	}
}

/* Parses the options of one subcommand; returns the index of the first
 * operand, or -1 / -2 (cr_cli_parse_exit). */
static int parse(int argc, char **argv, cache_args *a, const char *usage, bool gc)
{
	static const cr_cli_opt common[] = {{"cache-dir", true, OPT_CACHE_DIR}, {0}};
	static const cr_cli_opt with_bound[] = {
		{"cache-dir", true, OPT_CACHE_DIR}, {"max-bytes", true, OPT_MAX_BYTES}, {0}};
	cr_cli_opts o = {0};
	int first = cr_cli_parse_opts(argc, argv, a->cmd, usage, &o, gc ? with_bound : common, on_opt, a);
	if (first < 0)
		return first;
	if (o.host)
		return cr_cli_usage_error(a->cmd,
					  "--host is not an option here: the cache is read on this machine"),
		       -1;
	a->json = o.json;
	return first;
}

static int fail(const cache_args *a, cr_error *err, const char *hint)
{
	cr_cli_print_error(a->cmd, cr_reason_name(err->reason), err->msg, hint);
	cr_error_free(err);
	return CR_EXIT_FAIL;
}

static int fail_msg(const cache_args *a, cr_reason reason, const char *hint, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int fail_msg(const cache_args *a, cr_reason reason, const char *hint, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	cleanup_free char *msg = cr_vasprintf(fmt, ap);
	va_end(ap);
	cr_cli_print_error(a->cmd, cr_reason_name(reason), msg, hint);
	return CR_EXIT_FAIL;
}

/* Opens the cache (read-only unless `write`). A directory without an index
 * yet (created, never used) is an empty cache: *c stays NULL. Returns 0 or
 * the exit code after printing the error. */
static int open_cache(cache_args *a, bool write, cr_cache **c)
{
	if (a->dir) {
		a->path = cr_xstrdup(a->dir);
	} else {
		cleanup_free char *state = cr_server_default_state_dir();
		a->path = cr_asprintf("%s/cache", state);
	}
	struct stat sb;
	*c = NULL;
	if (stat(a->path, &sb) < 0)
		return fail_msg(a, CR_REASON_USAGE_INVALID,
				errno == ENOENT
					? "the server creates it when a sandbox first uses a registry; "
					  "use --cache-dir DIR for another cache"
					: NULL,
				"cache directory '%s': %s", a->path, strerror(errno));
	if (!S_ISDIR(sb.st_mode))
		return fail_msg(a, CR_REASON_USAGE_INVALID, NULL, "cache directory '%s': %s", a->path,
				strerror(ENOTDIR));
	cr_error *err = NULL;
	int switched = cr_cache_become_owner(a->path, &sb, &err); /* see the file comment */
	if (switched < 0)
		return fail(a, err, NULL);
	cleanup_free char *index = cr_asprintf("%s/index.db", a->path);
	if (!write && access(index, F_OK) < 0 && errno == ENOENT)
		return 0;
	cr_cache_opts o = {.max_bytes = a->max_bytes, .read_only = !write};
	if (cr_cache_open(a->path, &o, c, &err) < 0)
		return fail(a, err,
			    switched && err->status == EACCES ? "the command runs as the cache directory's "
								"owner, which must be able to reach "
								"and write every part of the cache"
							      : NULL);
	return 0;
}

/* A JSON string of bytes that may not be UTF-8 (keys come from requests). */
static json_t *jstr(const char *s)
{
	json_t *j = json_string(s ? s : "");
	if (j)
		return j;
	cleanup_free char *copy = cr_xstrdup(s);
	size_t n = strlen(copy);
	for (size_t i = 0; i < n;) {
		size_t l = cr_utf8_seq((const unsigned char *)copy + i, n - i);
		if (l == 0)
			copy[i++] = '?';
		else
			i += l;
	}
	return json_string(copy);
}

static int print_json(const cache_args *a, json_t *doc)
{
	char *text = json_dumps(doc, JSON_COMPACT);
	json_decref(doc);
	if (!text)
		return fail_msg(a, CR_REASON_INTERNAL, NULL, "encode JSON output");
	puts(text);
	free(text);
	return CR_EXIT_OK;
}

/* ---- ls ---- */

typedef struct ls_ctx {
	cr_table t;
	json_t *arr;
	int64_t now;
} ls_ctx;

static json_t *entry_json(const cr_cache_entry *e, int64_t now)
{
	json_t *o = json_object();
	json_object_set_new(o, "key", jstr(e->key));
	json_object_set_new(o, "upstream", jstr(e->upstream));
	json_object_set_new(o, "size", json_integer((json_int_t)e->size));
	json_object_set_new(o, "blob", json_string(e->blob));
	json_object_set_new(o, "fetched_at", json_integer(e->fetched_at));
	json_object_set_new(o, "ttl_s", json_integer(e->ttl_s));
	json_object_set_new(o, "fresh", json_boolean(cr_cache_entry_fresh(e, now)));
	json_object_set_new(o, "last_used_at", json_integer(e->last_used_at));
	json_object_set_new(o, "etag", jstr(e->etag));
	json_object_set_new(o, "last_modified", jstr(e->last_modified));
	json_object_set_new(o, "content_type", jstr(e->content_type));
	json_object_set_new(o, "integrity", jstr(e->integrity));
	return o;
}

static int ls_row(void *ud, const cr_cache_entry *e)
{
	ls_ctx *l = ud;
	if (l->arr) {
		json_array_append_new(l->arr, entry_json(e, l->now));
		return 0;
	}
	char size[32], age[32], blob[16];
	cr_fmt_bytes(size, sizeof(size), e->size);
	cr_fmt_age(age, sizeof(age), l->now, e->fetched_at);
	snprintf(blob, sizeof(blob), "%.12s", e->blob);
	cr_table_add(&l->t, (const char *const[]){e->key, size, age,
						  cr_cache_entry_fresh(e, l->now) ? "fresh" : "stale", blob});
	return 0;
}

/* Parses the command line (at most max_operands operands; the first one is
 * the ls prefix) and opens the cache. Returns -1 to go on, else the exit
 * code after printing the error. */
static int begin(int argc, char **argv, cache_args *a, const char *usage, bool gc, int max_operands,
		 bool write, cr_cache **c)
{
	*c = NULL;
	int first = parse(argc, argv, a, usage, gc);
	if (first < 0)
		return cr_cli_parse_exit(first);
	if (argc - first > max_operands)
		return cr_cli_usage_error(a->cmd, "unexpected argument '%s'", argv[first + max_operands]);
	a->prefix = max_operands && first < argc ? argv[first] : "";
	int rc = open_cache(a, write, c);
	return rc ? rc : -1;
}

static int cache_ls(int argc, char **argv)
{
	cleanup_args cache_args a = {.cmd = PROG " ls"};
	cleanup_cache cr_cache *c = NULL;
	int rc = begin(argc, argv, &a, PROG " ls [PREFIX] [--cache-dir DIR] [--json]", false, 1, false, &c);
	if (rc >= 0)
		return rc;
	ls_ctx l = {.now = (int64_t)time(NULL), .arr = a.json ? json_array() : NULL};
	if (!a.json)
		cr_table_init(&l.t, 5, (const char *const[]){"KEY", "SIZE", "AGE", "STATE", "BLOB"});
	cr_error *err = NULL;
	if (c && cr_cache_list(c, a.prefix, ls_row, &l, &err) < 0) {
		json_decref(l.arr);
		cr_table_clear(&l.t);
		return fail(&a, err, NULL);
	}
	if (a.json)
		return print_json(&a, json_pack("{s:o, s:o}", "cache_dir", jstr(a.path), "entries", l.arr));
	cr_table_print(&l.t, stdout);
	cr_table_clear(&l.t);
	return CR_EXIT_OK;
}

/* ---- stats ---- */

static json_t *counters_json(const cr_cache_counters *k)
{
	return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "hits", (json_int_t)k->hits,
			 "misses", (json_int_t)k->misses, "stale_served", (json_int_t)k->stale_served,
			 "revalidated", (json_int_t)k->revalidated, "bytes_served",
			 (json_int_t)k->bytes_served, "bytes_fetched", (json_int_t)k->bytes_fetched,
			 "upstream_requests", (json_int_t)k->upstream_requests, "upstream_ms_total",
			 (json_int_t)k->upstream_ms_total, "upstream_errors", (json_int_t)k->upstream_errors,
			 "integrity_failures", (json_int_t)k->integrity_failures);
}

static json_t *stats_json(const char *dir, const cr_cache_stats *s)
{
	return json_pack("{s:o, s:I, s:I, s:I, s:I, s:o}", "cache_dir", jstr(dir), "entries",
			 (json_int_t)s->entries, "blobs", (json_int_t)s->blobs, "blob_bytes",
			 (json_int_t)s->blob_bytes, "max_bytes", (json_int_t)s->max_bytes, "counters",
			 counters_json(&s->counters));
}

static void print_stats(const char *dir, const cr_cache_stats *s)
{
	const cr_cache_counters *k = &s->counters;
	char v[14][48];
	snprintf(v[0], sizeof(v[0]), "%" PRIu64, s->entries);
	char bytes[24];
	cr_fmt_bytes(bytes, sizeof(bytes), s->blob_bytes);
	snprintf(v[1], sizeof(v[1]), "%" PRIu64 " (%s)", s->blobs, bytes);
	cr_fmt_bytes(v[2], sizeof(v[2]), s->max_bytes);
	snprintf(v[3], sizeof(v[3]), "%" PRIu64, k->hits);
	snprintf(v[4], sizeof(v[4]), "%" PRIu64, k->misses);
	if (k->hits + k->misses)
		snprintf(v[5], sizeof(v[5]), "%.1f%%",
			 100.0 * (double)k->hits / (double)(k->hits + k->misses));
	else
		snprintf(v[5], sizeof(v[5]), "-");
	snprintf(v[6], sizeof(v[6]), "%" PRIu64, k->stale_served);
	snprintf(v[7], sizeof(v[7]), "%" PRIu64, k->revalidated);
	cr_fmt_bytes(v[8], sizeof(v[8]), k->bytes_served);
	cr_fmt_bytes(v[9], sizeof(v[9]), k->bytes_fetched);
	snprintf(v[10], sizeof(v[10]), "%" PRIu64, k->upstream_requests);
	if (k->upstream_requests)
		snprintf(v[11], sizeof(v[11]), "%" PRIu64 " ms mean",
			 k->upstream_ms_total / k->upstream_requests);
	else
		snprintf(v[11], sizeof(v[11]), "-");
	snprintf(v[12], sizeof(v[12]), "%" PRIu64, k->upstream_errors);
	snprintf(v[13], sizeof(v[13]), "%" PRIu64, k->integrity_failures);
	const char *kv[] = {"cache",
			    dir,
			    "entries",
			    v[0],
			    "blobs",
			    v[1],
			    "bound",
			    v[2],
			    "hits",
			    v[3],
			    "misses",
			    v[4],
			    "hit ratio",
			    v[5],
			    "stale served",
			    v[6],
			    "revalidated",
			    v[7],
			    "bytes served",
			    v[8],
			    "bytes fetched",
			    v[9],
			    "upstream requests",
			    v[10],
			    "upstream latency",
			    v[11],
			    "upstream errors",
			    v[12],
			    "integrity failures",
			    v[13]};
	cr_print_fields(stdout, kv, sizeof(kv) / sizeof(kv[0]) / 2);
}

static int cache_stats(int argc, char **argv)
{
	cleanup_args cache_args a = {.cmd = PROG " stats"};
	cleanup_cache cr_cache *c = NULL;
	int rc = begin(argc, argv, &a, PROG " stats [--cache-dir DIR] [--json]", false, 0, false, &c);
	if (rc >= 0)
		return rc;
	cr_cache_stats s = {.max_bytes = CR_CACHE_DEFAULT_LIMIT};
	cr_error *err = NULL;
	if (c && cr_cache_stats_get(c, &s, &err) < 0)
		return fail(&a, err, NULL);
	if (a.json)
		return print_json(&a, stats_json(a.path, &s));
	print_stats(a.path, &s);
	return CR_EXIT_OK;
}

/* ---- gc ---- */

static int cache_gc(int argc, char **argv)
{
	cleanup_args cache_args a = {.cmd = PROG " gc"};
	cleanup_cache cr_cache *c = NULL;
	int rc = begin(argc, argv, &a, PROG " gc [--max-bytes SIZE] [--cache-dir DIR] [--json]", true, 0,
		       true, &c);
	if (rc >= 0)
		return rc;
	cr_cache_gc_result r;
	cr_cache_stats s;
	cr_error *err = NULL;
	if (cr_cache_gc(c, a.max_bytes, &r, &err) < 0 || cr_cache_stats_get(c, &s, &err) < 0)
		return fail(&a, err, NULL);
	if (a.json)
		return print_json(
			&a, json_pack("{s:o, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "cache_dir",
				      jstr(a.path), "tmp_removed", (json_int_t)r.tmp_removed, "blobs_removed",
				      (json_int_t)r.blobs_removed, "bytes_freed", (json_int_t)r.bytes_freed,
				      "entries_evicted", (json_int_t)r.entries_evicted, "entries",
				      (json_int_t)s.entries, "blobs", (json_int_t)s.blobs, "blob_bytes",
				      (json_int_t)s.blob_bytes, "max_bytes", (json_int_t)s.max_bytes));
	char freed[24], now[24], bound[24];
	cr_fmt_bytes(freed, sizeof(freed), r.bytes_freed);
	cr_fmt_bytes(now, sizeof(now), s.blob_bytes);
	cr_fmt_bytes(bound, sizeof(bound), s.max_bytes);
	printf("removed %" PRIu64 " temp file(s) and %" PRIu64 " blob(s) (%s); evicted %" PRIu64
	       " entry(ies)\n",
	       r.tmp_removed, r.blobs_removed, freed, r.entries_evicted);
	printf("now %" PRIu64 " entries, %" PRIu64 " blobs, %s (bound %s)\n", s.entries, s.blobs, now, bound);
	return CR_EXIT_OK;
}

/* ---- verify ---- */

typedef struct verify_out {
	json_t *problems;
	cr_table t;
	bool json;
} verify_out;

static void on_problem(void *ud, const char *blob, const char *problem)
{
	verify_out *v = ud;
	if (v->json)
		json_array_append_new(v->problems,
				      json_pack("{s:s, s:o}", "blob", blob, "problem", jstr(problem)));
	else
		cr_table_add(&v->t, (const char *const[]){blob, problem});
}

static int cache_verify(int argc, char **argv)
{
	cleanup_args cache_args a = {.cmd = PROG " verify"};
	cleanup_cache cr_cache *c = NULL;
	int rc = begin(argc, argv, &a, PROG " verify [--cache-dir DIR] [--json]", false, 0, true, &c);
	if (rc >= 0)
		return rc;
	verify_out v = {.json = a.json, .problems = a.json ? json_array() : NULL};
	if (!a.json)
		cr_table_init(&v.t, 2, (const char *const[]){"BLOB", "PROBLEM"});
	cr_cache_verify_result r;
	cr_error *err = NULL;
	if (cr_cache_verify(c, on_problem, &v, &r, &err) < 0) {
		json_decref(v.problems);
		cr_table_clear(&v.t);
		return fail(&a, err, NULL);
	}
	rc = r.bad + r.missing ? CR_EXIT_FAIL : CR_EXIT_OK;
	if (a.json) {
		print_json(&a,
			   json_pack("{s:o, s:I, s:I, s:I, s:o}", "cache_dir", jstr(a.path), "blobs_checked",
				     (json_int_t)r.blobs_checked, "bad", (json_int_t)r.bad, "missing",
				     (json_int_t)r.missing, "problems", v.problems));
		return rc;
	}
	if (v.t.n_rows > 1)
		cr_table_print(&v.t, stdout);
	cr_table_clear(&v.t);
	printf("checked %" PRIu64 " blob(s): %" PRIu64 " bad, %" PRIu64 " missing%s\n", r.blobs_checked,
	       r.bad, r.missing,
	       rc ? " (removed with the entries that named them; they are fetched again)" : "");
	return rc;
}

static const cr_cli_command cache_commands[] = {
	{"ls", cache_ls, "list entries (optionally those whose key starts with PREFIX)"},
	{"stats", cache_stats, "show entry and blob totals and the gateways' counters"},
	{"gc", cache_gc, "remove litter and unreferenced blobs, evict LRU entries down to the bound"},
	{"verify", cache_verify, "re-hash every blob; remove and list the damaged ones (exit 1)"},
	{NULL, NULL, NULL},
};

int cmd_cache(int argc, char **argv)
{
	if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		printf("Usage: cleanroom cache COMMAND [--cache-dir DIR] [--json] ...\n\nCommands:\n");
		cr_cli_print_commands(stdout, PROG, cache_commands);
		printf("\nThe default cache is <state dir>/cache (/var/lib/cleanroom/cache as root). Run as "
		       "root on\n"
		       "a cache another user owns, the command runs as that user.\n");
		return CR_EXIT_OK;
	}
	return cr_cli_dispatch(PROG, cache_commands, argc, argv);
}
