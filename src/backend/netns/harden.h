/* SPDX-License-Identifier: Apache-2.0 */
/* harden.h -- the last steps before a sandbox's agent starts: capabilities,
 * no_new_privs, Landlock and the seccomp filter. They are applied by the
 * sandbox's first process after its mounts are in place and before it
 * executes the agent, and every execution inherits them. */
#pragma once

#include <stdbool.h>

#include "util/error.h"

/* Drops every capability from the bounding set except those the agent needs
 * inside its user namespace to run executions as another user
 * (CAP_SETUID, CAP_SETGID, CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_FOWNER,
 * CAP_KILL, CAP_SETPCAP is dropped last); clears ambient and inheritable sets. */
int cr_harden_capabilities(cr_error **err);

/* PR_SET_NO_NEW_PRIVS. */
int cr_harden_no_new_privs(cr_error **err);

/* Restricts filesystem writes (Landlock) to the directories listed (and
 * everything beneath them); reads and execution stay allowed everywhere.
 * Returns 1 when applied, 0 when the kernel has no Landlock (nothing done), -1
 * on error. */
int cr_harden_landlock(const char *const *writable_dirs, cr_error **err);

/* Installs the seccomp filter (libseccomp): every syscall allowed except the
 * list of docs/security.md (new user namespaces, keyrings, bpf, perf,
 * userfaultfd, kexec, modules, mount family, clock and time setting, reboot,
 * swap, acct, quotactl, ...), which fail with EPERM (ENOSYS for clone3, so that
 * libc falls back to clone, whose flags can be checked). */
int cr_harden_seccomp(cr_error **err);

/* The names of the syscalls the filter denies, NULL-terminated (for docs and
 * doctor). */
extern const char *const cr_harden_denied_syscalls[];

/* Device files cr_harden_landlock() always lets the sandbox open for
 * writing (file rights only, nothing can be created beside them): /dev/null,
 * /dev/zero, /dev/full, /dev/random, /dev/urandom, /dev/tty, /dev/ptmx and
 * terminals beneath /dev/pts; NULL-terminated, for docs and doctor. */
extern const char *const cr_harden_landlock_devices[];

/* True when the running kernel supports Landlock. */
bool cr_harden_landlock_available(void);
