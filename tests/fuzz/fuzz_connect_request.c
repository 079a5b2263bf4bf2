/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz_connect_request.c -- libFuzzer target for Connect request
 * classification.
 *
 * The input is an HTTP request head in plain lines: the method, the request
 * target, then "name: value" headers (split at the first colon). The route
 * table answers from a hash of the method name, so unknown, unary, streaming
 * and side-effect-free procedures all occur. Accepted requests must be
 * coherent (a GET has a message, a codec and kind are valid); refused ones
 * must say how to answer, and a Connect refusal must render an error body
 * that is valid JSON. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "connect/connect.h"
#include "util/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_LINES (CR_CONNECT_MAX_HEADERS + 8)

static unsigned lookup(void *ctx, const char *service, const char *method)
{
	(void)ctx;
	unsigned h = 5381;
	for (const char *c = method; *c; c++)
		h = h * 33 + (unsigned char)*c;
	(void)service;
	return h % 8; /* 0 = no such route */
}

static void check_accepted(const cr_connect_request *r)
{
	if (!r->service || !r->method || !strchr(r->service, '.') || r->http_status != 200 ||
	    r->code != CR_CONNECT_OK ||
	    (r->codec != CR_CONNECT_CODEC_JSON && r->codec != CR_CONNECT_CODEC_PROTO) ||
	    (r->kind != CR_CONNECT_UNARY && r->kind != CR_CONNECT_STREAM) || r->timeout_ms < -1 ||
	    r->timeout_ms > 9999999999LL)
		abort();
	if (r->is_get != (r->message != NULL) || (r->is_get && r->message[r->message_len] != '\0'))
		abort();
	if (r->is_get && r->kind != CR_CONNECT_UNARY)
		abort();
}

static void check_refused(const cr_connect_request *r, const cr_error *err)
{
	if (!err || err->reason != CR_REASON_USAGE_INVALID)
		abort();
	if (r->code == CR_CONNECT_OK) {
		static const int plain[] = {404, 405, 414, 415, 431};
		bool known = false;
		for (size_t i = 0; i < sizeof(plain) / sizeof(plain[0]); i++)
			known |= r->http_status == plain[i];
		if (!known ||
		    ((r->http_status == 405 || r->http_status == 415) != (r->refusal_header != NULL)))
			abort();
		return;
	}
	if (!cr_connect_code_name(r->code) ||
	    r->http_status != cr_connect_error_head(r->kind, r->codec, r->code).status)
		abort();
	size_t len;
	char *body = cr_connect_error_body(r->code, err->reason, err->msg, &len);
	json_t *j = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
	if (!j)
		abort();
	json_decref(j);
	free(body);
}

/* Side parsers on every header: none may crash, and what they accept is sane. */
static void check_header(const cr_connect_header *h)
{
	int64_t ms;
	if (cr_connect_parse_timeout(h->value, &ms, NULL) == 0 && (ms < 0 || ms > 9999999999LL))
		abort();
	cr_connect_codec codec;
	cr_connect_kind kind;
	cr_connect_parse_content_type(h->value, &codec, &kind);
	cr_buf b;
	cr_buf_init(&b, 64);
	cr_connect_trailer_name(&b, h->name, NULL);
	cr_buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	memcpy(text, data, size);
	text[size] = '\0';
	char *lines[MAX_LINES];
	size_t n = 0;
	for (char *p = text; p && n < MAX_LINES; n++) {
		lines[n] = p;
		p = strchr(p, '\n');
		if (p)
			*p++ = '\0';
	}
	cr_connect_header headers[MAX_LINES];
	size_t nh = 0;
	for (size_t i = 2; i < n; i++) {
		char *colon = strchr(lines[i], ':');
		headers[nh++] = (cr_connect_header){lines[i], colon ? colon + 1 : ""};
		if (colon)
			*colon = '\0';
		check_header(&headers[nh - 1]);
	}
	cr_connect_head head = {n > 0 ? lines[0] : "", n > 1 ? lines[1] : "", headers, nh};
	cr_connect_request r;
	cr_error *err = NULL;
	if (cr_connect_classify(&head, lookup, NULL, &r, &err) == 0)
		check_accepted(&r);
	else
		check_refused(&r, err);
	cr_connect_request_clear(&r);
	cr_error_free(err);
	free(text);
	return 0;
}
