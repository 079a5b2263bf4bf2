/* SPDX-License-Identifier: Apache-2.0 */
/* utf8.h -- UTF-8 validation shared by everything that must emit valid
 * UTF-8 from untrusted bytes (error messages, audit fields). */
#pragma once

#include <stddef.h>

/* Length (1-4) of the well-formed UTF-8 sequence at s, of which n bytes are
 * available (n >= 1), or 0 when s does not start one: a stray continuation
 * byte, a truncated sequence, an overlong form, a UTF-16 surrogate or a code
 * point past U+10FFFF. */
size_t cr_utf8_seq(const unsigned char *s, size_t n);
