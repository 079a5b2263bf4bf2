/* SPDX-License-Identifier: Apache-2.0 */
/* blob.c -- content-addressed blobs: the writer (a uniquely named temp file
 * in tmp/, hashed with OpenSSL EVP while written, fsynced, made read-only and
 * renamed to blobs/sha256/<2 hex>/<64 hex>, then the directory fsynced) and
 * reading a blob back. Readers never see a partial blob; a crash leaves only
 * tmp/ litter, which gc removes. */
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <stddef.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cache/cache_internal.h"
#include "util/cleanup.h"
#include "util/fileio.h"
#include "util/xalloc.h"

/* The digests a writer can compute: sha256 always, the others on request. */
typedef struct hash_algo {
	unsigned flag; /* 0 = always */
	const EVP_MD *(*md)(void);
	size_t off; /* of the raw digest in cr_digests (sha256 is kept as hex) */
	size_t len;
} hash_algo;

static const hash_algo algos[] = {
	{0, EVP_sha256, 0, 32},
	{CR_HASH_SHA1, EVP_sha1, offsetof(cr_digests, sha1), 20},
	{CR_HASH_SHA384, EVP_sha384, offsetof(cr_digests, sha384), 48},
	{CR_HASH_SHA512, EVP_sha512, offsetof(cr_digests, sha512), 64},
};
#define N_ALGOS (sizeof(algos) / sizeof(algos[0]))

struct cr_cache_writer {
	cr_cache *c;
	int fd;
	char name[64]; /* under tmp/ */
	uint64_t max_bytes;
	EVP_MD_CTX *ctx[N_ALGOS]; /* NULL for a digest not requested */
	cr_digests dg;
	bool failed; /* a write failed: the blob is incomplete */
};

static void hex_encode(const uint8_t *p, size_t n, char *out)
{
	static const char hex[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hex[p[i] >> 4];
		out[2 * i + 1] = hex[p[i] & 15];
	}
	out[2 * n] = '\0';
}

static void writer_free(cr_cache_writer *w)
{
	for (size_t i = 0; i < N_ALGOS; i++)
		EVP_MD_CTX_free(w->ctx[i]);
	if (w->fd >= 0)
		close(w->fd);
	free(w);
}

static void writer_discard(cr_cache_writer *w)
{
	if (w->fd >= 0)
		unlinkat(w->c->tmp_fd, w->name, 0);
	writer_free(w);
}

/* Creates tmp/blob-<pid>-<random>: O_EXCL, so two processes never share one. */
static int create_temp(cr_cache_writer *w, cr_error **err)
{
	for (int attempt = 0; attempt < 8; attempt++) {
		uint8_t rnd[8];
		char hex[17];
		if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
			return cr_error_make(err, errno ? errno : EIO, CR_REASON_INTERNAL,
					     "random name for a cache temp file");
		hex_encode(rnd, sizeof(rnd), hex);
		snprintf(w->name, sizeof(w->name), "blob-%ld-%s", (long)getpid(), hex);
		w->fd = openat(w->c->tmp_fd, w->name, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
			       0600);
		if (w->fd >= 0)
			return 0;
		if (errno != EEXIST)
			break;
	}
	return cr_error_make(err, errno, CR_REASON_INTERNAL, "create cache temp file '%s/tmp/%s'", w->c->dir,
			     w->name);
}

cr_cache_writer *cr_cache_writer_new(cr_cache *c, unsigned hashes, uint64_t max_bytes, cr_error **err)
{
	if (cr_cache_writable(c, "write blob", err) < 0)
		return NULL;
	cr_cache_writer *w = cr_xcalloc(1, sizeof(*w));
	w->c = c;
	w->fd = -1;
	w->max_bytes = max_bytes && max_bytes < CR_CACHE_BLOB_MAX ? max_bytes : CR_CACHE_BLOB_MAX;
	for (size_t i = 0; i < N_ALGOS; i++) {
		if (algos[i].flag && !(hashes & algos[i].flag))
			continue;
		w->ctx[i] = EVP_MD_CTX_new();
		if (!w->ctx[i] || EVP_DigestInit_ex(w->ctx[i], algos[i].md(), NULL) != 1) {
			cr_error_make(err, 0, CR_REASON_INTERNAL, "initialise digest %s for a cache blob",
				      EVP_MD_get0_name(algos[i].md()));
			writer_free(w);
			return NULL;
		}
		w->dg.have |= algos[i].flag;
	}
	if (create_temp(w, err) < 0) {
		writer_free(w);
		return NULL;
	}
	return w;
}

int cr_cache_writer_write(cr_cache_writer *w, const void *data, size_t len, cr_error **err)
{
	if (w->failed)
		return cr_error_make(err, EIO, CR_REASON_INTERNAL,
				     "cache temp file '%s/tmp/%s': an earlier write failed", w->c->dir,
				     w->name);
	if (len > w->max_bytes - w->dg.size) {
		w->failed = true;
		return cr_error_make(err, EFBIG, CR_REASON_INTERNAL,
				     "cache blob '%s/tmp/%s' would be larger than %llu bytes", w->c->dir,
				     w->name, (unsigned long long)w->max_bytes);
	}
	if (cr_write_all(w->fd, data, len) < 0) {
		w->failed = true;
		return cr_error_make(err, errno, CR_REASON_INTERNAL, "write cache temp file '%s/tmp/%s'",
				     w->c->dir, w->name);
	}
	for (size_t i = 0; i < N_ALGOS; i++)
		if (w->ctx[i] && EVP_DigestUpdate(w->ctx[i], data, len) != 1) {
			w->failed = true;
			return cr_error_make(err, 0, CR_REASON_INTERNAL, "digest cache blob '%s/tmp/%s'",
					     w->c->dir, w->name);
		}
	w->dg.size += len;
	return 0;
}

