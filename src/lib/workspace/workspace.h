/* SPDX-License-Identifier: Apache-2.0 */
/* workspace.h -- moving a repository into a sandbox and files back out.
 *
 * The repository is never mounted into a sandbox (spec §5.4): the client
 * builds a tar archive of it (git-tracked files plus untracked files that
 * .gitignore does not exclude, with uncommitted changes as they are on disk),
 * and the archive is unpacked inside the sandbox by the agent's own binary
 * running as the workload user (`cleanroom __extract DIR`). Extraction is the
 * part that reads untrusted input in a privileged position, so it is strict:
 * regular files, directories and symlinks only, no absolute paths, no "..",
 * never writing through a symlink, with caps on entries and bytes. Files come
 * back out with `cleanroom __read-file PATH MAX` under a size cap. */
#pragma once

#include <stdint.h>

#include "util/error.h"

typedef struct cr_workspace_limits {
	uint64_t max_bytes;      /* total file bytes; default 4 GiB */
	uint64_t max_entries;    /* default 500,000 */
	uint64_t max_file_bytes; /* one file; default 2 GiB */
} cr_workspace_limits;

#define CR_WORKSPACE_DEFAULT_LIMITS ((cr_workspace_limits){4ULL << 30, 500000, 2ULL << 30})

typedef struct cr_workspace_stats {
	uint64_t files, dirs, symlinks, bytes;
} cr_workspace_stats;

/* Writes an uncompressed POSIX (pax) tar of the repository at `dir` to out_fd.
 * Inside a git work tree the files are `git ls-files -z --cached --others
 * --exclude-standard` (deleted files skipped, submodule directories as
 * directories); outside git, every file under dir except `.git`. Entry names
 * are relative ("src/main.c"); modes are kept, owners are not. Fails
 * (without writing a partial archive past the point of failure being
 * reported) when a limit is exceeded. A directory with a `.git` above it that
 * git cannot list (git missing, "dubious ownership") is an error, never a walk
 * that would pick up ignored files. See docs/internals/workspace.md. */
int cr_workspace_archive(const char *dir, int out_fd, const cr_workspace_limits *lim,
			 cr_workspace_stats *stats, cr_error **err);

/* Reads a tar stream (plain, gzip or zstd: whatever libarchive detects) from
 * in_fd and creates its entries beneath the directory dirfd, owned by the
 * calling user. Refuses absolute names, ".." components, entries whose parent
 * is a symlink, hard links, devices, fifos and sockets (error: the whole
 * extraction fails and says which entry). Returns 0 or -1 with *err; on error
 * the entries already created stay (the sandbox is disposable). */
int cr_workspace_extract(int in_fd, int dirfd, const cr_workspace_limits *lim, cr_workspace_stats *stats,
			 cr_error **err);

/* Copies the regular file `path` (relative to dirfd, resolved beneath it
 * without following symlinks out of it) to out_fd. Fails with E2BIG when it is
 * larger than max bytes. */
int cr_workspace_read_file(int dirfd, const char *path, uint64_t max, int out_fd, cr_error **err);

/* The hidden commands run inside the sandbox by the agent:
 * `cleanroom __extract DIR` (tar on stdin) and `cleanroom __read-file PATH MAX`
 * (file on stdout). Exit 0 on success, 1 with one line on stderr otherwise. */
int cmd_extract(int argc, char **argv);
int cmd_read_file(int argc, char **argv);
