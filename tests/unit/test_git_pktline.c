/* SPDX-License-Identifier: Apache-2.0 */
/* test_git_pktline.c -- the git front's pure parts (src/gateway/git):
 * the pkt-line reader at every edge of its framing, the upload-pack request
 * classifier on bodies captured from git 2.39 clones and fetches (protocol
 * v2 and v0, a gzip-encoded negotiation; the files are the fuzz target's
 * seeds in tests/fuzz/corpus/fuzz_git_pktline/) and on hand-built ones, gzip
 * decoding with its cap, and the routing of front paths (host, repository
 * checks, services, upstream URLs). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "gateway/git/pktline.h"
#include "gateway/git/route.h"
#include "util/buf.h"
#include "util/cleanup.h"

#define CORPUS  "tests/fuzz/corpus/fuzz_git_pktline/"
#define OID_A   "918f099b2467fc93363dfd8b9b49ab1db340cb39"
#define OID_B   "22d9b0431ee2b0d67d8aea285d3e3b5987b12021"
#define OID_256 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

/* ---- building request bodies ---- */

typedef struct body {
	char b[8192];
	size_t n;
} body;

/* Appends one pkt-line with payload s (as is: callers add "\n"). */
static void pkt(body *o, const char *s)
{
	size_t n = strlen(s);
	assert_true(o->n + n + 4 < sizeof(o->b));
	char len[17];
	snprintf(len, sizeof(len), "%04zx", n + 4);
	memcpy(o->b + o->n, len, 4);
	memcpy(o->b + o->n + 4, s, n);
	o->n += n + 4;
}

static void raw(body *o, const char *s)
{
	size_t n = strlen(s);
	assert_true(o->n + n < sizeof(o->b));
	memcpy(o->b + o->n, s, n);
	o->n += n;
}

static char *read_seed(const char *name, size_t *len)
{
	char path[256];
	snprintf(path, sizeof(path), CORPUS "%s", name);
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	char *data = malloc(1 << 16);
	assert_non_null(data);
	*len = fread(data, 1, 1 << 16, f);
	fclose(f);
	return data;
}

static int classify(const body *b, cr_git_rpc *r, char **msg)
{
	cr_error *err = NULL;
	int rc = cr_git_rpc_classify(b->b, b->n, r, &err);
	if (msg)
		*msg = err ? strdup(err->msg) : NULL;
	cr_error_free(err);
	return rc;
}

/* ---- the reader ---- */

static void test_pkt_specials_and_data(void **state)
{
	(void)state;
	static const char in[] = "0000000100020004000ahello\n0009abcde";
	cr_pkt_reader r;
	cr_pkt_reader_init(&r, in, strlen(in));
	cr_pkt p;
	static const cr_pkt_kind kinds[] = {CR_PKT_FLUSH, CR_PKT_DELIM, CR_PKT_RESPONSE_END, CR_PKT_DATA};
	for (size_t i = 0; i < 4; i++) {
		assert_int_equal(cr_pkt_next(&r, &p, NULL), 1);
		assert_int_equal(p.kind, kinds[i]);
		assert_int_equal(p.len, 0);
	}
	assert_int_equal(cr_pkt_next(&r, &p, NULL), 1);
	assert_int_equal(p.kind, CR_PKT_DATA);
	assert_int_equal(p.len, 6);
	assert_memory_equal(p.data, "hello\n", 6);
	assert_int_equal(cr_pkt_text_len(&p), 5);
	assert_int_equal(cr_pkt_next(&r, &p, NULL), 1);
	assert_int_equal(p.len, 5);
	assert_int_equal(cr_pkt_text_len(&p), 5); /* no LF to strip */
	assert_int_equal(cr_pkt_next(&r, &p, NULL), 0);
	assert_int_equal(r.off, r.len);
}

static void expect_bad(const char *in, size_t len, const char *needle)
{
	cr_pkt_reader r;
	cr_pkt_reader_init(&r, in, len);
	cr_pkt p;
	const char *why = NULL;
	assert_int_equal(cr_pkt_next(&r, &p, &why), -1);
	assert_non_null(why);
	if (!strstr(why, needle))
		fail_msg("'%s' does not say '%s'", why, needle);
	assert_int_equal(r.off, 0);
}

