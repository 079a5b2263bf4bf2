/* SPDX-License-Identifier: Apache-2.0 */
/* syscalls.h -- every raw system call libcleanroom makes, wrapped in one place
 * (glibc 2.36 has no wrapper for these). */
#pragma once

#include <linux/openat2.h>
#include <sys/syscall.h>
#include <unistd.h>

/* openat2(2): resolution restricted by how->resolve (RESOLVE_BENEATH, ...). */
static inline int cr_openat2(int dirfd, const char *path, const struct open_how *how)
{
	return (int)syscall(SYS_openat2, dirfd, path, how, sizeof(*how));
}
