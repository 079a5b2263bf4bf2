/* SPDX-License-Identifier: Apache-2.0 */
/* seccomp.c -- the sandbox's system call filter. Everything is allowed except
 * a fixed deny list of calls that reach kernel surface a workload never needs
 * and that has a history of privilege escalations or that would let it undo
 * its confinement (new user namespaces, keyrings, bpf, perf, userfaultfd,
 * kexec, modules, the mount family, clocks, reboot, swap, acct, quotas, ...);
 * docs/security.md gives the reason for each entry. Only the native
 * architecture is allowed: a call made through another ABI (i386 int 0x80,
 * x32) kills the process, since the deny list would not match it. */
#include "backend/netns/harden.h"
#include "util/scmp_names.h"

#include <errno.h>
#include <sched.h>
#include <seccomp.h>
#include <stddef.h>
#include <string.h>

/* Denied outright with EPERM. Names unknown to the running libseccomp, or
 * absent on this architecture, are skipped. One list feeds both the filter
 * and cr_harden_denied_syscalls. */
/* clang-format off */
#define DENY_EPERM(X)                                                                      \
	/* namespaces: entering another one */                                             \
	X("setns")                                                                         \
	/* kernel keyrings: not namespaced, a shared attack surface */                     \
	X("keyctl") X("add_key") X("request_key")                                          \
	/* kernel instrumentation and memory tricks used by exploits */                    \
	X("bpf") X("perf_event_open") X("userfaultfd") X("lookup_dcookie")                 \
	/* replacing the kernel, loading code into it */                                   \
	X("kexec_load") X("kexec_file_load")                                               \
	X("init_module") X("finit_module") X("delete_module")                              \
	/* the mount family: the sandbox's tree is complete before the filter */           \
	X("mount") X("umount") X("umount2") X("pivot_root") X("chroot")                    \
	X("move_mount") X("open_tree") X("fsopen") X("fsmount") X("fsconfig")              \
	X("fspick") X("mount_setattr")                                                     \
	/* host-wide state: swap, process accounting, quotas, reboot */                    \
	X("swapon") X("swapoff") X("reboot") X("acct") X("quotactl") X("quotactl_fd")      \
	/* clocks are not namespaced (time namespaces only offset monotonic/boot) */       \
	X("clock_settime") X("clock_settime64") X("clock_adjtime") X("clock_adjtime64")    \
	X("settimeofday") X("adjtimex") X("stime")                                         \
	/* kernel log; file handles that bypass path resolution ("shocker") */             \
	X("syslog") X("open_by_handle_at") X("name_to_handle_at")                          \
	/* raw I/O ports, terminal hangup, long-gone NFS daemon control */                 \
	X("iopl") X("ioperm") X("vhangup") X("nfsservctl")
/* clang-format on */

/* Denied with ENOSYS: callers treat "not implemented" as a reason to fall
 * back. clone3 passes its flags in memory, which seccomp cannot inspect, so
 * libc must fall back to clone, whose flags the CLONE_NEWUSER rule checks.
 * io_uring performs opens, reads, connects, ... inside the kernel without the
 * corresponding system calls, so the filter would never see them; it is also
 * a large, often exploited surface. Programs that use it fall back to
 * ordinary calls on ENOSYS. */
#define DENY_ENOSYS(X) X("clone3") X("io_uring_setup") X("io_uring_enter") X("io_uring_register")

#define NAME(n) n,
static const char *const deny_eperm[] = {DENY_EPERM(NAME) NULL};
static const char *const deny_enosys[] = {DENY_ENOSYS(NAME) NULL};
const char *const cr_harden_denied_syscalls[] = {
	"unshare(CLONE_NEWUSER)",
	"clone(CLONE_NEWUSER)",
	DENY_EPERM(NAME) DENY_ENOSYS(NAME) NULL,
};

static void ctx_releasep(scmp_filter_ctx *ctx)
{
	if (*ctx)
		seccomp_release(*ctx);
}

static int add_list(scmp_filter_ctx ctx, const char *const *names, int errno_value, cr_error **err)
{
	for (const char *const *n = names; *n; n++) {
		int nr = cr_scmp_resolve(*n);
		if (nr == __NR_SCMP_ERROR)
			continue;
		int rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO((unsigned)errno_value), nr, 0);
		if (rc < 0)
			return cr_error_make(err, -rc, CR_REASON_RUNTIME_LAUNCH_FAILED,
					     "seccomp rule for '%s'", *n);
	}
	return 0;
}

/* clone and unshare with CLONE_NEWUSER: a nested user namespace gives back a
 * full capability set over new namespaces, the door to most unprivileged
 * kernel exploits. Other namespace flags need capabilities the workload no
 * longer has. s390 passes clone's flags as the second argument. */
static int add_newuser_rules(scmp_filter_ctx ctx, cr_error **err)
{
	uint32_t arch = seccomp_arch_native();
	unsigned clone_arg = (arch == SCMP_ARCH_S390 || arch == SCMP_ARCH_S390X) ? 1 : 0;
	struct {
		const char *name;
		unsigned arg;
	} rules[] = {{"unshare", 0}, {"clone", clone_arg}};
	for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++) {
		int nr = seccomp_syscall_resolve_name(rules[i].name);
		if (nr == __NR_SCMP_ERROR)
			continue;
		struct scmp_arg_cmp cmp =
			SCMP_CMP(rules[i].arg, SCMP_CMP_MASKED_EQ, CLONE_NEWUSER, CLONE_NEWUSER);
		int rc = seccomp_rule_add_array(ctx, SCMP_ACT_ERRNO(EPERM), nr, 1, &cmp);
		if (rc < 0)
			return cr_error_make(err, -rc, CR_REASON_RUNTIME_LAUNCH_FAILED,
					     "seccomp rule for '%s'", rules[i].name);
	}
	return 0;
}

static int set_attrs(scmp_filter_ctx ctx, cr_error **err)
{
	int rc = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
	if (rc == 0)
		rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 1);
	if (rc < 0)
		return cr_error_make(err, -rc, CR_REASON_RUNTIME_LAUNCH_FAILED, "seccomp filter attributes");
	return 0;
}

int cr_harden_seccomp(cr_error **err)
{
	__attribute__((cleanup(ctx_releasep))) scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
	if (!ctx)
		return cr_error_make(err, ENOMEM, CR_REASON_RUNTIME_LAUNCH_FAILED, "seccomp_init");
	if (set_attrs(ctx, err) < 0 || add_newuser_rules(ctx, err) < 0 ||
	    add_list(ctx, deny_eperm, EPERM, err) < 0 || add_list(ctx, deny_enosys, ENOSYS, err) < 0)
		return -1;
	int rc = seccomp_load(ctx);
	if (rc < 0)
		return cr_error_make(err, -rc, CR_REASON_RUNTIME_LAUNCH_FAILED, "load seccomp filter");
	return 0;
}