static void test_pkt_errors(void **state)
{
	(void)state;
	expect_bad("0003", 4, "0003");
	expect_bad("00", 2, "cut short");
	expect_bad("00g1", 4, "hex");
	expect_bad(" 001", 4, "hex");
	expect_bad("fff1", 4, "65520");
	expect_bad("ffff", 4, "65520");
	expect_bad("000ahell", 8, "cut short");
	expect_bad("0009abc", 7, "cut short");
}

static void test_pkt_longest_line(void **state)
{
	(void)state;
	size_t n = CR_PKT_MAX;
	cleanup_free char *in = malloc(n + 4);
	assert_non_null(in);
	memcpy(in, "fff0", 4); /* 65520 */
	memset(in + 4, 'x', n - 4);
	memcpy(in + n, "0000", 4);
	cr_pkt_reader r;
	cr_pkt_reader_init(&r, in, n + 4);
	cr_pkt p;
	assert_int_equal(cr_pkt_next(&r, &p, NULL), 1);
	assert_int_equal(p.len, CR_PKT_DATA_MAX);
	assert_int_equal(cr_pkt_next(&r, &p, NULL), 1);
	assert_int_equal(p.kind, CR_PKT_FLUSH);
	assert_int_equal(cr_pkt_next(&r, &p, NULL), 0);
	/* upper-case hex digits are accepted in lengths */
	cr_pkt_reader_init(&r, "000Aabcdef", 10);
	assert_int_equal(cr_pkt_next(&r, &p, NULL), 1);
	assert_int_equal(p.len, 6);
}

/* ---- the classifier on captured bodies ---- */

static void classify_seed(const char *name, cr_git_rpc *r)
{
	size_t len = 0;
	cleanup_free char *data = read_seed(name, &len);
	cr_error *err = NULL;
	if (cr_git_rpc_classify(data, len, r, &err) < 0)
		fail_msg("%s: %s", name, err->msg);
}

static void test_captured_v2_ls_refs(void **state)
{
	(void)state;
	cr_git_rpc r;
	classify_seed("v2-ls-refs", &r);
	assert_int_equal(r.kind, CR_GIT_RPC_LS_REFS);
	assert_int_equal(r.protocol, 2);
	assert_string_equal(r.command, "ls-refs");
	assert_int_equal(r.capabilities, 2); /* agent, object-format */
	assert_int_equal(r.args, 6);         /* peel, symrefs, unborn, 3 ref-prefix */
	assert_false(r.unknown);
	assert_false(r.immutable);
	char d[128];
	cr_git_rpc_describe(&r, d, sizeof(d));
	assert_string_equal(d, "v2 ls-refs");
}

static void test_captured_v2_fetch(void **state)
{
	(void)state;
	cr_git_rpc r;
	classify_seed("v2-fetch-clone", &r);
	assert_int_equal(r.kind, CR_GIT_RPC_FETCH);
	assert_int_equal(r.wants, 2); /* git repeats the want of HEAD and main */
	assert_int_equal(r.haves, 0);
	assert_true(r.done);
	assert_true(r.immutable);
	char d[128];
	cr_git_rpc_describe(&r, d, sizeof(d));
	assert_string_equal(d, "v2 fetch: 2 wants, 0 haves, done");

	classify_seed("v2-fetch-depth-filter", &r);
	assert_true(r.deepen);
	assert_true(r.filter);
	assert_true(r.immutable);
	classify_seed("v2-fetch-shallow-filter", &r);
	assert_int_equal(r.shallows, 1);
	assert_int_equal(r.wants, 6);
	assert_true(r.immutable);
	classify_seed("v2-fetch-haves", &r);
	assert_int_equal(r.wants, 1);
	assert_true(r.haves > 10);
	assert_false(r.done);
}

static void test_captured_v0(void **state)
{
	(void)state;
	cr_git_rpc r;
	classify_seed("v0-fetch-clone", &r);
	assert_int_equal(r.kind, CR_GIT_RPC_V0_FETCH);
	assert_int_equal(r.protocol, 0);
	assert_string_equal(r.command, "fetch");
	assert_int_equal(r.wants, 1);
	assert_int_equal(r.capabilities, 9);
	assert_true(r.done);
	assert_true(r.immutable);
	classify_seed("v0-fetch-round1", &r);
	assert_true(r.haves > 10);
	assert_false(r.done);
	assert_true(r.immutable);
	classify_seed("v0-fetch-done", &r);
	assert_true(r.haves > 10);
	assert_true(r.done);
}

