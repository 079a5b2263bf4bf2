/* SPDX-License-Identifier: Apache-2.0 */
/* git.c -- the git smart-HTTP front (front.h, spec §6.4,
 * docs/internals/git-front.md).
 *
 * The sandbox's git reaches https://<host>/<repo> as
 * http://<gateway>/git/<host>/<repo>. Fetches pass, through the content
 * cache: info/refs (upload-pack) and ls-refs are documents revalidated on
 * every request and served stale when upstream is down; fetch requests whose
 * wants are object ids are artifacts keyed by the request's digest (the same
 * wants and haves get the same answer, so a second clone of a commit needs
 * no upstream). Pushes (receive-pack) are relayed by push.c, never cached,
 * when the host's allow rule says git_push: true, and refused with
 * git_push_not_allowed otherwise. The host must be allowed on port 443 by the
 * sandbox's network policy, the same decision the transparent proxy makes. Upstream
 * credentials (credentials.c) go upstream as Basic auth and nowhere else:
 * not into answers, audit events or messages. */
#include <event2/http.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "gateway/front/front.h"
#include "gateway/git/pktline.h"
#include "gateway/git/push.h"
#include "gateway/git/route.h"
#include "gateway/proxy/decide.h"
#include "gateway/upstream/upstream.h"
#include "policy/match.h"
#include "util/buf.h"
#include "util/cleanup.h"
#include "util/sha256.h"
#include "util/xalloc.h"

#define TYPE_ADVERT  "application/x-git-upload-pack-advertisement"
#define TYPE_REQUEST "application/x-git-upload-pack-request"
#define TYPE_RESULT  "application/x-git-upload-pack-result"
#define GIT_UPSTREAM "https"
#define GIT_PORT     443
#define AGENT_HEADER "User-Agent: git/cleanroom-gateway"
#define HEADERS_MAX  6
/* audit "rule"s for refusals no policy rule decides */
#define RULE_FETCH_ONLY "git_fetch_only"    /* no git_push on the host's allow rule */
#define RULE_SMART_ONLY "git_smart_http"    /* dumb HTTP, LFS */
#define RULE_REQUEST    "git_front_request" /* malformed requests */

typedef enum git_kind {
	GIT_REFS, /* info/refs: document */
	GIT_RPC,  /* ls-refs and other upload-pack requests whose answer may change: document */
	GIT_PACK, /* a fetch by object ids: artifact */
} git_kind;

typedef struct git_call {
	cr_front_call *call;
	cr_gateway *gw;
	cr_upstream_op *op;
	cr_git_route route;
	cr_git_rpc rpc;
	git_kind kind;
	const char *rule; /* the network rule that allowed the host (lives as long as the policy) */
	char *key;
	char what[160];   /* "info/refs", "v2 fetch: 1 wants, 0 haves, done": messages and audit */
	const char *type; /* what upstream must answer with, and what the sandbox gets */
	bool have_cred;
	bool *answered; /* set while cr_upstream_* runs: an answer from inside it frees g */
} git_call;

static void git_call_free(git_call *g)
{
	if (!g)
		return;
	free(g->key);
	free(g);
}

static const char *repo_or_null(const git_call *g)
{
	return g->route.repo[0] ? g->route.repo : NULL;
}

static void audit(const git_call *g, const char *action, cr_reason reason, const char *rule,
		  const char *cache, const char *detail)
{
	cr_front_audit(g->call, &(cr_front_event){.action = action,
						  .reason = reason,
						  .rule = rule,
						  .package = repo_or_null(g),
						  .host = g->route.host[0] ? g->route.host : NULL,
						  .detail = detail,
						  .cache = cache});
}

/* Audits an action that ends the call with a refusal, answers, frees g. */
static void refuse(git_call *g, int status, cr_reason reason, const char *action, const char *rule,
		   const char *message)
{
	audit(g, action, reason, rule, NULL, message);
	cr_front_refuse(g->call, status, reason, "%s", message);
	git_call_free(g);
}

/* ---- decisions ---- */

static bool host_allowed(git_call *g)
{
	cr_gw_verdict v;
	cr_gw_decide_dest(g->gw->policy, g->route.host, GIT_PORT, &v);
	if (v.action == CR_ACTION_ALLOW) {
		g->rule = v.rule;
		return true;
	}
	cleanup_free char *msg =
		cr_asprintf("cleanroom: git host %s is not allowed by the sandbox's network policy on port "
			    "%d (rule %s%s%s)",
			    g->route.host, GIT_PORT, v.rule, v.detail[0] ? ": " : "", v.detail);
	refuse(g, 403, CR_REASON_HOST_NOT_ALLOWED, "deny", v.rule, msg);
	return false;
}

