/* SPDX-License-Identifier: Apache-2.0 */
/* test_sri.c -- Subresource Integrity lists (gateway/upstream/sri.h): the
 * FIPS 180 "abc" vectors in every algorithm, the strongest-algorithm rule,
 * several alternatives of one algorithm (pip), unknown algorithms ignored,
 * malformed entries refused, the hashes a cache writer must compute, and SRI
 * built from the hex digests npm and PyPI publish. */
#include "testutil.h"

#include <openssl/evp.h>
#include <stdlib.h>

#include "gateway/upstream/sri.h"

#define ABC_SHA1   "sha1-qZk+NkcGgWq6PiVxeFDCbJzQ2J0="
#define ABC_SHA256 "sha256-ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0="
#define ABC_SHA384 "sha384-ywB1P0WjXou1oD1pmsZQBycsMqsO3tFjGotgWkP/W+2AhgcroefMI1i67KE0yCWn"
#define ABC_SHA512 \
	"sha512-3a81oZNherrMQXNJriBBMRLm+k6JqX6iCp7u5ktV05ohkpkqJ0/BqDa6PCOj/uu9RU1EI2Q86A4qmslPpUyknw=="
#define XYZ_SHA512 \
	"sha512-Sj7YFH43h2rcj3Yyjlq8wbRw5qz8GO/qATX5g2BJU6WOGDwaYIbpG6PoIdkm9f3rN3YcfKAyipY/XpKHBnW3KA=="
#define ABC_SHA1HEX   "a9993e364706816aba3e25717850c26c9cd0d89d"
#define ABC_SHA256HEX "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
/* a well-formed sha256 entry that matches nothing */
#define OTHER_SHA256 "sha256-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="

static void digest(const char *md, const char *data, uint8_t *out)
{
	unsigned int len = 0;
	assert_int_equal(EVP_Digest(data, strlen(data), out, &len, EVP_get_digestbyname(md), NULL), 1);
}

/* The digests a cache writer with `have` would produce for data. */
static cr_digests digests_of(const char *data, unsigned have)
{
	cr_digests d = {.have = have, .size = strlen(data)};
	uint8_t raw[32];
	digest("sha256", data, raw);
	for (int i = 0; i < 32; i++)
		snprintf(d.sha256 + 2 * i, 3, "%02x", raw[i]);
	if (have & CR_HASH_SHA1)
		digest("sha1", data, d.sha1);
	if (have & CR_HASH_SHA384)
		digest("sha384", data, d.sha384);
	if (have & CR_HASH_SHA512)
		digest("sha512", data, d.sha512);
	return d;
}

static const unsigned ALL = CR_HASH_SHA1 | CR_HASH_SHA384 | CR_HASH_SHA512;

static int check(const char *sri, const char *data, char **why)
{
	cr_digests d = digests_of(data, ALL);
	return cr_sri_check(sri, &d, why);
}

static void test_vectors(void **state)
{
	(void)state;
	const char *each[] = {ABC_SHA1, ABC_SHA256, ABC_SHA384, ABC_SHA512};
	for (size_t i = 0; i < 4; i++) {
		char *why = (char *)"unset";
		assert_int_equal(check(each[i], "abc", &why), 1);
		assert_null(why);
		assert_int_equal(check(each[i], "abd", &why), 0);
		assert_non_null(why);
		free(why);
	}
	/* parse back and format again: the same text */
	cr_sri s;
	cr_error *err = NULL;
	assert_int_equal(cr_sri_parse(ABC_SHA512 " " ABC_SHA1, &s, &err), 0);
	assert_int_equal(s.n, 2);
	assert_int_equal(s.items[0].alg, CR_SRI_SHA512);
	assert_int_equal(cr_sri_strongest(&s), CR_SRI_SHA512);
	char *again = cr_sri_format(s.items[0].alg, s.items[0].digest);
	assert_string_equal(again, ABC_SHA512);
	free(again);
	cr_sri_clear(&s);
}

static void test_strongest_decides(void **state)
{
	(void)state;
	char *why = NULL;
	/* sha1 right, sha512 wrong: the sha512 decides */
	assert_int_equal(check(ABC_SHA1 " " XYZ_SHA512, "abc", &why), 0);
	assert_non_null(strstr(why, "expected " XYZ_SHA512 ", got " ABC_SHA512));
	free(why);
	/* sha512 right, sha1 wrong: passes */
	assert_int_equal(check(XYZ_SHA512 " sha1-AAAAAAAAAAAAAAAAAAAAAAAAAAA=", "xyz", &why), 1);
	/* the order of the list does not matter */
	assert_int_equal(check(XYZ_SHA512 " " ABC_SHA1, "abc", &why), 0);
	free(why);
	/* sha384 beats sha256 */
	assert_int_equal(check(OTHER_SHA256 "\t" ABC_SHA384 "\n", "abc", NULL), 1);
}

