/* SPDX-License-Identifier: Apache-2.0 */
/* cache_tool.c -- test-only front-end to src/cache, one subcommand per
 * library call, for tests/integration/test_cache_cmd.py to build caches the
 * way a gateway would.
 *
 *   cache-tool put DIR KEY TEXT [TTL [FETCHED_AT [LAST_USED_AT]]]   prints the blob name
 *   cache-tool blob DIR TEXT                                        an unreferenced blob; prints its name
 *   cache-tool counters DIR HITS MISSES BYTES_SERVED UPSTREAM_REQUESTS UPSTREAM_MS
 *   cache-tool lock DIR KEY          takes the key's lock, prints "locked", holds it until stdin ends
 *
 * Exits 0, 1 on a library error (message on stderr), 2 on bad usage. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cache/cache.h"

static int usage(void)
{
	fprintf(stderr, "usage: cache-tool put|blob|counters|lock DIR ARGS...\n");
	return 2;
}

static int failed(cr_error *err)
{
	fprintf(stderr, "cache-tool: %s\n", err ? err->msg : "failed");
	cr_error_free(err);
	return 1;
}

static int64_t num(const char *s)
{
	char *end;
	long long v = strtoll(s, &end, 10);
	if (!*s || *end) {
		fprintf(stderr, "cache-tool: '%s' is not a number\n", s);
		exit(2);
	}
	return v;
}

static int write_blob(cr_cache *c, const char *text, char sha[CR_SHA256_HEX_LEN + 1], cr_error **err)
{
	cr_cache_writer *w = cr_cache_writer_new(c, CR_HASH_SHA512, 0, err);
	if (!w)
		return -1;
	if (cr_cache_writer_write(w, text, strlen(text), err) < 0) {
		cr_cache_writer_abort(w);
		return -1;
	}
	return cr_cache_writer_commit(w, sha, err);
}

static int do_put(cr_cache *c, int argc, char **argv)
{
	char sha[CR_SHA256_HEX_LEN + 1];
	cr_error *err = NULL;
	if (argc < 5)
		return usage();
	if (write_blob(c, argv[4], sha, &err) < 0)
		return failed(err);
	cr_cache_entry e = {.key = argv[3],
			    .upstream = argv[3],
			    .content_type = (char *)"application/octet-stream",
			    .ttl_s = argc > 5 ? num(argv[5]) : 0,
			    .fetched_at = argc > 6 ? num(argv[6]) : (int64_t)time(NULL),
			    .last_used_at = argc > 7 ? num(argv[7]) : 0};
	memcpy(e.blob, sha, sizeof(sha));
	if (cr_cache_put(c, &e, &err) < 0)
		return failed(err);
	puts(sha);
	return 0;
}

static int do_blob(cr_cache *c, int argc, char **argv)
{
	char sha[CR_SHA256_HEX_LEN + 1];
	cr_error *err = NULL;
	if (argc != 4)
		return usage();
	if (write_blob(c, argv[3], sha, &err) < 0)
		return failed(err);
	puts(sha);
	return 0;
}

static int do_counters(cr_cache *c, int argc, char **argv)
{
	cr_error *err = NULL;
	if (argc != 8)
		return usage();
	cr_cache_counters d = {.hits = (uint64_t)num(argv[3]),
			       .misses = (uint64_t)num(argv[4]),
			       .bytes_served = (uint64_t)num(argv[5]),
			       .upstream_requests = (uint64_t)num(argv[6]),
			       .upstream_ms_total = (uint64_t)num(argv[7])};
	return cr_cache_counters_add(c, &d, &err) < 0 ? failed(err) : 0;
}

static int do_lock(cr_cache *c, int argc, char **argv)
{
	cr_error *err = NULL;
	char b[64];
	if (argc != 4)
		return usage();
	int fd = cr_cache_lock_try(c, argv[3], &err);
	if (fd == -2) {
		fprintf(stderr, "cache-tool: '%s' is locked by another holder\n", argv[3]);
		return 1;
	}
	if (fd < 0)
		return failed(err);
	puts("locked");
	fflush(stdout);
	while (read(0, b, sizeof(b)) > 0)
		;
	cr_cache_unlock(c, fd);
	return 0;
}

static const struct {
	const char *name;
	int (*run)(cr_cache *c, int argc, char **argv);
} commands[] = {
	{"put", do_put},
	{"blob", do_blob},
	{"counters", do_counters},
	{"lock", do_lock},
};

int main(int argc, char **argv)
{
	if (argc < 3)
		return usage();
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(argv[1], commands[i].name) != 0)
			continue;
		cr_cache *c = NULL;
		cr_error *err = NULL;
		if (cr_cache_open(argv[2], NULL, &c, &err) < 0)
			return failed(err);
		int rc = commands[i].run(c, argc, argv);
		cr_cache_close(c);
		return rc;
	}
	return usage();
}
