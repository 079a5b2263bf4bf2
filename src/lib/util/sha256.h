/* SPDX-License-Identifier: Apache-2.0 */
/* sha256.h -- SHA-256 digests as lowercase hex (OpenSSL EVP). */
#pragma once

#include <stddef.h>

#define CR_SHA256_HEX_LEN 64

/* Writes the 64 lowercase hex digits and a NUL into out. */
void cr_sha256_hex(const void *data, size_t len, char out[CR_SHA256_HEX_LEN + 1]);

/* Returns 1 when s is exactly 64 lowercase hex digits. */
int cr_is_sha256_hex(const char *s);
