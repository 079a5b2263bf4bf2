/* SPDX-License-Identifier: Apache-2.0 */
/* push.c -- relaying git push (receive-pack) upstream (push.h,
 * docs/internals/git-front.md).
 *
 * A push is not a download: nothing here touches the content cache, and
 * nothing is ever served from it. The request goes upstream through the
 * front's raw fetcher (fetch.h: TLS verified, address guard) as the sandbox
 * sent it -- its body is at most CR_FRONT_BODY_MAX, the front's cap on request
 * bodies -- with the gateway's credentials; upstream's answer is collected
 * under a cap and sent back with its status and content type. Upstream 401
 * and 403 become a 403 with a message (a 401 would make git ask for a
 * password, and the credentials are not the sandbox's business); redirects
 * are not followed. git's large-request probe (a POST of a lone flush-pkt,
 * which git sends before a body bigger than its http.postBuffer, 1 MiB less
 * 256 bytes by default) is answered 413 at once: the body that would follow
 * does not fit the front's cap. */
#include "gateway/git/push.h"

#include <event2/http.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "gateway/git/pktline.h"
#include "gateway/upstream/fetch.h"
#include "util/buf.h"
#include "util/cleanup.h"
#include "util/xalloc.h"

#define TYPE_ADVERT     "application/x-git-receive-pack-advertisement"
#define TYPE_REQUEST    "application/x-git-receive-pack-request"
#define TYPE_RESULT     "application/x-git-receive-pack-result"
#define PUSH_ANSWER_MAX CR_FETCH_DOC_MAX /* the ref advertisement of a big repository */
#define AGENT_HEADER    "User-Agent: git/cleanroom-gateway"
#define HEADERS_MAX     6
#define REFS_SHOWN      8   /* ref updates named in an audit detail */
#define REF_SHOWN_MAX   200 /* bytes of one ref name shown */
/* audit "rule"s for refusals no policy rule decides (as in git.c) */
#define RULE_REQUEST  "git_front_request"  /* malformed requests */
#define RULE_BODY_MAX "git_front_body_max" /* a push bigger than CR_FRONT_BODY_MAX */

typedef struct push_call {
	cr_front_call *call;
	cr_fetch *fetch;
	cr_git_route route;
	char *rule;       /* "<allow rule>.git_push": the permission used */
	const char *type; /* what a 200 from upstream must be */
	char what[640];   /* "info/refs", "receive-pack: 1 ref update: refs/heads/x (create)" */
	bool have_cred;
	long status;            /* upstream's */
	char content_type[256]; /* upstream's, "" when none */
	cr_buf answer;
} push_call;

static void push_free(push_call *pc)
{
	if (!pc)
		return;
	free(pc->rule);
	cr_buf_free(&pc->answer);
	free(pc);
}

static void audit(const push_call *pc, const char *action, const char *rule, const char *detail)
{
	cr_front_audit(pc->call, &(cr_front_event){.action = action,
						   .rule = rule,
						   .package = pc->route.repo,
						   .host = pc->route.host,
						   .detail = detail});
}

/* Audits, answers with a one-line message, frees pc. */
static void refuse(push_call *pc, int status, const char *action, const char *rule, const char *message)
{
	audit(pc, action, rule, message);
	cr_front_refuse(pc->call, status, CR_REASON_NONE, "%s", message);
	push_free(pc);
}

/* ---- describing a receive-pack request ---- */

static bool is_zero_oid(const uint8_t *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] != '0')
			return false;
	return true;
}

/* A command line "<old> <new> <ref>[\0capabilities]" (other lines: shallow,
 * push-cert, ... are not commands). */
typedef struct push_command {
	const uint8_t *ref;
	size_t ref_len;
	const char *kind; /* "create", "update", "delete" */
} push_command;

static bool parse_command(const cr_pkt *p, push_command *out)
{
	size_t n = cr_pkt_text_len(p);
	const uint8_t *s = p->data;
	const uint8_t *nul = memchr(s, '\0', n);
	n = nul ? (size_t)(nul - s) : n;
	size_t k = n > 82 && s[40] == ' ' ? 40 : n > 130 && s[64] == ' ' ? 64 : 0;
	if (!k || !cr_git_is_oid((const char *)s, k) || !cr_git_is_oid((const char *)s + k + 1, k) ||
	    s[2 * k + 1] != ' ')
		return false;
	out->ref = s + 2 * k + 2;
	out->ref_len = n - 2 * k - 2;
	out->kind = is_zero_oid(s, k) ? "create" : is_zero_oid(s + k + 1, k) ? "delete" : "update";
	return true;
}

