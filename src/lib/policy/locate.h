/* SPDX-License-Identifier: Apache-2.0 */
/* locate.h -- finding a repository's policy and compiling it (spec §5.1).
 *
 * The repository root is the git top-level of the starting directory, or the
 * directory itself outside git. The policy is `cleanroom.yaml` there, else
 * `.buildkite/cleanroom.yaml`; when both exist the root file wins and a
 * warning names the ignored one. An explicit path overrides both. The
 * compiled policy's `source` is filled from git: the origin remote's URL
 * (credentials removed), else the directory name, and HEAD's commit. */
#pragma once

#include "policy/policy.h"

typedef struct cr_policy_request {
	const char *start_dir;   /* where to look from; NULL = current directory */
	const char *config_path; /* -c PATH, or NULL to resolve */
	bool load_lockfiles;     /* read lockfiles (compile, validate) */
} cr_policy_request;

typedef struct cr_policy_result {
	cr_policy *policy; /* NULL when there were errors */
	char *repo_root;   /* absolute */
	char *policy_file; /* the file read, as shown in messages */
	char *compiled;    /* canonical CompiledPolicy (with hash), NULL on errors */
	size_t compiled_len;
} cr_policy_result;

/* Locates, reads, validates and compiles. Diagnostics (errors and warnings)
 * go to diags. Returns 0 when the policy compiled, -1 otherwise; the result
 * is filled as far as it got and must be cleared with cr_policy_result_clear. */
int cr_policy_load_repo(const cr_policy_request *req, cr_policy_result *res, cr_diags *diags);

void cr_policy_result_clear(cr_policy_result *res);

/* Removes "user:password@" from a URL's authority, and any query string or
 * fragment, in place. */
void cr_url_strip_credentials(char *url);
