/* SPDX-License-Identifier: Apache-2.0 */
/* client.c -- the CLI's Connect client on libcurl: endpoint resolution, one
 * easy handle per client (kept between calls so the connection to the server
 * is reused), unary calls in application/proto and server-streaming calls in
 * application/connect+proto.
 *
 * Every call runs its own small multi loop instead of curl_easy_perform():
 * curl_multi_poll() with a 100 ms timeout, and the caller's poll callback
 * between two waits. libcurl's progress callback can slow down to one call a
 * second on an idle transfer, which is too slow for Ctrl-C on a quiet
 * stream; a signal also interrupts the wait at once (poll(2) is never
 * restarted), so an interrupt is seen within one loop turn. Response bodies
 * are capped (internal.h); a stream is decoded envelope by envelope as bytes
 * arrive, with the payload cap of cr_connect_decoder. */
#include "cli/client/client.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "cleanroom/v1/admin.pb-c.h"
#include "cli/client/internal.h"
#include "config.h"
#include "server/http.h"
#include "util/buf.h"
#include "util/cleanup.h"
#include "util/xalloc.h"

#define POLL_INTERVAL_MS   100
#define CONNECT_TIMEOUT_MS 10000L
#define RECEIVE_BUFFER     (512L << 10) /* fewer loop turns for a fast stream */

struct cr_client {
	char *endpoint;    /* as shown to users: unix:///path or https://host[:port] */
	char *socket_path; /* unix endpoints only */
	char *base_url;    /* "http://localhost" or the https endpoint */
	CURL *easy;
	CURLM *multi;
	struct curl_slist *unary_headers, *stream_headers;
	cr_client_poll_fn unary_poll;
	void *unary_poll_ctx;
	bool unreachable;
	int last_code;
	char errbuf[CURL_ERROR_SIZE];
};

/* One call in flight: what the write callback needs and what it found. */
struct call {
	cr_client *client;
	bool streaming;
	bool head_checked;
	long status;
	cr_buf body; /* unary answer, or an error body */
	cr_connect_decoder decoder;
	const ProtobufCMessageDescriptor *out_desc;
	cr_client_stream_fn on_msg;
	void *ctx;
	bool stopped;        /* on_msg asked to stop */
	bool overflow;       /* body past its cap */
	cr_error *failed;    /* a decoding failure: the transfer is stopped */
	cr_error *eos_error; /* the error the end-of-stream message carried */
	cr_connect_code code;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_status;

static void curl_init(void)
{
	curl_init_status = curl_global_init(CURL_GLOBAL_DEFAULT);
}

char *cr_client_resolve_endpoint(const char *explicit_host)
{
	if (explicit_host && *explicit_host)
		return cr_xstrdup(explicit_host);
	const char *env = getenv("CLEANROOM_HOST");
	if (env && *env)
		return cr_xstrdup(env);
	cleanup_free char *sock = cr_http_default_socket();
	return cr_asprintf("unix://%s", sock);
}

/* Splits an endpoint into socket path or base URL. */
static int parse_endpoint(cr_client *c, const char *endpoint, cr_error **err)
{
	const char *path = NULL;
	if (strncmp(endpoint, "unix://", 7) == 0)
		path = endpoint + 7;
	else if (endpoint[0] == '/')
		path = endpoint;
	if (path) {
		if (path[0] != '/' || strlen(path) >= sizeof(((struct sockaddr_un *)0)->sun_path))
			return cr_error_make(
				err, 0, CR_REASON_USAGE_INVALID,
				"endpoint '%s': the socket path must be absolute and shorter than "
				"%zu bytes",
				endpoint, sizeof(((struct sockaddr_un *)0)->sun_path));
		c->socket_path = cr_xstrdup(path);
		c->endpoint = cr_asprintf("unix://%s", path);
		c->base_url = cr_xstrdup("http://localhost");
		return 0;
	}
	if (strncmp(endpoint, "https://", 8) == 0 && endpoint[8] && !strpbrk(endpoint + 8, "/?#@")) {
		c->endpoint = cr_xstrdup(endpoint);
		c->base_url = cr_xstrdup(endpoint);
		return 0;
	}
	return cr_error_make(err, 0, CR_REASON_USAGE_INVALID,
			     "unsupported endpoint '%s': use unix:///PATH, /PATH or https://HOST[:PORT]",
			     endpoint);
}

static struct curl_slist *headers_for(const char *content_type)
{
	struct curl_slist *h = NULL;
	cleanup_free char *ct = cr_asprintf("Content-Type: %s", content_type);
	h = curl_slist_append(h, ct);
	h = curl_slist_append(h, "Connect-Protocol-Version: 1");
	h = curl_slist_append(h, "Expect:"); /* no 100-continue round trip */
	if (!h)
		abort();
	return h;
}

static size_t on_write(char *data, size_t size, size_t n, void *arg);

static int setup_easy(cr_client *c, cr_error **err)
{
	CURL *e = c->easy;
	int bad = 0;
	if (c->socket_path) {
		bad |= curl_easy_setopt(e, CURLOPT_UNIX_SOCKET_PATH, c->socket_path) != CURLE_OK;
		bad |= curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1) != CURLE_OK;
	} else {
		bad |= cr_client_tls_trust(e);
		const char *token = getenv("CLEANROOM_TOKEN");
		if (token && *token) {
			bad |= curl_easy_setopt(e, CURLOPT_HTTPAUTH, (long)CURLAUTH_BEARER) != CURLE_OK;
			bad |= curl_easy_setopt(e, CURLOPT_XOAUTH2_BEARER, token) != CURLE_OK;
		}
	}
	bad |= curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK;
	bad |= curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L) != CURLE_OK;
	bad |= curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, CONNECT_TIMEOUT_MS) != CURLE_OK;
	bad |= curl_easy_setopt(e, CURLOPT_USERAGENT, "cleanroom/" CLEANROOM_VERSION) != CURLE_OK;
	bad |= curl_easy_setopt(e, CURLOPT_ERRORBUFFER, c->errbuf) != CURLE_OK;
	bad |= curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write) != CURLE_OK;
	bad |= curl_easy_setopt(e, CURLOPT_POST, 1L) != CURLE_OK;
	bad |= curl_easy_setopt(e, CURLOPT_BUFFERSIZE, RECEIVE_BUFFER) != CURLE_OK;
	if (bad)
		return cr_error_make(err, 0, CR_REASON_INTERNAL,
				     "libcurl refuses an option the client needs");
	return 0;
}

