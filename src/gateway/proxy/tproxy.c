/* SPDX-License-Identifier: Apache-2.0 */
/* tproxy.c -- the gateway's transparent proxy (DESIGN.md §6,
 * docs/internals/gateway-proxy.md).
 *
 * The firewall redirects every TCP connection of the sandbox (except DNS) to
 * gateway_addr:proxy_port. For each one: the peer must be the sandbox, the
 * original destination comes from SO_ORIGINAL_DST, and then
 *   gateway_addr:3128  -> the explicit proxy (connect.c);
 *   gateway_addr:80    -> the registry fronts (not implemented yet: 501);
 *   anything else      -> read the first bytes (at most CR_SNIFF_MAX_BYTES,
 *                         PX_FIRST_BYTES_MS; silence for PX_SERVER_FIRST_MS
 *                         means a server-speaks-first protocol), identify
 *                         and decide (decide.c), report, then dial and relay
 *                         (relay.c) or refuse: TLS and other TCP with a
 *                         reset, plain HTTP with a 403. */
#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <linux/netfilter_ipv4.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gateway/proxy/proxy.h"
#include "util/cleanup.h"
#include "util/clock.h"
#include "util/xalloc.h"

#define ACCEPT_BATCH    64
#define ACCEPT_PAUSE_MS 100
#define FDS_PER_CONN    6 /* two sockets, two pipes */
#define FDS_RESERVED    64
#define REGISTRY_RULE   "registry_front"

uint64_t px_now_ms(void)
{
	return (uint64_t)cr_monotonic_ms();
}

