/* SPDX-License-Identifier: Apache-2.0 */
/* sri.c -- parsing and checking Subresource Integrity lists (sri.h): a
 * strict base64 decoder (standard alphabet, padding optional but exact), the
 * strongest-algorithm rule, and SRI built from hex digests. */
#include "gateway/upstream/sri.h"

#include <ctype.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "util/buf.h"
#include "util/cleanup.h"
#include "util/hex.h"
#include "util/xalloc.h"

#define ENTRY_QUOTE_MAX  80 /* bytes of a bad entry quoted in an error */
#define WHY_EXPECTED_MAX 4  /* expected entries listed in a mismatch message */

static const struct {
	const char *name;
	size_t len;
	unsigned hash_flag; /* CR_HASH_* (0: always computed) */
} algs[CR_SRI__COUNT] = {
	[CR_SRI_SHA1] = {"sha1", 20, CR_HASH_SHA1},
	[CR_SRI_SHA256] = {"sha256", 32, 0},
	[CR_SRI_SHA384] = {"sha384", 48, CR_HASH_SHA384},
	[CR_SRI_SHA512] = {"sha512", 64, CR_HASH_SHA512},
};

const char *cr_sri_alg_name(cr_sri_alg alg)
{
	return alg < CR_SRI__COUNT ? algs[alg].name : "?";
}

size_t cr_sri_digest_len(cr_sri_alg alg)
{
	return alg < CR_SRI__COUNT ? algs[alg].len : 0;
}

static int alg_by_name(const char *s, size_t n)
{
	for (int i = 0; i < CR_SRI__COUNT; i++)
		if (strlen(algs[i].name) == n && strncasecmp(s, algs[i].name, n) == 0)
			return i;
	return -1;
}

/* ---- base64 ---- */

static int b64_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* Decodes exactly `want` bytes from s[0..n): standard alphabet, "=" padding
 * optional but, when present, exactly what completes the last quantum; the
 * unused bits of the last character must be zero (one encoding per digest). */
static bool b64_decode_exact(const char *s, size_t n, uint8_t *out, size_t want)
{
	size_t chars = (want * 4 + 2) / 3; /* significant characters */
	size_t padded = (want + 2) / 3 * 4;
	if (n != chars && n != padded)
		return false;
	for (size_t i = chars; i < n; i++)
		if (s[i] != '=')
			return false;
	uint32_t acc = 0;
	unsigned bits = 0;
	size_t o = 0;
	for (size_t i = 0; i < chars; i++) {
		int v = b64_value(s[i]);
		if (v < 0)
			return false;
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o < want)
				out[o++] = (uint8_t)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	return o == want && acc == 0;
}

char *cr_sri_format(cr_sri_alg alg, const uint8_t *digest)
{
	unsigned char b64[4 * ((64 + 2) / 3) + 1];
	EVP_EncodeBlock(b64, digest, (int)cr_sri_digest_len(alg));
	return cr_asprintf("%s-%s", cr_sri_alg_name(alg), (const char *)b64);
}

/* ---- parsing ---- */

static int bad_entry(cr_error **err, const char *tok, size_t n, const char *why)
{
	return cr_error_make(err, 0, CR_REASON_INTERNAL, "integrity entry '%.*s%s': %s",
			     (int)(n > ENTRY_QUOTE_MAX ? ENTRY_QUOTE_MAX : n), tok,
			     n > ENTRY_QUOTE_MAX ? "..." : "", why);
}

static bool alg_chars_ok(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]))
			return false;
	return n > 0;
}

/* One whitespace-free token "<alg>-<value>[?options]". */
static int parse_entry(const char *tok, size_t n, cr_sri *out, size_t *cap, cr_error **err)
{
	const char *dash = memchr(tok, '-', n);
	if (!dash || !alg_chars_ok(tok, (size_t)(dash - tok)))
		return bad_entry(err, tok, n, "not <algorithm>-<base64>");
	int alg = alg_by_name(tok, (size_t)(dash - tok));
	if (alg < 0) {
		out->ignored++;
		return 0;
	}
	const char *val = dash + 1;
	const char *q = memchr(val, '?', (size_t)(tok + n - val));
	size_t vlen = (size_t)((q ? q : tok + n) - val);
	cr_sri_entry e = {.alg = (cr_sri_alg)alg};
	if (!b64_decode_exact(val, vlen, e.digest, algs[alg].len))
		return bad_entry(err, tok, n, "not a base64 digest of that algorithm's length");
	if (out->n == CR_SRI_MAX_ENTRIES)
		return bad_entry(err, tok, n, "too many entries");
	out->items = cr_xgrow(out->items, cap, out->n + 1, sizeof(*out->items));
	out->items[out->n++] = e;
	return 0;
}

