/* SPDX-License-Identifier: Apache-2.0 */
/* connect.c -- the Connect code tables: wire names, the HTTP status of each
 * code and the code a client infers from a bare status, the Connect code each
 * of our reason codes is reported under, and the response heads (status and
 * content type) for success and error in each codec and kind. */
#include "connect/connect.h"

#include <errno.h>
#include <string.h>

#include "util/buf.h"

static const struct {
	const char *name;
	int status;
} codes[CR_CONNECT_CODE__COUNT] = {
	[CR_CONNECT_OK] = {NULL, 200},
	[CR_CONNECT_CANCELED] = {"canceled", 499},
	[CR_CONNECT_UNKNOWN] = {"unknown", 500},
	[CR_CONNECT_INVALID_ARGUMENT] = {"invalid_argument", 400},
	[CR_CONNECT_DEADLINE_EXCEEDED] = {"deadline_exceeded", 504},
	[CR_CONNECT_NOT_FOUND] = {"not_found", 404},
	[CR_CONNECT_ALREADY_EXISTS] = {"already_exists", 409},
	[CR_CONNECT_PERMISSION_DENIED] = {"permission_denied", 403},
	[CR_CONNECT_RESOURCE_EXHAUSTED] = {"resource_exhausted", 429},
	[CR_CONNECT_FAILED_PRECONDITION] = {"failed_precondition", 400},
	[CR_CONNECT_ABORTED] = {"aborted", 409},
	[CR_CONNECT_OUT_OF_RANGE] = {"out_of_range", 400},
	[CR_CONNECT_UNIMPLEMENTED] = {"unimplemented", 501},
	[CR_CONNECT_INTERNAL] = {"internal", 500},
	[CR_CONNECT_UNAVAILABLE] = {"unavailable", 503},
	[CR_CONNECT_DATA_LOSS] = {"data_loss", 500},
	[CR_CONNECT_UNAUTHENTICATED] = {"unauthenticated", 401},
};

/* What clients infer from a status when the body is not a Connect error. */
static const struct {
	int status;
	cr_connect_code code;
} inferred[] = {
	{400, CR_CONNECT_INTERNAL},          {401, CR_CONNECT_UNAUTHENTICATED},
	{403, CR_CONNECT_PERMISSION_DENIED}, {404, CR_CONNECT_UNIMPLEMENTED},
	{429, CR_CONNECT_UNAVAILABLE},       {502, CR_CONNECT_UNAVAILABLE},
	{503, CR_CONNECT_UNAVAILABLE},       {504, CR_CONNECT_UNAVAILABLE},
};

/* Reason code -> Connect code. runtime_launch_failed is internal, not
 * unavailable: a failed launch is rarely transient, and unavailable invites
 * clients to retry a call that is not idempotent. */
static const cr_connect_code by_reason[CR_REASON__COUNT] = {
	[CR_REASON_NONE] = CR_CONNECT_UNKNOWN,
	[CR_REASON_POLICY_INVALID] = CR_CONNECT_INVALID_ARGUMENT,
	[CR_REASON_POLICY_CONFLICT] = CR_CONNECT_INVALID_ARGUMENT,
	[CR_REASON_BACKEND_UNAVAILABLE] = CR_CONNECT_UNAVAILABLE,
	[CR_REASON_BACKEND_CAPABILITY_MISMATCH] = CR_CONNECT_FAILED_PRECONDITION,
	[CR_REASON_HOST_NOT_ALLOWED] = CR_CONNECT_PERMISSION_DENIED,
	[CR_REASON_REGISTRY_NOT_ALLOWED] = CR_CONNECT_PERMISSION_DENIED,
	[CR_REASON_LOCKFILE_VIOLATION] = CR_CONNECT_PERMISSION_DENIED,
	[CR_REASON_SECRET_SCOPE_VIOLATION] = CR_CONNECT_PERMISSION_DENIED,
	[CR_REASON_RUNTIME_LAUNCH_FAILED] = CR_CONNECT_INTERNAL,
	[CR_REASON_USAGE_INVALID] = CR_CONNECT_INVALID_ARGUMENT,
	[CR_REASON_INTERNAL] = CR_CONNECT_INTERNAL,
	[CR_REASON_EXECUTION_TIMED_OUT] = CR_CONNECT_DEADLINE_EXCEEDED,
	[CR_REASON_EXECUTION_CANCELED] = CR_CONNECT_CANCELED,
	[CR_REASON_RESOURCE_LIMIT] = CR_CONNECT_RESOURCE_EXHAUSTED,
	[CR_REASON_SANDBOX_EXPIRED] = CR_CONNECT_FAILED_PRECONDITION,
	[CR_REASON_SANDBOX_LOST] = CR_CONNECT_UNAVAILABLE,
	[CR_REASON_GIT_PUSH_NOT_ALLOWED] = CR_CONNECT_PERMISSION_DENIED,
	[CR_REASON_INTEGRITY_MISMATCH] = CR_CONNECT_DATA_LOSS,
};

