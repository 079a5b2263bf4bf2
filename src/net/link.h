/* SPDX-License-Identifier: Apache-2.0 */
/* link.h -- a sandbox's veth pair, created and configured over netlink.
 *
 * The host side (lease->host_ifname) holds gateway_addr/30 in the caller's
 * netns; the peer is created directly inside the sandbox's netns as "eth0"
 * with sandbox_addr/30, lo and eth0 up, and a default route via the gateway.
 * IPv6 is disabled inside (all, default, eth0) and on the host side; the
 * host side never forwards (conf/<if>/forwarding=0) and filters by reverse
 * path strictly (rp_filter=1). Nothing runs inside the sandbox: the calling
 * thread enters the sandbox netns only to open a netlink socket and the
 * sysctl files there, and always returns to its own netns. */
#pragma once

#include <sys/types.h>

#include "net/pool.h"
#include "util/error.h"

/* Opens the network namespace of process `pid` (/proc/<pid>/ns/net,
 * O_CLOEXEC). With pidfd >= 0 (a pidfd of the same process), checks after
 * the open that the process is still alive, so that a reused pid cannot
 * hand over another process's namespace. Returns the fd (the caller closes
 * it), or -1 and *err (runtime_launch_failed). */
int cr_net_netns_open(pid_t pid, int pidfd, cr_error **err);

/* Creates and configures the veth pair of `lease`, its peer inside the
 * network namespace `netns_fd` (an fd of /proc/<pid>/ns/net or
 * /run/netns/<name>; not a pidfd). Returns 0, or -1 and *err
 * (runtime_launch_failed) with nothing left behind: the pair is deleted on
 * every failure path. Fails with status EEXIST when the host interface
 * already exists. Leaves the calling thread in its own netns. */
int cr_net_link_create(const cr_net_lease *lease, int netns_fd, cr_error **err);

/* Deletes the host interface `host_ifname` (and with it its peer, addresses
 * and routes). Idempotent: returns 1 when it deleted the link, 0 when there
 * was none, or -1 and *err (internal).
 *
 * Cost: the kernel unregisters a veth synchronously, waiting for RCU
 * (rcu_barrier) — 15–30 ms measured here, whoever asks (`ip link del` too).
 * When the sandbox's netns ends first (its last process exits and no fd of
 * it is open), the kernel deletes the pair by itself, asynchronously, and
 * this call then finds nothing; see docs/internals/network.md. */
int cr_net_link_delete(const char *host_ifname, cr_error **err);

/* Deletes every link of the caller's netns whose name starts with
 * CR_NET_IFNAME_PREFIX (leftovers of a crash). Returns how many this call
 * deleted (a peer that went with its pair is not counted), or -1 and *err
 * (internal, the first failure) after trying them all. */
int cr_net_link_cleanup_leftovers(cr_error **err);
