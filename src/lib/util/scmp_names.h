/* SPDX-License-Identifier: Apache-2.0 */
/* scmp_names.h -- system call names to numbers for seccomp filters, also for
 * calls newer than the installed libseccomp's tables. Shared by every filter
 * we install (the sandbox's, the gateway's). */
#pragma once

/* The number of system call `name` on this architecture, or
 * __NR_SCMP_ERROR when neither libseccomp nor our table knows it. */
int cr_scmp_resolve(const char *name);