int cr_client_open(const char *endpoint, cr_client **out, cr_error **err)
{
	pthread_once(&curl_once, curl_init);
	if (curl_init_status != CURLE_OK)
		return cr_error_make(err, 0, CR_REASON_INTERNAL, "initialise libcurl: %s",
				     curl_easy_strerror(curl_init_status));
	cr_client *c = cr_xcalloc(1, sizeof(*c));
	if (parse_endpoint(c, endpoint, err) < 0) {
		cr_client_free(c);
		return -1;
	}
	c->easy = curl_easy_init();
	c->multi = curl_multi_init();
	if (!c->easy || !c->multi) {
		cr_client_free(c);
		return cr_error_make(err, 0, CR_REASON_INTERNAL, "create a libcurl handle");
	}
	c->unary_headers = headers_for("application/proto");
	c->stream_headers = headers_for("application/connect+proto");
	if (setup_easy(c, err) < 0) {
		cr_client_free(c);
		return -1;
	}
	*out = c;
	return 0;
}

void cr_client_free(cr_client *c)
{
	if (!c)
		return;
	if (c->easy)
		curl_easy_cleanup(c->easy);
	if (c->multi)
		curl_multi_cleanup(c->multi);
	curl_slist_free_all(c->unary_headers);
	curl_slist_free_all(c->stream_headers);
	free(c->endpoint);
	free(c->socket_path);
	free(c->base_url);
	free(c);
}

const char *cr_client_endpoint(const cr_client *c)
{
	return c->endpoint;
}

bool cr_client_unreachable(const cr_client *c)
{
	return c->unreachable;
}

int cr_client_last_code(const cr_client *c)
{
	return c->last_code;
}

void cr_client_set_poll(cr_client *c, cr_client_poll_fn on_poll, void *ctx)
{
	c->unary_poll = on_poll;
	c->unary_poll_ctx = ctx;
}

/* ---- the response side ---------------------------------------------------- */

