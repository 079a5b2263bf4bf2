/* SPDX-License-Identifier: Apache-2.0 */
/* test_cache.c -- the content cache (src/cache/): the blob writer and its
 * digests (known vectors), entries and freshness, single flight across
 * processes, counters summed over several opens, gc (unreferenced blobs,
 * temp litter, LRU bound, locked keys), verify against a damaged blob,
 * listing by prefix, read-only opens, and two processes writing at once. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cache/cache.h"

static char dir[] = "/tmp/cr-cache-XXXXXX";
static char cdir[64]; /* the cache, one level below dir (created by open) */

static int setup(void **state)
{
	(void)state;
	memcpy(dir, "/tmp/cr-cache-XXXXXX", sizeof(dir));
	if (!mkdtemp(dir))
		return -1;
	snprintf(cdir, sizeof(cdir), "%s/cache", dir);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static cr_cache *open_cache(uint64_t max_bytes, bool read_only)
{
	cr_cache *c = NULL;
	cr_error *err = NULL;
	cr_cache_opts o = {.max_bytes = max_bytes, .read_only = read_only};
	if (cr_cache_open(cdir, &o, &c, &err) < 0)
		fail_msg("open: %s", err->msg);
	return c;
}

static void write_blob(cr_cache *c, const char *data, char sha[CR_SHA256_HEX_LEN + 1])
{
	cr_error *err = NULL;
	cr_cache_writer *w = cr_cache_writer_new(c, 0, 0, &err);
	if (!w)
		fail_msg("writer: %s", err->msg);
	if (cr_cache_writer_write(w, data, strlen(data), &err) < 0 ||
	    cr_cache_writer_commit(w, sha, &err) < 0)
		fail_msg("write blob: %s", err->msg);
}

static void blob_path(const char *sha, char *buf, size_t n)
{
	snprintf(buf, n, "%s/blobs/sha256/%.2s/%s", cdir, sha, sha);
}

/* Sets a file's mtime `ago` seconds in the past. */
static void age_file(const char *path, int64_t ago)
{
	struct timespec ts[2] = {{.tv_sec = time(NULL) - ago}, {.tv_sec = time(NULL) - ago}};
	assert_int_equal(utimensat(AT_FDCWD, path, ts, 0), 0);
}

static void age_blob(const char *sha, int64_t ago)
{
	char p[256];
	blob_path(sha, p, sizeof(p));
	age_file(p, ago);
}

static void put(cr_cache *c, const char *key, const char *sha, int64_t ttl, int64_t used)
{
	cr_error *err = NULL;
	cr_cache_entry e = {.key = (char *)key,
			    .upstream = (char *)"https://npm.registry.test/x",
			    .etag = (char *)"\"v1\"",
			    .content_type = (char *)"application/json",
			    .fetched_at = time(NULL),
			    .ttl_s = ttl,
			    .last_used_at = used};
	memcpy(e.blob, sha, CR_SHA256_HEX_LEN + 1);
	if (cr_cache_put(c, &e, &err) < 0)
		fail_msg("put %s: %s", key, err->msg);
}

static int count_files(const char *sub)
{
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "find '%s/%s' -type f | wc -l", cdir, sub);
	FILE *f = popen(cmd, "r");
	int n = -1;
	assert_non_null(f);
	assert_int_equal(fscanf(f, "%d", &n), 1);
	pclose(f);
	return n;
}

static void hex(const uint8_t *p, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", p[i]);
}

