/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz_connect_envelope.c -- libFuzzer target for the Connect envelope
 * decoder and the small parsers that read what envelopes carry.
 *
 * A stream body comes from the client (requests) or the server (responses),
 * so the decoder must survive any byte stream however it is split. The first
 * input byte picks the side, the message cap and whether compression is
 * allowed; the second seeds the chunk sizes the rest is fed in. Every
 * envelope is checked against the cap and the flags the side allows and
 * re-encoded; payloads are also run through the ErrorInfo and base64
 * decoders, and an end-of-stream payload through the JSON parser. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "connect/connect.h"
#include "util/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_error_info(const cr_connect_envelope *env)
{
	char *reason = NULL, *message = NULL;
	if (cr_connect_error_info_decode(env->payload, env->len, &reason, &message, NULL) == 0) {
		/* what was accepted encodes and decodes to the same strings */
		cr_buf b;
		cr_buf_init(&b, 2 * env->len + 32);
		char *r2 = NULL, *m2 = NULL;
		if (cr_connect_error_info_encode(&b, reason, message, NULL) < 0 ||
		    cr_connect_error_info_decode(b.data ? b.data : "", b.len, &r2, &m2, NULL) < 0 ||
		    strcmp(reason, r2) != 0 || strcmp(message, m2) != 0)
			abort();
		free(r2);
		free(m2);
		cr_buf_free(&b);
	}
	free(reason);
	free(message);
}

static void check_base64(const cr_connect_envelope *env)
{
	cr_buf b;
	cr_buf_init(&b, env->len);
	for (int url = 0; url < 2; url++) {
		if (cr_connect_base64_decode(&b, (const char *)env->payload, env->len, url, NULL) == 0 &&
		    b.len > env->len)
			abort();
		cr_buf_free(&b);
	}
}

static void check_envelope(const cr_connect_decoder *d, const cr_connect_envelope *env)
{
	if (env->len > d->max_message || (env->flags & ~3u) ||
	    ((env->flags & CR_CONNECT_FLAG_END_STREAM) && d->side == CR_CONNECT_SIDE_REQUEST) ||
	    ((env->flags & CR_CONNECT_FLAG_COMPRESSED) && !d->allow_compressed))
		abort();
	cr_buf b;
	cr_buf_init(&b, env->len + CR_CONNECT_ENVELOPE_HEADER);
	if (cr_connect_envelope_encode(&b, env->flags, env->payload, env->len, NULL) < 0 ||
	    b.len != env->len + CR_CONNECT_ENVELOPE_HEADER ||
	    memcmp(b.data + CR_CONNECT_ENVELOPE_HEADER, env->payload, env->len) != 0)
		abort();
	cr_buf_free(&b);
	check_error_info(env);
	check_base64(env);
	if (env->flags & CR_CONNECT_FLAG_END_STREAM)
		json_decref(json_loadb((const char *)env->payload, env->len, JSON_REJECT_DUPLICATES, NULL));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	cr_connect_decoder d;
	static const size_t caps[] = {0, 1, 16, 300, 4096, 1 << 16};
	cr_connect_decoder_init(&d, data[0] & 1 ? CR_CONNECT_SIDE_RESPONSE : CR_CONNECT_SIDE_REQUEST,
				caps[(data[0] >> 1) % 6]);
	d.allow_compressed = data[0] & 0x80;
	uint32_t seed = data[1];
	data += 2;
	size -= 2;
	int rc = 0;
	for (size_t off = 0; off < size && rc >= 0;) {
		seed = seed * 1103515245u + 12345u;
		size_t step = 1 + (seed >> 16) % 97;
		step = step < size - off ? step : size - off;
		const unsigned char *p = data + off;
		size_t n = step;
		while (n > 0) {
			cr_connect_envelope env;
			cr_error *err = NULL;
			rc = cr_connect_decoder_push(&d, &p, &n, &env, &err);
			if (rc == 1)
				check_envelope(&d, &env);
			if (rc < 0 && (!err || !d.broken || !cr_connect_code_name(d.code)))
				abort();
			cr_error_free(err);
			if (rc < 0)
				break;
		}
		off += step;
	}
	cr_error *err = NULL;
	if (rc >= 0 && cr_connect_decoder_finish(&d, &err) < 0 && !err)
		abort();
	cr_error_free(err);
	cr_connect_decoder_free(&d);
	return 0;
}