static void push_refused(git_call *g)
{
	cleanup_free char *msg = cr_asprintf(
		"git push to %s/%s is not allowed through cleanroom: the policy allows fetches only from %s "
		"(to allow pushes, add 'git_push: true' to its rule in sandbox.network.allow)",
		g->route.host, g->route.repo, g->route.host);
	refuse(g, 403, CR_REASON_GIT_PUSH_NOT_ALLOWED, "deny", RULE_FETCH_ONLY, msg);
}

/* receive-pack: relayed under the host's push permission, else refused. */
static void push(git_call *g)
{
	const cr_net_rule *rule = cr_policy_git_push_rule(g->gw->policy, g->route.host);
	if (!rule) {
		push_refused(g);
		return;
	}
	cr_git_push_relay(g->call, &g->route, rule); /* the call is push.c's now */
	git_call_free(g);
}

static void lfs_refused(git_call *g)
{
	cleanup_free char *msg =
		cr_asprintf("git LFS (%s/%s) is not served by cleanroom's git front: only git "
			    "smart HTTP fetches (git-upload-pack) are",
			    g->route.host, g->route.repo);
	refuse(g, 404, CR_REASON_NONE, "error", RULE_SMART_ONLY, msg);
}

static void dumb_refused(git_call *g)
{
	cleanup_free char *msg =
		cr_asprintf("%s/%s is not served by cleanroom's git front: only git smart HTTP fetches "
			    "(info/refs?service=git-upload-pack, git-upload-pack) are",
			    g->route.host, g->route.repo[0] ? g->route.repo : g->route.path);
	refuse(g, 404, CR_REASON_NONE, "error", RULE_SMART_ONLY, msg);
}

/* ---- answers ---- */

/* Drops a stored answer that must not be served again. */
static void forget(const git_call *g)
{
	cr_cache *cache = cr_front_cache(g->gw);
	cleanup_error cr_error *err = NULL;
	if (cache)
		(void)cr_cache_remove(cache, g->key, &err);
}

/* A pack answer fetched now: complete, without an upstream error in it? */
static int check_pack(const git_call *g, const cr_cache_entry *e, cr_error **err)
{
	uint64_t size = 0;
	cleanup_close int fd = cr_cache_blob_open(cr_front_cache(g->gw), e->blob, &size, err);
	if (fd < 0)
		return -1;
	return cr_git_answer_check(fd, size, &g->rpc, err);
}

static void serve(git_call *g, const cr_upstream_result *res)
{
	const cr_cache_entry *e = res->entry;
	cr_front_call *c = g->call;
	if (!cr_git_type_is(e->content_type, g->type)) {
		cleanup_free char *msg =
			cr_asprintf("upstream %s answered %s %s with content type '%s', not git smart HTTP",
				    g->route.host, g->route.repo, g->what, e->content_type);
		forget(g);
		refuse(g, 502, CR_REASON_NONE, "error", g->rule, msg);
		return;
	}
	cleanup_error cr_error *bad = NULL;
	if (g->kind == GIT_PACK && strcmp(res->from, "hit") != 0 && check_pack(g, e, &bad) < 0) {
		/* served as upstream sent it (git shows its error), never again */
		cleanup_free char *detail = cr_asprintf("%s: not kept in the cache: %s", g->what, bad->msg);
		audit(g, "error", CR_REASON_NONE, g->rule, res->from, detail);
	} else {
		cleanup_free char *detail =
			res->warning ? cr_asprintf("%s (%s)", g->what, res->warning) : NULL;
		audit(g, "allow", CR_REASON_NONE, g->rule, res->from, detail ? detail : g->what);
	}
	evhttp_add_header(evhttp_request_get_output_headers(c->req), "Cache-Control", "no-cache");
	cr_front_send_entry(c, e, g->type);
	if (bad)
		forget(g);
	git_call_free(g);
}

static void fail(git_call *g, const cr_upstream_result *res, const cr_error *err)
{
	long status = res ? res->upstream_status : 0;
	const char *why = err ? err->msg : "no answer";
	const char *host = g->route.host, *repo = g->route.repo;
	cleanup_free char *msg = NULL;
	int answer = 502;
	if (status == 401 || status == 403) {
		/* never more than this: the credentials are not the sandbox's business */
		msg = g->have_cred
			      ? cr_asprintf("upstream refused the gateway's credentials for %s/%s", host,
					    repo)
			      : cr_asprintf("no credentials configured for %s/%s (upstream asks for them)",
					    host, repo);
		answer = 403;
	} else if (status == 404) {
		msg = cr_asprintf("repository %s/%s not found upstream", host, repo);
		answer = 404;
	} else if (strncmp(why, "offline", 7) == 0) {
		msg = cr_asprintf("offline: %s of %s/%s is not in the cache", g->what, host, repo);
		answer = 503;
	} else {
		msg = cr_asprintf("upstream %s failed for %s (%s): %s", host, repo, g->what, why);
	}
	refuse(g, answer, CR_REASON_NONE, "error", g->rule, msg);
}

