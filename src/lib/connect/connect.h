/* SPDX-License-Identifier: Apache-2.0 */
/* connect.h -- the Connect protocol (connectrpc.com/docs/protocol) as a pure,
 * transport-independent library: error codes and their HTTP statuses, error
 * bodies carrying our reason code, the 5-byte envelopes of streaming calls,
 * classification of an HTTP request head (route, codec, unary or stream,
 * timeout, GET query) and the response heads to answer with. No sockets and
 * no event loop: the HTTP server hands plain data in and writes out what it
 * gets back. docs/internals/connect.md is the specification of what is
 * accepted and refused; /work/shared/reference/connect-protocol.md the
 * contract it implements. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "audit/reason.h"
#include "util/error.h"

struct cr_buf;

/* Caps on what a request head may carry; anything longer is refused before it
 * is copied (CR_CONNECT_MAX_* are byte counts, excluding the NUL). */
#define CR_CONNECT_MAX_PATH        1024u       /* path part of the request target */
#define CR_CONNECT_MAX_QUERY       (64u << 10) /* query part, without the '?' */
#define CR_CONNECT_MAX_HEADER      (8u << 10)  /* one header name or value */
#define CR_CONNECT_MAX_HEADERS     128u        /* header lines in one request */
#define CR_CONNECT_MAX_ERROR_TEXT  (4u << 10)  /* an error message is cut to this */
#define CR_CONNECT_ENVELOPE_HEADER 5u          /* flags + u32 length */
#define CR_CONNECT_FLAG_COMPRESSED 0x01u
#define CR_CONNECT_FLAG_END_STREAM 0x02u
#define CR_CONNECT_ERROR_INFO_TYPE "cleanroom.v1.ErrorInfo"

/* The Connect error codes, numbered as in gRPC. CR_CONNECT_OK is not a wire
 * code: it stands for "no error" in the APIs below. */
typedef enum cr_connect_code {
	CR_CONNECT_OK = 0,
	CR_CONNECT_CANCELED = 1,
	CR_CONNECT_UNKNOWN = 2,
	CR_CONNECT_INVALID_ARGUMENT = 3,
	CR_CONNECT_DEADLINE_EXCEEDED = 4,
	CR_CONNECT_NOT_FOUND = 5,
	CR_CONNECT_ALREADY_EXISTS = 6,
	CR_CONNECT_PERMISSION_DENIED = 7,
	CR_CONNECT_RESOURCE_EXHAUSTED = 8,
	CR_CONNECT_FAILED_PRECONDITION = 9,
	CR_CONNECT_ABORTED = 10,
	CR_CONNECT_OUT_OF_RANGE = 11,
	CR_CONNECT_UNIMPLEMENTED = 12,
	CR_CONNECT_INTERNAL = 13,
	CR_CONNECT_UNAVAILABLE = 14,
	CR_CONNECT_DATA_LOSS = 15,
	CR_CONNECT_UNAUTHENTICATED = 16,
	CR_CONNECT_CODE__COUNT
} cr_connect_code;

/* The wire name ("invalid_argument"); NULL for CR_CONNECT_OK and out-of-range
 * values. */
const char *cr_connect_code_name(cr_connect_code code);
/* Looks a wire name up; CR_CONNECT_OK when unknown. */
cr_connect_code cr_connect_code_from_name(const char *name);
/* The HTTP status of a unary error with this code (400 for invalid_argument);
 * 200 for CR_CONNECT_OK, 500 for out-of-range values. */
int cr_connect_code_http_status(cr_connect_code code);
/* What a client infers from an HTTP status without a usable error body
 * (400 -> internal, 404 -> unimplemented, ...; unknown for anything else). */
cr_connect_code cr_connect_code_from_http_status(int status);
/* The Connect code an error with this reason code is reported under (see
 * docs/internals/connect.md for the table). Never CR_CONNECT_OK. */
cr_connect_code cr_connect_code_from_reason(cr_reason reason);
/* The code an error object is reported under: its errno first (ENOENT
 * not_found; EBUSY, ESRCH failed_precondition; E2BIG, EMSGSIZE
 * resource_exhausted; ETIMEDOUT deadline_exceeded; EBADMSG data_loss), else
 * its reason (unknown
 * for CR_REASON_NONE). */
cr_connect_code cr_connect_code_for_error(const cr_error *e);

/* ---- error bodies --------------------------------------------------------- */

/* The binary ErrorInfo detail: `message ErrorInfo { string reason_code = 1;
 * string message = 2; }` in package cleanroom.v1, encoded by hand (proto3:
 * empty fields are omitted). Appends to out; returns 0 or -1 with *err when out
 * is full. */
int cr_connect_error_info_encode(struct cr_buf *out, const char *reason_code, const char *message,
				 cr_error **err);
/* Parses a binary ErrorInfo (unknown fields skipped, as protobuf requires).
 * On 0, *reason_code and *message are owned NUL-terminated strings ("" when
 * absent); on -1 (malformed, or a string holding a NUL byte) *err is set. */