/* Appends ", <ref> (<kind>)" (no comma first) to out when it fits whole;
 * never a control byte (details are one line). */
static bool append_command(cr_buf *out, const push_command *cmd)
{
	cleanup_buf cr_buf one;
	cr_buf_init(&one, REF_SHOWN_MAX + 32);
	(void)cr_buf_puts(&one, out->len ? ", " : "");
	for (size_t i = 0; i < cmd->ref_len && i < REF_SHOWN_MAX; i++)
		(void)cr_buf_putc(&one, cmd->ref[i] > 0x20 && cmd->ref[i] < 0x7f ? (char)cmd->ref[i] : '?');
	(void)cr_buf_printf(&one, "%s (%s)", cmd->ref_len > REF_SHOWN_MAX ? "..." : "", cmd->kind);
	return cr_buf_append(out, one.data, one.len) == 0;
}

long cr_git_push_describe(const void *body, size_t len, char *what, size_t cap, const char **why)
{
	cleanup_buf cr_buf refs;
	cr_buf_init(&refs, cap > 128 ? cap - 64 : 64);
	cr_pkt_reader r;
	cr_pkt_reader_init(&r, body, len);
	cr_pkt p;
	push_command cmd;
	long n = 0, shown = 0;
	int rc;
	while ((rc = cr_pkt_next(&r, &p, why)) == 1 && p.kind == CR_PKT_DATA) {
		if (!parse_command(&p, &cmd))
			continue;
		if (shown == n && shown < REFS_SHOWN && append_command(&refs, &cmd))
			shown++;
		n++;
	}
	if (rc == 1 && p.kind == CR_PKT_FLUSH) {
		snprintf(what, cap, "receive-pack: %ld ref update%s%s%s%s", n, n == 1 ? "" : "s",
			 n ? ": " : "", refs.data ? refs.data : "", shown < n ? ", ..." : "");
		return n;
	}
	if (rc == 0)
		*why = "no flush-pkt after the commands";
	else if (rc == 1)
		*why = "a delim-pkt or response-end-pkt among the commands";
	return -1;
}

/* ---- the answer ---- */

static void relay(push_call *pc)
{
	cleanup_free char *detail = cr_asprintf("%s: upstream answered %ld", pc->what, pc->status);
	audit(pc, "allow", pc->rule, detail);
	struct evhttp_request *req = pc->call->req;
	evhttp_add_header(evhttp_request_get_output_headers(req), "Cache-Control", "no-store");
	cr_front_send(pc->call, (int)pc->status, pc->content_type, pc->answer.data ? pc->answer.data : "",
		      pc->answer.len);
	push_free(pc);
}

static void answer(push_call *pc)
{
	const char *host = pc->route.host, *repo = pc->route.repo;
	long st = pc->status;
	cleanup_free char *msg = NULL;
	int status = 502;
	if (st == 401 || st == 403) {
		/* never more than this: the credentials are not the sandbox's business */
		msg = pc->have_cred
			      ? cr_asprintf("git push to %s/%s: upstream refused the gateway's credentials "
					    "(HTTP %ld)",
					    host, repo, st)
			      : cr_asprintf("git push to %s/%s: no credentials configured for it "
					    "(upstream asks for them)",
					    host, repo);
		status = 403;
	} else if (st == 404) {
		msg = cr_asprintf("git push to %s/%s: repository not found upstream", host, repo);
		status = 404;
	} else if (st >= 300 && st < 400) {
		msg = cr_asprintf("git push to %s/%s: upstream redirected %s (HTTP %ld); redirects are not "
				  "followed",
				  host, repo, pc->what, st);
	} else if (st == 200 && !cr_git_type_is(pc->content_type, pc->type)) {
		msg = cr_asprintf("upstream %s answered %s %s with content type '%s', not git smart HTTP",
				  host, repo, pc->what, pc->content_type);
	} else {
		relay(pc);
		return;
	}
	refuse(pc, status, "error", pc->rule, msg);
}