static void on_result(void *ud, const cr_upstream_result *res, cr_error *err)
{
	git_call *g = ud;
	g->op = NULL;
	g->call->on_gone = NULL; /* answered now */
	if (g->answered)
		*g->answered = true;
	if (err || !res || !res->entry)
		fail(g, res, err);
	else
		serve(g, res);
	cr_error_free(err);
}

static void on_gone(cr_front_call *c)
{
	git_call *g = c->data;
	cr_upstream_cancel(g->op);
	g->op = NULL;
	audit(g, "allow", CR_REASON_NONE, g->rule, NULL, "the client went away before the answer");
	git_call_free(g);
}

/* ---- upstream gets ---- */

static void start(git_call *g, cr_upstream_get *get)
{
	cr_front_call *c = g->call;
	const cr_front_cred *cred = cr_front_git_cred(g->gw, g->route.host, g->route.repo);
	if (cred) {
		get->username = cred->username;
		get->password = cred->password;
	}
	g->have_cred = cred != NULL;
	g->key = cr_xstrdup(get->key);
	c->data = g;
	c->on_gone = on_gone;
	bool answered = false;
	g->answered = &answered;
	cr_upstream_op *op = g->kind == GIT_PACK ? cr_upstream_artifact(c->upstream, get, NULL, on_result, g)
						 : cr_upstream_document(c->upstream, get, on_result, g);
	if (answered)
		return; /* g is gone */
	g->answered = NULL;
	g->op = op;
}

/* The Git-Protocol header ("version=2"), checked: it goes upstream and into
 * cache keys. "" when absent; NULL when unusable (g answered). */
static const char *git_protocol(git_call *g)
{
	const char *v = cr_front_header(g->call, "Git-Protocol");
	if (!v)
		return "";
	if (cr_git_protocol_valid(v))
		return v;
	refuse(g, 400, CR_REASON_NONE, "error", RULE_REQUEST,
	       "git front: the Git-Protocol header is too long or has control characters");
	return NULL;
}

static void refs_get(git_call *g)
{
	const char *proto = git_protocol(g);
	if (!proto)
		return;
	cleanup_free char *key =
		cr_asprintf("git:refs:%s/%s%s%s", g->route.host, g->route.repo, *proto ? ":" : "", proto);
	cleanup_free char *url =
		cr_git_upstream_url(GIT_UPSTREAM, &g->route, "info/refs?service=git-upload-pack");
	cleanup_free char *proto_header = *proto ? cr_asprintf("Git-Protocol: %s", proto) : NULL;
	const char *headers[] = {AGENT_HEADER, proto_header, NULL};
	g->kind = GIT_REFS;
	g->type = TYPE_ADVERT;
	snprintf(g->what, sizeof(g->what), "info/refs");
	cr_upstream_get get = {.key = key, .url = url, .headers = headers, .ttl_s = -1};
	start(g, &get);
}

/* The request body as git meant it: gzip decoded into buf when so encoded.
 * NULL when unusable (g answered). */
static const void *decoded_body(git_call *g, const void *body, size_t len, const char *encoding, cr_buf *buf,
				size_t *out_len)
{
	*out_len = len;
	if (!encoding || !*encoding || strcasecmp(encoding, "identity") == 0)
		return body;
	if (strcasecmp(encoding, "gzip") != 0 && strcasecmp(encoding, "x-gzip") != 0) {
		refuse(g, 415, CR_REASON_NONE, "error", RULE_REQUEST,
		       "git front: git-upload-pack bodies may be sent plain or gzip-encoded only");
		return NULL;
	}
	cleanup_error cr_error *err = NULL;
	if (cr_git_gunzip(body, len, CR_GIT_RPC_MAX, buf, &err) < 0) {
		refuse(g, 400, CR_REASON_NONE, "error", RULE_REQUEST, err->msg);
		return NULL;
	}
	*out_len = buf->len;
	return buf->data;
}

