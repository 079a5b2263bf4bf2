/* SPDX-License-Identifier: Apache-2.0 */
/* keypath.h -- the key path of the node being read ("sandbox.network.allow[2]
 * .host"), for messages about documents: a fixed buffer with push and pop. */
#pragma once

#include <stddef.h>

#define CR_KEYPATH_MAX 512

typedef struct cr_keypath {
	char text[CR_KEYPATH_MAX]; /* NUL-terminated; truncated (never overflowing) past the cap */
	size_t len;
} cr_keypath;

/* Appends ".key" (or "key" at the start); returns the mark to pop back to. */
size_t cr_keypath_push_key(cr_keypath *p, const char *key);
/* Appends "[i]"; returns the mark to pop back to. */
size_t cr_keypath_push_index(cr_keypath *p, size_t i);
void cr_keypath_pop(cr_keypath *p, size_t mark);
