/* SPDX-License-Identifier: Apache-2.0 */
/* fronts.c -- the server's side of the registry and git fronts (fronts.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "server/fronts.h"
#include "util/cleanup.h"
#include "util/fileio.h"
#include "util/xalloc.h"

#define CACHE_DIR_MAX    400 /* the gateway's argv has room for this much */
#define TEMPLATE_MAX     (1u << 20)
#define SECRET_MAX       (64u << 10)
#define TEMPLATE_ENTRIES 256

/* ---- options ---- */

static int absolute(const char *opt, const char *path, char **out, cr_error **err)
{
	char real[PATH_MAX];
	if (!realpath(path, real))
		return cr_error_make(err, errno, CR_REASON_USAGE_INVALID, "%s: '%s'", opt, path);
	*out = cr_xstrdup(real);
	return 0;
}

static int make_cache_dir(cr_fronts *f, const char *dir, uid_t uid, gid_t gid, cr_error **err)
{
	if (dir[0] != '/' || strlen(dir) > CACHE_DIR_MAX)
		return cr_error_make(err, EINVAL, CR_REASON_USAGE_INVALID,
				     "--cache-dir: '%s' must be an absolute path of at most %d bytes", dir,
				     CACHE_DIR_MAX);
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return cr_error_make(err, errno, CR_REASON_USAGE_INVALID, "--cache-dir: create '%s'", dir);
	struct stat st;
	if (lstat(dir, &st) < 0 || !S_ISDIR(st.st_mode))
		return cr_error_make(err, ENOTDIR, CR_REASON_USAGE_INVALID,
				     "--cache-dir: '%s' is not a directory", dir);
	/* the gateways (uid:gid) own it; nobody else may read what they cached */
	if ((st.st_uid != uid || st.st_gid != gid) && chown(dir, uid, gid) < 0)
		return cr_error_make(err, errno, CR_REASON_USAGE_INVALID, "--cache-dir: chown '%s' to %u:%u",
				     dir, (unsigned)uid, (unsigned)gid);
	if ((st.st_mode & 07777) != 0700 && chmod(dir, 0700) < 0)
		return cr_error_make(err, errno, CR_REASON_USAGE_INVALID, "--cache-dir: chmod '%s'", dir);
	f->cache_dir = cr_xstrdup(dir);
	return 0;
}

/* ---- the credentials template ---- */

static const char *opt_string(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	return json_is_string(v) ? json_string_value(v) : NULL;
}

static int template_entry(cr_fronts *f, json_t *e, const char *file, size_t i, cr_error **err)
{
	const char *host = json_is_object(e) ? opt_string(e, "host") : NULL;
	const char *env = host ? opt_string(e, "password_env") : NULL;
	const char *pfile = host ? opt_string(e, "password_file") : NULL;
	if (!host || !*host || !!env == !!pfile || (json_object_get(e, "password")))
		return cr_error_make(err, EINVAL, CR_REASON_USAGE_INVALID,
				     "--git-credentials %s: git[%zu] needs \"host\" and exactly one of "
				     "\"password_env\" (a variable of the server's environment) or "
				     "\"password_file\"; values never go into the template",
				     file, i);
	cr_fronts_cred *c = &f->creds[f->n_creds++];
	c->host = cr_xstrdup(host);
	c->prefix = cr_xstrdup(opt_string(e, "prefix") ? opt_string(e, "prefix") : "");
	c->username = cr_xstrdup(opt_string(e, "username") ? opt_string(e, "username") : "git");
	c->password_env = env ? cr_xstrdup(env) : NULL;
	c->password_file = pfile ? cr_xstrdup(pfile) : NULL;
	return 0;
}

static int load_template(cr_fronts *f, const char *file, cr_error **err)
{
	cleanup_free char *text = NULL;
	size_t len = 0;
	if (cr_read_file(file, TEMPLATE_MAX, &text, &len, err) < 0)
		return cr_error_wrap(err, "--git-credentials");
	json_error_t jerr;
	json_t *doc = json_loadb(text, len, 0, &jerr);
	json_t *git = doc ? json_object_get(doc, "git") : NULL;
	if (!json_is_array(git) || json_array_size(git) > TEMPLATE_ENTRIES) {
		json_decref(doc);
		return cr_error_make(err, EINVAL, CR_REASON_USAGE_INVALID,
				     "--git-credentials %s: %s%s expected {\"git\": [{\"host\": ..., "
				     "\"password_env\": ...}, ...]} (at most %d entries)",
				     file, doc ? "" : jerr.text, doc ? "" : ";", TEMPLATE_ENTRIES);
	}
	f->creds = cr_xcalloc(json_array_size(git) + 1, sizeof(*f->creds));
	for (size_t i = 0; i < json_array_size(git); i++)
		if (template_entry(f, json_array_get(git, i), file, i, err) < 0) {
			json_decref(doc);
			return -1;
		}
	json_decref(doc);
	return 0;
}

int cr_fronts_init(cr_fronts *f, const cr_fronts_options *o, const char *state_dir, uid_t uid, gid_t gid,
		   cr_error **err)
{
	*f = (cr_fronts){.cache_max_bytes = o->cache_max_bytes, .offline = o->offline};
	cleanup_free char *def = o->cache_dir ? NULL : cr_asprintf("%s/cache", state_dir);
	if (make_cache_dir(f, o->cache_dir ? o->cache_dir : def, uid, gid, err) < 0)
		return -1;
	if (o->upstream_cacert &&
	    absolute("--upstream-cacert", o->upstream_cacert, &f->upstream_cacert, err) < 0)
		return -1;
	if (o->credentials && load_template(f, o->credentials, err) < 0)
		return -1;
	return 0;
}

