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

/* Landlock (linux/landlock.h). `attr` is a struct landlock_ruleset_attr of
 * `size` bytes, or NULL with LANDLOCK_CREATE_RULESET_VERSION to ask for the
 * ABI version. */
static inline int cr_landlock_create_ruleset(const void *attr, size_t size, unsigned int flags)
{
	return (int)syscall(SYS_landlock_create_ruleset, attr, size, flags);
}

static inline int cr_landlock_add_rule(int ruleset_fd, int rule_type, const void *rule_attr,
				       unsigned int flags)
{
	return (int)syscall(SYS_landlock_add_rule, ruleset_fd, rule_type, rule_attr, flags);
}

static inline int cr_landlock_restrict_self(int ruleset_fd, unsigned int flags)
{
	return (int)syscall(SYS_landlock_restrict_self, ruleset_fd, flags);
}
