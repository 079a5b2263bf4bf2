/* SPDX-License-Identifier: Apache-2.0 */
/* sri.h -- Subresource Integrity lists ("sha512-<base64> sha1-<base64>"),
 * the form every artifact's expected integrity takes in the gateway: npm's
 * lockfile `integrity`, npm's packument `shasum` (hex SHA-1) and PyPI's
 * `#sha256=<hex>` fragments converted with cr_sri_from_hex, pip's
 * `--hash=sha256:<hex>` converted by the lockfile reader.
 *
 * An artifact passes when one entry of the strongest algorithm present
 * (sha512 > sha384 > sha256 > sha1) matches its digest: a weaker entry next
 * to a stronger one is never what decides (an attacker able to collide SHA-1
 * gains nothing from a list that also names SHA-512), and several entries of
 * that algorithm are alternatives (pip lists one sha256 per allowed file).
 * Entries of algorithms not listed above are ignored, as the SRI
 * specification says; an entry that is not "<alg>-<base64>[?options]", or a
 * known algorithm whose base64 does not decode to that digest's length, is an
 * error, so a garbled lockfile never silently weakens the check. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "cache/cache.h"
#include "util/error.h"

#define CR_SRI_MAX_LEN     65536 /* bytes of an SRI list accepted */
#define CR_SRI_MAX_ENTRIES 256

/* Known algorithms, weakest first (the order decides strength). */
typedef enum cr_sri_alg {
	CR_SRI_SHA1,
	CR_SRI_SHA256,
	CR_SRI_SHA384,
	CR_SRI_SHA512,
	CR_SRI__COUNT,
} cr_sri_alg;

typedef struct cr_sri_entry {
	cr_sri_alg alg;
	uint8_t digest[64]; /* cr_sri_digest_len(alg) bytes */
} cr_sri_entry;

typedef struct cr_sri {
	cr_sri_entry *items; /* known algorithms only, in list order */
	size_t n;
	size_t ignored; /* entries of unknown algorithms */
} cr_sri;

/* "sha1", "sha256", ... */
const char *cr_sri_alg_name(cr_sri_alg alg);
/* Digest length in bytes (20, 32, 48, 64). */
size_t cr_sri_digest_len(cr_sri_alg alg);

/* Parses an SRI list (entries separated by ASCII whitespace; NULL or "" is
 * an empty list). Returns 0 with *out filled (caller clears), or -1 with
 * *err (reason CR_REASON_INTERNAL) naming the malformed entry. */
int cr_sri_parse(const char *sri, cr_sri *out, cr_error **err);
void cr_sri_clear(cr_sri *s);

/* The strongest known algorithm of a parsed list; -1 when it has none. */
int cr_sri_strongest(const cr_sri *s);

/* The CR_HASH_* digests a cache writer must compute to check sri (0 when
 * the strongest algorithm is sha256, which the writer always computes, or
 * when sri is empty or malformed: cr_sri_check then says why). */
unsigned cr_sri_hashes(const char *sri);

/* Checks d against sri. Returns 1 when an entry of the strongest algorithm
 * present matches; 0 on a mismatch (*why = "expected sha512-..., got
 * sha512-..."); -1 when nothing usable can decide (sri empty, malformed, no
 * known algorithm, or d lacks that digest; *why says which). *why (may be
 * NULL) is set to an allocated message, or NULL on success; caller frees. */
int cr_sri_check(const char *sri, const cr_digests *d, char **why);

/* "<alg>-<base64>" for a hex digest of algorithm alg ("sha1", "sha256",
 * "sha384", "sha512"; hex in either case, exactly that digest's length).
 * Allocated; NULL when alg is unknown or hex is not such a digest. */
char *cr_sri_from_hex(const char *alg, const char *hex);

/* "<alg>-<base64>" of a raw digest (len = cr_sri_digest_len(alg)).
 * Allocated. */
char *cr_sri_format(cr_sri_alg alg, const uint8_t *digest);