/* "git:<kind>:<host>/<repo>:<sha256 of Git-Protocol, LF, decoded body>" */
static char *rpc_key(const git_call *g, const char *proto, const void *body, size_t len)
{
	cleanup_buf cr_buf b;
	cr_buf_init(&b, strlen(proto) + 1 + len);
	if (cr_buf_puts(&b, proto) < 0 || cr_buf_putc(&b, '\n') < 0 || cr_buf_append(&b, body, len) < 0)
		abort(); /* the limit is exact */
	char digest[CR_SHA256_HEX_LEN + 1];
	cr_sha256_hex(b.data, b.len, digest);
	const char *kind = g->kind == GIT_PACK                 ? "pack"
			   : g->rpc.kind == CR_GIT_RPC_LS_REFS ? "ls-refs"
							       : "rpc";
	return cr_asprintf("git:%s:%s/%s:%s", kind, g->route.host, g->route.repo, digest);
}

static void upload_pack(git_call *g)
{
	if (!cr_git_type_is(cr_front_header(g->call, "Content-Type"), TYPE_REQUEST)) {
		refuse(g, 415, CR_REASON_NONE, "error", RULE_REQUEST,
		       "git front: git-upload-pack expects Content-Type " TYPE_REQUEST);
		return;
	}
	const char *proto = git_protocol(g);
	if (!proto)
		return;
	size_t len = 0, plain_len = 0;
	const void *body = cr_front_body(g->call, &len);
	const char *encoding = cr_front_header(g->call, "Content-Encoding");
	cleanup_buf cr_buf decoded;
	cr_buf_init(&decoded, CR_GIT_RPC_MAX);
	const void *plain = decoded_body(g, body, len, encoding, &decoded, &plain_len);
	if (!plain)
		return;
	cleanup_error cr_error *err = NULL;
	if (cr_git_rpc_classify(plain, plain_len, &g->rpc, &err) < 0) {
		refuse(g, 400, CR_REASON_NONE, "error", RULE_REQUEST, err->msg);
		return;
	}
	g->kind = g->rpc.immutable ? GIT_PACK : GIT_RPC;
	g->type = TYPE_RESULT;
	cr_git_rpc_describe(&g->rpc, g->what, sizeof(g->what));
	cleanup_free char *key = rpc_key(g, proto, plain, plain_len);
	cleanup_free char *url = cr_git_upstream_url(GIT_UPSTREAM, &g->route, "git-upload-pack");
	cleanup_free char *proto_header = *proto ? cr_asprintf("Git-Protocol: %s", proto) : NULL;
	cleanup_free char *enc_header = plain != body ? cr_asprintf("Content-Encoding: %s", encoding) : NULL;
	const char *headers[HEADERS_MAX] = {AGENT_HEADER, "Content-Type: " TYPE_REQUEST,
					    "Accept: " TYPE_RESULT};
	size_t n = 3;
	if (proto_header)
		headers[n++] = proto_header;
	if (enc_header)
		headers[n++] = enc_header;
	cr_upstream_get get = {.key = key,
			       .url = url,
			       .headers = headers,
			       .ttl_s = -1,
			       .no_integrity = true,
			       .method = "POST",
			       .body = body,
			       .body_len = len};
	start(g, &get);
}

/* ---- the handler ---- */

typedef void (*git_handler)(git_call *g);

static const struct {
	cr_git_service service;
	enum evhttp_cmd_type method; /* 0: any (refusals) */
	git_handler handler;
} services[] = {
	{CR_GIT_REFS_UPLOAD, EVHTTP_REQ_GET, refs_get},
	{CR_GIT_UPLOAD_PACK, EVHTTP_REQ_POST, upload_pack},
	{CR_GIT_REFS_RECEIVE, 0, push}, /* push.c checks the method once push is allowed */
	{CR_GIT_RECEIVE_PACK, 0, push},
	{CR_GIT_LFS, 0, lfs_refused},
	{CR_GIT_DUMB, 0, dumb_refused},
};

void cr_front_git(cr_front_call *c)
{
	git_call *g = cr_xcalloc(1, sizeof(*g));
	g->call = c;
	g->gw = c->gw;
	cleanup_error cr_error *err = NULL;
	if (cr_git_route_parse(c->rest, c->query, &g->route, &err) < 0) {
		refuse(g, 400, CR_REASON_NONE, "error", RULE_REQUEST, err->msg);
		return;
	}
	if (!host_allowed(g))
		return;
	for (size_t i = 0; i < sizeof(services) / sizeof(services[0]); i++) {
		if (services[i].service != g->route.service)
			continue;
		if (services[i].method && evhttp_request_get_command(c->req) != services[i].method) {
			cleanup_free char *msg = cr_asprintf(
				"git front: %s takes %s only", cr_git_service_name(g->route.service),
				services[i].method == EVHTTP_REQ_GET ? "GET" : "POST");
			refuse(g, 405, CR_REASON_NONE, "error", RULE_REQUEST, msg);
			return;
		}
		services[i].handler(g);
		return;
	}
	dumb_refused(g);
}
