/* SPDX-License-Identifier: Apache-2.0 */
/* locate.c -- repository root, policy file resolution, source identity and
 * the whole load-validate-compile sequence (see locate.h). */
#include "policy/locate.h"

#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "policy/yamltree.h"
#include "util/cleanup.h"
#include "util/fileio.h"
#include "util/proc.h"
#include "util/xalloc.h"

#define PRIMARY_POLICY  "cleanroom.yaml"
#define FALLBACK_POLICY ".buildkite/cleanroom.yaml"

static char *git_output(const char *dir, const char *a1, const char *a2, const char *a3)
{
	char *argv[] = {"git", "-C", (char *)dir, (char *)a1, (char *)a2, (char *)a3, NULL};
	char *out = NULL;
	cr_error *err = NULL;
	int rc = cr_proc_capture(argv, 1 << 16, &out, &err);
	cr_error_free(err);
	if (rc != 0) {
		free(out);
		return NULL;
	}
	return out;
}

static char *repo_root(const char *start)
{
	char *top = git_output(start, "rev-parse", "--show-toplevel", NULL);
	if (top && *top)
		return top;
	free(top);
	char *abs = realpath(start, NULL);
	return abs ? abs : cr_xstrdup(start);
}

void cr_url_strip_credentials(char *url)
{
	url[strcspn(url, "?#")] = '\0'; /* tokens also hide in query strings */
	char *scheme = strstr(url, "://");
	char *auth = scheme ? scheme + 3 : url;
	size_t alen = strcspn(auth, "/");
	char *at = memrchr(auth, '@', alen);
	if (at && scheme)
		memmove(auth, at + 1, strlen(at + 1) + 1);
}

static char *remote_url(const char *root)
{
	char *url = git_output(root, "remote", "get-url", "origin");
	if (url && *url)
		return url;
	free(url);
	cleanup_free char *remotes = git_output(root, "remote", NULL, NULL);
	if (!remotes || !*remotes)
		return NULL;
	remotes[strcspn(remotes, "\n")] = '\0';
	return git_output(root, "remote", "get-url", remotes);
}

static void fill_source(cr_policy *p, const char *root, const char *policy_path)
{
	char *url = remote_url(root);
	if (!url || !*url) {
		free(url);
		const char *slash = strrchr(root, '/');
		url = cr_xstrdup(slash && slash[1] ? slash + 1 : root);
	}
	cr_url_strip_credentials(url);
	char *sha = git_output(root, "rev-parse", "--verify", "HEAD^{commit}");
	free(p->source.repository);
	free(p->source.commit_sha);
	free(p->source.policy_path);
	p->source.repository = url;
	p->source.commit_sha = sha ? sha : cr_xstrdup("");
	p->source.policy_path = cr_xstrdup(policy_path);
}

/* Chooses the policy file; returns its repository-relative path (or the
 * path as given with -c), NULL with an error diagnostic when none exists. */
static char *choose_file(const cr_policy_request *req, const char *root, cr_diags *diags)
{
	if (req->config_path && req->config_path[0] != '/' && req->start_dir)
		return cr_asprintf("%s/%s", req->start_dir, req->config_path);
	if (req->config_path)
		return cr_xstrdup(req->config_path);
	cleanup_close int dfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	bool primary = dfd >= 0 && cr_path_exists_at(dfd, PRIMARY_POLICY, NULL) == 1;
	bool fallback = dfd >= 0 && cr_path_exists_at(dfd, FALLBACK_POLICY, NULL) == 1;
	if (primary && fallback)
		cr_diags_add(diags, CR_DIAG_WARNING, CR_REASON_NONE,
			     (cr_diag_loc){FALLBACK_POLICY, 0, 0, NULL}, "delete one of the two files",
			     "ignored: %s takes precedence", PRIMARY_POLICY);
	if (primary)
		return cr_xstrdup(PRIMARY_POLICY);
	if (fallback)
		return cr_xstrdup(FALLBACK_POLICY);
	cr_diags_add(diags, CR_DIAG_ERROR, CR_REASON_POLICY_INVALID, (cr_diag_loc){0},
		     "create cleanroom.yaml at the repository root (see docs/policy.md), or pass -c PATH",
		     "no %s or %s in %s", PRIMARY_POLICY, FALLBACK_POLICY, root);
	return NULL;
}

/* The repository-relative form of an explicit -c path when it lies inside
 * the repository, else the path as given. */
static char *relative_policy_path(const char *root, const char *file, bool explicit_path)
{
	if (!explicit_path)
		return cr_xstrdup(file);
	cleanup_free char *abs = realpath(file, NULL);
	size_t rl = strlen(root);
	if (abs && strncmp(abs, root, rl) == 0 && abs[rl] == '/')
		return cr_xstrdup(abs + rl + 1);
	return cr_xstrdup(file);
}

static int read_policy(const cr_policy_request *req, cr_policy_result *res, int rootfd, cr_diags *diags)
{
	cleanup_error cr_error *err = NULL;
	cleanup_free char *text = NULL;
	size_t len = 0;
	int dirfd = req->config_path ? AT_FDCWD : rootfd;
	if (cr_read_file_at(dirfd, res->policy_file, CR_YAML_MAX_BYTES, 0, &text, &len, &err) < 0) {
		cr_diags_add(diags, CR_DIAG_ERROR, CR_REASON_POLICY_INVALID, (cr_diag_loc){0}, NULL, "%s",
			     err->msg);
		return -1;
	}
	return cr_policy_from_yaml(text, len, res->policy_file, &res->policy, diags);
}

int cr_policy_load_repo(const cr_policy_request *req, cr_policy_result *res, cr_diags *diags)
{
	*res = (cr_policy_result){0};
	res->repo_root = repo_root(req->start_dir ? req->start_dir : ".");
	res->policy_file = choose_file(req, res->repo_root, diags);
	if (!res->policy_file)
		return -1;
	cleanup_close int rootfd = open(res->repo_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0 || read_policy(req, res, rootfd, diags) < 0)
		return -1;
	if (req->load_lockfiles && cr_policy_load_lockfiles(res->policy, rootfd, res->policy_file, diags) < 0)
		return -1;
	cleanup_free char *rel =
		relative_policy_path(res->repo_root, res->policy_file, req->config_path != NULL);
	fill_source(res->policy, res->repo_root, rel);
	cleanup_error cr_error *err = NULL;
	res->compiled = cr_policy_compile(res->policy, &res->compiled_len, &err);
	if (!res->compiled) {
		cr_diags_add(diags, CR_DIAG_ERROR, CR_REASON_INTERNAL, (cr_diag_loc){0}, NULL, "%s",
			     err->msg);
		return -1;
	}
	return 0;
}

void cr_policy_result_clear(cr_policy_result *res)
{
	cr_policy_free(res->policy);
	free(res->repo_root);
	free(res->policy_file);
	free(res->compiled);
	*res = (cr_policy_result){0};
}
