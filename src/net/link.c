/* SPDX-License-Identifier: Apache-2.0 */
/* link.c -- a sandbox's veth pair over libnl-route-3 (see link.h).
 *
 * Inside the sandbox's netns nothing is executed: the calling thread setns()
 * into it just long enough to open a NETLINK_ROUTE socket (which stays bound
 * to that netns) and to write the IPv6 sysctls (/proc/sys/net is the netns of
 * the thread that opens the file), then setns() back. Every other request is
 * sent from the caller's netns, on the right socket. */
#include "net/link.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <netlink/route/link/veth.h>

#include "net/nlutil.h"

typedef struct conf_sysctl {
	const char *family, *key, *value;
} conf_sysctl;

/* The host side: no IPv6 at all, never a router, strict reverse path. */
static const conf_sysctl host_sysctls[] = {
	{"ipv6", "disable_ipv6", "1"},
	{"ipv4", "forwarding", "0"},
	{"ipv4", "rp_filter", "1"},
};

/* Inside the sandbox, for these interfaces: no IPv6. */
static const char *const sandbox_ipv6_off[] = {"all", "default", CR_NET_SANDBOX_IFNAME};

/* Writes one /proc/sys/net/<family>/conf/<ifname>/<key>. A missing IPv6
 * tree (a kernel without IPv6) is success: there is nothing to disable. */
static int write_conf(const char *family, const char *ifname, const char *key, const char *value,
		      cr_error **err)
{
	char path[128];
	snprintf(path, sizeof(path), "/proc/sys/net/%s/conf/%s/%s", family, ifname, key);
	cleanup_close int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT && strcmp(family, "ipv6") == 0 &&
	    access("/proc/sys/net/ipv6", F_OK) < 0)
		return 0;
	if (fd < 0)
		return cr_error_make(err, errno, CR_REASON_INTERNAL, "open '%s'", path);
	size_t n = strlen(value);
	if (write(fd, value, n) != (ssize_t)n)
		return cr_error_make(err, errno, CR_REASON_INTERNAL, "write %s to '%s'", value, path);
	return 0;
}

static int ifindex_of(const char *ifname, int *index, cr_error **err)
{
	unsigned i = if_nametoindex(ifname);
	if (i == 0)
		return cr_error_make(err, errno, CR_REASON_INTERNAL, "find interface '%s'", ifname);
	*index = (int)i;
	return 0;
}

static int add_veth(struct nl_sock *sk, const cr_net_lease *l, int netns_fd, cr_error **err)
{
	cleanup_rtlink struct rtnl_link *link = cr_net_nl_must(rtnl_link_veth_alloc());
	struct rtnl_link *peer = rtnl_link_veth_get_peer(link);
	rtnl_link_set_name(link, l->host_ifname);
	rtnl_link_set_name(peer, CR_NET_SANDBOX_IFNAME);
	rtnl_link_set_ns_fd(peer, netns_fd);
	rtnl_link_put(peer);
	int rc = rtnl_link_add(sk, link, NLM_F_CREATE | NLM_F_EXCL);
	if (rc < 0)
		return cr_net_nl_error(
			err, rc, "create veth '%s' with peer '" CR_NET_SANDBOX_IFNAME "' in the sandbox",
			l->host_ifname);
	return 0;
}

static int add_addr(struct nl_sock *sk, const char *ifname, int ifindex, struct in_addr a, cr_error **err)
{
	char text[INET_ADDRSTRLEN];
	cleanup_rtaddr struct rtnl_addr *addr = cr_net_nl_must(rtnl_addr_alloc());
	cleanup_nladdr struct nl_addr *local = cr_net_nl_addr4(a, CR_NET_LEASE_PREFIX);
	rtnl_addr_set_ifindex(addr, ifindex);
	int rc = rtnl_addr_set_local(addr, local);
	if (rc >= 0)
		rc = rtnl_addr_add(sk, addr, NLM_F_EXCL);
	if (rc < 0)
		return cr_net_nl_error(err, rc, "add address %s/%d to '%s'", cr_net_addr_str(a, text),
				       CR_NET_LEASE_PREFIX, ifname);
	return 0;
}

