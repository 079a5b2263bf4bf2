/* SPDX-License-Identifier: Apache-2.0 */
/* nlutil.h -- what the files of src/net share about libnl-3: scope-bound
 * release of its objects, its error codes turned into cr_error, a route
 * socket and IPv4 addresses. Internal to src/net. */
#pragma once

#include <netinet/in.h>
#include <stdlib.h>
#include <netlink/addr.h>
#include <netlink/cache.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/route.h>

#include "util/cleanup.h"
#include "util/error.h"

CR_DEFINE_CLEANUP(struct nl_sock, nl_socket_free)
CR_DEFINE_CLEANUP(struct nl_cache, nl_cache_free)
CR_DEFINE_CLEANUP(struct nl_addr, nl_addr_put)
CR_DEFINE_CLEANUP(struct rtnl_link, rtnl_link_put)
CR_DEFINE_CLEANUP(struct rtnl_addr, rtnl_addr_put)
CR_DEFINE_CLEANUP(struct rtnl_route, rtnl_route_put)

#define cleanup_nlsock  __attribute__((cleanup(nl_socket_freep)))
#define cleanup_nlcache __attribute__((cleanup(nl_cache_freep)))
#define cleanup_nladdr  __attribute__((cleanup(nl_addr_putp)))
#define cleanup_rtlink  __attribute__((cleanup(rtnl_link_putp)))
#define cleanup_rtaddr  __attribute__((cleanup(rtnl_addr_putp)))
#define cleanup_rtroute __attribute__((cleanup(rtnl_route_putp)))

/* Fills *err from a (negative) libnl error code: status is the errno the
 * code stands for, the message is "<fmt>: <libnl's text>". Returns -1. */
int cr_net_nl_error(cr_error **err, int nlerr, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* A NETLINK_ROUTE socket connected in the calling thread's netns (a
 * netlink socket stays bound to the netns it was created in). NULL and
 * *err on failure. */
struct nl_sock *cr_net_nl_socket(cr_error **err);

/* libnl's allocators return NULL only when memory is exhausted, which is
 * not recoverable here any more than in cr_xmalloc. */
static inline void *cr_net_nl_must(void *p)
{
	if (!p)
		abort();
	return p;
}

/* An AF_INET nl_addr with the given prefix length; never NULL. */
struct nl_addr *cr_net_nl_addr4(struct in_addr a, unsigned prefix);
