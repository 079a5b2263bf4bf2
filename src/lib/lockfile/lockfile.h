/* SPDX-License-Identifier: Apache-2.0 */
/* lockfile.h -- lockfile parsers that yield the artifact allowlist (spec §6.6).
 *
 * Each supported lockfile format turns a file's text into artifact entries:
 * package identity and version, the registry host and resolved URL it was
 * fetched from, and its integrity. The policy compiler puts them into
 * `registries.<manager>.artifact_allowlist`; the gateway later allows only
 * those. Formats are found through a table keyed by manager and file name. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "util/diag.h"

/* Upper bound on a lockfile's size; larger files are refused. */
#define CR_LOCKFILE_MAX_BYTES (64u << 20)
/* Upper bound on the artifacts one lockfile may yield. */
#define CR_LOCKFILE_MAX_ARTIFACTS 200000u

typedef enum cr_artifact_kind {
	CR_ARTIFACT_REGISTRY, /* fetched from a package registry by name+version */
	CR_ARTIFACT_GIT,      /* a git dependency (git+https://, github:..., git+ssh://) */
	CR_ARTIFACT_TARBALL,  /* a remote tarball URL that is not a registry artifact */
	CR_ARTIFACT_LOCAL,    /* file:/link:/directory dependency: no network fetch */
} cr_artifact_kind;

typedef struct cr_artifact {
	char *manager;   /* "npm" or "pip" */
	char *name;      /* registry name: "@scope/pkg", "lodash"; pip names PEP 503-normalised */
	char *version;   /* exact version ("" when the lockfile has none, e.g. some git deps) */
	char *registry;  /* lowercase host of `resolved` ("" when none) */
	char *resolved;  /* resolved URL or path as written ("" when none) */
	char *integrity; /* space-separated SRI strings ("sha512-<base64> sha1-<base64>"), "" if none */
	cr_artifact_kind kind;
	char *alias;    /* npm: name it is installed under when aliased ("npm:real@1"), else NULL */
	bool optional;  /* optional dependency */
	bool bundled;   /* bundled inside another package's tarball (not fetched itself) */
	bool dev;       /* development dependency */
	char *lockfile; /* repository-relative path of the lockfile it came from */
	unsigned line;  /* line in the lockfile where it is declared, 0 when unknown */
} cr_artifact;

typedef struct cr_artifact_list {
	cr_artifact *items;
	size_t n, cap;
} cr_artifact_list;

/* A lockfile parser: parses `len` bytes of `text` (NUL-terminated) read from the
 * repository-relative `path`, appends artifacts to `out` and reports problems
 * to `diags` (reason CR_REASON_POLICY_INVALID, file = path, with lines). A
 * problem that makes the file unusable is an error and the parser returns -1;
 * entries it can describe but not enforce (git, tarball, missing integrity)
 * are warnings. Returns 0 when the file was usable. */
typedef int (*cr_lockfile_parse_fn)(const char *path, const char *text, size_t len, cr_artifact_list *out,
				    cr_diags *diags);

typedef struct cr_lockfile_format {
	const char *name;    /* "package-lock.json", "yarn.lock", "requirements.txt" */
	const char *manager; /* "npm", "pip" */
	cr_lockfile_parse_fn parse;
} cr_lockfile_format;

int cr_lockfile_parse_npm(const char *path, const char *text, size_t len, cr_artifact_list *out,
			  cr_diags *diags);
int cr_lockfile_parse_yarn(const char *path, const char *text, size_t len, cr_artifact_list *out,
			   cr_diags *diags);
int cr_lockfile_parse_pip(const char *path, const char *text, size_t len, cr_artifact_list *out,
			  cr_diags *diags);

/* Chooses the format for a lockfile of `manager` by its base name:
 * npm: package-lock.json, npm-shrinkwrap.json -> npm; yarn.lock -> yarn;
 * pip: any *.txt file -> requirements. Returns NULL when none fits. */
const cr_lockfile_format *cr_lockfile_format_for(const char *manager, const char *path);

/* Names the accepted file names for a manager, for hints ("package-lock.json,
 * npm-shrinkwrap.json or yarn.lock"). Never NULL. */
const char *cr_lockfile_formats_hint(const char *manager);

/* Deep-copies *a. */
cr_artifact cr_artifact_copy(const cr_artifact *a);
void cr_artifact_clear(cr_artifact *a);
/* Appends a (taking ownership of its strings). */
void cr_artifact_list_push(cr_artifact_list *l, cr_artifact a);
void cr_artifact_list_free(cr_artifact_list *l);
/* Sorts by (name, version, resolved, lockfile) bytewise and drops exact
 * duplicates (same name, version, registry, resolved, integrity, kind, alias),
 * so that a compiled policy is byte-identical for equal inputs. */
void cr_artifact_list_normalize(cr_artifact_list *l);

/* JSON form used in the compiled policy: an object with keys name, version,
 * registry, resolved, integrity, kind ("registry"|"git"|"tarball"|"local"),
 * alias (only when set), optional, bundled, dev, lockfile. Line numbers are
 * not part of it. */
json_t *cr_artifact_to_json(const cr_artifact *a);
/* Reads that form back for `manager`, validating every field (unknown keys
 * and wrong types rejected). Returns 0, or -1 with *why (owned) set. */
int cr_artifact_from_json(const json_t *j, const char *manager, cr_artifact *out, char **why);

const char *cr_artifact_kind_name(cr_artifact_kind k);
