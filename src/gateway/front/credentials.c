/* SPDX-License-Identifier: Apache-2.0 */
/* credentials.c -- upstream git credentials in the gateway (spec §6.4).
 *
 * The server resolves its credentials template (environment variables,
 * files) when it starts a gateway and writes the result on a pipe:
 *   {"git": [{"host": "git.example", "prefix": "org/", "username": "u",
 *             "password": "..."}]}
 * The gateway keeps them in memory only; they go upstream as Basic auth and
 * nowhere else. Error messages name the entry, never a value. */
#include <errno.h>
#include <jansson.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "gateway/front/front_internal.h"
#include "util/buf.h"
#include "util/cleanup.h"
#include "util/xalloc.h"

#define CREDS_MAX_BYTES (1u << 20)
#define CREDS_MAX       256

static int read_all(int fd, cr_buf *b, cr_error **err)
{
	char chunk[4096];
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return cr_error_make(err, errno, CR_REASON_INTERNAL, "credentials: read");
		if (n == 0)
			return 0;
		if (b->len + (size_t)n > CREDS_MAX_BYTES)
			return cr_error_make(err, E2BIG, CR_REASON_USAGE_INVALID,
					     "credentials: more than %u bytes", CREDS_MAX_BYTES);
		cr_buf_append(b, chunk, (size_t)n);
	}
}

static const char *field(json_t *o, const char *key, bool required)
{
	json_t *v = json_object_get(o, key);
	if (!v)
		return required ? NULL : "";
	return json_is_string(v) ? json_string_value(v) : NULL;
}

static int load_entry(cr_front *f, json_t *e, size_t i, cr_error **err)
{
	const char *host = json_is_object(e) ? field(e, "host", true) : NULL;
	const char *prefix = host ? field(e, "prefix", false) : NULL;
	const char *user = host ? field(e, "username", false) : NULL;
	const char *pass = host ? field(e, "password", true) : NULL;
	if (!host || !*host || !prefix || !user || !pass)
		return cr_error_make(err, EINVAL, CR_REASON_USAGE_INVALID,
				     "credentials: git[%zu] needs string fields host and password "
				     "(prefix and username optional)",
				     i);
	cr_front_cred *c = &f->creds[f->n_creds++];
	char *h = cr_xstrdup(host);
	for (char *p = h; *p; p++)
		*p = (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
	c->host = h;
	c->prefix = cr_xstrdup(prefix[0] == '/' ? prefix + 1 : prefix);
	c->username = cr_xstrdup(*user ? user : "git");
	c->password = cr_xstrdup(pass);
	return 0;
}

int cr_front_credentials_load(cr_front *f, int fd, cr_error **err)
{
	if (fd < 0)
		return 0;
	cleanup_buf cr_buf b;
	cr_buf_init(&b, CREDS_MAX_BYTES);
	int rc = read_all(fd, &b, err);
	close(fd);
	if (rc < 0)
		return -1;
	json_error_t jerr;
	json_t *doc = json_loadb(b.data ? b.data : "", b.len, 0, &jerr);
	explicit_bzero(b.data, b.len);
	json_t *git = doc ? json_object_get(doc, "git") : NULL;
	if (!doc || (git && !json_is_array(git)) || json_array_size(git) > CREDS_MAX) {
		json_decref(doc);
		return cr_error_make(
			err, EINVAL, CR_REASON_USAGE_INVALID,
			"credentials: not a JSON object with a \"git\" array of at most %d entries",
			CREDS_MAX);
	}
	f->creds = cr_xcalloc(json_array_size(git) + 1, sizeof(*f->creds));
	for (size_t i = 0; i < json_array_size(git); i++)
		if (load_entry(f, json_array_get(git, i), i, err) < 0) {
			json_decref(doc);
			return -1;
		}
	json_decref(doc);
	return 0;
}

void cr_front_credentials_free(cr_front *f)
{
	for (size_t i = 0; i < f->n_creds; i++) {
		cr_front_cred *c = &f->creds[i];
		explicit_bzero((char *)c->password, strlen(c->password));
		free((char *)c->host);
		free((char *)c->prefix);
		free((char *)c->username);
		free((char *)c->password);
	}
	free(f->creds);
	f->creds = NULL;
	f->n_creds = 0;
}

const cr_front_cred *cr_front_git_cred(const cr_gateway *gw, const char *host, const char *repo)
{
	const cr_front *f = cr_front_of(gw);
	const cr_front_cred *best = NULL;
	for (size_t i = 0; f && i < f->n_creds; i++) {
		const cr_front_cred *c = &f->creds[i];
		size_t n = strlen(c->prefix);
		if (strcasecmp(c->host, host) != 0 || strncmp(repo, c->prefix, n) != 0)
			continue;
		if (!best || n > strlen(best->prefix))
			best = c;
	}
	return best;
}
