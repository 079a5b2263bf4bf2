/* SPDX-License-Identifier: Apache-2.0 */
/* conntrack.h -- removal of a sandbox's connection-tracking entries.
 *
 * When a sandbox ends, its NAT bindings (redirects to the gateway) and
 * other entries outlive its veth in the host's conntrack table until they
 * time out; a sandbox that gets the same /30 later must not inherit them.
 * Works on the conntrack table of the caller's netns, through
 * libnetfilter_conntrack. */
#pragma once

#include <netinet/in.h>

#include "util/error.h"

/* Deletes every IPv4 entry whose original source or original destination is
 * addr. Returns how many were deleted, or -1 and *err (internal). */
int cr_conntrack_flush_addr(struct in_addr addr, cr_error **err);

/* Counts those entries without deleting them (diagnostics, tests). Returns
 * the count, or -1 and *err (internal). */
int cr_conntrack_count_addr(struct in_addr addr, cr_error **err);