static bool code_valid(cr_connect_code code)
{
	return (unsigned)code < CR_CONNECT_CODE__COUNT;
}

const char *cr_connect_code_name(cr_connect_code code)
{
	return code_valid(code) ? codes[code].name : NULL;
}

cr_connect_code cr_connect_code_from_name(const char *name)
{
	for (size_t i = 1; name && i < CR_CONNECT_CODE__COUNT; i++)
		if (strcmp(codes[i].name, name) == 0)
			return (cr_connect_code)i;
	return CR_CONNECT_OK;
}

int cr_connect_code_http_status(cr_connect_code code)
{
	return code_valid(code) ? codes[code].status : 500;
}

cr_connect_code cr_connect_code_from_http_status(int status)
{
	for (size_t i = 0; i < sizeof(inferred) / sizeof(inferred[0]); i++)
		if (inferred[i].status == status)
			return inferred[i].code;
	return CR_CONNECT_UNKNOWN;
}

cr_connect_code cr_connect_code_from_reason(cr_reason reason)
{
	/* an unmapped (newer) reason is internal rather than "ok" */
	if ((unsigned)reason >= CR_REASON__COUNT || by_reason[reason] == CR_CONNECT_OK)
		return CR_CONNECT_INTERNAL;
	return by_reason[reason];
}

cr_connect_code cr_connect_code_for_error(const cr_error *e)
{
	switch (e->status) {
	case ENOENT: return CR_CONNECT_NOT_FOUND;
	case EBUSY:
	case ESRCH: return CR_CONNECT_FAILED_PRECONDITION;
	case E2BIG:
	case EMSGSIZE: return CR_CONNECT_RESOURCE_EXHAUSTED;
	case ETIMEDOUT: return CR_CONNECT_DEADLINE_EXCEEDED;
	case EBADMSG: return CR_CONNECT_DATA_LOSS;
	default: break;
	}
	return e->reason == CR_REASON_NONE ? CR_CONNECT_UNKNOWN : cr_connect_code_from_reason(e->reason);
}

static const char *const content_types[2][2] = {
	[CR_CONNECT_UNARY] = {[CR_CONNECT_CODEC_JSON] = "application/json",
			      [CR_CONNECT_CODEC_PROTO] = "application/proto"},
	[CR_CONNECT_STREAM] = {[CR_CONNECT_CODEC_JSON] = "application/connect+json",
			       [CR_CONNECT_CODEC_PROTO] = "application/connect+proto"},
};

const char *cr_connect_content_type(cr_connect_kind kind, cr_connect_codec codec)
{
	return content_types[kind == CR_CONNECT_STREAM][codec == CR_CONNECT_CODEC_PROTO];
}

cr_connect_response_head cr_connect_success_head(cr_connect_kind kind, cr_connect_codec codec)
{
	return (cr_connect_response_head){200, cr_connect_content_type(kind, codec)};
}

cr_connect_response_head cr_connect_error_head(cr_connect_kind kind, cr_connect_codec codec,
					       cr_connect_code code)
{
	if (kind == CR_CONNECT_STREAM)
		return cr_connect_success_head(kind, codec);
	if (code == CR_CONNECT_OK)
		code = CR_CONNECT_UNKNOWN;
	/* unary errors are always JSON, whatever the codec */
	return (cr_connect_response_head){cr_connect_code_http_status(code), "application/json"};
}

/* RFC 9110 tchar */
static bool is_token_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("!#$%&'*+-.^_`|~", c));
}

int cr_connect_trailer_name(struct cr_buf *out, const char *key, cr_error **err)
{
	size_t n = strnlen(key, CR_CONNECT_MAX_HEADER + 1);
	if (n == 0 || n > CR_CONNECT_MAX_HEADER)
		return cr_error_make(err, 0, CR_REASON_INTERNAL, "trailer name of %zu bytes", n);
	for (size_t i = 0; i < n; i++)
		if (!is_token_char((unsigned char)key[i]))
			return cr_error_make(err, 0, CR_REASON_INTERNAL,
					     "trailer name '%.64s' is not a token", key);
	/* room checked first, so the appends below cannot fail half-way */
	if (out->len > out->limit || out->limit - out->len < sizeof("trailer-") - 1 + n)
		return cr_error_make(err, E2BIG, CR_REASON_INTERNAL, "trailer name");
	cr_buf_puts(out, "trailer-");
	for (size_t i = 0; i < n; i++) {
		char c = key[i];
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		cr_buf_putc(out, c);
	}
	return 0;
}
