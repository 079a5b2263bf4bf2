/* SPDX-License-Identifier: Apache-2.0 */
/* hex.h -- hexadecimal digests to bytes. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Decodes exactly 2 * n hex digits (either case) of hex into out[0..n).
 * False when hex has another length or a non-hex character. */
bool cr_hex_decode(const char *hex, size_t hexlen, uint8_t *out, size_t n);
