/* SPDX-License-Identifier: Apache-2.0 */
/* sha256.c -- SHA-256 over OpenSSL's one-shot EVP digest. */
#include "util/sha256.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

void cr_sha256_hex(const void *data, size_t len, char out[CR_SHA256_HEX_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	if (EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32)
		abort(); /* the default provider's SHA-256 cannot fail */
	for (unsigned i = 0; i < 32; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[CR_SHA256_HEX_LEN] = '\0';
}

int cr_is_sha256_hex(const char *s)
{
	if (strlen(s) != CR_SHA256_HEX_LEN)
		return 0;
	return strspn(s, "0123456789abcdef") == CR_SHA256_HEX_LEN;
}
