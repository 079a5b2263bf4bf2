/* SPDX-License-Identifier: Apache-2.0 */
/* proc.h -- running a helper program and capturing its output. */
#pragma once

#include <stddef.h>

#include "util/buf.h"
#include "util/error.h"

/* Runs argv[0] (searched in PATH) with stdin and stderr on /dev/null and
 * appends its stdout to *out (whose cap applies: E2BIG past it). Returns the
 * program's exit status (0-255), or -1 with *err when it could not be
 * started, was killed, or printed too much. */
int cr_proc_run(char *const argv[], cr_buf *out, cr_error **err);

/* Runs argv[0] (searched in PATH) with stdin and stderr on /dev/null and
 * returns its stdout (at most `cap` bytes, trailing newlines removed) in *out.
 * Returns the program's exit status (0-255), or -1 with *err when it could
 * not be started, was killed, or printed more than `cap` bytes. */
int cr_proc_capture(char *const argv[], size_t cap, char **out, cr_error **err);
