/* SPDX-License-Identifier: Apache-2.0 */
/* caps.c -- the capability sets and no_new_privs of a sandbox's first process.
 * It runs as root inside its own user namespace, so it starts with every
 * capability over that namespace; all but the few the agent needs to run
 * executions as another user are removed from the bounding set, so that no
 * later execve (even of a setuid or file-capability binary) can get them back.
 * The kept set, and why each member is harmless, is in docs/security.md. */
#include "backend/netns/harden.h"

#include <errno.h>
#include <stddef.h>
#include <sys/capability.h>
#include <sys/prctl.h>

/* Kept (bounding, permitted, effective), all scoped to the sandbox's user
 * namespace: changing to the execution's user and group, fixing ownership
 * and modes of workspace files, signalling its own processes, binding low
 * ports in its own network namespace. CAP_SYS_ADMIN, CAP_NET_ADMIN,
 * CAP_SYS_PTRACE, CAP_SYS_CHROOT, CAP_SETFCAP, CAP_MKNOD, ... are gone. */
static const cap_value_t kept_caps[] = {
	CAP_SETUID, CAP_SETGID, CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_FOWNER, CAP_KILL, CAP_NET_BIND_SERVICE,
};

#define N_KEPT (sizeof(kept_caps) / sizeof(kept_caps[0]))

static void cap_freep(cap_t *c)
{
	if (*c)
		cap_free(*c);
}

static bool is_kept(cap_value_t c)
{
	for (size_t i = 0; i < N_KEPT; i++)
		if (kept_caps[i] == c)
			return true;
	return false;
}

/* Drops from the bounding set every capability not kept; CAP_SETPCAP, which
 * dropping requires, goes last. */
static int drop_bounding(cr_error **err)
{
	cap_value_t max = (cap_value_t)cap_max_bits();
	for (cap_value_t c = 0; c < max; c++) {
		if (is_kept(c) || c == CAP_SETPCAP)
			continue;
		if (cap_drop_bound(c) < 0 && errno != EINVAL)
			return cr_error_make(err, errno, CR_REASON_RUNTIME_LAUNCH_FAILED,
					     "drop capability %d from the bounding set", (int)c);
	}
	if (cap_drop_bound(CAP_SETPCAP) < 0)
		return cr_error_make(err, errno, CR_REASON_RUNTIME_LAUNCH_FAILED,
				     "drop CAP_SETPCAP from the bounding set");
	return 0;
}

/* Permitted and effective become the kept set, inheritable empty. */
static int limit_process_sets(cr_error **err)
{
	__attribute__((cleanup(cap_freep))) cap_t caps = cap_init();
	if (!caps)
		return cr_error_make(err, errno, CR_REASON_RUNTIME_LAUNCH_FAILED, "cap_init");
	if (cap_set_flag(caps, CAP_PERMITTED, (int)N_KEPT, kept_caps, CAP_SET) < 0 ||
	    cap_set_flag(caps, CAP_EFFECTIVE, (int)N_KEPT, kept_caps, CAP_SET) < 0)
		return cr_error_make(err, errno, CR_REASON_RUNTIME_LAUNCH_FAILED, "cap_set_flag");
	if (cap_set_proc(caps) < 0)
		return cr_error_make(err, errno, CR_REASON_RUNTIME_LAUNCH_FAILED, "set process capabilities");
	return 0;
}

int cr_harden_capabilities(cr_error **err)
{
	if (cap_reset_ambient() < 0 && errno != EINVAL)
		return cr_error_make(err, errno, CR_REASON_RUNTIME_LAUNCH_FAILED,
				     "clear ambient capabilities");
	if (drop_bounding(err) < 0)
		return -1;
	return limit_process_sets(err);
}

int cr_harden_no_new_privs(cr_error **err)
{
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return cr_error_make(err, errno, CR_REASON_RUNTIME_LAUNCH_FAILED, "set no_new_privs");
	return 0;
}
