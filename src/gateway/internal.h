/* SPDX-License-Identifier: Apache-2.0 */
/* internal.h -- what the gateway's own files share beyond gateway.h: the
 * audit writer's life cycle, the process confinement, and the managed
 * resolver's decision for a name (exposed for unit tests). */
#pragma once

#include <sys/types.h>

#include "gateway/gateway.h"

/* ---- audit.c ---- */

/* Bytes of audit lines held in memory while the audit pipe is full; past
 * this an event is dropped and counted (then reported in a gateway_error
 * line once the backlog has drained). */
#define CR_GW_AUDIT_BACKLOG (1u << 20)

/* Makes gw->cfg.audit_fd non-blocking and attaches the backlog, flushed by
 * an event on gw->base when the pipe becomes writable. One gateway per
 * process has a backlog; cr_gw_audit on any other writes directly and drops
 * what does not fit. Returns 0, or -1 with *err. */
int cr_gw_audit_open(cr_gateway *gw, cr_error **err);
/* Writes what is still held, waiting at most timeout_ms for the pipe, then
 * releases the backlog. Accepts a gateway that was never opened. */
void cr_gw_audit_close(cr_gateway *gw, int timeout_ms);
/* Bytes held in the backlog (tests). */
size_t cr_gw_audit_backlog(const cr_gateway *gw);

/* ---- seccomp.c ---- */

/* setgroups(0), setresgid(gid), setresuid(uid), then checks that the old
 * identity cannot be regained. uid 0 with gid 0 keeps the identity (tests).
 * Returns 0, or -1 with *err. */
int cr_gw_drop_privileges(uid_t uid, gid_t gid, cr_error **err);
/* PR_SET_NO_NEW_PRIVS, then the gateway's system call filter: the calls a
 * network relay never makes (execve, ptrace, mount, bpf, keyctl, unshare,
 * setns, process creation, identity changes, ...) kill the process; sockets
 * of families other than unix, IPv4 and IPv6 fail with EAFNOSUPPORT.
 * Returns 0, or -1 with *err. */
int cr_gw_seccomp_install(cr_error **err);

/* ---- dns.c ---- */

/* Whether the managed resolver answers for a name, and why. */
typedef struct cr_gw_name_verdict {
	bool answer;
	const char *rule;   /* deciding rule's origin or step name (points into the policy or static) */
	const char *detail; /* static text, or NULL */
	cr_reason reason;   /* when not answered: host_not_allowed, or registry_not_allowed for a
			     * registry's upstream host (reached through the fronts only) */
} cr_gw_name_verdict;

/* A name is answered when the policy would allow it on some port: decided
 * for port 443 and, when only a rule's ports missed, for that rule's ports.
 * Cloud metadata names and IP literals are never answered. */
void cr_gw_dns_judge(const cr_policy *p, const char *name, cr_gw_name_verdict *out);

/* The sandbox address pool, whose addresses are never handed out in answers
 * (default 10.213.0.0/16). Call after cr_gw_dns_start. */
void cr_gw_dns_set_pool(cr_gateway *gw, struct in_addr net, unsigned prefix);
