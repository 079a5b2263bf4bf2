/* SPDX-License-Identifier: Apache-2.0 */
/* gunzip.c -- decoding of gzip-encoded upload-pack requests (pktline.h).
 *
 * git compresses a request body once it passes a kilobyte or so of haves
 * (Content-Encoding: gzip). The front decodes it to classify the request and
 * to key the cache by what was asked rather than by the compressor's bytes.
 * libarchive's raw format with its gzip filter does the inflating; it is
 * already a dependency (workspace extraction), and the filter is accepted
 * only when built in, so no external program ever runs (the gateway's
 * seccomp filter would kill it). */
#include "gateway/git/pktline.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>

typedef struct archive archive_t;
static inline void archive_freep(archive_t **a)
{
	if (*a)
		archive_read_free(*a);
}
#define cleanup_archive __attribute__((cleanup(archive_freep)))

static int gz_error(archive_t *a, cr_error **err, const char *what)
{
	const char *msg = a ? archive_error_string(a) : NULL;
	return cr_error_make(err, 0, CR_REASON_NONE, "gzip request body: %s%s%s", what, msg ? ": " : "",
			     msg ? msg : "");
}

static int open_gzip(archive_t *a, const void *in, size_t len, cr_error **err)
{
	if (archive_read_support_filter_gzip(a) != ARCHIVE_OK ||
	    archive_read_support_format_raw(a) != ARCHIVE_OK)
		return gz_error(a, err, "no built-in gzip decoder");
	if (archive_read_open_memory(a, in, len) != ARCHIVE_OK)
		return gz_error(a, err, "not gzip");
	struct archive_entry *e = NULL;
	if (archive_read_next_header(a, &e) != ARCHIVE_OK)
		return gz_error(a, err, "not gzip");
	/* without the filter the raw format takes any bytes as they are */
	if (archive_filter_count(a) < 2 || archive_filter_code(a, 0) != ARCHIVE_FILTER_GZIP)
		return gz_error(a, err, "not gzip");
	return 0;
}

int cr_git_gunzip(const void *in, size_t len, size_t max, cr_buf *out, cr_error **err)
{
	cleanup_archive archive_t *a = archive_read_new();
	if (!a)
		return cr_error_make(err, ENOMEM, CR_REASON_INTERNAL, "gzip request body: libarchive");
	if (len == 0)
		return gz_error(NULL, err, "empty");
	if (open_gzip(a, in, len, err) < 0)
		return -1;
	size_t start = out->len;
	char chunk[16384];
	for (;;) {
		la_ssize_t n = archive_read_data(a, chunk, sizeof(chunk));
		if (n == 0)
			return 0;
		if (n < 0)
			return gz_error(a, err, "corrupt or cut short");
		if ((size_t)n > max - (out->len - start) || cr_buf_append(out, chunk, (size_t)n) < 0)
			return cr_error_make(err, 0, CR_REASON_NONE,
					     "gzip request body: decodes to more than %zu bytes", max);
	}
}
