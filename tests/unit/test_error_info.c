/* SPDX-License-Identifier: Apache-2.0 */
/* test_error_info.c -- the hand-encoded error detail of lib/connect is the
 * cleanroom.v1.ErrorInfo message of the schema, byte for byte. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "cleanroom/v1/admin.pb-c.h"
#include "connect/connect.h"
#include "util/buf.h"

static void test_hand_encoding_matches_schema(void **state)
{
	(void)state;
	cr_buf b;
	cr_buf_init(&b, 1 << 16);
	assert_int_equal(cr_connect_error_info_encode(&b, "policy_invalid", "bad port", NULL), 0);
	Cleanroom__V1__ErrorInfo *m = cleanroom__v1__error_info__unpack(NULL, b.len, (const uint8_t *)b.data);
	assert_non_null(m);
	assert_string_equal(m->reason_code, "policy_invalid");
	assert_string_equal(m->message, "bad port");
	uint8_t packed[64];
	assert_int_equal(cleanroom__v1__error_info__pack(m, packed), b.len);
	assert_memory_equal(packed, b.data, b.len);
	cleanroom__v1__error_info__free_unpacked(m, NULL);
	cr_buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {cmocka_unit_test(test_hand_encoding_matches_schema)};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
