/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz_git_pktline.c -- libFuzzer target for the git front's parsers
 * (src/gateway/git): the pkt-line reader (every packet lies inside the
 * input, offsets only grow, an error leaves the offset alone, the packets
 * end exactly at the input's end or at an error), the upload-pack request
 * classifier (counts consistent with what it accepted), gzip decoding with a
 * cap (input starting with the gzip magic), the upload-pack answer check
 * (the same bytes as an answer, read back from a memfd), the receive-pack
 * command description (one printable line within its buffer, a count
 * only with a flush-pkt) and route parsing of the same bytes as a front
 * path and query. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "gateway/git/pktline.h"
#include "gateway/git/push.h"
#include "gateway/git/route.h"
#include "util/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define GUNZIP_CAP (1u << 20)

static void check_reader(const uint8_t *data, size_t size)
{
	cr_pkt_reader r;
	cr_pkt_reader_init(&r, data, size);
	for (;;) {
		size_t before = r.off;
		cr_pkt p;
		const char *why = NULL;
		int rc = cr_pkt_next(&r, &p, &why);
		if (rc == 0) {
			if (r.off != size)
				abort();
			return;
		}
		if (rc < 0) {
			if (r.off != before || !why)
				abort();
			return;
		}
		if (r.off <= before || r.off > size)
			abort();
		if (p.kind == CR_PKT_DATA) {
			if (p.data != data + before + 4 || p.len != r.off - before - 4 ||
			    p.len > CR_PKT_DATA_MAX || cr_pkt_text_len(&p) > p.len)
				abort();
		} else if (p.data || p.len || r.off != before + 4) {
			abort();
		}
	}
}

static void check_classify(const void *body, size_t len)
{
	cr_git_rpc r;
	cr_error *err = NULL;
	if (cr_git_rpc_classify(body, len, &r, &err) < 0) {
		if (!err || !err->msg)
			abort();
		cr_error_free(err);
		return;
	}
	if (r.protocol != 0 && r.protocol != 2)
		abort();
	if (r.wants + r.want_refs + r.haves + r.shallows > r.args)
		abort();
	if (r.protocol == 0 && (r.kind != CR_GIT_RPC_V0_FETCH || r.wants == 0 || r.want_refs))
		abort();
	if (r.immutable && (r.wants == 0 || r.want_refs || r.unknown || r.deepen_not))
		abort();
	if (strlen(r.command) == 0 || strlen(r.command) > CR_GIT_COMMAND_MAX)
		abort();
	char d[160];
	cr_git_rpc_describe(&r, d, sizeof(d));
}

static void check_push(const uint8_t *data, size_t size)
{
	char what[640];
	memset(what, 0x7f, sizeof(what));
	const char *why = NULL;
	long n = cr_git_push_describe(data, size, what, sizeof(what), &why);
	if (n < 0) {
		if (!why)
			abort();
		return;
	}
	size_t len = strnlen(what, sizeof(what));
	if (len == sizeof(what) || strncmp(what, "receive-pack: ", 14) != 0)
		abort();
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)what[i] < 0x20 || what[i] == 0x7f)
			abort();
}

static void check_gzip(const uint8_t *data, size_t size)
{
	if (size < 2 || data[0] != 0x1f || data[1] != 0x8b)
		return;
	cr_buf out;
	cr_buf_init(&out, GUNZIP_CAP);
	cr_error *err = NULL;
	if (cr_git_gunzip(data, size, GUNZIP_CAP, &out, &err) == 0) {
		if (out.len > GUNZIP_CAP)
			abort();
		check_classify(out.data, out.len);
	} else {
		cr_error_free(err);
	}
	cr_buf_free(&out);
}

static void check_answer(const uint8_t *data, size_t size)
{
	static int fd = -1;
	if (fd < 0)
		fd = memfd_create("answer", MFD_CLOEXEC);
	if (fd < 0 || size > (64u << 10) || ftruncate(fd, 0) < 0 ||
	    pwrite(fd, data, size, 0) != (ssize_t)size)
		return;
	static const cr_git_rpc reqs[] = {
		{.protocol = 2, .side_band = true, .done = true},
		{.protocol = 0, .side_band = true, .done = false},
		{.protocol = 0, .side_band = false, .done = true},
	};
	for (size_t i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++) {
		cr_error *err = NULL;
		int rc = cr_git_answer_check(fd, size, &reqs[i], &err);
		if ((rc < 0) != (err != NULL) || (rc < 0 && !err->msg))
			abort();
		cr_error_free(err);
	}
}

static void check_route(const uint8_t *data, size_t size)
{
	if (size > 4096)
		return;
	char *s = malloc(size + 1);
	if (!s)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';
	char *q = strchr(s, '?');
	if (q)
		*q++ = '\0';
	cr_git_route r;
	cr_error *err = NULL;
	if (cr_git_route_parse(s, q ? q : "", &r, &err) == 0) {
		if (!r.path || strlen(r.host) == 0 || strstr(r.repo, ".."))
			abort();
		if (r.service != CR_GIT_DUMB || r.repo[0]) {
			char *url = cr_git_upstream_url("https", &r, "git-upload-pack");
			if (strstr(url, "..") || strchr(url, ' ') || strchr(url, '\\'))
				abort();
			free(url);
		}
	} else {
		cr_error_free(err);
	}
	free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_reader(data, size);
	check_classify(data, size);
	check_push(data, size);
	check_gzip(data, size);
	check_answer(data, size);
	check_route(data, size);
	return 0;
}
