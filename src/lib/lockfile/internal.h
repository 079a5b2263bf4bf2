/* SPDX-License-Identifier: Apache-2.0 */
/* internal.h -- helpers shared by the lockfile parsers, not part of the API.
 *
 * Every parser reports through one cr_lock_ctx: it knows the lockfile's path
 * and manager, counts the artifacts this file yielded against
 * CR_LOCKFILE_MAX_ARTIFACTS, and tells whether the parse added an error. The
 * URL and hash helpers give npm, yarn and pip entries the same shape
 * (lowercase registry host, SRI integrity, kind by resolved URL). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "lockfile/lockfile.h"

/* Longest single value (name, version, URL, hash list) taken from a lockfile. */
#define CR_LOCK_MAX_FIELD 8192u
/* Longest line a line-oriented parser (yarn, pip) accepts. */
#define CR_LOCK_MAX_LINE 65536u

typedef struct cr_lock_ctx {
	const char *path;
	const char *manager;
	cr_artifact_list *out;
	cr_diags *diags;
	size_t start_n;      /* out->n when the parse began */
	size_t start_errors; /* diags->n_errors when the parse began */
	bool full;           /* the artifact cap was hit (reported once) */
} cr_lock_ctx;

void cr_lock_ctx_init(cr_lock_ctx *c, const char *manager, const char *path, cr_artifact_list *out,
		      cr_diags *diags);
/* 0 when the parse added no error, else -1. */
int cr_lock_ctx_result(const cr_lock_ctx *c);

void cr_lock_error(cr_lock_ctx *c, unsigned line, const char *jpath, const char *hint, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
void cr_lock_warn(cr_lock_ctx *c, unsigned line, const char *jpath, const char *hint, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

/* Fills the manager/lockfile fields, warns about what the gateway cannot
 * enforce (git, tarball, missing integrity) and appends *a, taking ownership
 * of its strings (*a is zeroed). Returns -1, with an error reported once,
 * when the file already yielded CR_LOCKFILE_MAX_ARTIFACTS (a is cleared). */
int cr_lock_emit(cr_lock_ctx *c, cr_artifact *a);

/* The lowercase host of a URL ("https://u@Host:8443/x" -> "host"), of an
 * scp-like git address ("git@host:o/r") or of a hosted-git shorthand
 * ("github:o/r" -> "github.com"). Returns a new string, "" when there is none. */
char *cr_lock_url_host(const char *url);

/* True when `resolved` starts like a git dependency (git+..., git:, github:, ...). */
bool cr_lock_is_git_url(const char *resolved);

/* Kind of an entry whose resolved URL/path is `resolved`: git, local (file:,
 * relative or absolute path), registry (http(s) URL whose path ends in
 * "/-/<basename>-<version>.tgz") or tarball (any other URL). */
cr_artifact_kind cr_lock_classify(const char *resolved, const char *name, const char *version);

/* Converts `hexlen` hex digits of a digest to SRI "<algo>-<base64>". Returns a
 * new string, or NULL when hex is not an even number (<= 128) of hex digits. */
char *cr_lock_hex_to_sri(const char *algo, const char *hex, size_t hexlen);

/* True when s has no byte below 0x21 or 0x7f (no spaces, no controls). */
bool cr_lock_is_token(const char *s);

/* True when s has no control byte (below 0x20, or 0x7f); spaces allowed. */
bool cr_lock_is_printable(const char *s);

/* An npm package name: "name" or "@scope/name", at most 214 bytes, no
 * blanks or control bytes. */
bool cr_lock_valid_npm_name(const char *name);
