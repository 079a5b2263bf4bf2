/* SPDX-License-Identifier: Apache-2.0 */
/* scmp_names.c -- see scmp_names.h.
 *
 * Calls added after Linux 5.1 have the same number on every architecture
 * (but alpha). A libseccomp older than the call does not know its name; the
 * number still lets a filter deny it, which matters most for clone3. */
#include "util/scmp_names.h"

#include <seccomp.h>
#include <stddef.h>
#include <string.h>

int cr_scmp_resolve(const char *name)
{
	static const struct {
		const char *name;
		int nr;
	} unified[] = {
		{"io_uring_setup", 425}, {"io_uring_enter", 426}, {"io_uring_register", 427},
		{"open_tree", 428},      {"move_mount", 429},     {"fsopen", 430},
		{"fsconfig", 431},       {"fsmount", 432},        {"fspick", 433},
		{"clone3", 435},         {"pidfd_getfd", 438},    {"mount_setattr", 442},
		{"quotactl_fd", 443},
	};
	int nr = seccomp_syscall_resolve_name(name);
#ifndef __alpha__
	for (size_t i = 0; nr == __NR_SCMP_ERROR && i < sizeof(unified) / sizeof(unified[0]); i++)
		if (strcmp(unified[i].name, name) == 0)
			nr = unified[i].nr;
#endif
	return nr;
}