static struct timeval tv_ms(int64_t ms)
{
	return (struct timeval){.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
}

/* ---- the resolver's records, for decide.c ---- */

static bool names_has(void *ctx, const char *name, struct in_addr ip)
{
	px_state *px = ctx;
	return px->gw->names && cr_gw_names_has(px->gw->names, name, ip, px_now_ms());
}

static const char *names_for_ip(void *ctx, struct in_addr ip)
{
	px_state *px = ctx;
	return px->gw->names ? cr_gw_names_for_ip(px->gw->names, ip, px_now_ms()) : NULL;
}

/* ---- connections ---- */

static px_conn *conn_new(px_state *px, int cfd, const struct sockaddr_in *orig)
{
	px_conn *c = cr_xcalloc(1, sizeof(*c));
	c->px = px;
	c->cfd = cfd;
	c->ufd = -1;
	c->orig = *orig;
	c->protocol = "tcp";
	c->c2u.pipe[0] = c->c2u.pipe[1] = c->u2c.pipe[0] = c->u2c.pipe[1] = -1;
	c->next = px->conns;
	if (px->conns)
		px->conns->prev = c;
	px->conns = c;
	px->n_conns++;
	return c;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static void dir_free(px_dir *d)
{
	px_event_clear(&d->rd);
	px_event_clear(&d->wr);
	close_fd(&d->pipe[0]);
	close_fd(&d->pipe[1]);
}

void px_conn_free(px_conn *c)
{
	if (!c)
		return;
	px_state *px = c->px;
	px_explicit_cancel(c);
	px_event_clear(&c->ev);
	px_event_clear(&c->timer);
	dir_free(&c->c2u);
	dir_free(&c->u2c);
	close_fd(&c->cfd);
	close_fd(&c->ufd);
	free(c->buf);
	free(c->out);
	if (c->prev)
		c->prev->next = c->next;
	else
		px->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	px->n_conns--;
	free(c);
}

/* ---- the decision ---- */

static void refuse(px_conn *c, const char *protocol)
{
	const cr_gw_verdict *v = &c->verdict;
	if (strcmp(protocol, "http") != 0) {
		px_reset(c);
		return;
	}
	if (v->step < 0 && strcmp(v->rule, CR_GW_RULE_INVALID) == 0) {
		cleanup_free char *body =
			cr_asprintf("cleanroom: the gateway cannot identify the destination: %s", v->detail);
		px_reply(c, "400 Bad Request", "X-Cleanroom-Reason: host_not_allowed\r\n", body);
		return;
	}
	px_reply_denied(c, v);
}

/* Identifies, decides, reports, then dials or refuses. */
static void decide_and_go(px_conn *c, cr_gw_sniffed *s)
{
	px_state *px = c->px;
	if (s->result == CR_SNIFF_NEED_MORE) /* stalled or ended early: identify by address */
		*s = (cr_gw_sniffed){.result = CR_SNIFF_NO_NAME, .protocol = "tcp", .ident = CR_GW_IDENT_IP};
	c->protocol = s->protocol;
	cr_gw_decide(px->gw->policy, &px->names, &px->guard, s, c->orig.sin_addr, ntohs(c->orig.sin_port),
		     &c->verdict);
	px_audit_verdict(px, c->protocol, &c->verdict);
	if (c->verdict.action != CR_ACTION_ALLOW) {
		refuse(c, c->protocol);
		return;
	}
	c->c2u.pending = c->buf;
	c->c2u.pending_len = c->len;
	px_dial(c, c->orig.sin_addr, ntohs(c->orig.sin_port));
}

static void peek_cb(evutil_socket_t fd, short what, void *arg)
{
	px_conn *c = arg;
	cr_gw_sniffed s = {.result = CR_SNIFF_NEED_MORE};
	if (what & EV_READ) {
		ssize_t n = read(fd, c->buf + c->len, CR_SNIFF_MAX_BYTES - c->len);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n < 0 || (n == 0 && c->len == 0)) {
			px_conn_free(c); /* gone before saying anything */
			return;
		}
		c->client_eof = n == 0;
		c->len += (size_t)n;
		cr_gw_sniff(c->buf, c->len, &s);
		int64_t left = c->deadline_ms - cr_monotonic_ms();
		if (s.result == CR_SNIFF_NEED_MORE && !c->client_eof && left > 0) {
			struct timeval tv = tv_ms(left);
			event_add(c->ev, &tv);
			return;
		}
	}
	/* a timeout: silence (server speaks first) or a stalled client */
	decide_and_go(c, &s);
}

static void start_peek(px_conn *c)
{
	c->phase = PX_PEEK;
	c->buf = cr_xmalloc(CR_SNIFF_MAX_BYTES);
	c->deadline_ms = cr_monotonic_ms() + PX_FIRST_BYTES_MS;
	c->ev = event_new(c->px->gw->base, c->cfd, EV_READ | EV_PERSIST, peek_cb, c);
	struct timeval tv = tv_ms(PX_SERVER_FIRST_MS);
	event_add(c->ev, &tv);
}

/* gateway:80 reaches the proxy only when the fronts are not running (a
 * gateway without --front-port): the firewall sends it to the front port
 * otherwise. */
static void registry_front(px_conn *c)
{
	char ip[INET_ADDRSTRLEN];
	inet_ntop(AF_INET, &c->orig.sin_addr, ip, sizeof(ip));
	c->protocol = "http";
	cr_gw_verdict_refuse(&c->verdict, ip, c->orig.sin_addr, CR_GW_FRONT_PORT, REGISTRY_RULE,
			     "this gateway runs without registry fronts");
	c->verdict.reason = CR_REASON_REGISTRY_NOT_ALLOWED;
	px_audit_verdict(c->px, c->protocol, &c->verdict);
	px_reply(c, "503 Service Unavailable", "X-Cleanroom-Reason: registry_not_allowed\r\n",
		 "this gateway runs without registry fronts");
}

static void dispatch(px_conn *c)
{
	const cr_gateway_config *cfg = &c->px->gw->cfg;
	uint16_t port = ntohs(c->orig.sin_port);
	if (c->orig.sin_addr.s_addr == cfg->gateway_addr.s_addr && port == CR_GW_EXPLICIT_PROXY_PORT)
		px_explicit_start(c);
	else if (c->orig.sin_addr.s_addr == cfg->gateway_addr.s_addr && port == CR_GW_FRONT_PORT)
		registry_front(c);
	else
		start_peek(c);
}

/* ---- accepting ---- */

static void reject(px_state *px, int fd, const struct sockaddr_in *peer, const char *why)
{
	char ip[INET_ADDRSTRLEN], detail[160];
	inet_ntop(AF_INET, &peer->sin_addr, ip, sizeof(ip));
	snprintf(detail, sizeof(detail), "connection from %s:%u refused: %s", ip, ntohs(peer->sin_port), why);
	px_audit_error(px, "tcp", NULL, 0, NULL, detail);
	struct linger l = {.l_onoff = 1, .l_linger = 0};
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
	close(fd);
}

static void accept_one(px_state *px, int fd, const struct sockaddr_in *peer)
{
	struct sockaddr_in orig = {0};
	socklen_t len = sizeof(orig);
	if (peer->sin_family != AF_INET || peer->sin_addr.s_addr != px->gw->cfg.sandbox_addr.s_addr) {
		reject(px, fd, peer, "not the sandbox's address");
		return;
	}
	if (px->n_conns >= px->max_conns) {
		reject(px, fd, peer, "too many connections");
		return;
	}
	if (getsockopt(fd, SOL_IP, SO_ORIGINAL_DST, &orig, &len) < 0 || orig.sin_family != AF_INET) {
		reject(px, fd, peer, "no original destination (not redirected by the firewall)");
		return;
	}
	dispatch(conn_new(px, fd, &orig));
}

static void resume_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	px_state *px = arg;
	event_add(px->accept_ev, NULL);
}