static void test_alternatives(void **state)
{
	(void)state;
	char *why = NULL;
	/* pip: one sha256 per allowed file, any of them */
	assert_int_equal(check(OTHER_SHA256 " " ABC_SHA256, "abc", &why), 1);
	assert_null(why);
	assert_int_equal(check(ABC_SHA256 " " OTHER_SHA256, "abc", NULL), 1);
	assert_int_equal(check(OTHER_SHA256 " " OTHER_SHA256, "abc", &why), 0);
	assert_non_null(strstr(why, "expected " OTHER_SHA256 " or " OTHER_SHA256 ", got " ABC_SHA256));
	free(why);
	/* a long list is abbreviated in the message */
	char list[1024] = "";
	for (int i = 0; i < 7; i++)
		strncat(list, OTHER_SHA256 " ", sizeof(list) - strlen(list) - 1);
	assert_int_equal(check(list, "abc", &why), 0);
	assert_non_null(strstr(why, "(or 3 more), got " ABC_SHA256));
	free(why);
}

static void test_unknown_and_options(void **state)
{
	(void)state;
	char *why = NULL;
	/* unknown algorithms are ignored; options after '?' too */
	assert_int_equal(check("md5-kAFQmDzST7DWlj99KOF/cg== " ABC_SHA256 "?foo", "abc", &why), 1);
	assert_int_equal(check("sha3-whatever", "abc", &why), -1);
	assert_string_equal(why, "integrity names no supported algorithm");
	free(why);
	/* algorithm names are not case-sensitive */
	assert_int_equal(check("SHA256-ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=", "abc", NULL), 1);
	/* unpadded base64 is accepted */
	assert_int_equal(check("sha1-qZk+NkcGgWq6PiVxeFDCbJzQ2J0", "abc", NULL), 1);
}

static void test_malformed(void **state)
{
	(void)state;
	const char *bad[] = {
		"sha512",                             /* no dash */
		"-abc",                               /* no algorithm */
		"sha1-qZk+NkcGgWq6PiVxeFDCbJzQ2J0=x", /* trailing junk */
		"sha1-qZk+NkcGgWq6PiVxeFDCbJzQ2J",    /* too short */
		"sha1-qZk+NkcGgWq6PiVxeFDCbJzQ2J1=",  /* non-zero spare bits */
		"sha256-" ABC_SHA1HEX,                /* hex is not base64 */
		"sha1-qZk-NkcGgWq6PiVxeFDCbJzQ2J0=",  /* URL-safe alphabet */
		ABC_SHA256 " sha1-!!!",               /* one bad entry spoils the list */
		"sh@1-qZk+NkcGgWq6PiVxeFDCbJzQ2J0=",  /* not an algorithm name */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_sri s;
		cr_error *err = NULL;
		assert_int_equal(cr_sri_parse(bad[i], &s, &err), -1);
		assert_non_null(strstr(err->msg, "integrity entry"));
		cr_error_free(err);
		char *why = NULL;
		assert_int_equal(check(bad[i], "abc", &why), -1);
		assert_non_null(why);
		free(why);
		assert_int_equal(cr_sri_hashes(bad[i]), 0);
	}
	char *why = NULL;
	assert_int_equal(check("", "abc", &why), -1);
	assert_string_equal(why, "no integrity to verify against");
	free(why);
	assert_int_equal(check(NULL, "abc", NULL), -1);
}

static void test_missing_digest(void **state)
{
	(void)state;
	cr_digests d = digests_of("abc", CR_HASH_SHA1); /* no sha512 computed */
	char *why = NULL;
	assert_int_equal(cr_sri_check(ABC_SHA512, &d, &why), -1);
	assert_non_null(strstr(why, "sha512"));
	free(why);
	assert_int_equal(cr_sri_check(ABC_SHA1, &d, NULL), 1);
}

static void test_hashes(void **state)
{
	(void)state;
	assert_int_equal(cr_sri_hashes(ABC_SHA512 " " ABC_SHA1), CR_HASH_SHA512);
	assert_int_equal(cr_sri_hashes(ABC_SHA1), CR_HASH_SHA1);
	assert_int_equal(cr_sri_hashes(ABC_SHA384 " " ABC_SHA256), CR_HASH_SHA384);
	assert_int_equal(cr_sri_hashes(ABC_SHA256), 0); /* always computed */
	assert_int_equal(cr_sri_hashes(""), 0);
	assert_int_equal(cr_sri_hashes(NULL), 0);
}

static void test_from_hex(void **state)
{
	(void)state;
	char *s = cr_sri_from_hex("sha1", ABC_SHA1HEX);
	assert_string_equal(s, ABC_SHA1);
	free(s);
	s = cr_sri_from_hex("sha256", "BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD");
	assert_string_equal(s, ABC_SHA256);
	free(s);
	assert_null(cr_sri_from_hex("sha256", ABC_SHA1HEX)); /* wrong length */
	assert_null(cr_sri_from_hex("md5", "900150983cd24fb0d6963f7d28e17f72"));
	assert_null(cr_sri_from_hex("sha1", "g9993e364706816aba3e25717850c26c9cd0d89d"));
	assert_null(cr_sri_from_hex("sha1", ""));
	assert_null(cr_sri_from_hex(NULL, ABC_SHA1HEX));
	/* what it builds checks */
	s = cr_sri_from_hex("sha256", ABC_SHA256HEX);
	assert_int_equal(check(s, "abc", NULL), 1);
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vectors),      cmocka_unit_test(test_strongest_decides),
		cmocka_unit_test(test_alternatives), cmocka_unit_test(test_unknown_and_options),
		cmocka_unit_test(test_malformed),    cmocka_unit_test(test_missing_digest),
		cmocka_unit_test(test_hashes),       cmocka_unit_test(test_from_hex),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
