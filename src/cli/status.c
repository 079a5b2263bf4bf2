/* SPDX-License-Identifier: Apache-2.0 */
/* status.c -- `cleanroom status`: the server's version, endpoint, uptime,
 * counts, backends and content cache counters
 * (AdminService.GetServerStatus). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cleanroom/v1/admin.pb-c.h"
#include "cli/admin_cmds.h"
#include "cli/cli.h"
#include "cli/remote.h"
#include "util/cleanup.h"
#include "util/xalloc.h"

#define CMD   "cleanroom status"
#define USAGE CMD " [--host ENDPOINT] [--json]"

static char *backend_line(const Cleanroom__V1__BackendStatus *b)
{
	return cr_asprintf("%s (%s%s)%s%s", b->name, b->available ? "available" : "unavailable",
			   b->is_default ? ", default" : "", *b->detail ? ": " : "", b->detail);
}

#define CACHE_LINES 5

/* The content cache section: its directory (or why there is none), then,
 * when its numbers were read, sizes, hits, traffic and upstream. Fills up
 * to CACHE_LINES owned lines; returns how many. */
static size_t cache_lines(const Cleanroom__V1__ContentCacheStatus *c, char **lines)
{
	if (!c)
		return lines[0] = cr_xstrdup("unknown (the server does not report it)"), 1;
	if (!*c->cache_dir)
		return lines[0] = cr_xstrdup(*c->detail ? c->detail : "none"), 1;
	if (!c->available)
		return lines[0] = cr_asprintf("%s (unavailable: %s)", c->cache_dir, c->detail), 1;
	lines[0] = cr_asprintf("%s%s%s%s", c->cache_dir, *c->detail ? " (" : "", c->detail,
			       *c->detail ? ")" : "");
	char used[24], bound[24], served[24], fetched[24], ratio[16] = "-", mean[24] = "-";
	cr_fmt_bytes(used, sizeof(used), c->blob_bytes);
	cr_fmt_bytes(bound, sizeof(bound), c->max_bytes);
	cr_fmt_bytes(served, sizeof(served), c->bytes_served);
	cr_fmt_bytes(fetched, sizeof(fetched), c->bytes_fetched);
	if (c->hits + c->misses)
		snprintf(ratio, sizeof(ratio), "%.1f%%",
			 100.0 * (double)c->hits / (double)(c->hits + c->misses));
	if (c->upstream_requests)
		snprintf(mean, sizeof(mean), "%llu ms",
			 (unsigned long long)(c->upstream_ms_total / c->upstream_requests));
	lines[1] = cr_asprintf("%llu entries, %llu blobs, %s of %s", (unsigned long long)c->entries,
			       (unsigned long long)c->blobs, used, bound);
	lines[2] = cr_asprintf("%llu hits, %llu misses (hit ratio %s), %llu stale served, %llu revalidated",
			       (unsigned long long)c->hits, (unsigned long long)c->misses, ratio,
			       (unsigned long long)c->stale_served, (unsigned long long)c->revalidated);
	lines[3] = cr_asprintf("%s served, %s fetched", served, fetched);
	lines[4] = cr_asprintf(
		"%llu upstream requests (mean %s), %llu upstream errors, %llu integrity failures",
		(unsigned long long)c->upstream_requests, mean, (unsigned long long)c->upstream_errors,
		(unsigned long long)c->integrity_failures);
	return CACHE_LINES;
}

/* Appends one field (key "" continues the previous one). */
static void add_field(const char **kv, size_t *n, const char *key, const char *value)
{
	kv[2 * *n] = key;
	kv[2 * *n + 1] = value;
	(*n)++;
}

static void print_status(const Cleanroom__V1__ServerStatus *st)
{
	char uptime[32], started[32], active[32], running[32], seq[32];
	cr_fmt_duration(uptime, sizeof(uptime), st->uptime_seconds);
	cr_fmt_time(started, sizeof(started), st->started_at);
	snprintf(active, sizeof(active), "%u active", st->sandboxes_active);
	snprintf(running, sizeof(running), "%u running", st->executions_running);
	snprintf(seq, sizeof(seq), "%llu", (unsigned long long)st->audit_seq);
	cleanup_free char *up = cr_asprintf("%s (since %s)", uptime, started);
	size_t cap = 6 + (st->n_backends ? st->n_backends : 1) + CACHE_LINES, n = 0;
	cleanup_free const char **kv = cr_xcalloc(2 * cap, sizeof(char *));
	add_field(kv, &n, "version", st->version);
	add_field(kv, &n, "endpoint", st->endpoint);
	add_field(kv, &n, "uptime", up);
	add_field(kv, &n, "sandboxes", active);
	add_field(kv, &n, "executions", running);
	add_field(kv, &n, "audit seq", seq);
	char **lines = cr_xcalloc(st->n_backends + 1, sizeof(char *));
	for (size_t i = 0; i < st->n_backends; i++) {
		lines[i] = backend_line(st->backends[i]);
		add_field(kv, &n, i == 0 ? "backends" : "", lines[i]);
	}
	if (st->n_backends == 0)
		add_field(kv, &n, "backends", "(none)");
	char *cache[CACHE_LINES] = {0};
	size_t n_cache = cache_lines(st->content_cache, cache);
	for (size_t i = 0; i < n_cache; i++)
		add_field(kv, &n, i == 0 ? "content cache" : "", cache[i]);
	cr_print_fields(stdout, kv, n);
	for (size_t i = 0; i < st->n_backends; i++)
		free(lines[i]);
	free(lines);
	for (size_t i = 0; i < n_cache; i++)
		free(cache[i]);
}

int cmd_status(int argc, char **argv)
{
	cr_cli_opts o = {0};
	int first = cr_cli_parse_opts(argc, argv, CMD, USAGE, &o, NULL, NULL, NULL);
	if (first < 0)
		return cr_cli_parse_exit(first);
	if (first < argc)
		return cr_cli_usage_error(CMD, "unexpected argument '%s'", argv[first]);
	cr_remote r;
	if (cr_remote_open(&r, CMD, &o) < 0)
		return CR_EXIT_FAIL;
	Cleanroom__V1__GetServerStatusRequest req = CLEANROOM__V1__GET_SERVER_STATUS_REQUEST__INIT;
	ProtobufCMessage *resp = NULL;
	int rc = CR_EXIT_FAIL;
	if (cr_remote_unary(&r, CR_ADMIN_SERVICE, "GetServerStatus", &req.base,
			    &cleanroom__v1__get_server_status_response__descriptor, &resp) == 0) {
		const Cleanroom__V1__GetServerStatusResponse *s = (const void *)resp;
		if (o.json)
			rc = cr_cli_print_json(CMD, resp) == 0 ? CR_EXIT_OK : CR_EXIT_FAIL;
		else if (s->status)
			print_status(s->status), rc = CR_EXIT_OK;
		else
			cr_cli_print_error(CMD, "internal", "the server answered without a status", NULL);
		protobuf_c_message_free_unpacked(resp, NULL);
	}
	cr_remote_close(&r);
	return rc;
}