/* ---- the upstream request ---- */

static int on_headers(void *ud, const cr_fetch_response *r)
{
	push_call *pc = ud;
	pc->status = r->status;
	snprintf(pc->content_type, sizeof(pc->content_type), "%s", r->content_type);
	/* no body wanted: the sandbox gets a message instead */
	return (r->status >= 300 && r->status < 400) || r->status == 401 || r->status == 403 ||
	       r->status == 404;
}

static int on_data(void *ud, const void *data, size_t len)
{
	push_call *pc = ud;
	return cr_buf_append(&pc->answer, data, len);
}

static void on_done(void *ud, const cr_fetch_response *r, cr_error *err, uint64_t elapsed_ms)
{
	(void)r;
	(void)elapsed_ms;
	push_call *pc = ud;
	pc->fetch = NULL;
	pc->call->on_gone = NULL; /* answered now */
	if (!err) {
		answer(pc);
		return;
	}
	cleanup_free char *msg = cr_asprintf("upstream %s failed for %s (%s): %s", pc->route.host,
					     pc->route.repo, pc->what, err->msg);
	cr_error_free(err);
	refuse(pc, 502, "error", pc->rule, msg);
}

static void on_gone(cr_front_call *c)
{
	push_call *pc = c->data;
	cr_fetch_cancel(pc->fetch);
	cleanup_free char *detail = cr_asprintf("%s: the client went away before the answer", pc->what);
	audit(pc, "allow", pc->rule, detail);
	push_free(pc);
}

static void start(push_call *pc, const char *method, const char *suffix, const char *const *headers,
		  const void *body, size_t len)
{
	cr_front_call *c = pc->call;
	cr_fetcher *fetcher = cr_front_fetcher(c->gw);
	if (!fetcher) { /* the front answers 503 before a handler runs without it */
		refuse(pc, 503, "error", pc->rule, "git front: no upstream fetcher");
		return;
	}
	const cr_front_cred *cred = cr_front_git_cred(c->gw, pc->route.host, pc->route.repo);
	pc->have_cred = cred != NULL;
	cleanup_free char *url = cr_git_upstream_url("https", &pc->route, suffix);
	cr_fetch_req req = {.method = method,
			    .url = url,
			    .headers = headers,
			    .body = body,
			    .body_len = len,
			    .max_bytes = PUSH_ANSWER_MAX,
			    .username = cred ? cred->username : NULL,
			    .password = cred ? cred->password : NULL};
	static const cr_fetch_cbs cbs = {on_headers, on_data, on_done};
	cleanup_error cr_error *err = NULL;
	pc->fetch = cr_fetch_start(fetcher, &req, &cbs, pc, &err);
	if (!pc->fetch) {
		cleanup_free char *msg =
			cr_asprintf("git push to %s/%s: %s", pc->route.host, pc->route.repo, err->msg);
		refuse(pc, 502, "error", pc->rule, msg);
		return;
	}
	c->data = pc;
	c->on_gone = on_gone; /* callbacks run later, from the loop */
}

/* The checked Git-Protocol header line, "" when absent; NULL when unusable
 * (pc answered). Owned. */
static char *protocol_header(push_call *pc)
{
	const char *v = cr_front_header(pc->call, "Git-Protocol");
	if (!v)
		return cr_xstrdup("");
	if (cr_git_protocol_valid(v))
		return cr_asprintf("Git-Protocol: %s", v);
	refuse(pc, 400, "error", RULE_REQUEST,
	       "git front: the Git-Protocol header is too long or has control characters");
	return NULL;
}

static void refs(push_call *pc)
{
	cleanup_free char *proto = protocol_header(pc);
	if (!proto)
		return;
	const char *headers[] = {AGENT_HEADER, *proto ? proto : NULL, NULL};
	pc->type = TYPE_ADVERT;
	snprintf(pc->what, sizeof(pc->what), "info/refs (receive-pack)");
	start(pc, "GET", "info/refs?service=git-receive-pack", headers, NULL, 0);
}

