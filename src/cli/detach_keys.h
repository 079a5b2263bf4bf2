/* SPDX-License-Identifier: Apache-2.0 */
/* detach_keys.h -- the key sequence that detaches an interactive session
 * (`cleanroom exec -it`, `console`, `execution attach`): Ctrl-P Ctrl-Q by
 * default, as docker does, or what --detach-keys names. Pure logic, no I/O:
 * a matcher that is fed the bytes read from the terminal and says which of
 * them to forward and when the sequence is complete. Unit-tested in
 * tests/unit/test_detach_keys.c. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "util/error.h"

#define CR_DETACH_KEYS_MAX     8
#define CR_DETACH_KEYS_DEFAULT "ctrl-p,ctrl-q"

typedef struct cr_detach_keys {
	unsigned char seq[CR_DETACH_KEYS_MAX];
	size_t len;     /* 0: detaching by keys is off */
	size_t matched; /* bytes of seq seen last and held back (a possible start of the sequence) */
} cr_detach_keys;

/* Parses a sequence in docker's form: comma-separated keys, each a single
 * printable ASCII character or "ctrl-X" with X a letter or one of @ [ \ ] ^ _
 * (ctrl-p is 0x10). The empty string turns detaching by keys off. Returns 0
 * with *k set (nothing held), or -1 with *err (usage_invalid) naming the bad
 * key. */
int cr_detach_keys_parse(const char *spec, cr_detach_keys *k, cr_error **err);

/* Scans n bytes typed by the user. out (room for n + CR_DETACH_KEYS_MAX
 * bytes) receives what to forward, *out_len its length: every byte that
 * cannot be part of the sequence, plus held bytes once they turn out not to
 * be the sequence after all (in their original order). Bytes that may begin
 * the sequence are held back across calls. Returns true when the sequence is
 * complete: the held bytes and everything after the sequence in `in` are
 * dropped (the session ends), and the matcher starts over. */
bool cr_detach_keys_scan(cr_detach_keys *k, const unsigned char *in, size_t n, unsigned char *out,
			 size_t *out_len);

/* Hands back the held bytes (at end of input: they were typed after all).
 * out has room for CR_DETACH_KEYS_MAX bytes; returns their count. */
size_t cr_detach_keys_flush(cr_detach_keys *k, unsigned char *out);
