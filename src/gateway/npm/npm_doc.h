/* SPDX-License-Identifier: Apache-2.0 */
/* npm_doc.h -- the npm front's pure half: request paths, packuments and
 * their rewriting (no I/O; docs/internals/registry-npm.md).
 *
 * A packument (the registry's document for one package, full or abbreviated
 * `application/vnd.npm.install-v1+json`) is parsed with jansson under caps,
 * then rewritten for the sandbox: every versions[v].dist.tarball
 * `https://<host>/<path>` becomes `<base_url>/npm/<path>` (path kept
 * exactly), so that npm fetches tarballs through the front too. A version the
 * front could not serve is dropped with its `time` entry and the dist-tags
 * pointing at it: a tarball on a host the caller's predicate rejects, a
 * tarball URL that is not `http(s)://<host>/<name>/-/<unscoped>-<version>.tgz`
 * for this package and version, a version key that is not semver. With an
 * allowed-versions list (lockfile enforcement) every other version is
 * dropped the same way, so a resolver cannot pick one. When `latest` loses
 * its version it moves to the highest remaining one by semver precedence
 * (releases before prereleases). The result is dumped as compact JSON in the
 * input's key order: the same input and options give the same bytes. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "util/error.h"

#define CR_NPM_DOC_MAX       (64u << 20)           /* bytes of one packument */
#define CR_NPM_VERSIONS_MAX  50000u                /* entries of versions */
#define CR_NPM_TAGS_MAX      1000u                 /* entries of dist-tags */
#define CR_NPM_NAME_MAX      214                   /* npm's own limit on a package name */
#define CR_NPM_ENCODED_MAX   (CR_NPM_NAME_MAX + 2) /* "/" written as "%2f" */
#define CR_NPM_VERSION_MAX   256
#define CR_NPM_PATH_MAX      1024 /* a tarball request path */
#define CR_NPM_URL_MAX       4096 /* a tarball URL, before and after rewriting */
#define CR_NPM_INTEGRITY_MAX 2048 /* dist.integrity */

/* ---- names, versions, request paths ---- */

/* A package name: "name" or "@scope/name", at most CR_NPM_NAME_MAX bytes,
 * each part non-empty, not starting with '.', of the bytes npm leaves
 * unencoded in URLs (A-Z a-z 0-9 - . _ ~ ! * ' ( )). */
bool cr_npm_valid_name(const char *name);
/* A semver version: MAJOR.MINOR.PATCH with optional -prerelease and +build
 * (identifiers of [0-9A-Za-z-], dot-separated, non-empty), at most
 * CR_NPM_VERSION_MAX bytes. Leading zeros are tolerated (old packages). */
bool cr_npm_valid_version(const char *v);
/* Semver precedence of two valid versions: <0, 0, >0 (build ignored). */
int cr_npm_semver_cmp(const char *a, const char *b);

typedef struct cr_npm_name {
	char name[CR_NPM_NAME_MAX + 1];       /* "@scope/pkg": how lockfiles and policies name it */
	char encoded[CR_NPM_ENCODED_MAX + 1]; /* "@scope%2fpkg": how it is asked upstream */
	size_t unscoped_at;                   /* offset of the unscoped part ("pkg") in name */
} cr_npm_name;

/* The name without its scope: "pkg" of "@scope/pkg". */
static inline const char *cr_npm_unscoped(const cr_npm_name *n)
{
	return n->name + n->unscoped_at;
}

/* Parses the name of a packument request (the path after /npm/): "lodash",
 * "@scope%2fname" (%2F too) or "@scope/name". Returns 0, or -1 with *err
 * (CR_REASON_NONE; the message says what is wrong). */
int cr_npm_parse_name(const char *s, cr_npm_name *out, cr_error **err);

typedef struct cr_npm_tarball {
	cr_npm_name pkg;
	char version[CR_NPM_VERSION_MAX + 1];
	char path[CR_NPM_PATH_MAX]; /* canonical "<name>/-/<unscoped>-<version>.tgz" */
} cr_npm_tarball;

/* Parses a tarball request path `<name>/-/<unscoped-name>-<version>.tgz`
 * (name plain, "@scope/name" or "@scope%2fname"); the file's name part must
 * be the package's unscoped name. No "..", control bytes, empty parts,
 * other percent-escapes or further slashes. Returns 0, or -1 with *err. */
int cr_npm_parse_tarball(const char *s, cr_npm_tarball *out, cr_error **err);

/* ---- packuments ---- */

typedef struct cr_npm_doc cr_npm_doc;

/* Parses len bytes of a packument. Checks the shape the front relies on: an
 * object; "name" a string equal to `name` (when name is non-NULL); "versions",
 * "dist-tags" and "time" objects when present, with at most
 * CR_NPM_VERSIONS_MAX / CR_NPM_TAGS_MAX entries; every versions[v] an object
 * whose "dist", when present, is an object with string "tarball",
 * "integrity" and "shasum" (when present). Bytes over CR_NPM_DOC_MAX,
 * invalid JSON or a wrong shape: NULL with *err (CR_REASON_INTERNAL, message
 * names what is wrong). */
cr_npm_doc *cr_npm_doc_parse(const void *data, size_t len, const char *name, cr_error **err);
void cr_npm_doc_free(cr_npm_doc *d);
static inline void cr_npm_doc_freep(cr_npm_doc **d)
{
	cr_npm_doc_free(*d);
}
#define cleanup_npm_doc __attribute__((cleanup(cr_npm_doc_freep)))

/* Entries of versions now. */
size_t cr_npm_doc_n_versions(const cr_npm_doc *d);
/* True when versions has an entry for version. */
bool cr_npm_doc_has_version(const cr_npm_doc *d, const char *version);

typedef struct cr_npm_rewrite {
	const char *base_url; /* "http://10.213.0.1" (a trailing '/' is ignored) */
	/* Tarball hosts the front fetches from: host is the URL's authority,
	 * lower case ("registry.npm.example", "h.example:8443"). NULL = any. */
	bool (*host_allowed)(void *ud, const char *host);
	void *ud;
	/* NULL = no filter; else the only versions kept (NULL-terminated). */
	const char *const *allowed_versions;
} cr_npm_rewrite;

typedef struct cr_npm_rewrite_stats {
	size_t kept;
	size_t dropped_host;     /* tarball on a host host_allowed rejected */
	size_t dropped_unusable; /* bad version key, no tarball, tarball URL of another shape */
	size_t dropped_filter;   /* not in allowed_versions */
	size_t tags_dropped;     /* dist-tags removed (their version was dropped) */
	bool latest_moved;       /* latest now names the highest remaining version */
} cr_npm_rewrite_stats;

/* Rewrites d in place as described at the top. st may be NULL. */
void cr_npm_doc_rewrite(cr_npm_doc *d, const cr_npm_rewrite *rw, cr_npm_rewrite_stats *st);
/* Compact JSON of d (owned, NUL-terminated, length in *len). */
char *cr_npm_doc_dump(const cr_npm_doc *d, size_t *len);
/* The integrity of one version as an SRI list: dist.integrity when it is a
 * well-formed SRI list, else dist.shasum (40 hex) as "sha1-<base64>". Owned,
 * or NULL when the version or both fields are missing or malformed. */
char *cr_npm_doc_integrity(const cr_npm_doc *d, const char *version);
