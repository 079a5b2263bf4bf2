/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz_token_file.c -- libFuzzer target for the bearer-token file parser of
 * `cleanroom serve --token-file` (src/server/http_token.c): any bytes are
 * either refused with a message or give a token set that then answers any
 * Authorization value (here: the input itself) without crashing. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "server/http_tls.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	cr_http_tokens *t = NULL;
	cr_error *err = NULL;
	if (cr_http_tokens_parse((const char *)data, size, "fuzz", &t, &err) < 0) {
		if (!err || !err->msg)
			abort(); /* a refusal always says why */
		cr_error_free(err);
		return 0;
	}
	/* the input itself, as a header value (NUL-terminated copy) */
	char *hdr = malloc(size + 8);
	memcpy(hdr, "Bearer ", 7);
	memcpy(hdr + 7, data, size);
	hdr[size + 7] = '\0';
	(void)cr_http_tokens_check(t, hdr);
	(void)cr_http_tokens_check(t, NULL);
	free(hdr);
	cr_http_tokens_free(t);
	return 0;
}