void cr_fronts_free(cr_fronts *f)
{
	for (size_t i = 0; i < f->n_creds; i++) {
		cr_fronts_cred *c = &f->creds[i];
		free(c->host), free(c->prefix), free(c->username), free(c->password_env),
			free(c->password_file);
	}
	free(f->creds);
	free(f->cache_dir);
	free(f->upstream_cacert);
	*f = (cr_fronts){0};
}

/* ---- resolving it for one gateway ---- */

static char *secret_of(const cr_fronts_cred *c)
{
	if (c->password_env) {
		const char *v = getenv(c->password_env);
		if (!v || !*v)
			fprintf(stderr, "cleanroom serve: git credentials for %s: $%s is not set; left out\n",
				c->host, c->password_env);
		return v && *v ? cr_xstrdup(v) : NULL;
	}
	char *text = NULL;
	size_t len = 0;
	cleanup_error cr_error *err = NULL;
	if (cr_read_file(c->password_file, SECRET_MAX, &text, &len, &err) < 0) {
		fprintf(stderr, "cleanroom serve: git credentials for %s: %s; left out\n", c->host, err->msg);
		return NULL;
	}
	while (len && (text[len - 1] == '\n' || text[len - 1] == '\r'))
		text[--len] = '\0';
	return text;
}

int cr_fronts_credentials_fd(const cr_fronts *f, cr_error **err)
{
	if (f->n_creds == 0)
		return -2;
	json_t *git = json_array();
	for (size_t i = 0; i < f->n_creds; i++) {
		const cr_fronts_cred *c = &f->creds[i];
		char *secret = secret_of(c);
		if (!secret)
			continue;
		json_array_append_new(git, json_pack("{s:s, s:s, s:s, s:s}", "host", c->host, "prefix",
						     c->prefix, "username", c->username, "password", secret));
		explicit_bzero(secret, strlen(secret));
		free(secret);
	}
	json_t *doc = json_pack("{s:o}", "git", git);
	char *text = json_dumps(doc, JSON_COMPACT);
	json_decref(doc);
	int fd = memfd_create("cleanroom-credentials", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	int rc = fd < 0 ? -1 : cr_write_all(fd, text, strlen(text));
	explicit_bzero(text, strlen(text));
	free(text);
	if (rc < 0 || lseek(fd, 0, SEEK_SET) < 0 ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL) < 0) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		return cr_error_make(err, e, CR_REASON_RUNTIME_LAUNCH_FAILED, "pass the git credentials");
	}
	return fd;
}

/* ---- the sandbox's environment ---- */

static bool allows_https(const cr_net_rule *r)
{
	for (size_t i = 0; i < r->n_ports; i++)
		if (r->ports[i] == 443)
			return true;
	return r->n_ports == 0;
}

/* url.http://GW/git/<host>/.insteadOf https://<host>/ for every exact name
 * the policy allows on 443: clones run unchanged, through the git front. */
static void git_env(const cr_policy *p, const char *gw, char ***env, size_t *n)
{
	size_t k = 0;
	for (size_t i = 0; i < p->network.n_allow; i++) {
		const cr_net_rule *r = &p->network.allow[i];
		if (r->host.kind != CR_HOST_NAME || !allows_https(r))
			continue;
		cr_strv_push(env, n,
			     cr_asprintf("GIT_CONFIG_KEY_%zu=url.http://%s/git/%s/.insteadOf", k, gw,
					 r->host.text));
		cr_strv_push(env, n, cr_asprintf("GIT_CONFIG_VALUE_%zu=https://%s/", k, r->host.text));
		k++;
	}
	if (k)
		cr_strv_push(env, n, cr_asprintf("GIT_CONFIG_COUNT=%zu", k));
}

void cr_fronts_env(const cr_policy *p, struct in_addr gateway, char ***env, size_t *n)
{
	char gw[INET_ADDRSTRLEN];
	inet_ntop(AF_INET, &gateway, gw, sizeof(gw));
	/* npm and yarn: environment beats a project's .npmrc; lockfile URLs of
	 * any registry host become the gateway's */
	cr_strv_push(env, n, cr_asprintf("npm_config_registry=http://%s/npm/", gw));
	cr_strv_push(env, n, cr_xstrdup("npm_config_replace_registry_host=always"));
	cr_strv_push(env, n, cr_xstrdup("npm_config_audit=false"));
	cr_strv_push(env, n, cr_xstrdup("npm_config_fund=false"));
	cr_strv_push(env, n, cr_xstrdup("npm_config_update_notifier=false"));
	cr_strv_push(env, n, cr_asprintf("YARN_REGISTRY=http://%s/npm/", gw));
	cr_strv_push(env, n, cr_asprintf("PIP_INDEX_URL=http://%s/pypi/simple/", gw));
	cr_strv_push(env, n, cr_asprintf("PIP_TRUSTED_HOST=%s", gw));
	cr_strv_push(env, n, cr_xstrdup("PIP_DISABLE_PIP_VERSION_CHECK=1"));
	if (p)
		git_env(p, gw, env, n);
}