static int link_up(struct nl_sock *sk, const char *ifname, cr_error **err)
{
	cleanup_rtlink struct rtnl_link *change = cr_net_nl_must(rtnl_link_alloc());
	rtnl_link_set_name(change, ifname);
	rtnl_link_set_flags(change, IFF_UP);
	int rc = rtnl_link_change(sk, change, change, 0);
	if (rc < 0)
		return cr_net_nl_error(err, rc, "bring up '%s'", ifname);
	return 0;
}

static int add_default_route(struct nl_sock *sk, int ifindex, struct in_addr gateway, cr_error **err)
{
	char text[INET_ADDRSTRLEN];
	cleanup_rtroute struct rtnl_route *route = cr_net_nl_must(rtnl_route_alloc());
	cleanup_nladdr struct nl_addr *dst = cr_net_nl_addr4((struct in_addr){0}, 0);
	cleanup_nladdr struct nl_addr *via = cr_net_nl_addr4(gateway, 32);
	struct rtnl_nexthop *nh = cr_net_nl_must(rtnl_route_nh_alloc());
	rtnl_route_nh_set_ifindex(nh, ifindex);
	rtnl_route_nh_set_gateway(nh, via);
	rtnl_route_add_nexthop(route, nh); /* the route owns nh now */
	rtnl_route_set_family(route, AF_INET);
	rtnl_route_set_table(route, RT_TABLE_MAIN);
	rtnl_route_set_scope(route, RT_SCOPE_UNIVERSE);
	rtnl_route_set_protocol(route, RTPROT_STATIC);
	int rc = rtnl_route_set_dst(route, dst);
	if (rc >= 0)
		rc = rtnl_route_add(sk, route, NLM_F_EXCL);
	if (rc < 0)
		return cr_net_nl_error(err, rc, "add default route via %s in the sandbox",
				       cr_net_addr_str(gateway, text));
	return 0;
}

/* What the thread collects while it is inside the sandbox's netns. */
typedef struct inside {
	struct nl_sock *sk;
	int eth0_index;
} inside;

static int prepare_inside(inside *in, cr_error **err)
{
	for (size_t i = 0; i < sizeof(sandbox_ipv6_off) / sizeof(sandbox_ipv6_off[0]); i++)
		if (write_conf("ipv6", sandbox_ipv6_off[i], "disable_ipv6", "1", err) < 0)
			return -1;
	if (ifindex_of(CR_NET_SANDBOX_IFNAME, &in->eth0_index, err) < 0)
		return -1;
	in->sk = cr_net_nl_socket(err);
	return in->sk ? 0 : -1;
}

/* Runs prepare_inside() in the netns `netns_fd` and returns the thread to its
 * own netns. Failing to return would leave this thread of the server
 * configuring the wrong namespace from then on; that cannot be recovered
 * from (and cannot happen with a valid fd of our own), so it aborts. */
static int visit_sandbox_netns(int netns_fd, inside *in, cr_error **err)
{
	cleanup_close int self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (self < 0)
		return cr_error_make(err, errno, CR_REASON_INTERNAL, "open this thread's network namespace");
	if (setns(netns_fd, CLONE_NEWNET) < 0)
		return cr_error_make(err, errno, CR_REASON_INTERNAL, "enter the sandbox's network namespace");
	int rc = prepare_inside(in, err);
	if (setns(self, CLONE_NEWNET) < 0) {
		fprintf(stderr, "cleanroom: cannot return to the original network namespace: %s\n",
			strerror(errno));
		abort();
	}
	return rc;
}

static int configure_host_side(struct nl_sock *sk, const cr_net_lease *l, cr_error **err)
{
	int index = 0;
	for (size_t i = 0; i < sizeof(host_sysctls) / sizeof(host_sysctls[0]); i++) {
		const conf_sysctl *s = &host_sysctls[i];
		if (write_conf(s->family, l->host_ifname, s->key, s->value, err) < 0)
			return -1;
	}
	if (ifindex_of(l->host_ifname, &index, err) < 0 ||
	    add_addr(sk, l->host_ifname, index, l->gateway_addr, err) < 0)
		return -1;
	return link_up(sk, l->host_ifname, err);
}

