/* SPDX-License-Identifier: Apache-2.0 */
/* request.c -- classification of a Connect request from its HTTP head, before
 * any of the body is read: which procedure, which codec, unary or stream, the
 * timeout, and for GET the message itself. Refusals that happen before the
 * protocol is known (unknown route, method, content type, oversize head) are
 * plain HTTP responses, as connect-go sends them; later ones are Connect
 * errors in the negotiated kind. Every string is measured against its cap
 * with strnlen before anything else looks at it. */
#include "connect/internal.h"

#include <stdarg.h>
#include <string.h>
#include <strings.h>

#include "util/cleanup.h"
#include "util/xalloc.h"

typedef struct slice {
	const char *p;
	size_t n;
} slice;

static const char accept_unary[] = "application/json, application/proto";
static const char accept_stream[] = "application/connect+json, application/connect+proto";
static const char accept_both[] =
	"application/json, application/proto, application/connect+json, application/connect+proto";

/* Fills the refusal fields and *err. code CR_CONNECT_OK = a plain response
 * with the given status; otherwise the status follows from code and kind. */
static int refuse(cr_connect_request *out, int status, cr_connect_code code, cr_error **err, const char *fmt,
		  ...) __attribute__((format(printf, 5, 6)));

static int refuse(cr_connect_request *out, int status, cr_connect_code code, cr_error **err, const char *fmt,
		  ...)
{
	out->code = code;
	out->http_status =
		code == CR_CONNECT_OK ? status : cr_connect_error_head(out->kind, out->codec, code).status;
	va_list ap;
	va_start(ap, fmt);
	cleanup_free char *msg = cr_vasprintf(fmt, ap);
	va_end(ap);
	return cr_error_make(err, 0, CR_REASON_USAGE_INVALID, "%s", msg);
}

static slice trim(const char *s)
{
	slice v = {s, strnlen(s, CR_CONNECT_MAX_HEADER)};
	while (v.n && (v.p[0] == ' ' || v.p[0] == '\t'))
		v.p++, v.n--;
	while (v.n && (v.p[v.n - 1] == ' ' || v.p[v.n - 1] == '\t'))
		v.n--;
	return v;
}

/* The number of headers named `name`; *value is the first one, trimmed. */
static size_t find_header(const cr_connect_head *head, const char *name, slice *value)
{
	size_t count = 0;
	for (size_t i = 0; i < head->n_headers; i++) {
		if (strcasecmp(head->headers[i].name, name) != 0)
			continue;
		if (count++ == 0)
			*value = trim(head->headers[i].value);
	}
	return count;
}

/* A header that may appear at most once; -1 (refused) when repeated. */
static int single_header(cr_connect_request *out, const cr_connect_head *head, const char *name, slice *value,
			 bool *present, cr_error **err)
{
	size_t n = find_header(head, name, value);
	*present = n > 0;
	if (n > 1)
		return refuse(out, 400, CR_CONNECT_INVALID_ARGUMENT, err, "header %s given %zu times", name,
			      n);
	return 0;
}

static bool within(const char *s, size_t cap)
{
	return s && strnlen(s, cap + 1) <= cap;
}

/* Caps on the head as a whole: a plain 414 or 431 when exceeded. */
static int check_caps(const cr_connect_head *head, cr_connect_request *out, cr_error **err)
{
	if (!within(head->target, CR_CONNECT_MAX_PATH + 1 + CR_CONNECT_MAX_QUERY))
		return refuse(out, 414, CR_CONNECT_OK, err, "request target too long");
	if (head->n_headers > CR_CONNECT_MAX_HEADERS)
		return refuse(out, 431, CR_CONNECT_OK, err, "more than %u headers", CR_CONNECT_MAX_HEADERS);
	for (size_t i = 0; i < head->n_headers; i++)
		if (!within(head->headers[i].name, CR_CONNECT_MAX_HEADER) ||
		    !within(head->headers[i].value, CR_CONNECT_MAX_HEADER))
			return refuse(out, 431, CR_CONNECT_OK, err, "header %zu too long", i + 1);
	const char *q = strchr(head->target, '?');
	size_t path_len = q ? (size_t)(q - head->target) : strlen(head->target);
	if (path_len > CR_CONNECT_MAX_PATH || (q && strlen(q + 1) > CR_CONNECT_MAX_QUERY))
		return refuse(out, 414, CR_CONNECT_OK, err, "request path or query too long");
	return 0;
}

/* A protobuf identifier: [A-Za-z_][A-Za-z0-9_]*. */
static bool is_ident(const char *s, size_t n)
{
	if (n == 0 || (s[0] >= '0' && s[0] <= '9'))
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'))
			return false;
	}
	return true;
}