int cr_connect_error_info_decode(const void *data, size_t len, char **reason_code, char **message,
				 cr_error **err);

/* The error object {"code":..,"message":..,"details":[{"type":
 * "cleanroom.v1.ErrorInfo","value":"<unpadded base64>","debug":{"reasonCode":
 * ..}}]} as a new reference. "message" is omitted when empty and "details"
 * when reason is CR_REASON_NONE; the message is cut to CR_CONNECT_MAX_ERROR_TEXT
 * bytes and invalid UTF-8 in it is replaced by U+FFFD. code must not be
 * CR_CONNECT_OK (it is reported as unknown). */
json_t *cr_connect_error_json(cr_connect_code code, cr_reason reason, const char *message);
/* The unary error body: the object above, compact. Owned, NUL-terminated. */
char *cr_connect_error_body(cr_connect_code code, cr_reason reason, const char *message, size_t *len);
/* The same for an error object: code from its reason, message from its text. */
char *cr_connect_error_body_from(const cr_error *e, size_t *len);

/* One metadata entry (a header or trailer): lower-case name and value. */
typedef struct cr_connect_header {
	const char *name;
	const char *value;
} cr_connect_header;

/* The end-of-stream message: {} on success, {"error":{...}} on failure, plus
 * "metadata":{"key":["v1","v2"]} when n_metadata > 0 (entries with the same
 * name, compared case-insensitively, are grouped in order; names are
 * lower-cased). code CR_CONNECT_OK means success and ignores reason/message.
 * Owned, compact, NUL-terminated. */
char *cr_connect_end_stream_json(cr_connect_code code, cr_reason reason, const char *message,
				 const cr_connect_header *metadata, size_t n_metadata, size_t *len);

/* ---- envelopes ------------------------------------------------------------ */

/* Appends flags | u32 big-endian length | payload to out. Returns 0, or -1 with
 * *err when len exceeds UINT32_MAX or out's cap. */
int cr_connect_envelope_encode(struct cr_buf *out, uint8_t flags, const void *payload, size_t len,
			       cr_error **err);
/* Appends the end-of-stream envelope (flag 0x02, JSON payload as built by
 * cr_connect_end_stream_json). */
int cr_connect_end_stream_encode(struct cr_buf *out, cr_connect_code code, cr_reason reason,
				 const char *message, const cr_connect_header *metadata, size_t n_metadata,
				 cr_error **err);

typedef enum cr_connect_side {
	CR_CONNECT_SIDE_REQUEST,  /* a server reading a request body: end-stream refused */
	CR_CONNECT_SIDE_RESPONSE, /* a client reading a response: end-stream ends it */
} cr_connect_side;

typedef struct cr_connect_envelope {
	uint8_t flags;
	const unsigned char *payload; /* owned by the decoder: valid until its next call */
	size_t len;
} cr_connect_envelope;

/* Incremental envelope decoder. It holds at most one envelope (header and
 * payload, at most max_message payload bytes) and never buffers ahead: the
 * caller keeps the bytes it has not consumed yet. */
typedef struct cr_connect_decoder {
	unsigned char header[CR_CONNECT_ENVELOPE_HEADER];
	size_t header_len; /* header bytes collected of the envelope in progress */
	unsigned char *payload;
	size_t payload_len, payload_cap, want; /* want = announced payload length */
	size_t max_message;
	cr_connect_side side;
	bool allow_compressed; /* false: flag 0x01 is refused (identity only) */
	bool ended;            /* end-stream seen (response side); more bytes are an error */
	bool broken;           /* a malformed envelope was seen; every later call fails */
	cr_connect_code code;  /* why it broke: invalid_argument or resource_exhausted */
} cr_connect_decoder;

void cr_connect_decoder_init(cr_connect_decoder *d, cr_connect_side side, size_t max_message);
/* Releases the payload buffer; accepts a zeroed decoder. */
void cr_connect_decoder_free(cr_connect_decoder *d);
/* Consumes bytes from *data (advancing *data and *len) until one envelope is
 * complete or the input is used up. Returns 1 with *env filled when an
 * envelope is complete (call again with the rest of the input), 0 when all
 * input was consumed without completing one, -1 with *err (and d->code) when
 * the stream is malformed: reserved flag bits, end-stream on a request,
 * compression not negotiated, a length above max_message, bytes after
 * end-stream. After -1 every call returns -1. */
int cr_connect_decoder_push(cr_connect_decoder *d, const unsigned char **data, size_t *len,
			    cr_connect_envelope *env, cr_error **err);
/* Called at end of input: 0 when no envelope is half-read (and, on the
 * response side, end-stream was seen), else -1 with *err. */
int cr_connect_decoder_finish(cr_connect_decoder *d, cr_error **err);

/* ---- request classification ----------------------------------------------- */

typedef enum cr_connect_codec {
	CR_CONNECT_CODEC_JSON,
	CR_CONNECT_CODEC_PROTO,
} cr_connect_codec;

typedef enum cr_connect_kind {
	CR_CONNECT_UNARY,
	CR_CONNECT_STREAM, /* enveloped messages: application/connect+json|proto */
} cr_connect_kind;

