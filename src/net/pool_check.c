/* SPDX-License-Identifier: Apache-2.0 */
/* pool_check.c -- the start-up check that the sandbox address pool does not
 * overlap a route or an address the host already uses (see pool.h). Two
 * prefixes overlap when they agree on the shorter one's bits. */
#include "net/pool.h"

#include <errno.h>
#include <net/if.h>
#include <string.h>

#include "net/nlutil.h"

typedef struct host_view {
	const cr_net_pool *pool;
	struct nl_cache *links;
} host_view;

static bool overlaps(const cr_net_pool *pool, const struct nl_addr *a)
{
	unsigned prefix = nl_addr_get_prefixlen(a);
	struct in_addr in;
	if (nl_addr_get_family(a) != AF_INET || nl_addr_get_len(a) != sizeof(in))
		return false;
	memcpy(&in, nl_addr_get_binary_addr(a), sizeof(in));
	unsigned shorter = prefix < pool->prefix ? prefix : pool->prefix;
	uint32_t mask = shorter ? ~(uint32_t)0 << (32 - shorter) : 0;
	return (ntohl(in.s_addr) & mask) == (pool->network & mask);
}

static const char *link_name(const host_view *v, int ifindex, char buf[static IF_NAMESIZE])
{
	if (ifindex <= 0 || !rtnl_link_i2name(v->links, ifindex, buf, IF_NAMESIZE))
		return NULL;
	return buf;
}

static bool is_ours(const host_view *v, int ifindex)
{
	char buf[IF_NAMESIZE];
	const char *name = link_name(v, ifindex, buf);
	return name && strncmp(name, CR_NET_IFNAME_PREFIX, strlen(CR_NET_IFNAME_PREFIX)) == 0;
}

static int conflict(const host_view *v, const char *what, const struct nl_addr *a, int ifindex,
		    cr_error **err)
{
	char pool[CR_NET_CIDR_STRLEN], text[64], ifname[IF_NAMESIZE];
	const char *dev = link_name(v, ifindex, ifname);
	nl_addr2str(a, text, sizeof(text));
	return cr_error_status(err, EADDRINUSE, CR_REASON_INTERNAL,
			       "sandbox address pool %s overlaps the host's %s %s%s%s; choose another pool "
			       "(serve --egress-pool CIDR) or remove the %s",
			       cr_net_pool_format(v->pool, pool), what, text, dev ? " dev " : "",
			       dev ? dev : "", what);
}

static int check_addresses(struct nl_sock *sk, const host_view *v, cr_error **err)
{
	cleanup_nlcache struct nl_cache *addrs = NULL;
	int rc = rtnl_addr_alloc_cache(sk, &addrs);
	if (rc < 0)
		return cr_net_nl_error(err, rc, "list the host's addresses");
	for (struct nl_object *o = nl_cache_get_first(addrs); o; o = nl_cache_get_next(o)) {
		struct rtnl_addr *a = (struct rtnl_addr *)o;
		struct nl_addr *local = rtnl_addr_get_local(a);
		if (rtnl_addr_get_family(a) != AF_INET || !local || is_ours(v, rtnl_addr_get_ifindex(a)))
			continue;
		/* the address with its prefix, i.e. the subnet it claims */
		cleanup_nladdr struct nl_addr *net = cr_net_nl_must(nl_addr_clone(local));
		nl_addr_set_prefixlen(net, rtnl_addr_get_prefixlen(a));
		if (overlaps(v->pool, net))
			return conflict(v, "address", net, rtnl_addr_get_ifindex(a), err);
	}
	return 0;
}

/* A route counts as ours when every next hop leaves through one of our links. */
static bool route_is_ours(const host_view *v, struct rtnl_route *r)
{
	int n = rtnl_route_get_nnexthops(r);
	for (int i = 0; i < n; i++)
		if (!is_ours(v, rtnl_route_nh_get_ifindex(rtnl_route_nexthop_n(r, i))))
			return false;
	return n > 0;
}

static int first_ifindex(struct rtnl_route *r)
{
	return rtnl_route_get_nnexthops(r) > 0 ? rtnl_route_nh_get_ifindex(rtnl_route_nexthop_n(r, 0)) : 0;
}

static int check_routes(struct nl_sock *sk, const host_view *v, cr_error **err)
{
	cleanup_nlcache struct nl_cache *routes = NULL;
	int rc = rtnl_route_alloc_cache(sk, AF_INET, 0, &routes);
	if (rc < 0)
		return cr_net_nl_error(err, rc, "list the host's routes");
	for (struct nl_object *o = nl_cache_get_first(routes); o; o = nl_cache_get_next(o)) {
		struct rtnl_route *r = (struct rtnl_route *)o;
		struct nl_addr *dst = rtnl_route_get_dst(r);
		if (!dst || nl_addr_get_prefixlen(dst) == 0 || route_is_ours(v, r))
			continue;
		if (overlaps(v->pool, dst))
			return conflict(v, "route", dst, first_ifindex(r), err);
	}
	return 0;
}

int cr_net_pool_check_routes(const cr_net_pool *pool, cr_error **err)
{
	cleanup_nlsock struct nl_sock *sk = cr_net_nl_socket(err);
	cleanup_nlcache struct nl_cache *links = NULL;
	if (!sk)
		return -1;
	int rc = rtnl_link_alloc_cache(sk, AF_UNSPEC, &links);
	if (rc < 0)
		return cr_net_nl_error(err, rc, "list the host's links");
	host_view v = {.pool = pool, .links = links};
	if (check_addresses(sk, &v, err) < 0)
		return -1;
	return check_routes(sk, &v, err);
}