static bool plain_encoding(const char *e)
{
	return !e || !*e || strcasecmp(e, "identity") == 0;
}

static bool gzip_encoding(const char *e)
{
	return e && (strcasecmp(e, "gzip") == 0 || strcasecmp(e, "x-gzip") == 0);
}

/* A lone flush-pkt: git's probe before a body that did not fit its buffer. */
static void too_big(push_call *pc)
{
	cleanup_free char *msg = cr_asprintf(
		"git push to %s/%s is too big for cleanroom's git front: a push request may be at most %u "
		"bytes (1 MiB); push fewer or smaller commits at a time (if you lowered http.postBuffer, "
		"leave it at its default)",
		pc->route.host, pc->route.repo, CR_FRONT_BODY_MAX);
	refuse(pc, 413, "error", RULE_BODY_MAX, msg);
}

static void receive_pack(push_call *pc)
{
	if (!cr_git_type_is(cr_front_header(pc->call, "Content-Type"), TYPE_REQUEST)) {
		refuse(pc, 415, "error", RULE_REQUEST,
		       "git front: git-receive-pack expects Content-Type " TYPE_REQUEST);
		return;
	}
	const char *encoding = cr_front_header(pc->call, "Content-Encoding");
	if (!plain_encoding(encoding) && !gzip_encoding(encoding)) {
		refuse(pc, 415, "error", RULE_REQUEST,
		       "git front: git-receive-pack bodies may be sent plain or gzip-encoded only");
		return;
	}
	size_t len = 0;
	const void *body = cr_front_body(pc->call, &len);
	const char *why = NULL;
	if (gzip_encoding(encoding)) {
		snprintf(pc->what, sizeof(pc->what), "receive-pack (gzip-encoded request)");
	} else if (len == 4 && memcmp(body, "0000", 4) == 0) {
		too_big(pc);
		return;
	} else if (cr_git_push_describe(body, len, pc->what, sizeof(pc->what), &why) < 0) {
		cleanup_free char *msg = cr_asprintf(
			"git front: the git-receive-pack request is not pkt-line commands: %s", why);
		refuse(pc, 400, "error", RULE_REQUEST, msg);
		return;
	}
	cleanup_free char *proto = protocol_header(pc);
	if (!proto)
		return;
	cleanup_free char *enc =
		gzip_encoding(encoding) ? cr_asprintf("Content-Encoding: %s", encoding) : NULL;
	const char *headers[HEADERS_MAX] = {AGENT_HEADER, "Content-Type: " TYPE_REQUEST,
					    "Accept: " TYPE_RESULT};
	size_t n = 3;
	if (*proto)
		headers[n++] = proto;
	if (enc)
		headers[n++] = enc;
	pc->type = TYPE_RESULT;
	start(pc, "POST", "git-receive-pack", headers, body, len);
}

void cr_git_push_relay(cr_front_call *c, const cr_git_route *route, const cr_net_rule *rule)
{
	push_call *pc = cr_xcalloc(1, sizeof(*pc));
	pc->call = c;
	pc->route = *route;
	pc->rule = cr_asprintf("%s.git_push", rule->origin);
	cr_buf_init(&pc->answer, PUSH_ANSWER_MAX);
	bool refs_service = route->service == CR_GIT_REFS_RECEIVE;
	snprintf(pc->what, sizeof(pc->what), "%s",
		 refs_service ? "info/refs (receive-pack)" : "receive-pack");
	enum evhttp_cmd_type want = refs_service ? EVHTTP_REQ_GET : EVHTTP_REQ_POST;
	if (evhttp_request_get_command(c->req) != want) {
		cleanup_free char *msg =
			cr_asprintf("git front: %s takes %s only", cr_git_service_name(route->service),
				    refs_service ? "GET" : "POST");
		refuse(pc, 405, "error", RULE_REQUEST, msg);
		return;
	}
	if (c->gw->cfg.offline) {
		cleanup_free char *msg = cr_asprintf("offline: git push to %s/%s needs its upstream, and the "
						     "cleanroom server runs --offline",
						     route->host, route->repo);
		refuse(pc, 503, "error", pc->rule, msg);
		return;
	}
	if (refs_service)
		refs(pc);
	else
		receive_pack(pc);
}