static void test_captured_gzip(void **state)
{
	(void)state;
	size_t len = 0;
	cleanup_free char *gz = read_seed("v2-fetch-haves-gzip", &len);
	cleanup_buf cr_buf out;
	cr_buf_init(&out, CR_GIT_RPC_MAX);
	cr_error *err = NULL;
	if (cr_git_gunzip(gz, len, CR_GIT_RPC_MAX, &out, &err) < 0)
		fail_msg("%s", err->msg);
	assert_true(out.len > len);
	cr_git_rpc r;
	assert_int_equal(cr_git_rpc_classify(out.data, out.len, &r, &err), 0);
	assert_int_equal(r.kind, CR_GIT_RPC_FETCH);
	assert_int_equal(r.wants, 1);
	assert_true(r.haves >= 20);
	assert_false(r.done);

	/* the cap: one byte less than the decoded size fails */
	cr_buf small;
	cr_buf_init(&small, CR_GIT_RPC_MAX);
	assert_int_equal(cr_git_gunzip(gz, len, out.len - 1, &small, &err), -1);
	assert_non_null(strstr(err->msg, "more than"));
	cr_error_freep(&err);
	cr_buf_free(&small);
	/* cut short */
	cr_buf_init(&small, CR_GIT_RPC_MAX);
	assert_int_equal(cr_git_gunzip(gz, len / 2, CR_GIT_RPC_MAX, &small, &err), -1);
	cr_error_freep(&err);
	cr_buf_free(&small);
	/* not gzip: the plain body */
	size_t plen = 0;
	cleanup_free char *plain = read_seed("v2-fetch-haves", &plen);
	cr_buf_init(&small, CR_GIT_RPC_MAX);
	assert_int_equal(cr_git_gunzip(plain, plen, CR_GIT_RPC_MAX, &small, &err), -1);
	assert_non_null(strstr(err->msg, "not gzip"));
	cr_error_freep(&err);
	assert_int_equal(cr_git_gunzip("", 0, CR_GIT_RPC_MAX, &small, &err), -1);
	cr_error_freep(&err);
	cr_buf_free(&small);
}

/* ---- the classifier on built bodies ---- */

static void v2_fetch_head(body *b)
{
	pkt(b, "command=fetch\n");
	pkt(b, "agent=git/2.39.5\n");
	raw(b, "0001");
}

static void test_v2_not_immutable(void **state)
{
	(void)state;
	cr_git_rpc r;
	body b = {0};
	v2_fetch_head(&b);
	pkt(&b, "want-ref refs/heads/main\n");
	pkt(&b, "done\n");
	raw(&b, "0000");
	assert_int_equal(classify(&b, &r, NULL), 0);
	assert_int_equal(r.want_refs, 1);
	assert_false(r.immutable);
	char d[128];
	cr_git_rpc_describe(&r, d, sizeof(d));
	assert_string_equal(d, "v2 fetch: 0 wants, 1 want-refs, 0 haves, done");

	b = (body){0};
	v2_fetch_head(&b);
	pkt(&b, "want " OID_A "\n");
	pkt(&b, "deepen-not refs/heads/old\n");
	raw(&b, "0000");
	assert_int_equal(classify(&b, &r, NULL), 0);
	assert_true(r.deepen_not);
	assert_false(r.immutable);

	b = (body){0};
	v2_fetch_head(&b);
	pkt(&b, "want " OID_A "\n");
	pkt(&b, "some-future-argument\n");
	raw(&b, "0000");
	assert_int_equal(classify(&b, &r, NULL), 0);
	assert_true(r.unknown);
	assert_false(r.immutable);

	/* without any want there is nothing immutable to ask for */
	b = (body){0};
	v2_fetch_head(&b);
	pkt(&b, "done\n");
	raw(&b, "0000");
	assert_int_equal(classify(&b, &r, NULL), 0);
	assert_false(r.immutable);
}

