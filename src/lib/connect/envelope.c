/* SPDX-License-Identifier: Apache-2.0 */
/* envelope.c -- the 5-byte envelopes of Connect streams: flags (0x01
 * compressed, 0x02 end of stream, other bits reserved), a big-endian u32
 * length, then the message. The decoder is incremental and holds at most one
 * envelope: a peer announcing more than max_message bytes is refused from the
 * header alone, before any of the payload is buffered. */
#include "connect/connect.h"

#include <errno.h>
#include <stdarg.h>
#include <string.h>

#include "util/buf.h"
#include "util/cleanup.h"
#include "util/xalloc.h"

int cr_connect_envelope_encode(struct cr_buf *out, uint8_t flags, const void *payload, size_t len,
			       cr_error **err)
{
	if (len > UINT32_MAX || out->len > out->limit ||
	    out->limit - out->len < CR_CONNECT_ENVELOPE_HEADER + (uint64_t)len)
		return cr_error_make(err, E2BIG, CR_REASON_INTERNAL, "envelope of %zu bytes", len);
	unsigned char h[CR_CONNECT_ENVELOPE_HEADER] = {flags, (unsigned char)(len >> 24),
						       (unsigned char)(len >> 16), (unsigned char)(len >> 8),
						       (unsigned char)len};
	/* room was checked: neither append can fail */
	cr_buf_append(out, h, sizeof(h));
	cr_buf_append(out, payload, len);
	return 0;
}

int cr_connect_end_stream_encode(struct cr_buf *out, cr_connect_code code, cr_reason reason,
				 const char *message, const cr_connect_header *metadata, size_t n_metadata,
				 cr_error **err)
{
	size_t len;
	char *json = cr_connect_end_stream_json(code, reason, message, metadata, n_metadata, &len);
	int r = cr_connect_envelope_encode(out, CR_CONNECT_FLAG_END_STREAM, json, len, err);
	free(json);
	return r;
}

void cr_connect_decoder_init(cr_connect_decoder *d, cr_connect_side side, size_t max_message)
{
	*d = (cr_connect_decoder){.side = side, .max_message = max_message};
}

void cr_connect_decoder_free(cr_connect_decoder *d)
{
	free(d->payload);
	d->payload = NULL;
	d->payload_cap = 0;
	d->payload_len = 0;
}

static int fail(cr_connect_decoder *d, cr_connect_code code, cr_error **err, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Marks the stream broken (the first cause is kept) and fills *err. */
static int fail(cr_connect_decoder *d, cr_connect_code code, cr_error **err, const char *fmt, ...)
{
	if (!d->broken) {
		d->broken = true;
		d->code = code;
	}
	va_list ap;
	va_start(ap, fmt);
	cleanup_free char *msg = cr_vasprintf(fmt, ap);
	va_end(ap);
	return cr_error_make(err, 0, CR_REASON_USAGE_INVALID, "envelope: %s", msg);
}

/* Validates a complete header and sets d->want. */
static int check_header(cr_connect_decoder *d, cr_error **err)
{
	unsigned flags = d->header[0];
	uint32_t len = (uint32_t)d->header[1] << 24 | (uint32_t)d->header[2] << 16 |
		       (uint32_t)d->header[3] << 8 | d->header[4];
	if (flags & ~(CR_CONNECT_FLAG_COMPRESSED | CR_CONNECT_FLAG_END_STREAM))
		return fail(d, CR_CONNECT_INVALID_ARGUMENT, err, "reserved flags 0x%02x", flags);
	if ((flags & CR_CONNECT_FLAG_END_STREAM) && d->side == CR_CONNECT_SIDE_REQUEST)
		return fail(d, CR_CONNECT_INVALID_ARGUMENT, err, "end-of-stream flag on a request");
	if ((flags & CR_CONNECT_FLAG_COMPRESSED) && !d->allow_compressed)
		return fail(d, CR_CONNECT_INVALID_ARGUMENT, err,
			    "compressed message but no encoding was negotiated");
	if (len > d->max_message)
		return fail(d, CR_CONNECT_RESOURCE_EXHAUSTED, err, "message of %u bytes is larger than %zu",
			    (unsigned)len, d->max_message);
	d->want = len;
	d->payload_len = 0;
	return 0;
}

/* Copies what is available of the header or the payload; 0 or -1. */
static int take(cr_connect_decoder *d, const unsigned char **data, size_t *len, cr_error **err)
{
	size_t k;
	if (d->header_len < CR_CONNECT_ENVELOPE_HEADER) {
		k = CR_CONNECT_ENVELOPE_HEADER - d->header_len;
		k = k < *len ? k : *len;
		memcpy(d->header + d->header_len, *data, k);
		d->header_len += k;
		if (d->header_len == CR_CONNECT_ENVELOPE_HEADER && check_header(d, err) < 0)
			return -1;
	} else {
		k = d->want - d->payload_len;
		k = k < *len ? k : *len;
		d->payload = cr_xgrow(d->payload, &d->payload_cap, d->payload_len + k, 1);
		memcpy(d->payload + d->payload_len, *data, k);
		d->payload_len += k;
	}
	*data += k;
	*len -= k;
	return 0;
}

int cr_connect_decoder_push(cr_connect_decoder *d, const unsigned char **data, size_t *len,
			    cr_connect_envelope *env, cr_error **err)
{
	static const unsigned char empty[1];
	if (d->broken)
		return cr_error_make(err, 0, CR_REASON_USAGE_INVALID, "envelope stream already failed");
	while (*len > 0) {
		if (d->ended)
			return fail(d, CR_CONNECT_INVALID_ARGUMENT, err, "%zu bytes after end of stream",
				    *len);
		if (take(d, data, len, err) < 0)
			return -1;
		if (d->header_len == CR_CONNECT_ENVELOPE_HEADER && d->payload_len == d->want) {
			env->flags = d->header[0];
			env->payload = d->payload_len ? d->payload : empty;
			env->len = d->payload_len;
			d->ended = (env->flags & CR_CONNECT_FLAG_END_STREAM) != 0;
			d->header_len = 0;
			return 1;
		}
	}
	return 0;
}

int cr_connect_decoder_finish(cr_connect_decoder *d, cr_error **err)
{
	if (d->broken)
		return cr_error_make(err, 0, CR_REASON_USAGE_INVALID, "envelope stream already failed");
	if (d->header_len > 0)
		return fail(d, CR_CONNECT_INVALID_ARGUMENT, err, "stream ends inside an envelope");
	if (d->side == CR_CONNECT_SIDE_RESPONSE && !d->ended)
		return fail(d, CR_CONNECT_INVALID_ARGUMENT, err, "stream ends without end-of-stream");
	return 0;
}