const cr_digests *cr_cache_writer_digests(cr_cache_writer *w)
{
	/* Finalise copies so that writing can go on after a look. */
	for (size_t i = 0; i < N_ALGOS; i++) {
		if (!w->ctx[i])
			continue;
		uint8_t md[EVP_MAX_MD_SIZE];
		unsigned int n = 0;
		EVP_MD_CTX *copy = EVP_MD_CTX_new();
		if (!copy || EVP_MD_CTX_copy_ex(copy, w->ctx[i]) != 1 ||
		    EVP_DigestFinal_ex(copy, md, &n) != 1 || n != algos[i].len)
			abort(); /* the default provider's digests cannot fail */
		EVP_MD_CTX_free(copy);
		if (algos[i].flag)
			memcpy((uint8_t *)&w->dg + algos[i].off, md, n);
		else
			hex_encode(md, n, w->dg.sha256);
	}
	return &w->dg;
}

/* Opens blobs/sha256/<2 hex>, creating it (and making that durable). */
static int open_fanout(cr_cache *c, const char *sha256, cr_error **err)
{
	char sub[3] = {sha256[0], sha256[1], '\0'};
	if (mkdirat(c->blobs_fd, sub, 0700) == 0)
		fsync(c->blobs_fd);
	else if (errno != EEXIST)
		return cr_error_make(err, errno, CR_REASON_INTERNAL,
				     "create cache directory '%s/blobs/sha256/%s'", c->dir, sub);
	int fd = openat(c->blobs_fd, sub, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return cr_error_make(err, errno, CR_REASON_INTERNAL,
				     "open cache directory '%s/blobs/sha256/%s'", c->dir, sub);
	return fd;
}

static int install(cr_cache_writer *w, const char *sha256, cr_error **err)
{
	cr_cache *c = w->c;
	if (fsync(w->fd) < 0 || fchmod(w->fd, 0444) < 0)
		return cr_error_make(err, errno, CR_REASON_INTERNAL, "sync cache temp file '%s/tmp/%s'",
				     c->dir, w->name);
	cleanup_close int sub = open_fanout(c, sha256, err);
	if (sub < 0)
		return -1;
	/* An existing blob of that name has the same content: replacing it
	 * atomically keeps readers (they hold the old inode) and heals a blob
	 * damaged on disk. */
	if (renameat(c->tmp_fd, w->name, sub, sha256) < 0)
		return cr_error_make(err, errno, CR_REASON_INTERNAL,
				     "rename '%s/tmp/%s' to '%s/blobs/sha256/%.2s/%s'", c->dir, w->name,
				     c->dir, sha256, sha256);
	if (fsync(sub) < 0)
		return cr_error_make(err, errno, CR_REASON_INTERNAL,
				     "sync cache directory '%s/blobs/sha256/%.2s'", c->dir, sha256);
	return 0;
}

int cr_cache_writer_commit(cr_cache_writer *w, char sha256_out[CR_SHA256_HEX_LEN + 1], cr_error **err)
{
	if (w->failed) {
		cr_error_make(err, EIO, CR_REASON_INTERNAL, "commit cache blob '%s/tmp/%s': a write failed",
			      w->c->dir, w->name);
		writer_discard(w);
		return -1;
	}
	char sha256[CR_SHA256_HEX_LEN + 1];
	snprintf(sha256, sizeof(sha256), "%s", cr_cache_writer_digests(w)->sha256);
	if (install(w, sha256, err) < 0) {
		writer_discard(w);
		return -1;
	}
	/* Best effort: cr_cache_put records the blob again, gc reconciles. */
	cr_cache_blob_record(w->c, sha256, w->dg.size, NULL);
	writer_free(w);
	if (sha256_out)
		memcpy(sha256_out, sha256, sizeof(sha256));
	return 0;
}

void cr_cache_writer_abort(cr_cache_writer *w)
{
	if (w)
		writer_discard(w);
}

int cr_cache_blob_open(cr_cache *c, const char *sha256, uint64_t *size, cr_error **err)
{
	char rel[68];
	struct stat sb;
	if (!sha256 || !cr_is_sha256_hex(sha256))
		return cr_error_make(err, EINVAL, CR_REASON_INTERNAL,
				     "cache blob name '%.70s' is not a sha256 digest", sha256 ? sha256 : "");
	cr_cache_blob_rel(sha256, rel);
	cleanup_close int fd = openat(c->blobs_fd, rel, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &sb) < 0)
		return cr_error_make(err, errno, CR_REASON_INTERNAL, "open cache blob '%s/blobs/sha256/%s'",
				     c->dir, rel);
	if (!S_ISREG(sb.st_mode))
		return cr_error_make(err, EINVAL, CR_REASON_INTERNAL,
				     "cache blob '%s/blobs/sha256/%s' is not a regular file", c->dir, rel);
	if (size)
		*size = (uint64_t)sb.st_size;
	cr_cache_blob_used(c, sha256);
	return cr_steal_fd(&fd);
}

bool cr_cache_blob_exists(cr_cache *c, const char *sha256)
{
	char rel[68];
	struct stat sb;
	if (!sha256 || !cr_is_sha256_hex(sha256))
		return false;
	cr_cache_blob_rel(sha256, rel);
	return fstatat(c->blobs_fd, rel, &sb, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(sb.st_mode);
}