static void test_v2_sha256_and_other_commands(void **state)
{
	(void)state;
	cr_git_rpc r;
	body b = {0};
	v2_fetch_head(&b);
	pkt(&b, "want " OID_256 "\n");
	pkt(&b, "have " OID_256 "\n");
	raw(&b, "0000");
	assert_int_equal(classify(&b, &r, NULL), 0);
	assert_int_equal(r.wants, 1);
	assert_int_equal(r.haves, 1);
	assert_true(r.immutable);

	b = (body){0};
	pkt(&b, "command=object-info\n");
	raw(&b, "0001");
	pkt(&b, "size\n");
	pkt(&b, "oid " OID_A "\n");
	raw(&b, "0000");
	assert_int_equal(classify(&b, &r, NULL), 0);
	assert_int_equal(r.kind, CR_GIT_RPC_OTHER);
	assert_string_equal(r.command, "object-info");
	assert_int_equal(r.args, 2);
	assert_false(r.unknown); /* other commands' keywords are not judged */
	assert_false(r.immutable);

	/* no delim: capabilities only */
	b = (body){0};
	pkt(&b, "command=ls-refs\n");
	pkt(&b, "agent=x\n");
	raw(&b, "0000");
	assert_int_equal(classify(&b, &r, NULL), 0);
	assert_int_equal(r.capabilities, 1);
	assert_int_equal(r.args, 0);
}

static void expect_malformed(const body *b, const char *needle)
{
	cr_git_rpc r;
	cleanup_free char *msg = NULL;
	assert_int_equal(classify(b, &r, &msg), -1);
	assert_non_null(msg);
	if (!strstr(msg, needle))
		fail_msg("'%s' does not say '%s'", msg, needle);
}

static void test_v2_malformed(void **state)
{
	(void)state;
	body b = {0};
	expect_malformed(&b, "empty request");
	raw(&b, "0000");
	expect_malformed(&b, "special packet");

	b = (body){0};
	pkt(&b, "command=fetch\n");
	expect_malformed(&b, "before its flush-pkt");
	raw(&b, "0001");
	pkt(&b, "want " OID_A "\n");
	expect_malformed(&b, "before its flush-pkt");
	raw(&b, "0000");
	raw(&b, "0000");
	expect_malformed(&b, "after the request's flush-pkt");

	b = (body){0};
	pkt(&b, "command=\n");
	raw(&b, "0000");
	expect_malformed(&b, "command name");
	b = (body){0};
	pkt(&b, "command=Fetch\n");
	raw(&b, "0000");
	expect_malformed(&b, "command name");

	b = (body){0};
	v2_fetch_head(&b);
	pkt(&b, "want " OID_A " extra\n");
	raw(&b, "0000");
	expect_malformed(&b, "bad want line at pkt-line 4");

	b = (body){0};
	v2_fetch_head(&b);
	pkt(&b, "want 918F099B2467FC93363DFD8B9B49AB1DB340CB39\n");
	raw(&b, "0000");
	expect_malformed(&b, "bad want line");

	b = (body){0};
	v2_fetch_head(&b);
	pkt(&b, "done please\n");
	raw(&b, "0000");
	expect_malformed(&b, "bad done line");

	b = (body){0};
	v2_fetch_head(&b);
	raw(&b, "0001");
	raw(&b, "0000");
	expect_malformed(&b, "delim-pkt or response-end-pkt among the arguments");

	b = (body){0};
	pkt(&b, "command=ls-refs\n");
	raw(&b, "0002");
	expect_malformed(&b, "response-end-pkt");

	b = (body){0};
	pkt(&b, "command=ls-refs\n");
	pkt(&b, "agent=a\x01"
		"b\n");
	raw(&b, "0000");
	expect_malformed(&b, "control character");

	b = (body){0};
	pkt(&b, "have " OID_A "\n");
	raw(&b, "0000");
	expect_malformed(&b, "neither a v2 command nor a want line");
}

