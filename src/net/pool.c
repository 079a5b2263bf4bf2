/* SPDX-License-Identifier: Apache-2.0 */
/* pool.c -- the pure mapping from a pool index to a sandbox's /30 block,
 * its addresses and its host interface name (see pool.h). */
#include "net/pool.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint32_t prefix_mask(unsigned prefix)
{
	return prefix ? ~(uint32_t)0 << (32 - prefix) : 0;
}

static int parse_prefix(const char *s, unsigned *prefix)
{
	if (!*s || strlen(s) > 2 || strspn(s, "0123456789") != strlen(s))
		return -1;
	*prefix = (unsigned)strtoul(s, NULL, 10);
	return 0;
}

int cr_net_pool_parse(const char *cidr, cr_net_pool *pool, cr_error **err)
{
	char addr[INET_ADDRSTRLEN];
	const char *slash = strchr(cidr, '/');
	size_t n = slash ? (size_t)(slash - cidr) : 0;
	struct in_addr in;
	unsigned prefix;
	if (!slash || n == 0 || n >= sizeof(addr) || parse_prefix(slash + 1, &prefix) < 0)
		return cr_error_make(err, EINVAL, CR_REASON_USAGE_INVALID,
				     "address pool '%s' is not an IPv4 CIDR (A.B.C.D/N)", cidr);
	memcpy(addr, cidr, n);
	addr[n] = '\0';
	if (inet_pton(AF_INET, addr, &in) != 1)
		return cr_error_make(err, EINVAL, CR_REASON_USAGE_INVALID,
				     "address pool '%s' is not an IPv4 CIDR (A.B.C.D/N)", cidr);
	if (prefix < CR_NET_POOL_MIN_PREFIX || prefix > CR_NET_POOL_MAX_PREFIX)
		return cr_error_make(err, EINVAL, CR_REASON_USAGE_INVALID,
				     "address pool '%s': prefix must be between /%d and /%d", cidr,
				     CR_NET_POOL_MIN_PREFIX, CR_NET_POOL_MAX_PREFIX);
	uint32_t net = ntohl(in.s_addr);
	if (net & ~prefix_mask(prefix))
		return cr_error_make(err, EINVAL, CR_REASON_USAGE_INVALID,
				     "address pool '%s' has host bits set (network address expected)", cidr);
	*pool = (cr_net_pool){.network = net, .prefix = (uint8_t)prefix};
	return 0;
}

char *cr_net_pool_format(const cr_net_pool *pool, char buf[static CR_NET_CIDR_STRLEN])
{
	char addr[INET_ADDRSTRLEN];
	cr_net_addr_str((struct in_addr){.s_addr = htonl(pool->network)}, addr);
	snprintf(buf, CR_NET_CIDR_STRLEN, "%s/%u", addr, pool->prefix);
	return buf;
}

uint32_t cr_net_pool_size(const cr_net_pool *pool)
{
	return (uint32_t)1 << (CR_NET_LEASE_PREFIX - pool->prefix);
}

int cr_net_pool_lease(const cr_net_pool *pool, uint32_t index, cr_net_lease *lease, cr_error **err)
{
	char cidr[CR_NET_CIDR_STRLEN];
	if (index >= cr_net_pool_size(pool))
		return cr_error_make(err, ERANGE, CR_REASON_INTERNAL,
				     "address pool %s has %u blocks, no block %u",
				     cr_net_pool_format(pool, cidr), cr_net_pool_size(pool), index);
	uint32_t block = pool->network + 4 * index;
	*lease = (cr_net_lease){
		.index = index,
		.gateway_addr = {.s_addr = htonl(block + 1)},
		.sandbox_addr = {.s_addr = htonl(block + 2)},
		.prefix = CR_NET_LEASE_PREFIX,
	};
	snprintf(lease->host_ifname, sizeof(lease->host_ifname), CR_NET_IFNAME_PREFIX "%04x", index);
	return 0;
}

char *cr_net_addr_str(struct in_addr addr, char buf[static INET_ADDRSTRLEN])
{
	inet_ntop(AF_INET, &addr, buf, INET_ADDRSTRLEN);
	return buf;
}

bool cr_net_pool_contains(const cr_net_pool *pool, struct in_addr addr)
{
	return (ntohl(addr.s_addr) & prefix_mask(pool->prefix)) == pool->network;
}

int cr_net_ifname_index(const char *ifname, uint32_t *index)
{
	size_t plen = strlen(CR_NET_IFNAME_PREFIX);
	if (strncmp(ifname, CR_NET_IFNAME_PREFIX, plen) != 0)
		return -1;
	const char *hex = ifname + plen;
	size_t n = strlen(hex);
	if (n < 4 || n > 8 || strspn(hex, "0123456789abcdef") != n || (n > 4 && hex[0] == '0'))
		return -1;
	*index = (uint32_t)strtoul(hex, NULL, 16);
	return 0;
}

int64_t cr_net_pool_lowest_free(const cr_net_pool *pool, bool (*taken)(uint32_t index, void *arg), void *arg)
{
	uint32_t size = cr_net_pool_size(pool);
	for (uint32_t i = 0; i < size; i++)
		if (!taken(i, arg))
			return i;
	return -1;
}

int64_t cr_net_pool_lowest_free_bitmap(const cr_net_pool *pool, const uint64_t *bits, size_t nbits)
{
	uint64_t size = cr_net_pool_size(pool);
	for (uint64_t base = 0; base < size; base += 64) {
		uint64_t word = 0;
		if (base < nbits) {
			word = bits[base / 64];
			if (nbits - base < 64)
				word &= ((uint64_t)1 << (nbits - base)) - 1;
		}
		if (word != ~(uint64_t)0) {
			uint64_t i = base + (uint64_t)__builtin_ctzll(~word);
			return i < size ? (int64_t)i : -1;
		}
	}
	return -1;
}