/* "<package>.<Service>": dot-separated identifiers, at least two. */
static bool is_service(const char *s, size_t n)
{
	size_t parts = 0;
	for (size_t start = 0; start <= n; parts++) {
		const char *dot = memchr(s + start, '.', n - start);
		size_t end = dot ? (size_t)(dot - s) : n;
		if (!is_ident(s + start, end - start))
			return false;
		start = end + 1;
	}
	return parts >= 2;
}

/* Takes the last two segments of the path as service and method; anything
 * before them is a routing prefix. */
static int parse_route(const char *path, size_t n, cr_connect_request *out, cr_error **err)
{
	const char *slash2 = n ? memrchr(path, '/', n) : NULL;
	const char *slash1 = slash2 && slash2 > path ? memrchr(path, '/', (size_t)(slash2 - path)) : NULL;
	if (path[0] != '/' || !slash1)
		return refuse(out, 404, CR_CONNECT_OK, err, "no such procedure");
	const char *svc = slash1 + 1, *method = slash2 + 1;
	size_t svc_len = (size_t)(slash2 - svc), method_len = (size_t)(path + n - method);
	if (!is_service(svc, svc_len) || !is_ident(method, method_len))
		return refuse(out, 404, CR_CONNECT_OK, err, "no such procedure");
	out->service = cr_xstrndup(svc, svc_len);
	out->method = cr_xstrndup(method, method_len);
	return 0;
}

/* Consumes a case-insensitive prefix. */
static bool eat(slice *s, const char *prefix)
{
	size_t n = strlen(prefix);
	if (s->n < n || strncasecmp(s->p, prefix, n) != 0)
		return false;
	s->p += n;
	s->n -= n;
	return true;
}

static void eat_space(slice *s)
{
	while (s->n && (s->p[0] == ' ' || s->p[0] == '\t'))
		s->p++, s->n--;
}

/* After "json": nothing, or ";charset=utf-8" (or utf8) with optional spaces. */
static bool json_params_ok(slice s)
{
	if (s.n == 0)
		return true;
	eat_space(&s);
	if (!eat(&s, ";"))
		return false;
	eat_space(&s);
	if (!eat(&s, "charset=") || !(eat(&s, "utf-8") || eat(&s, "utf8")))
		return false;
	eat_space(&s);
	return s.n == 0;
}

int cr_connect_parse_content_type(const char *value, cr_connect_codec *codec, cr_connect_kind *kind)
{
	slice s = trim(value);
	if (!eat(&s, "application/"))
		return -1;
	cr_connect_kind k = eat(&s, "connect+") ? CR_CONNECT_STREAM : CR_CONNECT_UNARY;
	if (eat(&s, "proto")) {
		if (s.n != 0)
			return -1;
		*codec = CR_CONNECT_CODEC_PROTO;
	} else if (eat(&s, "json") && json_params_ok(s)) {
		*codec = CR_CONNECT_CODEC_JSON;
	} else {
		return -1;
	}
	*kind = k;
	return 0;
}

/* POST content type against what the procedure accepts; 415 otherwise. */
static int check_content_type(const cr_connect_head *head, unsigned flags, cr_connect_request *out,
			      cr_error **err)
{
	slice ct = {"", 0};
	size_t n = find_header(head, "content-type", &ct);
	cleanup_free char *value = cr_xstrndup(ct.p, ct.n);
	bool ok = n == 1 && cr_connect_parse_content_type(value, &out->codec, &out->kind) == 0;
	if (ok && out->kind == CR_CONNECT_UNARY)
		ok = flags & CR_CONNECT_METHOD_UNARY;
	else if (ok)
		ok = flags & CR_CONNECT_METHOD_STREAM;
	if (ok)
		return 0;
	bool unary = flags & CR_CONNECT_METHOD_UNARY, stream = flags & CR_CONNECT_METHOD_STREAM;
	out->refusal_header = "Accept-Post";
	out->refusal_value = unary && stream ? accept_both : unary ? accept_unary : accept_stream;
	out->kind = CR_CONNECT_UNARY;
	out->codec = CR_CONNECT_CODEC_JSON;
	return refuse(out, 415, CR_CONNECT_OK, err, "unsupported content type '%.128s'; use %s", value,
		      out->refusal_value);
}

/* Connect-Protocol-Version: absent is accepted (curl users rarely send it),
 * anything but "1" is not. */
static int check_version(const cr_connect_head *head, cr_connect_request *out, cr_error **err)
{
	slice v;
	bool present;
	if (single_header(out, head, "connect-protocol-version", &v, &present, err) < 0)
		return -1;
	if (present && !(v.n == 1 && v.p[0] == '1'))
		return refuse(out, 400, CR_CONNECT_INVALID_ARGUMENT, err,
			      "connect-protocol-version must be \"1\": got \"%.*s\"",
			      (int)(v.n > 32 ? 32 : v.n), v.p);
	return 0;
}

