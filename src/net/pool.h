/* SPDX-License-Identifier: Apache-2.0 */
/* pool.h -- the sandbox address pool: one /30 block per sandbox.
 *
 * A pool is an IPv4 CIDR (default 10.213.0.0/16, prefix /8 … /28). Block i
 * of the pool is network + 4i; its gateway (the host side of the sandbox's
 * veth) is +1, the sandbox's eth0 is +2, and the host interface is named
 * "crsb%04x" (i). The mapping is pure: which indices are taken is persisted
 * by the server (its store), which asks cr_net_pool_lowest_free() for the
 * next one. cr_net_pool_check_routes() is the start-up check that the pool
 * does not overlap any route or address the host already uses. */
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/error.h"

#define CR_NET_POOL_DEFAULT    "10.213.0.0/16"
#define CR_NET_POOL_MIN_PREFIX 8
#define CR_NET_POOL_MAX_PREFIX 28
#define CR_NET_LEASE_PREFIX    30
/* Every host-side interface of a sandbox, and nothing else, has this prefix:
 * the firewall drops anything forwarded from or to it, and the start-up
 * cleanup deletes every link that carries it. */
#define CR_NET_IFNAME_PREFIX  "crsb"
#define CR_NET_SANDBOX_IFNAME "eth0"
#define CR_NET_IFNAME_SIZE    16 /* IFNAMSIZ */
#define CR_NET_CIDR_STRLEN    24 /* "255.255.255.255/32" + NUL, rounded up */

typedef struct cr_net_pool {
	uint32_t network; /* host byte order, host bits zero */
	uint8_t prefix;
} cr_net_pool;

typedef struct cr_net_lease {
	uint32_t index;
	struct in_addr gateway_addr; /* network byte order, as in struct in_addr */
	struct in_addr sandbox_addr;
	uint8_t prefix; /* always CR_NET_LEASE_PREFIX */
	char host_ifname[CR_NET_IFNAME_SIZE];
} cr_net_lease;

/* Parses "A.B.C.D/N" into *pool. Fails (usage_invalid) when the text is not
 * a CIDR, when N is outside /8 … /28, or when host bits are set. */
int cr_net_pool_parse(const char *cidr, cr_net_pool *pool, cr_error **err);

/* Writes "A.B.C.D/N" into buf (CR_NET_CIDR_STRLEN bytes). Returns buf. */
char *cr_net_pool_format(const cr_net_pool *pool, char buf[static CR_NET_CIDR_STRLEN]);

/* The number of /30 blocks (sandboxes) the pool holds: 2^(30 - prefix). */
uint32_t cr_net_pool_size(const cr_net_pool *pool);

/* Fills *lease for block `index`. Fails (internal) when index is out of
 * range. */
int cr_net_pool_lease(const cr_net_pool *pool, uint32_t index, cr_net_lease *lease, cr_error **err);

/* Writes the dotted form of addr into buf (INET_ADDRSTRLEN bytes). Returns
 * buf. */
char *cr_net_addr_str(struct in_addr addr, char buf[static INET_ADDRSTRLEN]);

/* True when addr (network byte order) lies inside the pool. */
bool cr_net_pool_contains(const cr_net_pool *pool, struct in_addr addr);

/* Parses a host interface name "crsb<hex>" back to its index. Returns 0, or
 * -1 when the name is not one of ours. */
int cr_net_ifname_index(const char *ifname, uint32_t *index);

/* The lowest index for which taken(index, arg) is false, or -1 when every
 * block is taken. */
int64_t cr_net_pool_lowest_free(const cr_net_pool *pool, bool (*taken)(uint32_t index, void *arg), void *arg);

/* The same over a bitmap: bit i (bits[i / 64] >> (i % 64) & 1) set means
 * index i is taken; indices at or past nbits are free. */
int64_t cr_net_pool_lowest_free_bitmap(const cr_net_pool *pool, const uint64_t *bits, size_t nbits);

/* Dumps the host's IPv4 routes (every table) and addresses over netlink and
 * fails (internal, status EADDRINUSE) naming the first one that overlaps the
 * pool. Ignored: routes with prefix length 0 (default routes), and routes
 * and addresses on links named CR_NET_IFNAME_PREFIX* (our own leftovers,
 * which the start-up cleanup deletes). Runs in the caller's netns. */
int cr_net_pool_check_routes(const cr_net_pool *pool, cr_error **err);