/* What the caller's route table says about a procedure; 0 = no such route. */
enum {
	CR_CONNECT_METHOD_UNARY = 1u << 0,
	CR_CONNECT_METHOD_STREAM = 1u << 1,          /* server streaming (client streaming needs HTTP/2) */
	CR_CONNECT_METHOD_NO_SIDE_EFFECTS = 1u << 2, /* idempotency_level = NO_SIDE_EFFECTS: GET allowed */
};
/* service is "<package>.<Service>", method the last path segment. */
typedef unsigned (*cr_connect_lookup_fn)(void *ctx, const char *service, const char *method);

/* An HTTP request head as plain NUL-terminated strings. */
typedef struct cr_connect_head {
	const char *method; /* "POST", "GET", ... (case-sensitive, as HTTP says) */
	const char *target; /* origin-form request target: path, optionally "?query" */
	const cr_connect_header *headers;
	size_t n_headers; /* names compared case-insensitively */
} cr_connect_head;

/* A classified request, or why it was refused. */
typedef struct cr_connect_request {
	char *service; /* "cleanroom.v1.SandboxService" (owned) */
	char *method;  /* "CreateSandbox" (owned) */
	cr_connect_codec codec;
	cr_connect_kind kind;
	bool is_get;
	int64_t timeout_ms;     /* -1 when no Connect-Timeout-Ms */
	unsigned char *message; /* GET only: the decoded message (owned, NUL-terminated), else NULL */
	size_t message_len;
	/* set when classification failed: */
	int http_status;            /* the status to answer with */
	cr_connect_code code;       /* CR_CONNECT_OK: a plain response without Connect body (404,
				 405, 414, 415, 431) with the header below; else a Connect error */
	const char *refusal_header; /* "Allow" (405) or "Accept-Post" (415), else NULL */
	const char *refusal_value;  /* its value */
} cr_connect_request;

/* Classifies a request head: route, method, content type, protocol version,
 * timeout, content encoding and, for GET, the query. lookup may be NULL: then
 * every well-formed route exists, its kind follows the content type and GET is
 * refused. Returns 0 with *out filled, or -1 with *err (reason usage_invalid,
 * a message fit for the client) and out->http_status / out->code /
 * out->refusal_* saying how to answer: when out->code is not CR_CONNECT_OK,
 * with cr_connect_error_head(out->kind, out->codec, out->code) and
 * cr_connect_error_body() (or the end-of-stream message for a stream). Either
 * way release *out with cr_connect_request_clear (a refused request may still
 * name its service and method, for logging). */
int cr_connect_classify(const cr_connect_head *head, cr_connect_lookup_fn lookup, void *ctx,
			cr_connect_request *out, cr_error **err);
/* Frees what a request owns and zeroes it; accepts a zeroed request. */
void cr_connect_request_clear(cr_connect_request *r);

/* Parses a Connect-Timeout-Ms value: 1 to 10 ASCII digits. Returns 0 with
 * *ms, or -1 with *err (invalid_argument). */
int cr_connect_parse_timeout(const char *value, int64_t *ms, cr_error **err);

/* Parses a Content-Type. Returns 0 and fills *codec and *kind for
 * application/json, application/proto, application/connect+json and
 * application/connect+proto (case-insensitive; JSON may carry
 * ";charset=utf-8" or "utf8", with optional spaces), else -1. */
int cr_connect_parse_content_type(const char *value, cr_connect_codec *codec, cr_connect_kind *kind);

/* Decodes base64, standard or URL-safe alphabet, padding optional (but if
 * present, correct). Appends to out; returns 0, or -1 with *err on a bad
 * character, bad length or full buffer. */
int cr_connect_base64_decode(struct cr_buf *out, const char *s, size_t n, bool url_safe, cr_error **err);
/* Appends the unpadded base64 of data (standard alphabet) to out. */
int cr_connect_base64_encode(struct cr_buf *out, const void *data, size_t n, cr_error **err);

/* ---- response heads ------------------------------------------------------- */

typedef struct cr_connect_response_head {
	int status;               /* HTTP status */
	const char *content_type; /* static string */
} cr_connect_response_head;

/* The content type of messages in this codec and kind
 * ("application/connect+proto"). Static. */
const char *cr_connect_content_type(cr_connect_kind kind, cr_connect_codec codec);
/* Success: 200 and the request's content type. */
cr_connect_response_head cr_connect_success_head(cr_connect_kind kind, cr_connect_codec codec);
/* Error: unary -> the code's status and application/json; stream -> 200 and
 * the streaming content type (the error goes into the end-of-stream message). */
cr_connect_response_head cr_connect_error_head(cr_connect_kind kind, cr_connect_codec codec,
					       cr_connect_code code);
/* Appends "trailer-<key>" (key lower-cased), the header name of a unary
 * trailer. Returns 0, or -1 with *err when key is empty or not an HTTP token. */
int cr_connect_trailer_name(struct cr_buf *out, const char *key, cr_error **err);
