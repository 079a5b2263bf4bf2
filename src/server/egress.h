/* SPDX-License-Identifier: Apache-2.0 */
/* egress.h -- the server's side of egress enforcement (DESIGN.md §2, §6).
 *
 * When `serve` runs as root on a host whose address pool is free, egress is
 * active: the server owns one nftables table (net/firewall.h), leases each
 * sandbox that needs the network a /30 block of the pool (persisted in the
 * store), adds the sandbox's firewall chains before its link exists, and
 * starts its gateway process (`cleanroom __gateway`, gateway_proc.c) once
 * the backend has created the link; the sandbox becomes READY when the
 * gateway says it listens. Only then are the network capabilities
 * (network_host_port_filtering, dns_control_or_equivalent) declared; without
 * egress, policies that allow destinations are refused with
 * backend_capability_mismatch. With egress active every sandbox gets a link
 * and a gateway, also under a policy that allows nothing, so that its
 * attempts are denied *and* logged (spec §13, criterion 4); without it a
 * sandbox has loopback only and nothing leaves, unlogged. */
#pragma once

#include <stdbool.h>

#include "backend/backend.h"
#include "net/firewall.h"
#include "net/pool.h"
#include "policy/policy.h"
#include "server/fronts.h"
#include "util/error.h"

struct cr_server;
struct cr_live_sandbox;
typedef struct cr_gateway_proc cr_gateway_proc;

/* The gateway's listeners on its address (gateway.h, firewall redirects). */
#define CR_EGRESS_DNS_PORT   15053
#define CR_EGRESS_PROXY_PORT 15001
#define CR_EGRESS_FRONT_PORT 15080 /* registry and git fronts (gateway:80 from the sandbox) */
/* The egress lock: an abstract unix socket (its name is per network
 * namespace, like the firewall table and the crsb* links it guards). */
#define CR_EGRESS_LOCK_NAME "cleanroom/egress.lock"

typedef struct cr_egress_options {
	const char *pool; /* CIDR; NULL = CR_NET_POOL_DEFAULT */
	char **resolvers; /* upstream DNS for the gateways ("IP[:PORT]"), NULL-terminated; NULL = resolv.conf */
	bool off;         /* --no-egress */
	cr_fronts_options fronts;
} cr_egress_options;

typedef struct cr_egress {
	bool active;
	char *why_inactive; /* one line, when not active */
	cr_net_pool pool;
	cr_firewall *fw;
	int lock_fd;       /* the bound lock socket (CR_EGRESS_LOCK_NAME) while active */
	char **resolvers;  /* the gateways' upstream DNS (--egress-resolver), or NULL */
	uid_t gateway_uid; /* the gateways run as this user (nobody) */
	gid_t gateway_gid;
	cr_fronts fronts; /* the registry and git fronts' cache, upstream CA, credentials */
} cr_egress;

/* One sandbox's share. */
typedef struct cr_sandbox_egress {
	cr_net_lease lease;
	bool firewall_added;
	char *compiled;      /* the CompiledPolicy text, until the gateway has it */
	cr_gateway_proc *gw; /* NULL until started */
	bool gateway_ready;
	char **env; /* cr_egress_env: proxy variables and the fronts', NULL-terminated */
	size_t n_env;
} cr_sandbox_egress;

/* Sets egress up at start (firewall table replaced, leftover links removed,
 * leases forgotten). Egress that cannot be active is reported on stderr and
 * in doctor, not an error; -1 only for invalid options. */
int cr_egress_init(struct cr_server *srv, const cr_egress_options *o, cr_error **err);
/* Removes the firewall table and frees everything (after every sandbox is
 * gone). */
void cr_egress_shutdown(struct cr_server *srv);

/* The backend's capability map as this server can honour it: the network
 * capabilities hold only with egress active. storage receives the copy
 * (caps->capabilities points into it); n_storage must fit the backend's map. */
void cr_egress_caps(const struct cr_server *srv, const struct cr_backend *be, cr_backend_caps *caps,
		    cr_capability *storage, size_t n_storage);

/* Leases an address block for sandbox_id and adds its firewall chains.
 * compiled is kept for the gateway; p gives the executions' environment
 * (git hosts). Returns 0 with *out, or -1 with *err (nothing left). */
int cr_egress_acquire(struct cr_server *srv, const char *sandbox_id, const char *compiled, const cr_policy *p,
		      cr_sandbox_egress **out, cr_error **err);
/* Starts the sandbox's gateway (after its link exists); the pump calls
 * cr_provision_gateway_ready when it listens. */
int cr_egress_start_gateway(struct cr_live_sandbox *l, cr_error **err);
/* Stops the gateway, removes the chains and conntrack entries, gives the
 * lease back and frees e. Idempotent on host state; accepts NULL. */
void cr_egress_release(struct cr_server *srv, const char *sandbox_id, cr_sandbox_egress *e);
/* Environment entries for executions ("HTTP_PROXY=...", npm, pip and git
 * pointed at the gateway's fronts), NULL-terminated, owned by e; NULL
 * without egress. */
char *const *cr_egress_env(cr_sandbox_egress *e);

/* ---- gateway_proc.c ---- */

/* Spawns `cleanroom __gateway` for l (policy on a memfd, audit pipe read on
 * the loop, control pipe whose closing stops it). */
int cr_gateway_proc_start(struct cr_live_sandbox *l, const char *compiled, cr_error **err);
/* Closes the control pipe, kills and reaps the process; accepts NULL. */
void cr_gateway_proc_stop(cr_gateway_proc *g);
