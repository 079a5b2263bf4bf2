/* SPDX-License-Identifier: Apache-2.0 */
/* proxy.h -- what the gateway's proxy files share (tproxy.c: listener,
 * dispatch and peeking; connect.c: the explicit proxy; relay.c: dialling,
 * relaying, replies and closing; report.c: audit events). One px_conn per
 * sandbox connection moves through the phases below, each with its own
 * event and deadline, all on gw->base; nothing blocks. */
#pragma once

#include <event2/event.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

#include "gateway/gateway.h"
#include "gateway/proxy/decide.h"

#define PX_MAX_CONNS       1024 /* concurrent connections per gateway */
#define PX_FIRST_BYTES_MS  10000
#define PX_SERVER_FIRST_MS 300 /* silence this long: a server-speaks-first protocol */
#define PX_DIAL_MS         10000
#define PX_IDLE_MS         (3600 * 1000)
#define PX_LINGER_MS       2000 /* reading what a refused client still sends, before close */
#define PX_DEDUP_MS        10000
#define PX_DEDUP_SLOTS     64
#define PX_ROUNDS          16 /* relay steps per callback, so one busy connection cannot starve others */

typedef struct px_conn px_conn;

typedef struct px_dedup {
	char key[CR_SNIFF_NAME_MAX + 24]; /* "protocol host:port" */
	int64_t at_ms;
} px_dedup;

typedef struct px_state {
	cr_gateway *gw;
	int listen_fd;
	struct event *accept_ev, *resume_ev;
	struct in_addr *self; /* the host's own addresses, for the guard */
	cr_gw_guard guard;
	cr_gw_name_lookup names;
	px_conn *conns; /* every live connection, for stop */
	size_t n_conns, max_conns;
	px_dedup dedup[PX_DEDUP_SLOTS];
} px_state;

typedef enum px_phase {
	PX_PEEK,    /* transparent: reading the first bytes */
	PX_HEAD,    /* explicit: reading the request head */
	PX_RESOLVE, /* explicit: waiting for evdns */
	PX_DIAL,    /* connecting upstream */
	PX_RELAY,   /* both ways */
	PX_REPLY,   /* writing the gateway's own answer */
	PX_LINGER,  /* answered; discarding input until EOF or PX_LINGER_MS */
} px_phase;

/* One direction of the relay: from -> pipe -> to, after `pending`. */
typedef struct px_dir {
	int from, to;
	int pipe[2];
	size_t in_pipe, pipe_cap;
	const uint8_t *pending; /* bytes to send before the relayed ones (not owned) */
	size_t pending_len;
	bool eof, shut;
	struct event *rd, *wr;
} px_dir;

struct px_resolve;

struct px_conn {
	px_state *px;
	px_conn *prev, *next;
	px_phase phase;
	int cfd, ufd;
	struct sockaddr_in orig;
	const char *protocol; /* "tls", "http", "tcp", "connect" */
	uint8_t *buf;         /* what the client sent first, CR_SNIFF_MAX_BYTES */
	size_t len;
	uint8_t *out; /* what the gateway sends: a reply or a rewritten head */
	size_t out_len, out_off;
	int64_t deadline_ms;
	bool client_eof;
	struct event *ev;    /* the phase's event */
	struct event *timer; /* idle timeout in PX_RELAY */
	int64_t last_active_ms;
	struct px_resolve *resolve;
	cr_gw_verdict verdict;
	px_dir c2u, u2c;
};

/* Frees *ev when set (event_free does not accept NULL) and clears it. */
static inline void px_event_clear(struct event **ev)
{
	if (*ev)
		event_free(*ev);
	*ev = NULL;
}

/* ---- tproxy.c ---- */
/* Adds a sandbox pool other than the default 10.213.0.0/16 to the address
 * guard (`__gateway --sandbox-pool`); call after cr_gw_proxy_start. */
void cr_gw_proxy_set_pool(cr_gateway *gw, struct in_addr net, unsigned prefix);
void px_conn_free(px_conn *c);
/* The resolver's clock (names.c entries are stamped with it). */
uint64_t px_now_ms(void);

/* ---- connect.c ---- */
/* Takes over an accepted connection whose original destination is the
 * explicit proxy port. */
void px_explicit_start(px_conn *c);
/* Drops c's pending name resolution, if any (its callback then finds no
 * connection). Called by px_conn_free. */
void px_explicit_cancel(px_conn *c);

/* ---- relay.c ---- */
/* Connects to ip:port without blocking; on success relays both ways (after
 * c->c2u.pending and c->u2c.pending), on failure reports a gateway_error and
 * answers 502 (http, connect) or closes. */
void px_dial(px_conn *c, struct in_addr ip, uint16_t port);
/* Answers the client with an HTTP response (status line without CRLF, extra
 * header lines each ending in CRLF or NULL, one-line body), then lingers and
 * closes. */
void px_reply(px_conn *c, const char *status, const char *headers, const char *body);
/* Closes the client connection with a reset (SO_LINGER 0) and frees c. */
void px_reset(px_conn *c);
/* A 403 naming host:port and the policy file, with X-Cleanroom-Reason. */
void px_reply_denied(px_conn *c, const cr_gw_verdict *v);

/* ---- report.c ---- */
/* One egress_decision event for v (allows of the same protocol, host and
 * port within PX_DEDUP_MS are reported once; denies always). */
void px_audit_verdict(px_state *px, const char *protocol, const cr_gw_verdict *v);
/* One gateway_error event. */
void px_audit_error(px_state *px, const char *protocol, const char *host, uint16_t port, const char *ip,
		    const char *detail);
