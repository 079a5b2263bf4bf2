/* SPDX-License-Identifier: Apache-2.0 */
/* jsonread.h -- strict reading of JSON objects with key paths in messages.
 *
 * The compiled-policy reader uses it: every object must have exactly the
 * listed keys (the compiled form is fully explicit, so a missing or unknown
 * key is an error), and each problem is reported to diags with the JSON key
 * path (`network.allow_rules[2].ports[0]`). */
#pragma once

#include <jansson.h>
#include <stdbool.h>

#include "util/diag.h"
#include "util/keypath.h"

struct cr_jread {
	const char *file;
	cr_diags *diags;
	cr_keypath path;
};

void cr_jread_error(struct cr_jread *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
size_t cr_jread_push(struct cr_jread *r, const char *key);
size_t cr_jread_push_index(struct cr_jread *r, size_t i);
void cr_jread_pop(struct cr_jread *r, size_t mark);

/* Checks that v is an object with exactly the keys of `keys` (NULL-ended). */
bool cr_jread_object(struct cr_jread *r, const json_t *v, const char *const *keys);
/* Member readers; each reports its own error (path + key) and returns
 * NULL/false on failure. */
const char *cr_jread_string(struct cr_jread *r, const json_t *obj, const char *key);
bool cr_jread_bool(struct cr_jread *r, const json_t *obj, const char *key, bool *out);
bool cr_jread_int(struct cr_jread *r, const json_t *obj, const char *key, long long min, long long max,
		  long long *out);
/* The array member `key`, or NULL with an error. */
const json_t *cr_jread_array(struct cr_jread *r, const json_t *obj, const char *key);