static int parse_timeout_n(const char *s, size_t n, int64_t *ms)
{
	if (n < 1 || n > 10)
		return -1;
	int64_t v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*ms = v;
	return 0;
}

int cr_connect_parse_timeout(const char *value, int64_t *ms, cr_error **err)
{
	size_t n = strnlen(value, 11);
	if (parse_timeout_n(value, n, ms) < 0)
		return cr_error_make(err, 0, CR_REASON_USAGE_INVALID,
				     "connect-timeout-ms must be 1 to 10 digits: got \"%.16s\"", value);
	return 0;
}

static int check_timeout(const cr_connect_head *head, cr_connect_request *out, cr_error **err)
{
	slice v;
	bool present;
	if (single_header(out, head, "connect-timeout-ms", &v, &present, err) < 0)
		return -1;
	if (present && parse_timeout_n(v.p, v.n, &out->timeout_ms) < 0)
		return refuse(out, 400, CR_CONNECT_INVALID_ARGUMENT, err,
			      "connect-timeout-ms must be 1 to 10 digits: got \"%.*s\"",
			      (int)(v.n > 16 ? 16 : v.n), v.p);
	return 0;
}

/* Only identity is supported: no decompressor is linked in. */
static int check_encoding(const cr_connect_head *head, const char *name, cr_connect_request *out,
			  cr_error **err)
{
	slice v;
	bool present;
	if (single_header(out, head, name, &v, &present, err) < 0)
		return -1;
	if (present && !(v.n == 8 && strncasecmp(v.p, "identity", 8) == 0))
		return refuse(out, 501, CR_CONNECT_UNIMPLEMENTED, err,
			      "unsupported %s \"%.*s\": this server accepts identity only", name,
			      (int)(v.n > 32 ? 32 : v.n), v.p);
	return 0;
}

static int classify_post(const cr_connect_head *head, unsigned flags, cr_connect_request *out, cr_error **err)
{
	if (check_content_type(head, flags, out, err) < 0 || check_version(head, out, err) < 0 ||
	    check_timeout(head, out, err) < 0 || check_encoding(head, "content-encoding", out, err) < 0)
		return -1;
	if (out->kind == CR_CONNECT_STREAM && check_encoding(head, "connect-content-encoding", out, err) < 0)
		return -1;
	return 0;
}

static int classify_get(const cr_connect_head *head, const char *query, cr_connect_request *out,
			cr_error **err)
{
	out->is_get = true;
	out->kind = CR_CONNECT_UNARY;
	cr_connect_get get;
	cr_connect_code code;
	cleanup_error cr_error *why = NULL;
	if (cr_connect_get_parse(query, strlen(query), &get, &code, &why) < 0)
		return refuse(out, 400, code, err, "%s", why->msg);
	out->codec = get.codec;
	out->message = get.message;
	out->message_len = get.message_len;
	return check_timeout(head, out, err);
}

/* Which HTTP methods the procedure allows; 405 with Allow otherwise. */
static int check_method(const char *method, unsigned flags, cr_connect_request *out, cr_error **err)
{
	bool get_ok = (flags & CR_CONNECT_METHOD_NO_SIDE_EFFECTS) && (flags & CR_CONNECT_METHOD_UNARY);
	if (method && (strcmp(method, "POST") == 0 || (get_ok && strcmp(method, "GET") == 0)))
		return 0;
	out->refusal_header = "Allow";
	out->refusal_value = get_ok ? "GET, POST" : "POST";
	return refuse(out, 405, CR_CONNECT_OK, err, "method %.32s not allowed; use %s", method ? method : "",
		      out->refusal_value);
}

int cr_connect_classify(const cr_connect_head *head, cr_connect_lookup_fn lookup, void *ctx,
			cr_connect_request *out, cr_error **err)
{
	*out = (cr_connect_request){.timeout_ms = -1, .http_status = 200};
	if (check_caps(head, out, err) < 0)
		return -1;
	const char *q = strchr(head->target, '?');
	size_t path_len = q ? (size_t)(q - head->target) : strlen(head->target);
	if (parse_route(head->target, path_len, out, err) < 0)
		return -1;
	unsigned flags = lookup ? lookup(ctx, out->service, out->method)
				: CR_CONNECT_METHOD_UNARY | CR_CONNECT_METHOD_STREAM;
	if (!(flags & (CR_CONNECT_METHOD_UNARY | CR_CONNECT_METHOD_STREAM)))
		return refuse(out, 404, CR_CONNECT_OK, err, "no such procedure");
	if (check_method(head->method, flags, out, err) < 0)
		return -1;
	if (strcmp(head->method, "GET") == 0)
		return classify_get(head, q ? q + 1 : "", out, err);
	return classify_post(head, flags, out, err);
}

void cr_connect_request_clear(cr_connect_request *r)
{
	free(r->service);
	free(r->method);
	free(r->message);
	*r = (cr_connect_request){0};
}
