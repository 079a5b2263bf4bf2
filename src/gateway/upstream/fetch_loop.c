/* SPDX-License-Identifier: Apache-2.0 */
/* fetch_loop.c -- libcurl's multi interface driven by the gateway's
 * libevent loop: curl tells us which sockets to watch
 * (CURLMOPT_SOCKETFUNCTION) and when to call it back
 * (CURLMOPT_TIMERFUNCTION); events on those sockets and the timer call
 * curl_multi_socket_action, after which finished transfers are collected.
 * Nothing here blocks and curl never runs a thread of its own (names are
 * resolved before curl sees a request, fetch.c). */
#include "gateway/upstream/fetch_impl.h"

#include <errno.h>
#include <stdlib.h>

#include "util/xalloc.h"

#define FX_MAX_TOTAL_CONNECTIONS 64

typedef struct fx_sock {
	cr_fetcher *f;
	struct fx_sock *prev, *next;
	curl_socket_t fd;
	struct event *ev;
} fx_sock;

/* Collects finished transfers. Runs outside curl: each is removed from the
 * multi before its on_done, which may start or cancel other requests. */
static void check_done(cr_fetcher *f)
{
	CURLMsg *msg;
	int left;
	while ((msg = curl_multi_info_read(f->multi, &left))) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		CURL *easy = msg->easy_handle;
		CURLcode rc = msg->data.result;
		cr_fetch *x = NULL;
		curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&x);
		curl_multi_remove_handle(f->multi, easy);
		x->in_multi = false;
		fx_complete(x, rc);
	}
}

static void socket_action(cr_fetcher *f, curl_socket_t fd, int flags)
{
	int running = 0;
	f->depth++;
	curl_multi_socket_action(f->multi, fd, flags, &running);
	f->depth--;
	check_done(f);
}

static void on_socket_event(evutil_socket_t fd, short what, void *arg)
{
	fx_sock *s = arg;
	int flags = (what & EV_READ ? CURL_CSELECT_IN : 0) | (what & EV_WRITE ? CURL_CSELECT_OUT : 0);
	socket_action(s->f, fd, flags);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	socket_action(arg, CURL_SOCKET_TIMEOUT, 0);
}

static void sock_free(fx_sock *s)
{
	cr_fetcher *f = s->f;
	if (s->prev)
		s->prev->next = s->next;
	else
		f->socks = s->next;
	if (s->next)
		s->next->prev = s->prev;
	if (s->ev)
		event_free(s->ev);
	free(s);
}

/* CURLMOPT_SOCKETFUNCTION: watch fd for what curl wants, or stop. */
static int on_curl_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
	(void)easy;
	cr_fetcher *f = userp;
	fx_sock *s = socketp;
	if (what == CURL_POLL_REMOVE) {
		if (s)
			sock_free(s);
		curl_multi_assign(f->multi, fd, NULL);
		return 0;
	}
	if (!s) {
		s = cr_xcalloc(1, sizeof(*s));
		*s = (fx_sock){.f = f, .fd = fd, .next = f->socks};
		if (f->socks)
			f->socks->prev = s;
		f->socks = s;
		curl_multi_assign(f->multi, fd, s);
	}
	if (s->ev)
		event_free(s->ev);
	short events = (short)(EV_PERSIST | (what & CURL_POLL_IN ? EV_READ : 0) |
			       (what & CURL_POLL_OUT ? EV_WRITE : 0));
	s->ev = event_new(f->gw->base, fd, events, on_socket_event, s);
	if (!s->ev || event_add(s->ev, NULL) < 0)
		return -1;
	return 0;
}

/* CURLMOPT_TIMERFUNCTION: -1 stops the timer; 0 means "as soon as possible",
 * which a zero timeout on the loop gives without calling curl back from
 * inside itself. */
static int on_curl_timer(CURLM *multi, long timeout_ms, void *userp)
{
	(void)multi;
	cr_fetcher *f = userp;
	if (timeout_ms < 0)
		return evtimer_del(f->timer) < 0 ? -1 : 0;
	struct timeval tv = {.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};
	return evtimer_add(f->timer, &tv) < 0 ? -1 : 0;
}

static void on_reap(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	cr_fetcher *f = arg;
	cr_fetch *x = f->list;
	while (x) {
		cr_fetch *next = x->next;
		if (x->cancelled && !x->delivering)
			fx_destroy(x);
		x = next;
	}
}

void fx_loop_schedule_reap(cr_fetcher *f)
{
	event_active(f->reap, EV_TIMEOUT, 0);
}

int fx_loop_init(cr_fetcher *f, cr_error **err)
{
	/* reference-counted; done here, before the gateway drops privileges
	 * and installs its filter, rather than lazily at the first request */
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return cr_error_make(err, 0, CR_REASON_INTERNAL, "upstream fetcher: curl initialisation");
	f->curl_initialised = true;
	f->multi = curl_multi_init();
	f->timer = evtimer_new(f->gw->base, on_timer, f);
	f->reap = event_new(f->gw->base, -1, 0, on_reap, f);
	if (!f->multi || !f->timer || !f->reap)
		return cr_error_make(err, ENOMEM, CR_REASON_INTERNAL, "upstream fetcher: curl multi handle");
	curl_multi_setopt(f->multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket);
	curl_multi_setopt(f->multi, CURLMOPT_SOCKETDATA, f);
	curl_multi_setopt(f->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
	curl_multi_setopt(f->multi, CURLMOPT_TIMERDATA, f);
	curl_multi_setopt(f->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)FX_MAX_TOTAL_CONNECTIONS);
	return 0;
}

void fx_loop_free(cr_fetcher *f)
{
	if (f->multi)
		curl_multi_cleanup(f->multi);
	while (f->socks)
		sock_free(f->socks);
	if (f->timer)
		event_free(f->timer);
	if (f->reap)
		event_free(f->reap);
	if (f->curl_initialised)
		curl_global_cleanup();
}

int fx_loop_add(cr_fetch *x, cr_error **err)
{
	CURLMcode rc = curl_multi_add_handle(x->f->multi, x->easy);
	if (rc != CURLM_OK)
		return cr_error_make(err, 0, CR_REASON_INTERNAL, "upstream %s: %s", x->hostport,
				     curl_multi_strerror(rc));
	x->in_multi = true;
	return 0;
}
