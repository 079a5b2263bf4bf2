/* SPDX-License-Identifier: Apache-2.0 */
/* rootfs.h -- the sandbox's filesystem view, built by its first process in
 * its new mount namespace (as root of its user namespace), then pivoted to.
 *
 * Default: a read-only view of the host's system directories (/usr, /etc,
 * /opt and the /bin, /sbin, /lib* links or directories), private writable
 * tmpfs at /tmp, /var/tmp, /home, /root, /run and /workspace, a minimal /dev
 * (null, zero, full, random, urandom, tty, a private devpts, shm), /proc of
 * the sandbox's PID namespace with /proc/sys read-only, and a fresh read-only
 * /sys. With an image, the root is an overlay whose lower layer is the
 * unpacked image and whose upper layer is a private tmpfs. Nothing else of
 * the host (home directories, /var, /srv, /mnt, the server's state) exists in
 * the view; /etc/cleanroom is masked. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "util/error.h"

typedef struct cr_rootfs_spec {
	const char *root_dir;  /* an empty host directory to build the root on */
	const char *image_dir; /* unpacked image, or NULL for the host view */
	uid_t owner_uid;       /* owner (inside) of /workspace and /home */
	gid_t owner_gid;
	long long tmpfs_bytes;   /* size of each writable tmpfs, 0 = kernel default (half of RAM) */
	const char *resolv_conf; /* host file bound read-only over /etc/resolv.conf, or NULL */
} cr_rootfs_spec;

/* Builds the view under spec->root_dir, in the caller's (new) mount
 * namespace. Runs in the sandbox's first process only. */
int cr_rootfs_build(const cr_rootfs_spec *spec, cr_error **err);

/* Pivots into the view built under root_dir: afterwards "/" is the sandbox's
 * root, mounted read-only (for an image too: its files belong to host uids
 * outside the sandbox's range until the image store unpacks images into that
 * range), and the old root is detached. Done by the agent
 * once it has been executed, so that its libraries come from the host even
 * when the root is an image. */
int cr_rootfs_pivot(const char *root_dir, cr_error **err);

/* The writable directories of the view (for Landlock), NULL-terminated. */
extern const char *const cr_rootfs_writable[];