static void test_v0_built(void **state)
{
	(void)state;
	cr_git_rpc r;
	body b = {0};
	pkt(&b, "want " OID_A " multi_ack_detailed side-band-64k\n");
	pkt(&b, "want " OID_B "\n");
	pkt(&b, "shallow " OID_B "\n");
	pkt(&b, "deepen 1\n");
	raw(&b, "0000");
	assert_int_equal(classify(&b, &r, NULL), 0);
	assert_int_equal(r.wants, 2);
	assert_int_equal(r.capabilities, 2);
	assert_int_equal(r.shallows, 1);
	assert_true(r.deepen);
	assert_false(r.done);
	assert_true(r.immutable);
	pkt(&b, "have " OID_B "\n");
	raw(&b, "0000");
	pkt(&b, "have " OID_A "\n");
	pkt(&b, "done\n");
	assert_int_equal(classify(&b, &r, NULL), 0);
	assert_int_equal(r.haves, 2);
	assert_true(r.done);
	pkt(&b, "have " OID_A "\n");
	expect_malformed(&b, "data after done");

	b = (body){0};
	pkt(&b, "want " OID_A "\n");
	expect_malformed(&b, "before the flush-pkt after the wants");
	b = (body){0};
	pkt(&b, "want " OID_A "\n");
	raw(&b, "0001");
	expect_malformed(&b, "v0 request");
	b = (body){0};
	pkt(&b, "want xyz\n");
	raw(&b, "0000");
	expect_malformed(&b, "bad first want line");
	b = (body){0};
	pkt(&b, "want " OID_A "\n");
	pkt(&b, "want " OID_B " caps-only-on-the-first\n");
	raw(&b, "0000");
	expect_malformed(&b, "bad want line");
	b = (body){0};
	pkt(&b, "want " OID_A "\n");
	raw(&b, "0000");
	pkt(&b, "want " OID_B "\n");
	expect_malformed(&b, "expected have or done");

	/* a line the classifier does not know among the wants: passed on, not immutable */
	b = (body){0};
	pkt(&b, "want " OID_A "\n");
	pkt(&b, "new-thing 1\n");
	raw(&b, "0000");
	assert_int_equal(classify(&b, &r, NULL), 0);
	assert_true(r.unknown);
	assert_false(r.immutable);
}

static void test_classify_cap(void **state)
{
	(void)state;
	cr_git_rpc r;
	cr_error *err = NULL;
	assert_int_equal(cr_git_rpc_classify("0000", CR_GIT_RPC_MAX + 1ul, &r, &err), -1);
	assert_non_null(strstr(err->msg, "cap"));
	cr_error_free(err);
}

/* ---- upload-pack answers ---- */

/* Checks answer (n bytes) as the answer to req; the error message or NULL. */
static char *check_answer(const char *answer, size_t n, const cr_git_rpc *req)
{
	int fd = memfd_create("answer", MFD_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, answer, n), (ssize_t)n);
	cr_error *err = NULL;
	int rc = cr_git_answer_check(fd, n, req, &err);
	close(fd);
	char *msg = err ? strdup(err->msg) : NULL;
	assert_int_equal(rc, err ? -1 : 0);
	cr_error_free(err);
	return msg;
}

#define CHECK_OK(a, req) assert_null(check_answer((a), sizeof(a) - 1, (req)))
#define CHECK_BAD(a, req, needle)                                                \
	do {                                                                     \
		cleanup_free char *m_ = check_answer((a), sizeof(a) - 1, (req)); \
		assert_non_null(m_);                                             \
		if (!strstr(m_, (needle)))                                       \
			fail_msg("'%s' does not say '%s'", m_, (needle));        \
	} while (0)

