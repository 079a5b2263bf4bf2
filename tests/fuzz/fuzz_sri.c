/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz_sri.c -- libFuzzer target for the SRI list parser of the registry
 * fronts' integrity checks (src/gateway/upstream/sri.c): any bytes are parsed
 * or refused without reading past them; every parsed entry formats back to
 * an entry that parses to the same algorithm and digest (one encoding per
 * digest); the check never accepts digests of all zero bytes for a list
 * whose strongest entry is not all zeros. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cache/cache.h"
#include "gateway/upstream/sri.h"
#include "util/xalloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void roundtrip(const cr_sri_entry *e)
{
	char *text = cr_sri_format(e->alg, e->digest);
	cr_sri again = {0};
	cr_error *err = NULL;
	if (cr_sri_parse(text, &again, &err) < 0 || again.n != 1 || again.items[0].alg != e->alg ||
	    memcmp(again.items[0].digest, e->digest, cr_sri_digest_len(e->alg)) != 0)
		abort();
	cr_sri_clear(&again);
	free(text);
}

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > CR_SRI_MAX_LEN)
		return 0;
	char *text = cr_xmalloc(size + 1);
	memcpy(text, data, size);
	text[size] = '\0';
	cr_sri s = {0};
	cr_error *err = NULL;
	if (cr_sri_parse(text, &s, &err) < 0) {
		cr_error_free(err);
		free(text);
		return 0;
	}
	bool zero_strongest = true;
	int best = cr_sri_strongest(&s);
	for (size_t i = 0; i < s.n; i++) {
		roundtrip(&s.items[i]);
		if ((int)s.items[i].alg == best &&
		    !all_zero(s.items[i].digest, cr_sri_digest_len(s.items[i].alg)))
			zero_strongest = false;
	}
	cr_digests d = {.have = CR_HASH_SHA1 | CR_HASH_SHA384 | CR_HASH_SHA512};
	memset(d.sha256, '0', CR_SHA256_HEX_LEN);
	char *why = NULL;
	int rc = cr_sri_check(text, &d, &why);
	if (rc == 1 && best >= 0 && !zero_strongest)
		abort();
	free(why);
	cr_sri_clear(&s);
	free(text);
	return 0;
}
