/* SPDX-License-Identifier: Apache-2.0 */
/* spawn.h -- creating a sandbox's first process: one clone3 into new user,
 * mount, PID, network, IPC, UTS (and then cgroup) namespaces; the owner maps
 * its users and puts it in its cgroups; the process builds its root
 * filesystem, hardens itself and becomes the agent. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "backend/netns/cgroup.h"
#include "backend/netns/record.h"
#include "backend/netns/rootfs.h"
#include "util/error.h"

#define CR_NETNS_UID_RANGE 65536

typedef struct cr_spawn_spec {
	const cr_rootfs_spec *rootfs;
	uid_t host_uid_base;     /* uid 0 inside = this host uid; CR_NETNS_UID_RANGE ids are mapped */
	bool map_range;          /* false when not root: only 0 -> the caller's uid is mapped */
	const cr_cgroup *cgroup; /* may be NULL */
	cr_record *record;
} cr_spawn_spec;

typedef struct cr_spawned {
	pid_t pid; /* host pid of the agent (PID 1 inside) */
	int pidfd;
	int ctl_fd; /* the owner's end of the agent socket, CLOEXEC, blocking */
	int err_fd; /* the child's error pipe, non-blocking: one line, or EOF once the agent runs */
} cr_spawned;

/* Starts the sandbox and returns at once: the child builds its root and
 * execs the agent, which says HELLO on ctl_fd when it is ready. If the child
 * fails, ctl_fd reaches end of file and cr_netns_spawn_error(err_fd) says
 * why. On failure here the process (if any) is killed and reaped; the caller
 * tears down the record. */
int cr_netns_spawn_start(const cr_spawn_spec *s, cr_spawned *out, cr_error **err);
/* The child's error line ("" when none), read without blocking. */
char *cr_netns_spawn_error(int fd);
