/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz_http_head.c -- libFuzzer target for the HTTP/1.x request-head parser
 * (src/lib/sniff/http_head.c) and the request-target, authority and header
 * iteration it feeds: any bytes give one of the five answers without reading
 * past the input; an accepted head lies inside the input, its Host is a valid
 * name or IP literal, its header lines iterate to the end; the answer for a
 * prefix is NEED_MORE or the same answer. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sniff/sniff.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_span(cr_sniff_span s, const uint8_t *data, size_t size)
{
	if (s.p && (s.p < (const char *)data || s.p + s.len > (const char *)data + size))
		abort();
}

static void check_head(const cr_http_head *h, const uint8_t *data, size_t size)
{
	if (h->head_len == 0 || h->head_len > size || h->head_len > CR_SNIFF_MAX_BYTES || h->method.len == 0)
		abort();
	check_span(h->method, data, size);
	check_span(h->target, data, size);
	check_span(h->headers, data, size);
	if (strlen(h->host.host) > CR_SNIFF_NAME_MAX)
		abort();
	cr_http_target t;
	if (cr_sniff_http_target(h->target, &t) == 0) {
		check_span(t.path, data, size);
		check_span(t.scheme, data, size);
	}
	cr_sniff_span rest = h->headers, name, value, line;
	while (cr_sniff_http_next_header(&rest, &name, &value, &line))
		if (name.len == 0 || line.len < name.len + 3)
			abort();
	if (rest.len != 0)
		abort(); /* every line of an accepted head iterates */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	cr_http_head h, again;
	cr_sniff_result r = cr_sniff_http_head(data, size, &h);
	if ((unsigned)r > CR_SNIFF_MALFORMED)
		abort();
	if (r == CR_SNIFF_FOUND || r == CR_SNIFF_NO_NAME) {
		check_head(&h, data, size);
		if ((r == CR_SNIFF_FOUND) != (h.host.host[0] != '\0'))
			abort();
	}
	cr_sniff_result p = cr_sniff_http_head(data, size / 2, &again);
	if (p != CR_SNIFF_NEED_MORE && p != r)
		abort();
	/* the same bytes as a CONNECT authority */
	cr_sniff_authority a;
	(void)cr_sniff_authority_parse((const char *)data, size < 300 ? size : 300, &a);
	return 0;
}
