/* SPDX-License-Identifier: Apache-2.0 */
/* http_token.c -- the bearer tokens of the TCP listener (see http_tls.h):
 * the token file (owner-only, one token per line, several for rotation) and
 * the constant-time check of an Authorization header. Only the tokens'
 * SHA-256 digests stay in memory. */
#include "server/http_tls.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/xalloc.h"

typedef struct token_entry {
	unsigned char digest[SHA256_DIGEST_LENGTH];
	char actor[CR_HTTP_TOKEN_ACTOR_SIZE];
} token_entry;

struct cr_http_tokens {
	token_entry *items;
	size_t n, cap;
};

void cr_http_tokens_free(cr_http_tokens *t)
{
	if (!t)
		return;
	if (t->items)
		OPENSSL_cleanse(t->items, t->cap * sizeof(*t->items));
	free(t->items);
	free(t);
}

size_t cr_http_tokens_count(const cr_http_tokens *t)
{
	return t ? t->n : 0;
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/* RFC 6750 b64token: 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=" */
static bool valid_token(const char *s, size_t len)
{
	size_t i = 0;
	while (i < len && (((s[i] | 0x20) >= 'a' && (s[i] | 0x20) <= 'z') || (s[i] >= '0' && s[i] <= '9') ||
			   strchr("-._~+/", s[i])))
		i++;
	if (i == 0)
		return false;
	while (i < len && s[i] == '=')
		i++;
	return i == len;
}

static void add_token(cr_http_tokens *t, const char *s, size_t len)
{
	t->items = cr_xgrow(t->items, &t->cap, t->n + 1, sizeof(*t->items));
	token_entry *e = &t->items[t->n++];
	SHA256((const unsigned char *)s, len, e->digest);
	snprintf(e->actor, sizeof(e->actor), "token:%02x%02x%02x%02x", e->digest[0], e->digest[1],
		 e->digest[2], e->digest[3]);
}

/* One line, without its newline: 0 (a token was added or nothing to add) or -1. */
static int parse_line(cr_http_tokens *t, const char *s, size_t len, const char *origin, size_t lineno,
		      cr_error **err)
{
	while (len && is_blank(*s))
		s++, len--;
	while (len && is_blank(s[len - 1]))
		len--;
	if (len == 0 || *s == '#')
		return 0;
	if (len < CR_HTTP_TOKEN_MIN_LEN || len > CR_HTTP_TOKEN_MAX_LEN)
		return cr_error_status(
			err, EINVAL, CR_REASON_USAGE_INVALID,
			"token file '%s' line %zu: a token has %u to %u characters, this one %zu", origin,
			lineno, CR_HTTP_TOKEN_MIN_LEN, CR_HTTP_TOKEN_MAX_LEN, len);
	if (!valid_token(s, len))
		return cr_error_status(err, EINVAL, CR_REASON_USAGE_INVALID,
				       "token file '%s' line %zu: a token may hold only letters, digits and "
				       "'-._~+/' (then '=' padding)",
				       origin, lineno);
	add_token(t, s, len);
	return 0;
}

int cr_http_tokens_parse(const char *text, size_t len, const char *origin, cr_http_tokens **out,
			 cr_error **err)
{
	cleanup_tokens cr_http_tokens *t = cr_xcalloc(1, sizeof(*t));
	size_t lineno = 0;
	for (size_t pos = 0; pos < len;) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t end = nl ? (size_t)(nl - text) : len;
		if (memchr(text + pos, '\0', end - pos))
			return cr_error_status(err, EINVAL, CR_REASON_USAGE_INVALID,
					       "token file '%s' line %zu: a NUL byte", origin, lineno + 1);
		if (parse_line(t, text + pos, end - pos, origin, ++lineno, err) < 0)
			return -1;
		pos = end + 1;
	}
	if (t->n == 0)
		return cr_error_status(err, EINVAL, CR_REASON_USAGE_INVALID,
				       "token file '%s' holds no token (one per line, '#' starts a comment)",
				       origin);
	*out = steal_pointer(&t);
	return 0;
}

/* Reads all of fd (at most cap bytes) into *out; -1 with errno (E2BIG). */
static int read_capped(int fd, size_t cap, char **out, size_t *len)
{
	cleanup_free char *buf = cr_xmalloc(cap + 1);
	size_t n = 0;
	for (;;) {
		ssize_t r = read(fd, buf + n, cap + 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int e = errno;
			OPENSSL_cleanse(buf, n);
			return errno = e, -1;
		}
		if (r == 0)
			break;
		n += (size_t)r;
		if (n > cap) {
			OPENSSL_cleanse(buf, n);
			return errno = E2BIG, -1;
		}
	}
	*out = steal_pointer(&buf);
	*len = n;
	return 0;
}

int cr_http_tokens_load(const char *path, cr_http_tokens **out, cr_error **err)
{
	cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return cr_error_make(err, errno, CR_REASON_USAGE_INVALID, "open token file '%s'", path);
	struct stat st;
	if (fstat(fd, &st) < 0)
		return cr_error_make(err, errno, CR_REASON_USAGE_INVALID, "stat token file '%s'", path);
	if (!S_ISREG(st.st_mode))
		return cr_error_status(err, EINVAL, CR_REASON_USAGE_INVALID,
				       "token file '%s' is not a regular file", path);
	if (st.st_mode & 077)
		return cr_error_status(err, EPERM, CR_REASON_USAGE_INVALID,
				       "token file '%s' has mode %04o: group and others must have no access "
				       "to bearer tokens (chmod 600 '%s')",
				       path, (unsigned)(st.st_mode & 07777), path);
	char *text = NULL;
	size_t len = 0;
	if (read_capped(fd, CR_HTTP_TOKEN_FILE_CAP, &text, &len) < 0) {
		if (errno == E2BIG)
			return cr_error_status(err, E2BIG, CR_REASON_USAGE_INVALID,
					       "token file '%s' is larger than %u bytes", path,
					       CR_HTTP_TOKEN_FILE_CAP);
		return cr_error_make(err, errno, CR_REASON_USAGE_INVALID, "read token file '%s'", path);
	}
	int rc = cr_http_tokens_parse(text, len, path, out, err);
	OPENSSL_cleanse(text, len);
	free(text);
	return rc;
}

const char *cr_http_tokens_check(const cr_http_tokens *t, const char *authorization)
{
	if (!t || !authorization || strncasecmp(authorization, "Bearer ", 7) != 0)
		return NULL;
	const char *s = authorization + 7;
	while (*s == ' ')
		s++;
	size_t len = strlen(s);
	while (len && is_blank(s[len - 1]))
		len--;
	if (len == 0)
		return NULL;
	unsigned char digest[SHA256_DIGEST_LENGTH];
	SHA256((const unsigned char *)s, len, digest);
	const char *actor = NULL;
	for (size_t i = 0; i < t->n; i++) {
		/* every entry is compared: no early exit on a match */
		bool same = CRYPTO_memcmp(digest, t->items[i].digest, sizeof(digest)) == 0;
		actor = same ? t->items[i].actor : actor;
	}
	OPENSSL_cleanse(digest, sizeof(digest));
	return actor;
}
