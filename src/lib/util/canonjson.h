/* SPDX-License-Identifier: Apache-2.0 */
/* canonjson.h -- the canonical JSON encoding used for policy hashes.
 *
 * Objects with members sorted by the bytes of their UTF-8 keys, no
 * insignificant whitespace, integers only (a real is an error), strings
 * escaped minimally: \" \\ \b \f \n \r \t, other bytes below 0x20 as \u00xx
 * with lowercase hex, every other byte verbatim. docs/policy.md states the
 * same rules for other implementations. */
#pragma once

#include <jansson.h>
#include <stddef.h>

#include "util/error.h"

/* Encodes v; returns a new NUL-terminated string (length in *len when not
 * NULL), or NULL with *err set when v holds a real number or nests deeper
 * than 64 levels. */
char *cr_json_canonical(const json_t *v, size_t *len, cr_error **err);