int cr_sri_parse(const char *sri, cr_sri *out, cr_error **err)
{
	*out = (cr_sri){0};
	if (!sri)
		return 0;
	if (strlen(sri) > CR_SRI_MAX_LEN)
		return cr_error_make(err, 0, CR_REASON_INTERNAL, "integrity list longer than %d bytes",
				     CR_SRI_MAX_LEN);
	size_t cap = 0;
	const char *p = sri;
	while (*p) {
		while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' || *p == '\f')
			p++;
		size_t n = 0;
		while (p[n] && !strchr(" \t\n\r\f", p[n]))
			n++;
		if (n && parse_entry(p, n, out, &cap, err) < 0) {
			cr_sri_clear(out);
			return -1;
		}
		p += n;
	}
	return 0;
}

void cr_sri_clear(cr_sri *s)
{
	if (!s)
		return;
	free(s->items);
	*s = (cr_sri){0};
}

int cr_sri_strongest(const cr_sri *s)
{
	int best = -1;
	for (size_t i = 0; i < s->n; i++)
		if ((int)s->items[i].alg > best)
			best = (int)s->items[i].alg;
	return best;
}

unsigned cr_sri_hashes(const char *sri)
{
	cr_sri s;
	cleanup_error cr_error *err = NULL;
	if (cr_sri_parse(sri, &s, &err) < 0)
		return 0;
	int best = cr_sri_strongest(&s);
	cr_sri_clear(&s);
	return best < 0 ? 0 : algs[best].hash_flag;
}

/* ---- checking ---- */

static bool hex_to_raw(const char *hex, uint8_t *out, size_t len)
{
	return cr_hex_decode(hex, strlen(hex), out, len);
}

/* The digest of alg in d, or false when d does not have it. */
static bool digest_of(const cr_digests *d, cr_sri_alg alg, uint8_t out[64])
{
	switch (alg) {
	case CR_SRI_SHA1: memcpy(out, d->sha1, 20); return d->have & CR_HASH_SHA1;
	case CR_SRI_SHA256: return hex_to_raw(d->sha256, out, 32);
	case CR_SRI_SHA384: memcpy(out, d->sha384, 48); return d->have & CR_HASH_SHA384;
	case CR_SRI_SHA512: memcpy(out, d->sha512, 64); return d->have & CR_HASH_SHA512;
	default: return false;
	}
}

static void set_why(char **why, char *msg)
{
	if (why)
		*why = msg;
	else
		free(msg);
}

/* "expected sha256-A or sha256-B, got sha256-C" */
static char *mismatch_text(const cr_sri *s, cr_sri_alg alg, const uint8_t *got)
{
	cleanup_buf cr_buf b;
	cr_buf_init(&b, 4096);
	size_t listed = 0, more = 0;
	for (size_t i = 0; i < s->n; i++) {
		if (s->items[i].alg != alg)
			continue;
		if (listed == WHY_EXPECTED_MAX) {
			more++;
			continue;
		}
		cleanup_free char *e = cr_sri_format(alg, s->items[i].digest);
		cr_buf_printf(&b, "%s%s", listed++ ? " or " : "expected ", e);
	}
	if (more)
		cr_buf_printf(&b, " (or %zu more)", more);
	cleanup_free char *g = cr_sri_format(alg, got);
	cr_buf_printf(&b, ", got %s", g);
	return cr_buf_steal(&b, NULL);
}

int cr_sri_check(const char *sri, const cr_digests *d, char **why)
{
	if (why)
		*why = NULL;
	cr_sri s;
	cleanup_error cr_error *err = NULL;
	if (cr_sri_parse(sri, &s, &err) < 0) {
		set_why(why, cr_xstrdup(err->msg));
		return -1;
	}
	int best = cr_sri_strongest(&s);
	if (best < 0) {
		set_why(why, cr_xstrdup(s.ignored ? "integrity names no supported algorithm"
						  : "no integrity to verify against"));
		cr_sri_clear(&s);
		return -1;
	}
	uint8_t got[64];
	if (!digest_of(d, (cr_sri_alg)best, got)) {
		set_why(why, cr_asprintf("the %s digest of the download was not computed", algs[best].name));
		cr_sri_clear(&s);
		return -1;
	}
	for (size_t i = 0; i < s.n; i++) {
		if ((int)s.items[i].alg == best && memcmp(s.items[i].digest, got, algs[best].len) == 0) {
			cr_sri_clear(&s);
			return 1;
		}
	}
	set_why(why, mismatch_text(&s, (cr_sri_alg)best, got));
	cr_sri_clear(&s);
	return 0;
}

char *cr_sri_from_hex(const char *alg, const char *hex)
{
	if (!alg || !hex)
		return NULL;
	int a = alg_by_name(alg, strlen(alg));
	uint8_t raw[64];
	if (a < 0 || !hex_to_raw(hex, raw, algs[a].len))
		return NULL;
	return cr_sri_format((cr_sri_alg)a, raw);
}
