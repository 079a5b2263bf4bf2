/* SPDX-License-Identifier: Apache-2.0 */
/* firewall.h -- the server's nftables table, through one libnftables context.
 *
 * Table `inet cleanroom` (CR_FIREWALL_TABLE) holds three base chains and two
 * dispatch maps keyed by input interface name:
 *   nat_prerouting     nat, prerouting, dstnat-10:   iifname vmap @nat_dispatch
 *   filter_prerouting  filter, prerouting, dstnat+10: iifname vmap @filter_dispatch,
 *                      then any other crsb* interface is dropped (deny by default)
 *   forward            filter, forward, filter-10:   iifname/oifname crsb* dropped, always
 * and, per sandbox (host interface S), one named counter S_drops and three
 * regular chains added or removed in one transaction:
 *   S_nat     UDP/TCP dport 53 -> redirect to :dns_port; TCP to gateway_addr:80
 *             -> :front_port (when set); other TCP -> :proxy_port
 *   S_filter  IPv6 and spoofed sources -> S_drop; established/related accept;
 *             gateway_addr tcp {dns_port, proxy_port, front_port} and udp dns_port accept;
 *             other TCP -> counted, reject with tcp reset; the rest -> S_drop
 *   S_drop    counter S_drops, log "cleanroom-drop <id> " at 10/second, drop
 * Filtering happens in prerouting, after destination NAT, because a packet
 * for an address that is not local (UDP to the internet, ICMP) never reaches
 * the input hook: routing rejects it first, uncounted. docs/internals/network.md
 * has the whole ruleset.
 *
 * The context is not shared between threads: calls on one cr_firewall must
 * not run concurrently (the server makes them from its main thread). */
#pragma once

#include <netinet/in.h>
#include <stdint.h>

#include "util/error.h"

#define CR_FIREWALL_FAMILY "inet"
#define CR_FIREWALL_TABLE  "cleanroom"
#define CR_FIREWALL_ID_MAX 64

typedef struct cr_firewall cr_firewall; /* opaque: one libnftables context */

typedef struct cr_fw_sandbox {
	const char *id;              /* sandbox id for the log prefix: [A-Za-z0-9._-], at most 64 */
	const char *host_ifname;     /* "crsb<hex>": names the sandbox's chains and counter */
	struct in_addr sandbox_addr; /* the only source accepted from host_ifname */
	struct in_addr gateway_addr; /* the host side's address, where the redirects land */
	uint16_t dns_port;           /* UDP and TCP port 53 are redirected here */
	uint16_t proxy_port;         /* every other TCP connection is redirected here */
	uint16_t front_port; /* TCP to gateway_addr:80 (registry fronts) goes here; 0 = to proxy_port */
} cr_fw_sandbox;

/* Creates the libnftables context and (re)creates the table in one
 * transaction: an existing table, with every sandbox chain left by an
 * earlier run, is replaced atomically (this is the start-up cleanup). On
 * success *fw is the caller's (cr_firewall_close). Returns 0, or -1 and *err
 * (internal). */
int cr_firewall_open(cr_firewall **fw, cr_error **err);

/* Creates a context over the table as it is loaded, changing nothing (for
 * tools and diagnostics; the server uses cr_firewall_open). Fails (status
 * ENOENT) when the table is not loaded. */
int cr_firewall_attach(cr_firewall **fw, cr_error **err);

/* Adds the chains, counter and dispatch entries of one sandbox in one
 * transaction, replacing any left for the same interface. Returns 0, or -1
 * and *err (usage_invalid for a bad id/interface/port, internal otherwise);
 * on failure nothing was changed. */
int cr_firewall_add_sandbox(cr_firewall *fw, const cr_fw_sandbox *sb, cr_error **err);

/* Removes everything of the sandbox on host_ifname in one transaction.
 * Idempotent: succeeds when nothing is there. */
int cr_firewall_remove_sandbox(cr_firewall *fw, const char *host_ifname, cr_error **err);

/* Reads the sandbox's drop counter (every packet dropped or rejected from
 * host_ifname). Fails (status ENOENT) when the sandbox has no chains. */
int cr_firewall_counters(cr_firewall *fw, const char *host_ifname, uint64_t *packets, uint64_t *bytes,
			 cr_error **err);

/* Frees the context; the table stays loaded. Accepts NULL. */
void cr_firewall_close(cr_firewall *fw);

/* Deletes the whole table (server shutdown). Idempotent. Uses a context of
 * its own. */
int cr_firewall_destroy_table(cr_error **err);