static void test_answer_check(void **state)
{
	(void)state;
	cr_git_rpc v2;
	classify_seed("v2-fetch-clone", &v2);
	assert_true(v2.side_band);
	cr_git_rpc v0;
	classify_seed("v0-fetch-clone", &v0); /* asks for side-band-64k */
	assert_true(v0.side_band);
	cr_git_rpc v0_round;
	classify_seed("v0-fetch-round1", &v0_round);
	assert_false(v0_round.done);

	/* answers captured from git http-backend 2.39 */
	size_t n = 0;
	cleanup_free char *a2 = read_seed("answer-v2-clone", &n);
	assert_null(check_answer(a2, n, &v2));
	cleanup_free char *cut = check_answer(a2, n - 4, &v2); /* without its flush */
	assert_non_null(cut);
	cleanup_free char *a0 = read_seed("answer-v0-clone", &n);
	assert_null(check_answer(a0, n, &v0));
	cleanup_free char *aerr = read_seed("answer-err", &n);
	cleanup_free char *err_msg = check_answer(aerr, n, &v0);
	assert_non_null(err_msg);
	assert_non_null(strstr(err_msg, "not our ref"));

	CHECK_OK("000dpackfile\n0009\001PACK0006\002x0000", &v2);
	CHECK_BAD("000dpackfile\n0009\001PACK0006\002x", &v2, "final flush-pkt");
	CHECK_OK("0014acknowledgments\n0008NAK\n0000", &v2);
	CHECK_BAD("0049ERR upload-pack: not our ref 1111111111111111111111111111111111111111\n", &v2,
		  "upstream said \"upload-pack: not our ref 1111");
	CHECK_OK("0008NAK\n0009\001PACK0000", &v0);
	CHECK_BAD("0008NAK\n0009\001PACK0010\003fatal: oops\n0000", &v0, "side-band error packet at byte 17");
	CHECK_BAD("0008NAK\n0009\001PACK", &v0, "final flush-pkt");
	CHECK_BAD("0008NAK\n0019\001PACK", &v0, "not a complete pkt-line at byte 8");
	CHECK_BAD("0008NAK\nPACK\002\003", &v0, "not a complete pkt-line");
	CHECK_BAD("", &v0, "empty");
	/* a negotiation round: ACK/NAK lines, no flush needed */
	CHECK_OK("0008NAK\n", &v0_round);
	CHECK_BAD("0008NA", &v0_round, "not a complete pkt-line");

	/* v0 without side-band: the pack follows raw and cannot be judged */
	body b = {0};
	pkt(&b, "want " OID_A " multi_ack_detailed ofs-delta\n");
	raw(&b, "0000");
	pkt(&b, "done\n");
	cr_git_rpc plain;
	assert_int_equal(classify(&b, &plain, NULL), 0);
	assert_false(plain.side_band);
	CHECK_OK("0008NAK\nPACK\000\000\000\002", &plain);
	CHECK_BAD("0049ERR upload-pack: not our ref 1111111111111111111111111111111111111111\n", &plain,
		  "not our ref");
}

/* ---- routes ---- */

static void route_ok(const char *rest, const char *query, cr_git_route *r)
{
	cr_error *err = NULL;
	if (cr_git_route_parse(rest, query, r, &err) < 0)
		fail_msg("%s?%s: %s", rest, query, err->msg);
}

static void route_bad(const char *rest, const char *query, const char *needle)
{
	cr_git_route r;
	cr_error *err = NULL;
	assert_int_equal(cr_git_route_parse(rest, query, &r, &err), -1);
	if (!strstr(err->msg, needle))
		fail_msg("%s: '%s' does not say '%s'", rest, err->msg, needle);
	cr_error_free(err);
}

static void test_route_services(void **state)
{
	(void)state;
	cr_git_route r;
	route_ok("Git.Registry.TEST/org/repo.git/info/refs", "service=git-upload-pack", &r);
	assert_string_equal(r.host, "git.registry.test");
	assert_string_equal(r.repo, "org/repo.git");
	assert_int_equal(r.service, CR_GIT_REFS_UPLOAD);
	assert_string_equal(r.path, "info/refs");
	route_ok("git.registry.test/org/repo/info/refs", "x=1&service=git-receive-pack", &r);
	assert_int_equal(r.service, CR_GIT_REFS_RECEIVE);
	assert_string_equal(r.repo, "org/repo");
	route_ok("git.registry.test/org/sub/repo.git/git-upload-pack", "", &r);
	assert_int_equal(r.service, CR_GIT_UPLOAD_PACK);
	assert_string_equal(r.repo, "org/sub/repo.git");
	route_ok("git.registry.test/org/repo.git/git-receive-pack", "", &r);
	assert_int_equal(r.service, CR_GIT_RECEIVE_PACK);
	route_ok("git.registry.test/org/repo.git/info/refs", "", &r);
	assert_int_equal(r.service, CR_GIT_DUMB);
	assert_string_equal(r.repo, "org/repo.git");
	route_ok("git.registry.test/org/repo.git/HEAD", "", &r);
	assert_int_equal(r.service, CR_GIT_DUMB);
	assert_string_equal(r.path, "org/repo.git/HEAD");
	route_ok("git.registry.test/org/repo.git/info/lfs/objects/batch", "", &r);
	assert_int_equal(r.service, CR_GIT_LFS);
	assert_string_equal(r.repo, "org/repo.git");
	assert_string_equal(r.path, "info/lfs/objects/batch");
	route_ok("git.registry.test/org/repo%20x.git/git-upload-pack", "", &r);
	assert_string_equal(r.repo, "org/repo x.git");
	route_ok("10.0.0.1/org/repo.git/git-upload-pack", "", &r);
	assert_string_equal(r.host, "10.0.0.1");
	assert_string_equal(cr_git_service_name(CR_GIT_RECEIVE_PACK), "git-receive-pack");
}

