/* SPDX-License-Identifier: Apache-2.0 */
/* sandbox_cp.h -- `cleanroom sandbox cp`: files in and out of a sandbox's
 * workspace. */
#pragma once

#include <stddef.h>

#include "util/buf.h"
#include "util/error.h"

/* The archive sent by one upload stays below the server's request cap
 * (64 MiB, src/server/http.h) with room for the request's own fields. */
#define CR_CP_MAX_ARCHIVE ((size_t)63 << 20)

/* `cleanroom sandbox cp ID:PATH LOCAL|-` (DownloadSandboxFile) and
 * `cleanroom sandbox cp LOCAL ID:DIR` (UploadSandboxFiles). */
int cmd_sandbox_cp(int argc, char **argv);

/* Writes an uncompressed pax tar of `local` (a regular file, a symbolic
 * link, or a directory and everything beneath it, links not followed) into
 * out (initialised by the caller with its cap). Entry names start with the
 * base name of `local` ("dir/a/b.txt"), owners are dropped, modes kept;
 * devices, fifos and sockets are skipped and counted in *skipped. Returns 0,
 * or -1 with *err (E2BIG past the cap of out). */
int cr_cp_archive(const char *local, cr_buf *out, size_t *skipped, cr_error **err);