static int configure_sandbox_side(const cr_net_lease *l, int netns_fd, cr_error **err)
{
	inside in = {0};
	if (visit_sandbox_netns(netns_fd, &in, err) < 0)
		return -1;
	cleanup_nlsock struct nl_sock *sk = in.sk;
	if (add_addr(sk, CR_NET_SANDBOX_IFNAME, in.eth0_index, l->sandbox_addr, err) < 0 ||
	    link_up(sk, "lo", err) < 0 || link_up(sk, CR_NET_SANDBOX_IFNAME, err) < 0)
		return -1;
	return add_default_route(sk, in.eth0_index, l->gateway_addr, err);
}

static int delete_link(struct nl_sock *sk, const char *ifname, cr_error **err)
{
	cleanup_rtlink struct rtnl_link *link = cr_net_nl_must(rtnl_link_alloc());
	rtnl_link_set_name(link, ifname);
	int rc = rtnl_link_delete(sk, link);
	if (rc == -NLE_NODEV || rc == -NLE_OBJ_NOTFOUND)
		return 0;
	if (rc < 0)
		return cr_net_nl_error(err, rc, "delete link '%s'", ifname);
	return 1;
}

static int launch_failed(cr_error **err, const char *ifname)
{
	cr_error_wrap(err, "set up the sandbox network on '%s'", ifname);
	if (err && *err)
		(*err)->reason = CR_REASON_RUNTIME_LAUNCH_FAILED;
	return -1;
}

int cr_net_link_create(const cr_net_lease *l, int netns_fd, cr_error **err)
{
	cleanup_nlsock struct nl_sock *sk = cr_net_nl_socket(err);
	if (!sk || add_veth(sk, l, netns_fd, err) < 0)
		return launch_failed(err, l->host_ifname);
	if (configure_host_side(sk, l, err) < 0 || configure_sandbox_side(l, netns_fd, err) < 0) {
		delete_link(sk, l->host_ifname, NULL); /* takes the peer, addresses and route along */
		return launch_failed(err, l->host_ifname);
	}
	return 0;
}

int cr_net_link_delete(const char *host_ifname, cr_error **err)
{
	cleanup_nlsock struct nl_sock *sk = cr_net_nl_socket(err);
	if (!sk)
		return -1;
	return delete_link(sk, host_ifname, err);
}

int cr_net_link_cleanup_leftovers(cr_error **err)
{
	cleanup_nlsock struct nl_sock *sk = cr_net_nl_socket(err);
	cleanup_nlcache struct nl_cache *links = NULL;
	if (!sk)
		return -1;
	int rc = rtnl_link_alloc_cache(sk, AF_UNSPEC, &links);
	if (rc < 0)
		return cr_net_nl_error(err, rc, "list links");
	int deleted = 0, failed = 0;
	size_t plen = strlen(CR_NET_IFNAME_PREFIX);
	for (struct nl_object *o = nl_cache_get_first(links); o; o = nl_cache_get_next(o)) {
		const char *name = rtnl_link_get_name((struct rtnl_link *)o);
		if (!name || strncmp(name, CR_NET_IFNAME_PREFIX, plen) != 0)
			continue;
		rc = delete_link(sk, name, failed ? NULL : err);
		if (rc < 0)
			failed++;
		deleted += rc > 0;
	}
	return failed ? -1 : deleted;
}

int cr_net_netns_open(pid_t pid, int pidfd, cr_error **err)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)pid);
	cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return cr_error_make(err, errno, CR_REASON_RUNTIME_LAUNCH_FAILED, "open '%s'", path);
	if (pidfd >= 0 && syscall(SYS_pidfd_send_signal, pidfd, 0, NULL, 0) < 0)
		return cr_error_make(err, errno, CR_REASON_RUNTIME_LAUNCH_FAILED,
				     "process %d ended while its network namespace was opened", (int)pid);
	return cr_steal_fd(&fd);
}