static void test_writer_digests(void **state)
{
	(void)state;
	cr_cache *c = open_cache(0, false);
	cr_error *err = NULL;
	char buf[200], sha[CR_SHA256_HEX_LEN + 1];
	cr_cache_writer *w = cr_cache_writer_new(c, CR_HASH_SHA1 | CR_HASH_SHA384 | CR_HASH_SHA512, 0, &err);
	assert_non_null(w);
	assert_int_equal(cr_cache_writer_write(w, "a", 1, &err), 0);
	/* Digests so far, and writing goes on after a look. */
	assert_string_equal(cr_cache_writer_digests(w)->sha256,
			    "ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb");
	assert_int_equal(cr_cache_writer_write(w, "bc", 2, &err), 0);
	const cr_digests *d = cr_cache_writer_digests(w);
	assert_int_equal(d->size, 3);
	assert_int_equal(d->have, CR_HASH_SHA1 | CR_HASH_SHA384 | CR_HASH_SHA512);
	assert_string_equal(d->sha256, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	hex(d->sha1, 20, buf);
	assert_string_equal(buf, "a9993e364706816aba3e25717850c26c9cd0d89d");
	hex(d->sha384, 48, buf);
	assert_string_equal(buf, "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded163"
				 "1a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7");
	hex(d->sha512, 64, buf);
	assert_string_equal(buf, "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
				 "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f");
	assert_int_equal(count_files("tmp"), 1);
	assert_int_equal(cr_cache_writer_commit(w, sha, &err), 0);
	assert_string_equal(sha, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	assert_int_equal(count_files("tmp"), 0);

	/* The blob: read-only, its content, readable through blob_open. */
	struct stat sb;
	blob_path(sha, buf, sizeof(buf));
	assert_int_equal(stat(buf, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0444);
	uint64_t size = 0;
	int fd = cr_cache_blob_open(c, sha, &size, &err);
	assert_true(fd >= 0);
	assert_int_equal(size, 3);
	char got[8] = {0};
	assert_int_equal(read(fd, got, sizeof(got)), 3);
	assert_string_equal(got, "abc");
	close(fd);
	assert_true(cr_cache_blob_exists(c, sha));

	/* Only sha256 unless asked; an aborted writer leaves nothing. */
	w = cr_cache_writer_new(c, 0, 0, &err);
	assert_int_equal(cr_cache_writer_digests(w)->have, 0);
	assert_int_equal(cr_cache_writer_write(w, "zz", 2, &err), 0);
	cr_cache_writer_abort(w);
	cr_cache_writer_abort(NULL);
	assert_int_equal(count_files("tmp"), 0);

	/* Directory modes. */
	assert_int_equal(stat(cdir, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0700);
	snprintf(buf, sizeof(buf), "%s/blobs/sha256/ba", cdir);
	assert_int_equal(stat(buf, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0700);

	/* Missing and malformed names. */
	assert_int_equal(
		cr_cache_blob_open(c, "0000000000000000000000000000000000000000000000000000000000000000",
				   &size, &err),
		-1);
	assert_int_equal(err->status, ENOENT);
	assert_int_equal(err->reason, CR_REASON_INTERNAL);
	assert_non_null(strstr(err->msg, "/blobs/sha256/00/0000"));
	cr_error_free(err);
	err = NULL;
	assert_int_equal(cr_cache_blob_open(c, "../../etc/passwd", &size, &err), -1);
	cr_error_free(err);
	assert_false(cr_cache_blob_exists(c, "nothex"));
	cr_cache_close(c);
}

static void test_identical_blob_twice(void **state)
{
	(void)state;
	cr_cache *c = open_cache(0, false);
	char a[CR_SHA256_HEX_LEN + 1], b[CR_SHA256_HEX_LEN + 1];
	write_blob(c, "same content", a);
	int fd = cr_cache_blob_open(c, a, NULL, NULL);
	assert_true(fd >= 0);
	write_blob(c, "same content", b);
	assert_string_equal(a, b);
	assert_int_equal(count_files("blobs"), 1);
	char got[32] = {0};
	assert_int_equal(read(fd, got, sizeof(got)), 12); /* a reader of the first keeps it */
	close(fd);
	cr_cache_stats s;
	assert_int_equal(cr_cache_stats_get(c, &s, NULL), 0);
	assert_int_equal(s.blobs, 1);
	assert_int_equal(s.blob_bytes, 12);
	cr_cache_close(c);
}

static void test_size_cap(void **state)
{
	(void)state;
	cr_cache *c = open_cache(0, false);
	cr_error *err = NULL;
	cr_cache_writer *w = cr_cache_writer_new(c, 0, 4, &err);
	assert_int_equal(cr_cache_writer_write(w, "abc", 3, &err), 0);
	assert_int_equal(cr_cache_writer_write(w, "de", 2, &err), -1);
	assert_int_equal(err->status, EFBIG);
	assert_non_null(strstr(err->msg, "larger than 4 bytes"));
	cr_error_free(err);
	err = NULL;
	assert_int_equal(cr_cache_writer_commit(w, NULL, &err), -1); /* w freed */
	cr_error_free(err);
	assert_int_equal(count_files("tmp"), 0);
	assert_int_equal(count_files("blobs"), 0);
	cr_cache_close(c);
}

static void test_entries(void **state)
{
	(void)state;
	cr_cache *c = open_cache(0, false);
	cr_error *err = NULL;
	char sha[CR_SHA256_HEX_LEN + 1], sha2[CR_SHA256_HEX_LEN + 1];
	const char *key = "npm:doc:npm.registry.test/@scope%2fname:abbrev";
	cr_cache_entry e;
	assert_int_equal(cr_cache_get(c, key, &e, &err), 0);

	write_blob(c, "{\"name\":\"x\"}", sha);
	put(c, key, sha, 300, 0);
	assert_int_equal(cr_cache_get(c, key, &e, &err), 1);
	assert_string_equal(e.key, key);
	assert_string_equal(e.upstream, "https://npm.registry.test/x");
	assert_string_equal(e.etag, "\"v1\"");
	assert_string_equal(e.last_modified, ""); /* NULL stored as "" */
	assert_string_equal(e.integrity, "");
	assert_string_equal(e.blob, sha);
	assert_int_equal(e.size, 12);
	assert_int_equal(e.ttl_s, 300);
	assert_true(e.last_used_at >= time(NULL) - 5);
	int64_t now = time(NULL);
	assert_true(cr_cache_entry_fresh(&e, now));
	assert_false(cr_cache_entry_fresh(&e, e.fetched_at + 300));
	cr_cache_entry_clear(&e);

	/* touch (a 304) moves fetched_at. */
	assert_int_equal(cr_cache_touch(c, key, 1000, &err), 0);
	assert_int_equal(cr_cache_get(c, key, &e, &err), 1);
	assert_int_equal(e.fetched_at, 1000);
	assert_false(cr_cache_entry_fresh(&e, now));
	e.ttl_s = 0; /* immutable artifacts are fresh forever */
	assert_true(cr_cache_entry_fresh(&e, now));
	cr_cache_entry_clear(&e);

	/* put replaces. */
	write_blob(c, "{\"name\":\"y\"}", sha2);
	put(c, key, sha2, 0, 0);
	assert_int_equal(cr_cache_get(c, key, &e, &err), 1);
	assert_string_equal(e.blob, sha2);
	cr_cache_entry_clear(&e);

	/* remove. */
	assert_int_equal(cr_cache_remove(c, key, &err), 0);
	assert_int_equal(cr_cache_get(c, key, &e, &err), 0);

	/* A put needs its blob; keys are capped. */
	cr_cache_entry bad = {.key = (char *)"k",
			      .blob = "1111111111111111111111111111111111111111111111111111111111111111"};
	assert_int_equal(cr_cache_put(c, &bad, &err), -1);
	assert_int_equal(err->status, ENOENT);
	cr_error_free(err);
	err = NULL;
	char *longkey = malloc(CR_CACHE_KEY_MAX + 2);
	memset(longkey, 'k', CR_CACHE_KEY_MAX + 1);
	longkey[CR_CACHE_KEY_MAX + 1] = '\0';
	assert_int_equal(cr_cache_get(c, longkey, &e, &err), -1);
	assert_int_equal(err->status, ENAMETOOLONG);
	cr_error_free(err);
	err = NULL;
	assert_int_equal(cr_cache_lock_try(c, longkey, &err), -1);
	cr_error_free(err);
	err = NULL;
	longkey[CR_CACHE_KEY_MAX] = '\0'; /* exactly the cap is fine */
	put(c, longkey, sha2, 0, 0);
	assert_int_equal(cr_cache_get(c, longkey, &e, &err), 1);
	cr_cache_entry_clear(&e);
	free(longkey);
	assert_int_equal(cr_cache_get(c, "", &e, &err), -1);
	cr_error_free(err);
	cr_cache_close(c);
}

static void test_missing_blob_drops_row(void **state)
{
	(void)state;
	cr_cache *c = open_cache(0, false);
	char sha[CR_SHA256_HEX_LEN + 1], p[256];
	write_blob(c, "tarball bytes", sha);
	put(c, "npm:tgz:npm.registry.test/x/-/x-1.0.0.tgz", sha, 0, 0);
	blob_path(sha, p, sizeof(p));
	assert_int_equal(unlink(p), 0);
	cr_cache_entry e;
	assert_int_equal(cr_cache_get(c, "npm:tgz:npm.registry.test/x/-/x-1.0.0.tgz", &e, NULL), 0);
	cr_cache_stats s;
	assert_int_equal(cr_cache_stats_get(c, &s, NULL), 0);
	assert_int_equal(s.entries, 0); /* the row was dropped, not just hidden */
	assert_int_equal(s.blobs, 0);
	cr_cache_close(c);
}

/* Waits for the child and returns its exit status. */
static int child_status(pid_t pid)
{
	int st = 0;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	return WEXITSTATUS(st);
}

static void test_lock_contention_across_fork(void **state)
{
	(void)state;
	cr_cache *c = open_cache(0, false);
	cr_error *err = NULL;
	const char *key = "git:pack:git.registry.test/org/repo.git:abc";
	int fd = cr_cache_lock_try(c, key, &err);
	assert_true(fd >= 0);
	/* The same process through another descriptor is also refused. */
	assert_int_equal(cr_cache_lock_try(c, key, &err), -2);

	pid_t pid = fork();
	if (pid == 0) {
		cr_cache *cc = NULL;
		if (cr_cache_open(cdir, NULL, &cc, NULL) < 0)
			_exit(10);
		int r = cr_cache_lock_try(cc, key, NULL);
		int other = cr_cache_lock_try(cc, "npm:doc:npm.registry.test/other", NULL);
		_exit(r == -2 && other >= 0 ? 0 : 11);
	}
	assert_int_equal(child_status(pid), 0);

	/* A holder that dies releases the lock: the child takes it and exits
	 * without unlocking while the parent has let go. */
	cr_cache_unlock(c, fd);
	int pipefd[2];
	assert_int_equal(pipe(pipefd), 0);
	pid = fork();
	if (pid == 0) {
		cr_cache *cc = NULL;
		char b = 'x';
		if (cr_cache_open(cdir, NULL, &cc, NULL) < 0 || cr_cache_lock_try(cc, key, NULL) < 0)
			_exit(10);
		if (write(pipefd[1], &b, 1) != 1)
			_exit(12);
		pause(); /* killed below, holding the lock */
		_exit(13);
	}
	close(pipefd[1]);
	char b;
	assert_int_equal(read(pipefd[0], &b, 1), 1);
	close(pipefd[0]);
	assert_int_equal(cr_cache_lock_try(c, key, &err), -2); /* the child holds it */
	kill(pid, SIGKILL);
	int st;
	waitpid(pid, &st, 0);
	fd = cr_cache_lock_try(c, key, &err);
	assert_true(fd >= 0);
	cr_cache_unlock(c, fd);
	cr_cache_close(c);
}

static void test_counters_sum(void **state)
{
	(void)state;
	cr_cache *a = open_cache(0, false), *b = open_cache(0, false);
	cr_cache_counters d1 = {.hits = 3, .misses = 1, .bytes_served = 100, .upstream_ms_total = 7};
	cr_cache_counters d2 = {
		.hits = 2, .integrity_failures = 1, .bytes_fetched = 50, .upstream_requests = 4};
	assert_int_equal(cr_cache_counters_add(a, &d1, NULL), 0);
	assert_int_equal(cr_cache_counters_add(b, &d2, NULL), 0);
	pid_t pid = fork();
	if (pid == 0) {
		cr_cache *cc = NULL;
		cr_cache_counters d3 = {
			.hits = 10, .stale_served = 2, .revalidated = 5, .upstream_errors = 1};
		_exit(cr_cache_open(cdir, NULL, &cc, NULL) == 0 && cr_cache_counters_add(cc, &d3, NULL) == 0
			      ? 0
			      : 1);
	}
	assert_int_equal(child_status(pid), 0);
	cr_cache_stats s;
	assert_int_equal(cr_cache_stats_get(a, &s, NULL), 0);
	assert_int_equal(s.counters.hits, 15);
	assert_int_equal(s.counters.misses, 1);
	assert_int_equal(s.counters.stale_served, 2);
	assert_int_equal(s.counters.revalidated, 5);
	assert_int_equal(s.counters.bytes_served, 100);
	assert_int_equal(s.counters.bytes_fetched, 50);
	assert_int_equal(s.counters.upstream_requests, 4);
	assert_int_equal(s.counters.upstream_ms_total, 7);
	assert_int_equal(s.counters.upstream_errors, 1);
	assert_int_equal(s.counters.integrity_failures, 1);
	assert_int_equal(s.max_bytes, CR_CACHE_DEFAULT_LIMIT);
	cr_cache_close(a);
	cr_cache_close(b);
}

/* Two processes, each writing blobs (half of them shared content) and
 * entries under its own keys, at the same time. */
static int writer_proc(int id, int n)
{
	cr_cache *c = NULL;
	cr_error *err = NULL;
	if (cr_cache_open(cdir, NULL, &c, &err) < 0)
		return 20;
	for (int i = 0; i < n; i++) {
		char data[64], key[64], sha[CR_SHA256_HEX_LEN + 1];
		snprintf(data, sizeof(data), i % 2 ? "shared %d" : "own %d %d", i, id);
		snprintf(key, sizeof(key), "npm:tgz:npm.registry.test/p%d/%d", id, i);
		cr_cache_writer *w = cr_cache_writer_new(c, CR_HASH_SHA512, 0, &err);
		if (!w || cr_cache_writer_write(w, data, strlen(data), &err) < 0 ||
		    cr_cache_writer_commit(w, sha, &err) < 0)
			return 21;
		cr_cache_entry e = {.key = key, .upstream = key, .fetched_at = i};
		memcpy(e.blob, sha, sizeof(sha));
		if (cr_cache_put(c, &e, &err) < 0) {
			fprintf(stderr, "put: %s\n", err->msg);
			return 22;
		}
		cr_cache_counters d = {.hits = 1};
		if (cr_cache_counters_add(c, &d, &err) < 0)
			return 23;
	}
	cr_cache_close(c);
	return 0;
}

static void test_two_processes_write(void **state)
{
	(void)state;
	cr_cache_close(open_cache(0, false));
	enum { N = 60 };
	pid_t p1 = fork();
	if (p1 == 0)
		_exit(writer_proc(1, N));
	pid_t p2 = fork();
	if (p2 == 0)
		_exit(writer_proc(2, N));
	assert_int_equal(child_status(p1), 0);
	assert_int_equal(child_status(p2), 0);
	cr_cache *c = open_cache(0, false);
	cr_cache_stats s;
	assert_int_equal(cr_cache_stats_get(c, &s, NULL), 0);
	assert_int_equal(s.entries, 2 * N);
	assert_int_equal(s.blobs, N + N / 2); /* the odd ones are shared */
	assert_int_equal(s.counters.hits, 2 * N);
	cr_cache_verify_result v;
	assert_int_equal(cr_cache_verify(c, NULL, NULL, &v, NULL), 0);
	assert_int_equal(v.blobs_checked, N + N / 2);
	assert_int_equal(v.bad + v.missing, 0);
	assert_int_equal(count_files("tmp"), 0);
	cr_cache_close(c);
}

static void test_gc_unreferenced_and_tmp(void **state)
{
	(void)state;
	cr_cache *c = open_cache(0, false);
	cr_cache_gc_result r;
	char kept[CR_SHA256_HEX_LEN + 1], orphan[CR_SHA256_HEX_LEN + 1], p[256];
	write_blob(c, "referenced", kept);
	write_blob(c, "nobody refers to me", orphan);
	put(c, "pip:doc:pypi.registry.test/simple/x/:json", kept, 60, 0);
	age_blob(kept, 7200);

	/* A blob just committed may be about to be put: kept. */
	assert_int_equal(cr_cache_gc(c, 0, &r, NULL), 0);
	assert_int_equal(r.blobs_removed, 0);
	assert_true(cr_cache_blob_exists(c, orphan));
	age_blob(orphan, 7200);

	/* Temp litter: an old one goes, a fresh one (a writer at work) stays. */
	snprintf(p, sizeof(p), "%s/tmp/blob-1-old", cdir);
	FILE *f = fopen(p, "w");
	fputs("partial", f);
	fclose(f);
	age_file(p, 7200);
	snprintf(p, sizeof(p), "%s/tmp/blob-1-new", cdir);
	f = fopen(p, "w");
	fclose(f);

	assert_int_equal(cr_cache_gc(c, 0, &r, NULL), 0);
	assert_int_equal(r.blobs_removed, 1);
	assert_int_equal(r.bytes_freed, strlen("nobody refers to me"));
	assert_int_equal(r.tmp_removed, 1);
	assert_int_equal(r.entries_evicted, 0);
	assert_false(cr_cache_blob_exists(c, orphan));
	assert_true(cr_cache_blob_exists(c, kept));
	assert_int_equal(count_files("tmp"), 1);

	/* A blob on disk the index does not know (crash before it was
	 * recorded) is accounted for, then collected. */
	char stray[CR_SHA256_HEX_LEN + 1] =
		"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
	snprintf(p, sizeof(p), "%s/blobs/sha256/9f", cdir);
	mkdir(p, 0700);
	blob_path(stray, p, sizeof(p));
	f = fopen(p, "w");
	fputs("test", f);
	fclose(f);
	age_file(p, 7200);
	assert_int_equal(cr_cache_gc(c, 0, &r, NULL), 0);
	assert_int_equal(r.blobs_removed, 1);
	assert_false(cr_cache_blob_exists(c, stray));
	cr_cache_close(c);
}

static void test_gc_lru_bound(void **state)
{
	(void)state;
	cr_cache *c = open_cache(0, false);
	cr_cache_gc_result r;
	cr_error *err = NULL;
	char s1[CR_SHA256_HEX_LEN + 1], s2[CR_SHA256_HEX_LEN + 1], s3[CR_SHA256_HEX_LEN + 1],
		s4[CR_SHA256_HEX_LEN + 1];
	write_blob(c, "0123456789", s1); /* 10 bytes each */
	write_blob(c, "abcdefghij", s2);
	write_blob(c, "ABCDEFGHIJ", s3);
	write_blob(c, "klmnopqrst", s4);
	put(c, "k1", s1, 0, 100); /* least recently used */
	put(c, "k2", s2, 0, 200);
	put(c, "k3", s3, 0, 300);
	put(c, "k4", s4, 0, 400);
	put(c, "k4b", s4, 0, 50); /* shares k4's blob */
	age_blob(s1, 7200);
	age_blob(s2, 7200);
	age_blob(s3, 7200);
	age_blob(s4, 7200);

	/* k1 is locked (a download in flight): k2 goes first, then k3. */
	int fd = cr_cache_lock_try(c, "k1", &err);
	assert_true(fd >= 0);
	assert_int_equal(cr_cache_gc(c, 20, &r, NULL), 0);
	/* k4b (oldest) frees nothing (k4 shares its blob), then k2, k3. */
	assert_int_equal(r.entries_evicted, 3);
	assert_int_equal(r.blobs_removed, 2);
	assert_int_equal(r.bytes_freed, 20);
	cr_cache_entry e;
	assert_int_equal(cr_cache_get(c, "k2", &e, NULL), 0);
	assert_int_equal(cr_cache_get(c, "k3", &e, NULL), 0);
	assert_false(cr_cache_blob_exists(c, s2));
	assert_false(cr_cache_blob_exists(c, s3));
	assert_true(cr_cache_blob_exists(c, s1));
	assert_true(cr_cache_blob_exists(c, s4));
	cr_cache_unlock(c, fd);

	cr_cache_stats s;
	assert_int_equal(cr_cache_stats_get(c, &s, NULL), 0);
	assert_int_equal(s.blob_bytes, 20);
	assert_int_equal(s.entries, 2);
	/* A lookup makes k1 recently used (its last_used_at was long ago), so
	 * k4 is now the least recently used: down to 10 bytes. */
	assert_int_equal(cr_cache_get(c, "k1", &e, NULL), 1);
	assert_true(e.last_used_at >= time(NULL) - 5 || e.last_used_at == 100);
	cr_cache_entry_clear(&e);
	assert_int_equal(cr_cache_gc(c, 10, &r, NULL), 0);
	assert_int_equal(r.entries_evicted, 1);
	assert_int_equal(cr_cache_get(c, "k4", &e, NULL), 0);
	assert_int_equal(cr_cache_get(c, "k1", &e, NULL), 1);
	assert_true(e.last_used_at >= time(NULL) - 5);
	cr_cache_entry_clear(&e);
	cr_cache_close(c);

	/* The configured bound drives eviction after a put (never of the
	 * entry just put). */
	c = open_cache(15, false);
	char s5[CR_SHA256_HEX_LEN + 1];
	write_blob(c, "uvwxyzUVWX", s5);
	put(c, "k5", s5, 0, 0);
	assert_int_equal(cr_cache_get(c, "k1", &e, NULL), 0);
	assert_int_equal(cr_cache_get(c, "k5", &e, NULL), 1);
	cr_cache_entry_clear(&e);
	cr_cache_close(c);
}

/* Entries whose blobs are still in the grace period: evicting one counts
 * its blob as freed (the next gc removes it), so eviction stops at the
 * bound instead of emptying a young cache. */
static void test_gc_lru_young_blobs(void **state)
{
	(void)state;
	cr_cache *c = open_cache(0, false);
	cr_cache_gc_result r;
	char s1[CR_SHA256_HEX_LEN + 1], s2[CR_SHA256_HEX_LEN + 1], s3[CR_SHA256_HEX_LEN + 1];
	write_blob(c, "0123456789", s1);
	write_blob(c, "abcdefghij", s2);
	write_blob(c, "ABCDEFGHIJ", s3);
	put(c, "k1", s1, 0, 100);
	put(c, "k2", s2, 0, 200);
	put(c, "k3", s3, 0, 300);
	assert_int_equal(cr_cache_gc(c, 10, &r, NULL), 0);
	assert_int_equal(r.entries_evicted, 2);
	assert_int_equal(r.blobs_removed, 0);
	cr_cache_entry e;
	assert_int_equal(cr_cache_get(c, "k3", &e, NULL), 1);
	cr_cache_entry_clear(&e);
	assert_true(cr_cache_blob_exists(c, s1));
	age_blob(s1, 7200);
	age_blob(s2, 7200);
	assert_int_equal(cr_cache_gc(c, 10, &r, NULL), 0);
	assert_int_equal(r.entries_evicted, 0);
	assert_int_equal(r.blobs_removed, 2);
	assert_int_equal(r.bytes_freed, 20);
	cr_cache_close(c);
}

static void test_gc_lock_files(void **state)
{
	(void)state;
	cr_cache *c = open_cache(0, false);
	cr_error *err = NULL;
	char p[256], name[CR_SHA256_HEX_LEN + 1];
	int held = cr_cache_lock_try(c, "held", &err), idle = cr_cache_lock_try(c, "idle", &err);
	assert_true(held >= 0 && idle >= 0);
	cr_cache_unlock(c, idle);
	cr_sha256_hex("held", 4, name);
	snprintf(p, sizeof(p), "%s/locks/%s", cdir, name);
	age_file(p, 7200);
	char idle_path[256];
	cr_sha256_hex("idle", 4, name);
	snprintf(idle_path, sizeof(idle_path), "%s/locks/%s", cdir, name);
	age_file(idle_path, 7200);
	assert_int_equal(cr_cache_gc(c, 0, NULL, &err), 0);
	assert_int_equal(access(p, F_OK), 0);          /* held: kept */
	assert_int_equal(access(idle_path, F_OK), -1); /* nobody held it for an hour */
	/* The holder still excludes others; the collected key can be taken. */
	assert_int_equal(cr_cache_lock_try(c, "held", &err), -2);
	int again = cr_cache_lock_try(c, "idle", &err);
	assert_true(again >= 0);
	assert_int_equal(access(idle_path, F_OK), 0);
	cr_cache_unlock(c, again);
	cr_cache_unlock(c, held);
	cr_cache_close(c);
}

typedef struct problems {
	int n;
	char blob[CR_SHA256_HEX_LEN + 1];
	char problem[200];
} problems;

static void on_problem(void *ud, const char *blob, const char *problem)
{
	problems *p = ud;
	p->n++;
	snprintf(p->blob, sizeof(p->blob), "%s", blob);
	snprintf(p->problem, sizeof(p->problem), "%s", problem);
}

static void test_verify(void **state)
{
	(void)state;
	cr_cache *c = open_cache(0, false);
	char good[CR_SHA256_HEX_LEN + 1], bad[CR_SHA256_HEX_LEN + 1], gone[CR_SHA256_HEX_LEN + 1], p[256];
	write_blob(c, "good", good);
	write_blob(c, "will be damaged", bad);
	write_blob(c, "will vanish", gone);
	put(c, "npm:tgz:a", good, 0, 0);
	put(c, "npm:tgz:b", bad, 0, 0);
	put(c, "npm:tgz:b2", bad, 0, 0);
	put(c, "npm:tgz:c", gone, 0, 0);

	cr_cache_verify_result v;
	problems pr = {0};
	assert_int_equal(cr_cache_verify(c, on_problem, &pr, &v, NULL), 0);
	assert_int_equal(v.blobs_checked, 3);
	assert_int_equal(v.bad + v.missing, 0);
	assert_int_equal(pr.n, 0);

	blob_path(bad, p, sizeof(p));
	assert_int_equal(chmod(p, 0644), 0);
	FILE *f = fopen(p, "r+");
	fputs("WILL", f);
	fclose(f);
	blob_path(gone, p, sizeof(p));
	assert_int_equal(unlink(p), 0);

	assert_int_equal(cr_cache_verify(c, on_problem, &pr, &v, NULL), 0);
	assert_int_equal(v.blobs_checked, 2);
	assert_int_equal(v.bad, 1);
	assert_int_equal(v.missing, 1);
	assert_int_equal(pr.n, 2);
	assert_false(cr_cache_blob_exists(c, bad));
	cr_cache_entry e;
	assert_int_equal(cr_cache_get(c, "npm:tgz:b", &e, NULL), 0);
	assert_int_equal(cr_cache_get(c, "npm:tgz:b2", &e, NULL), 0);
	assert_int_equal(cr_cache_get(c, "npm:tgz:a", &e, NULL), 1);
	cr_cache_entry_clear(&e);
	cr_cache_stats s;
	assert_int_equal(cr_cache_stats_get(c, &s, NULL), 0);
	assert_int_equal(s.entries, 1);
	assert_int_equal(s.blobs, 1);

	/* The damaged one was reported with what was wrong. */
	pr.n = 0;
	write_blob(c, "again", bad);
	blob_path(bad, p, sizeof(p));
	chmod(p, 0644);
	f = fopen(p, "a");
	fputs("!", f);
	fclose(f);
	assert_int_equal(cr_cache_verify(c, on_problem, &pr, &v, NULL), 0);
	assert_int_equal(pr.n, 1);
	assert_string_equal(pr.blob, bad);
	assert_non_null(strstr(pr.problem, "does not match"));
	cr_cache_close(c);
}

typedef struct listed {
	int n, stop_after;
	char keys[8][64];
} listed;

static int on_entry(void *ud, const cr_cache_entry *e)
{
	listed *l = ud;
	if (l->n < 8)
		snprintf(l->keys[l->n], sizeof(l->keys[0]), "%s", e->key);
	l->n++;
	return l->stop_after && l->n >= l->stop_after;
}

static void test_list_prefix(void **state)
{
	(void)state;
	cr_cache *c = open_cache(0, false);
	char sha[CR_SHA256_HEX_LEN + 1];
	write_blob(c, "x", sha);
	put(c, "pip:doc:pypi.registry.test/simple/a/:json", sha, 0, 0);
	put(c, "npm:tgz:npm.registry.test/a/-/a-1.tgz", sha, 0, 0);
	put(c, "npm:doc:npm.registry.test/b", sha, 0, 0);
	put(c, "npm:doc:npm.registry.test/a", sha, 0, 0);
	put(c, "npm:doc", sha, 0, 0);
	listed l = {0};
	assert_int_equal(cr_cache_list(c, "npm:doc:", on_entry, &l, NULL), 0);
	assert_int_equal(l.n, 2);
	assert_string_equal(l.keys[0], "npm:doc:npm.registry.test/a");
	assert_string_equal(l.keys[1], "npm:doc:npm.registry.test/b");
	l = (listed){0};
	assert_int_equal(cr_cache_list(c, "", on_entry, &l, NULL), 0);
	assert_int_equal(l.n, 5);
	assert_string_equal(l.keys[0], "npm:doc");
	assert_string_equal(l.keys[4], "pip:doc:pypi.registry.test/simple/a/:json");
	l = (listed){.stop_after = 2};
	assert_int_equal(cr_cache_list(c, NULL, on_entry, &l, NULL), 0);
	assert_int_equal(l.n, 2);
	l = (listed){0};
	assert_int_equal(cr_cache_list(c, "zzz", on_entry, &l, NULL), 0);
	assert_int_equal(l.n, 0);
	cr_cache_close(c);
}

static void test_read_only(void **state)
{
	(void)state;
	cr_cache *c = NULL;
	cr_error *err = NULL;
	cr_cache_opts ro = {.read_only = true};
	/* Read-only never creates: a missing cache is an error naming it. */
	assert_int_equal(cr_cache_open(cdir, &ro, &c, &err), -1);
	assert_null(c);
	assert_non_null(strstr(err->msg, cdir));
	assert_int_equal(err->status, ENOENT);
	cr_error_free(err);
	err = NULL;
	assert_int_equal(access(cdir, F_OK), -1);

	c = open_cache(0, false);
	char sha[CR_SHA256_HEX_LEN + 1];
	write_blob(c, "data", sha);
	put(c, "npm:doc:npm.registry.test/a", sha, 0, 0);
	cr_cache_close(c);

	c = open_cache(0, true);
	assert_string_equal(cr_cache_dir(c), cdir);
	cr_cache_entry e;
	assert_int_equal(cr_cache_get(c, "npm:doc:npm.registry.test/a", &e, &err), 1);
	cr_cache_entry_clear(&e);
	cr_cache_stats s;
	assert_int_equal(cr_cache_stats_get(c, &s, &err), 0);
	assert_int_equal(s.entries, 1);
	cr_cache_close(c);
}

static void test_read_only_refuses_writes(void **state)
{
	(void)state;
	cr_cache *c = open_cache(0, false);
	char sha[CR_SHA256_HEX_LEN + 1];
	write_blob(c, "data", sha);
	cr_cache_close(c);
	c = open_cache(0, true);
	cr_error *err = NULL;
	cr_cache_entry e = {.key = (char *)"k"};
	memcpy(e.blob, sha, sizeof(sha));
	assert_int_equal(cr_cache_put(c, &e, &err), -1);
	assert_int_equal(err->status, EROFS);
	cr_error_free(err);
	err = NULL;
	assert_null(cr_cache_writer_new(c, 0, 0, &err));
	cr_error_free(err);
	err = NULL;
	cr_cache_counters d = {.hits = 1};
	assert_int_equal(cr_cache_counters_add(c, &d, &err), -1);
	cr_error_free(err);
	err = NULL;
	assert_int_equal(cr_cache_gc(c, 0, NULL, &err), -1);
	cr_error_free(err);
	/* blob_open still works, read-only. */
	int fd = cr_cache_blob_open(c, sha, NULL, NULL);
	assert_true(fd >= 0);
	close(fd);
	cr_cache_close(c);
}

static void test_bad_dir(void **state)
{
	(void)state;
	cr_cache *c = NULL;
	cr_error *err = NULL;
	char p[128];
	snprintf(p, sizeof(p), "%s/no/such/parent", dir);
	assert_int_equal(cr_cache_open(p, NULL, &c, &err), -1);
	assert_non_null(strstr(err->msg, "create cache directory"));
	assert_non_null(strstr(err->msg, p));
	cr_error_free(err);
	err = NULL;
	/* A regular file where the directory should be. */
	snprintf(p, sizeof(p), "%s/file", dir);
	fclose(fopen(p, "w"));
	assert_int_equal(cr_cache_open(p, NULL, &c, &err), -1);
	assert_int_equal(err->status, ENOTDIR);
	cr_error_free(err);
}

/* A second handle plays another process (its own memo). */
static void test_memo_entries(void **state)
{
	(void)state;
	cr_cache *c = open_cache(0, false), *other = open_cache(0, false);
	cr_error *err = NULL;
	char sha[CR_SHA256_HEX_LEN + 1], sha2[CR_SHA256_HEX_LEN + 1], p[256];
	write_blob(c, "tarball bytes", sha);
	write_blob(c, "a document", sha2);
	put(c, "npm:tgz:a", sha, 0, 0);
	put(c, "npm:doc:a", sha2, 300, 0);
	cr_cache_entry e = {0};
	assert_int_equal(cr_cache_get(c, "npm:tgz:a", &e, &err), 1); /* memoized now */
	cr_cache_entry_clear(&e);
	assert_int_equal(cr_cache_get(c, "npm:doc:a", &e, &err), 1); /* documents are not */
	cr_cache_entry_clear(&e);
	/* another process removes both rows: the immutable entry is still
	 * found here while its blob is on disk, the document is not */
	assert_int_equal(cr_cache_remove(other, "npm:tgz:a", &err), 0);
	assert_int_equal(cr_cache_remove(other, "npm:doc:a", &err), 0);
	assert_int_equal(cr_cache_get(c, "npm:tgz:a", &e, &err), 1);
	assert_string_equal(e.blob, sha);
	assert_string_equal(e.etag, "\"v1\"");
	cr_cache_entry_clear(&e);
	assert_int_equal(cr_cache_get(c, "npm:doc:a", &e, &err), 0);
	/* its blob gone (and not mapped): the memo lets go */
	blob_path(sha, p, sizeof(p));
	assert_int_equal(unlink(p), 0);
	assert_int_equal(cr_cache_get(c, "npm:tgz:a", &e, &err), 0);
	/* this process's own put replaces what it memoized */
	write_blob(c, "tarball bytes", sha);
	put(c, "npm:tgz:b", sha, 0, 0);
	assert_int_equal(cr_cache_get(c, "npm:tgz:b", &e, &err), 1);
	cr_cache_entry_clear(&e);
	put(c, "npm:tgz:b", sha2, 0, 0);
	assert_int_equal(cr_cache_get(c, "npm:tgz:b", &e, &err), 1);
	assert_string_equal(e.blob, sha2);
	cr_cache_entry_clear(&e);
	cr_cache_close(other);
	cr_cache_close(c);
}

static void test_memo_maps(void **state)
{
	(void)state;
	cr_cache *c = open_cache(0, false);
	cr_error *err = NULL;
	char sha[CR_SHA256_HEX_LEN + 1], empty[CR_SHA256_HEX_LEN + 1], p[256];
	write_blob(c, "mapped content", sha);
	write_blob(c, "", empty);
	cr_blob_map *m1 = NULL, *m2 = NULL, *m3 = NULL;
	assert_int_equal(cr_cache_blob_map(c, sha, &m1, &err), 0);
	assert_int_equal(cr_blob_map_size(m1), 14);
	assert_memory_equal(cr_blob_map_data(m1), "mapped content", 14);
	assert_int_equal(cr_cache_blob_map(c, sha, &m2, &err), 0);
	assert_ptr_equal(m1, m2); /* the same mapping, kept */
	cr_blob_map_unref(m2);
	/* gc elsewhere removes the file: the kept mapping still serves it */
	blob_path(sha, p, sizeof(p));
	assert_int_equal(unlink(p), 0);
	assert_int_equal(cr_cache_blob_map(c, sha, &m3, &err), 0);
	assert_memory_equal(cr_blob_map_data(m3), "mapped content", 14);
	cr_blob_map_unref(m3);
	/* a mapping outlives the handle while referenced */
	cr_cache_close(c);
	assert_memory_equal(cr_blob_map_data(m1), "mapped content", 14);
	cr_blob_map_unref(m1);
	c = open_cache(0, false);
	assert_int_equal(cr_cache_blob_map(c, empty, &m1, &err), 0);
	assert_int_equal(cr_blob_map_size(m1), 0);
	cr_blob_map_unref(m1);
	assert_int_equal(cr_cache_blob_map(c, sha, &m1, &err), -1); /* gone, not kept by this handle */
	assert_non_null(strstr(err->msg, sha));
	cr_error_free(err);
	cr_cache_close(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_writer_digests, setup, teardown),
		cmocka_unit_test_setup_teardown(test_identical_blob_twice, setup, teardown),
		cmocka_unit_test_setup_teardown(test_size_cap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_entries, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_blob_drops_row, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lock_contention_across_fork, setup, teardown),
		cmocka_unit_test_setup_teardown(test_counters_sum, setup, teardown),
		cmocka_unit_test_setup_teardown(test_two_processes_write, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gc_unreferenced_and_tmp, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gc_lru_bound, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gc_lru_young_blobs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gc_lock_files, setup, teardown),
		cmocka_unit_test_setup_teardown(test_verify, setup, teardown),
		cmocka_unit_test_setup_teardown(test_list_prefix, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_only, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_only_refuses_writes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_dir, setup, teardown),
		cmocka_unit_test_setup_teardown(test_memo_entries, setup, teardown),
		cmocka_unit_test_setup_teardown(test_memo_maps, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
