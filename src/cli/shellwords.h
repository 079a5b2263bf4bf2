/* SPDX-License-Identifier: Apache-2.0 */
/* shellwords.h -- the shell form of `cleanroom exec` (spec §5.4): the command
 * runs as `/bin/sh -lc SCRIPT`. One command word is the script itself
 * (`cleanroom exec "npm ci && npm test"`); several words are each quoted for
 * POSIX sh and joined with spaces, so that the shell runs exactly that argv
 * (`cleanroom exec -- sh -c 'exit 7'`). */
#pragma once

#include <stddef.h>

/* Returns an owned copy of word quoted for POSIX sh: left as
 * it is when every byte is in [A-Za-z0-9_@%+:,./-] and it is not a reserved
 * word, else in single quotes with each ' written as '\''. "" becomes ''. */
char *cr_shell_quote(const char *word);

/* The script for n words (n >= 1): words[0] verbatim when n == 1, else the
 * quoted words joined by single spaces. Owned. */
char *cr_shell_script(char *const *words, size_t n);