static void accept_cb(evutil_socket_t lfd, short what, void *arg)
{
	(void)what;
	px_state *px = arg;
	for (int i = 0; i < ACCEPT_BATCH; i++) {
		struct sockaddr_in peer = {0};
		socklen_t len = sizeof(peer);
		int fd = accept4(lfd, (struct sockaddr *)&peer, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd >= 0) {
			accept_one(px, fd, &peer);
			continue;
		}
		if (errno == EINTR || errno == ECONNABORTED)
			continue;
		if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
			px_audit_error(px, "tcp", NULL, 0, NULL, "accept: out of file descriptors; pausing");
			event_del(px->accept_ev);
			struct timeval tv = tv_ms(ACCEPT_PAUSE_MS);
			evtimer_add(px->resume_ev, &tv);
		}
		return;
	}
}

/* ---- start and stop ---- */

static int host_addresses(px_state *px, cr_error **err)
{
	struct ifaddrs *ifs = NULL;
	if (getifaddrs(&ifs) < 0)
		return cr_error_make(err, errno, CR_REASON_INTERNAL, "list the host's addresses");
	size_t n = 1;
	for (struct ifaddrs *i = ifs; i; i = i->ifa_next)
		n += i->ifa_addr && i->ifa_addr->sa_family == AF_INET;
	px->self = cr_xcalloc(n, sizeof(*px->self));
	px->self[px->guard.n_self++] = px->gw->cfg.gateway_addr;
	for (struct ifaddrs *i = ifs; i; i = i->ifa_next)
		if (i->ifa_addr && i->ifa_addr->sa_family == AF_INET)
			px->self[px->guard.n_self++] = ((struct sockaddr_in *)i->ifa_addr)->sin_addr;
	freeifaddrs(ifs);
	px->guard.self = px->self;
	return 0;
}

/* Raises the soft descriptor limit to the hard one: each connection holds
 * FDS_PER_CONN descriptors. The connection cap follows what was granted. */
static void size_for_fds(px_state *px)
{
	struct rlimit rl;
	px->max_conns = PX_MAX_CONNS;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return;
	rlim_t want = (rlim_t)PX_MAX_CONNS * FDS_PER_CONN + FDS_RESERVED;
	if (rl.rlim_cur < want && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max < want ? rl.rlim_max : want;
		setrlimit(RLIMIT_NOFILE, &rl);
		getrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur < want)
		px->max_conns =
			rl.rlim_cur > FDS_RESERVED * 2 ? (rl.rlim_cur - FDS_RESERVED) / FDS_PER_CONN : 1;
}

static int listen_on(px_state *px, cr_error **err)
{
	const cr_gateway_config *cfg = &px->gw->cfg;
	struct sockaddr_in sa = {
		.sin_family = AF_INET, .sin_addr = cfg->gateway_addr, .sin_port = htons(cfg->proxy_port)};
	char ip[INET_ADDRSTRLEN];
	inet_ntop(AF_INET, &cfg->gateway_addr, ip, sizeof(ip));
	cleanup_close int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1;
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 512) < 0)
		return cr_error_make(err, errno, CR_REASON_INTERNAL, "listen on %s:%u (transparent proxy)",
				     ip, cfg->proxy_port);
	px->listen_fd = cr_steal_fd(&fd);
	return 0;
}

int cr_gw_proxy_start(cr_gateway *gw, cr_error **err)
{
	px_state *px = cr_xcalloc(1, sizeof(*px));
	px->gw = gw;
	px->listen_fd = -1;
	px->names = (cr_gw_name_lookup){.has = names_has, .for_ip = names_for_ip, .ctx = px};
	gw->proxy = px;
	size_for_fds(px);
	if (host_addresses(px, err) < 0 || listen_on(px, err) < 0) {
		cr_gw_proxy_stop(gw);
		return -1;
	}
	px->accept_ev = event_new(gw->base, px->listen_fd, EV_READ | EV_PERSIST, accept_cb, px);
	px->resume_ev = evtimer_new(gw->base, resume_cb, px);
	event_add(px->accept_ev, NULL);
	return 0;
}

void cr_gw_proxy_set_pool(cr_gateway *gw, struct in_addr net, unsigned prefix)
{
	px_state *px = gw->proxy;
	if (px && prefix <= 32) {
		px->guard.pool = net;
		px->guard.pool_prefix = prefix;
	}
}

void cr_gw_proxy_stop(cr_gateway *gw)
{
	px_state *px = gw->proxy;
	if (!px)
		return;
	while (px->conns)
		px_conn_free(px->conns);
	px_event_clear(&px->accept_ev);
	px_event_clear(&px->resume_ev);
	close_fd(&px->listen_fd);
	free(px->self);
	free(px);
	gw->proxy = NULL;
}
