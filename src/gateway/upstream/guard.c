/* SPDX-License-Identifier: Apache-2.0 */
/* guard.c -- the address guard as the upstream fetcher sees it: the proxy's
 * own guard (the host's addresses and the sandbox pool, proxy/decide.h) when
 * the proxy runs, and the host's addresses as far as the fetcher could list
 * them when it was made, so that a registry name resolving to the host
 * itself is refused even without the proxy (unit tests). The fixed ranges
 * (loopback, link-local, multicast, the default pool) need neither. */
#include "gateway/upstream/internal.h"

#include <ifaddrs.h>

#include "gateway/proxy/proxy.h"
#include "util/xalloc.h"

const cr_gw_guard *cr_gw_upstream_proxy_guard(const cr_gateway *gw)
{
	const px_state *px = gw->proxy;
	return px ? &px->guard : NULL;
}

struct in_addr *cr_gw_upstream_self_addrs(const cr_gateway *gw, size_t *n)
{
	struct ifaddrs *ifs = NULL;
	size_t cap = 1;
	if (getifaddrs(&ifs) == 0)
		for (struct ifaddrs *i = ifs; i; i = i->ifa_next)
			cap += i->ifa_addr && i->ifa_addr->sa_family == AF_INET;
	struct in_addr *self = cr_xcalloc(cap, sizeof(*self));
	*n = 0;
	self[(*n)++] = gw->cfg.gateway_addr;
	for (struct ifaddrs *i = ifs; i && *n < cap; i = i->ifa_next)
		if (i->ifa_addr && i->ifa_addr->sa_family == AF_INET)
			self[(*n)++] = ((const struct sockaddr_in *)(const void *)i->ifa_addr)->sin_addr;
	if (ifs)
		freeifaddrs(ifs);
	return self;
}
