/* SPDX-License-Identifier: Apache-2.0 */
/* route.h -- what a request to the git front asks for
 * (docs/internals/git-front.md).
 *
 * The sandbox's git rewrites https://<host>/<repo> to
 * http://<gateway>/git/<host>/<repo>, so the front sees
 * `<host>/<repo path>/<service path>` and a query. This module splits that
 * into a normalised host, a checked repository path and the smart-HTTP
 * service, and builds the upstream URL. Pure: no policy, no I/O. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "util/error.h"

#define CR_GIT_HOST_MAX     253
#define CR_GIT_REPO_MAX     1024 /* decoded repository path */
#define CR_GIT_PROTOCOL_MAX 256  /* Git-Protocol header value */

typedef enum cr_git_service {
	CR_GIT_REFS_UPLOAD,  /* GET  info/refs?service=git-upload-pack */
	CR_GIT_REFS_RECEIVE, /* GET  info/refs?service=git-receive-pack (push discovery) */
	CR_GIT_UPLOAD_PACK,  /* POST git-upload-pack */
	CR_GIT_RECEIVE_PACK, /* POST git-receive-pack (push) */
	CR_GIT_LFS,          /* .../info/lfs/...: git LFS, not served */
	CR_GIT_DUMB,         /* anything else: dumb HTTP (info/refs without service, HEAD, objects/) */
} cr_git_service;

typedef struct cr_git_route {
	char host[CR_GIT_HOST_MAX + 1]; /* lower case, no port */
	/* percent-decoded; "" for CR_GIT_DUMB (then path holds what was asked) */
	char repo[CR_GIT_REPO_MAX + 1];
	cr_git_service service;
	const char *path; /* the service path as sent ("info/refs", "git-upload-pack", "objects/..") */
} cr_git_route;

/* Parses rest (the path after "/git/", query excluded) and query (may be
 * ""). The host must be a DNS name or IPv4 literal ([a-z0-9.-], any case,
 * lower-cased, no port, no empty label); the repository path, once
 * percent-decoded, must be 1..CR_GIT_REPO_MAX bytes without "..", empty
 * segments, "." segments, a backslash or control characters. Returns 0 with
 * *out filled (out->path points into rest), or -1 with *err (reason
 * CR_REASON_NONE) saying what is wrong, for a 400 answer. */
int cr_git_route_parse(const char *rest, const char *query, cr_git_route *out, cr_error **err);

/* Short name of a service for messages and audit details ("info/refs",
 * "git-upload-pack", ...). */
const char *cr_git_service_name(cr_git_service s);

/* "<scheme>://<host>/<repo, percent-encoded>/<suffix>" (suffix may carry a
 * query). Owned by the caller. */
char *cr_git_upstream_url(const char *scheme, const cr_git_route *r, const char *suffix);

/* A Git-Protocol header value fit to go upstream and into cache keys: at
 * most CR_GIT_PROTOCOL_MAX printable ASCII bytes. */
bool cr_git_protocol_valid(const char *v);

/* Content types compared up to their parameters, case-insensitively
 * ("application/x-git-upload-pack-result; charset=x" is the type). False for
 * NULL. */
bool cr_git_type_is(const char *have, const char *want);