static void test_route_refusals(void **state)
{
	(void)state;
	route_bad("", "", "no host");
	route_bad("/org/repo/info/refs", "", "no host");
	route_bad("git.registry.test", "", "no repository");
	route_bad("git.registry.test/", "", "no repository");
	route_bad("git.registry.test:8443/org/repo/info/refs", "", "port");
	route_bad("git_registry.test/org/repo/info/refs", "", "DNS name");
	route_bad("git..test/org/repo/info/refs", "", "empty label");
	route_bad(".git.test/org/repo/info/refs", "", "empty label");
	route_bad("git.test./org/repo/info/refs", "", "empty label");
	route_bad("git.test/org/../other/info/refs", "service=git-upload-pack", "\"..\"");
	route_bad("git.test/org/%2e%2E/other/git-upload-pack", "", "\"..\"");
	route_bad("git.test/org/a..b/git-upload-pack", "", "\"..\"");
	route_bad("git.test/org//repo/git-upload-pack", "", "empty segment");
	route_bad("git.test/org/repo//git-upload-pack", "", "empty segment");
	route_bad("git.test/org/./repo/git-upload-pack", "", "\".\" segment");
	route_bad("git.test/org/%0arepo/git-upload-pack", "", "control character");
	route_bad("git.test/org/%5crepo/git-upload-pack", "", "backslash");
	route_bad("git.test/org/%zzrepo/git-upload-pack", "", "percent-escape");
	route_bad("git.test/org/repo%2/git-upload-pack", "", "percent-escape");
	route_bad("git.test/org/repo/info/refs", "service=git-archive", "unknown service");
	char long_repo[CR_GIT_REPO_MAX + 64];
	memset(long_repo, 'a', sizeof(long_repo));
	memcpy(long_repo, "git.test/", 9);
	snprintf(long_repo + sizeof(long_repo) - 17, 17, "/git-upload-pack");
	route_bad(long_repo, "", "too long");
}

static void test_upstream_url(void **state)
{
	(void)state;
	cr_git_route r;
	route_ok("git.registry.test/org/my%20repo%23x.git/info/refs", "service=git-upload-pack", &r);
	cleanup_free char *url = cr_git_upstream_url("https", &r, "info/refs?service=git-upload-pack");
	assert_string_equal(
		url, "https://git.registry.test/org/my%20repo%23x.git/info/refs?service=git-upload-pack");
	route_ok("git.registry.test/org/a-b_c.d~e@f+g/git-upload-pack", "", &r);
	cleanup_free char *url2 = cr_git_upstream_url("http", &r, "git-upload-pack");
	assert_string_equal(url2, "http://git.registry.test/org/a-b_c.d~e@f+g/git-upload-pack");
	route_ok("git.registry.test/org/%C3%A9t%3F%25/git-upload-pack", "", &r);
	cleanup_free char *url3 = cr_git_upstream_url("https", &r, "git-upload-pack");
	assert_string_equal(url3, "https://git.registry.test/org/%C3%A9t%3F%25/git-upload-pack");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pkt_specials_and_data),
		cmocka_unit_test(test_pkt_errors),
		cmocka_unit_test(test_pkt_longest_line),
		cmocka_unit_test(test_captured_v2_ls_refs),
		cmocka_unit_test(test_captured_v2_fetch),
		cmocka_unit_test(test_captured_v0),
		cmocka_unit_test(test_captured_gzip),
		cmocka_unit_test(test_v2_not_immutable),
		cmocka_unit_test(test_v2_sha256_and_other_commands),
		cmocka_unit_test(test_v2_malformed),
		cmocka_unit_test(test_v0_built),
		cmocka_unit_test(test_classify_cap),
		cmocka_unit_test(test_answer_check),
		cmocka_unit_test(test_route_services),
		cmocka_unit_test(test_route_refusals),
		cmocka_unit_test(test_upstream_url),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