static bool content_type_is(CURL *easy, const char *want)
{
	char *ct = NULL;
	if (curl_easy_getinfo(easy, CURLINFO_CONTENT_TYPE, &ct) != CURLE_OK || !ct)
		return false;
	size_t n = strlen(want);
	return strncasecmp(ct, want, n) == 0 && (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

/* The end-of-stream message: {} or {"error":{...}}. */
static void end_of_stream(struct call *k, const unsigned char *payload, size_t len)
{
	json_t *eos = json_loadb((const char *)payload, len, JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(eos)) {
		cr_error_make(&k->eos_error, 0, CR_REASON_INTERNAL,
			      "%s sent an end-of-stream message that is not a JSON object",
			      k->client->endpoint);
	} else if (json_object_get(eos, "error")) {
		cr_client_error_from_json(json_object_get(eos, "error"), CR_CONNECT_UNKNOWN, &k->code,
					  &k->eos_error);
	}
	json_decref(eos);
}

/* Decodes what arrived of a stream; -1 stops the transfer (k->stopped or
 * k->failed says why). */
static int feed_stream(struct call *k, const unsigned char *data, size_t len)
{
	while (len > 0) {
		cr_connect_envelope env;
		int r = cr_connect_decoder_push(&k->decoder, &data, &len, &env, &k->failed);
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		if (env.flags & CR_CONNECT_FLAG_END_STREAM) {
			end_of_stream(k, env.payload, env.len);
			continue; /* bytes after it are refused by the decoder */
		}
		ProtobufCMessage *m = protobuf_c_message_unpack(k->out_desc, NULL, env.len, env.payload);
		if (!m)
			return cr_error_make(&k->failed, 0, CR_REASON_INTERNAL,
					     "%s sent a stream message that is not a valid %s",
					     k->client->endpoint, k->out_desc->name);
		int stop = k->on_msg(k->ctx, m);
		protobuf_c_message_free_unpacked(m, NULL);
		if (stop) {
			k->stopped = true;
			return -1;
		}
	}
	return 0;
}

/* A stream answered 200 must carry enveloped messages; anything else is
 * collected as an error body. */
static void check_head(struct call *k)
{
	k->head_checked = true;
	curl_easy_getinfo(k->client->easy, CURLINFO_RESPONSE_CODE, &k->status);
	if (k->streaming && k->status == 200 &&
	    !content_type_is(k->client->easy, "application/connect+proto"))
		cr_error_make(&k->failed, 0, CR_REASON_INTERNAL,
			      "%s answered a stream with a content type other than application/connect+proto",
			      k->client->endpoint);
}

static size_t on_write(char *data, size_t size, size_t n, void *arg)
{
	struct call *k = arg;
	size_t len = size * n;
	if (!k->head_checked)
		check_head(k);
	if (k->failed)
		return 0;
	if (k->streaming && k->status == 200)
		return feed_stream(k, (const unsigned char *)data, len) < 0 ? 0 : len;
	if (cr_buf_append(&k->body, data, len) < 0) {
		k->overflow = true;
		return 0;
	}
	return len;
}

/* ---- the loop --------------------------------------------------------------- */

/* Runs the prepared transfer. Returns 0 when it completed, 1 when the poll
 * callback or on_msg stopped it, -1 with *err otherwise. */
static int run_transfer(struct call *k, cr_client_poll_fn on_poll, void *ctx, cr_error **err)
{
	cr_client *c = k->client;
	c->unreachable = false;
	c->errbuf[0] = '\0';
	curl_easy_setopt(c->easy, CURLOPT_WRITEDATA, k);
	if (curl_multi_add_handle(c->multi, c->easy) != CURLM_OK)
		return cr_error_make(err, 0, CR_REASON_INTERNAL, "start a libcurl transfer");
	CURLcode res = CURLE_OK;
	bool done = false, abandoned = false;
	while (!done) {
		int running = 0, queued = 0;
		CURLMcode mc = curl_multi_perform(c->multi, &running);
		for (CURLMsg *m; (m = curl_multi_info_read(c->multi, &queued));)
			if (m->msg == CURLMSG_DONE)
				res = m->data.result, done = true;
		if (done)
			break;
		if (mc != CURLM_OK) {
			curl_multi_remove_handle(c->multi, c->easy);
			return cr_error_make(err, 0, CR_REASON_INTERNAL, "libcurl: %s",
					     curl_multi_strerror(mc));
		}
		if (on_poll && on_poll(ctx)) {
			abandoned = true;
			break;
		}
		curl_multi_poll(c->multi, NULL, 0, POLL_INTERVAL_MS, NULL);
	}
	curl_multi_remove_handle(c->multi, c->easy);
	if (!k->head_checked)
		check_head(k);
	if (abandoned || k->stopped)
		return 1;
	if (k->failed) {
		*err = steal_pointer(&k->failed);
		return -1;
	}
	if (k->overflow)
		return cr_error_make(err, 0, CR_REASON_INTERNAL, "the answer of %s exceeds %zu bytes",
				     c->endpoint, k->body.limit);
	if (res == CURLE_OK)
		return 0;
	c->unreachable = res == CURLE_COULDNT_CONNECT;
	return cr_error_make(err, 0, CR_REASON_INTERNAL, "%s %s: %s",
			     c->unreachable ? "cannot reach" : "call", c->endpoint,
			     *c->errbuf ? c->errbuf : curl_easy_strerror(res));
}

static void prepare(struct call *k, cr_client *c, bool streaming, const char *service, const char *method,
		    const void *body, size_t len)
{
	*k = (struct call){.client = c, .streaming = streaming};
	cr_buf_init(&k->body, streaming ? CR_CLIENT_MAX_ERROR_BODY : CR_CLIENT_MAX_UNARY_RESPONSE);
	cr_connect_decoder_init(&k->decoder, CR_CONNECT_SIDE_RESPONSE, CR_CLIENT_MAX_STREAM_MESSAGE);
	cleanup_free char *url = cr_asprintf("%s/%s/%s", c->base_url, service, method);
	curl_easy_setopt(c->easy, CURLOPT_URL, url); /* libcurl copies strings */
	curl_easy_setopt(c->easy, CURLOPT_HTTPHEADER, streaming ? c->stream_headers : c->unary_headers);
	curl_easy_setopt(c->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	curl_easy_setopt(c->easy, CURLOPT_POSTFIELDS, len ? body : "");
}

static void call_clear(struct call *k)
{
	cr_buf_free(&k->body);
	cr_connect_decoder_free(&k->decoder);
	cr_error_free(k->failed);
	cr_error_free(k->eos_error);
	k->failed = k->eos_error = NULL;
}

static uint8_t *pack(const ProtobufCMessage *in, size_t *len)
{
	*len = protobuf_c_message_get_packed_size(in);
	uint8_t *p = cr_xmalloc(*len ? *len : 1);
	protobuf_c_message_pack(in, p);
	return p;
}

/* A non-200 answer: the Connect error it carries. */
static int server_error(struct call *k, cr_error **err)
{
	cr_connect_code code = CR_CONNECT_UNKNOWN;
	cr_client_error_from_body(k->body.data, k->body.len, k->status, k->client->endpoint, &code, err);
	k->client->last_code = (int)code;
	return -1;
}

int cr_client_unary(cr_client *c, const char *service, const char *method, const ProtobufCMessage *in,
		    const ProtobufCMessageDescriptor *out_desc, ProtobufCMessage **out, cr_error **err)
{
	size_t len;
	cleanup_free uint8_t *req = pack(in, &len);
	struct call k;
	prepare(&k, c, false, service, method, req, len);
	c->last_code = CR_CONNECT_OK;
	int r = run_transfer(&k, c->unary_poll, c->unary_poll_ctx, err);
	if (r > 0)
		r = cr_error_make(err, 0, CR_REASON_INTERNAL, "%s/%s: call abandoned", service, method);
	else if (r == 0 && k.status != 200)
		r = server_error(&k, err);
	else if (r == 0 && !content_type_is(c->easy, "application/proto"))
		r = cr_error_make(err, 0, CR_REASON_INTERNAL,
				  "%s answered %s with a content type other than "
				  "application/proto",
				  c->endpoint, method);
	if (r == 0) {
		*out = protobuf_c_message_unpack(out_desc, NULL, k.body.len, (const uint8_t *)k.body.data);
		if (!*out)
			r = cr_error_make(err, 0, CR_REASON_INTERNAL, "%s answered %s with an invalid %s",
					  c->endpoint, method, out_desc->name);
	}
	call_clear(&k);
	return r;
}

int cr_client_stream(cr_client *c, const char *service, const char *method, const ProtobufCMessage *in,
		     const ProtobufCMessageDescriptor *out_desc, cr_client_stream_fn on_msg,
		     cr_client_poll_fn on_poll, void *ctx, cr_error **err)
{
	size_t len;
	cleanup_free uint8_t *msg = pack(in, &len);
	cleanup_buf cr_buf env;
	cr_buf_init(&env, len + CR_CONNECT_ENVELOPE_HEADER);
	if (cr_connect_envelope_encode(&env, 0, msg, len, err) < 0)
		return -1;
	struct call k;
	prepare(&k, c, true, service, method, env.data, env.len);
	k.out_desc = out_desc;
	k.on_msg = on_msg;
	k.ctx = ctx;
	c->last_code = CR_CONNECT_OK;
	int r = run_transfer(&k, on_poll, ctx, err);
	if (r == 0 && k.status != 200)
		r = server_error(&k, err);
	else if (r == 0 && cr_connect_decoder_finish(&k.decoder, err) < 0)
		r = cr_error_wrap(err, "stream %s from %s broke", method, c->endpoint);
	else if (r == 0 && k.eos_error) {
		c->last_code = (int)k.code;
		*err = steal_pointer(&k.eos_error);
		r = -1;
	}
	call_clear(&k);
	return r;
}

int cr_client_ping(cr_client *c, cr_error **err)
{
	Cleanroom__V1__GetServerStatusRequest req = CLEANROOM__V1__GET_SERVER_STATUS_REQUEST__INIT;
	ProtobufCMessage *resp = NULL;
	if (cr_client_unary(c, "cleanroom.v1.AdminService", "GetServerStatus", &req.base,
			    &cleanroom__v1__get_server_status_response__descriptor, &resp, err) < 0)
		return -1;
	protobuf_c_message_free_unpacked(resp, NULL);
	return 0;
}

int cr_client_tls_trust(CURL *easy)
{
	const char *ca = getenv("CLEANROOM_CACERT");
	return ca && *ca ? curl_easy_setopt(easy, CURLOPT_CAINFO, ca) != CURLE_OK : 0;
}
