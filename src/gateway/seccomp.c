/* SPDX-License-Identifier: Apache-2.0 */
/* seccomp.c -- the gateway's confinement after its listeners are bound: an
 * unprivileged identity, no_new_privs, and a system call filter.
 *
 * The gateway parses traffic a sandbox controls, so it is written as if it
 * will one day be exploited. A network relay needs sockets, pipes, splice,
 * epoll, timers and memory, and nothing that runs programs, inspects other
 * processes, changes identity or touches kernel-wide state. The filter
 * allows by default (libevent, evdns, libc and the sanitizers use many
 * ordinary calls whose exact set changes between versions) and kills the
 * process on the calls listed below: an exploit that reaches one of them ends
 * the gateway, which ends its sandbox's egress, never anything more. Only the
 * native architecture is accepted. */
#include <errno.h>
#include <grp.h>
#include <sched.h>
#include <seccomp.h>
#include <stddef.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gateway/internal.h"
#include "util/scmp_names.h"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

/* LeakSanitizer stops the world with ptrace at exit; a sanitizer build keeps
 * ptrace so that its leak report still runs (docs/internals/gateway.md). */
#if defined(__SANITIZE_ADDRESS__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(leak_sanitizer)
#define SANITIZED 1
#endif
#endif
#ifndef SANITIZED
#define SANITIZED 0
#endif

/* clang-format off */
static const char *const kill_calls[] = {
	/* running programs, creating processes (threads stay possible) */
	"execve", "execveat", "fork", "vfork",
	/* other processes' memory */
	"process_vm_readv", "process_vm_writev", "kcmp", "pidfd_getfd",
	/* namespaces and the mount family */
	"unshare", "setns", "mount", "umount", "umount2", "pivot_root", "chroot",
	"move_mount", "open_tree", "fsopen", "fsmount", "fsconfig", "fspick", "mount_setattr",
	/* kernel attack surface a relay never needs */
	"bpf", "perf_event_open", "userfaultfd", "keyctl", "add_key", "request_key",
	"kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module",
	"lookup_dcookie", "open_by_handle_at", "name_to_handle_at", "iopl", "ioperm",
	/* host-wide state */
	"reboot", "swapon", "swapoff", "acct", "quotactl", "quotactl_fd", "syslog",
	"settimeofday", "clock_settime", "clock_adjtime", "adjtimex", "vhangup",
	/* identity: it was dropped once and for all */
	"setuid", "setgid", "setreuid", "setregid", "setresuid", "setresgid",
	"setgroups", "setfsuid", "setfsgid", "capset", "personality",
	NULL,
};
/* clang-format on */

/* "Not implemented", so that libc falls back: clone3 hides its flags from
 * the filter in memory, io_uring performs calls the filter never sees. */
static const char *const enosys_calls[] = {"clone3", "io_uring_setup", "io_uring_enter", "io_uring_register",
					   NULL};

static void ctx_releasep(scmp_filter_ctx *ctx)
{
	if (*ctx)
		seccomp_release(*ctx);
}

static int rule(scmp_filter_ctx ctx, uint32_t action, const char *name, unsigned n_cmp,
		const struct scmp_arg_cmp *cmp, cr_error **err)
{
	int nr = cr_scmp_resolve(name);
	if (nr == __NR_SCMP_ERROR)
		return 0; /* absent on this architecture */
	int rc = seccomp_rule_add_array(ctx, action, nr, n_cmp, cmp);
	if (rc < 0)
		return cr_error_make(err, -rc, CR_REASON_INTERNAL, "seccomp rule for '%s'", name);
	return 0;
}

static int add_lists(scmp_filter_ctx ctx, cr_error **err)
{
	for (const char *const *n = kill_calls; *n; n++)
		if (rule(ctx, SCMP_ACT_KILL_PROCESS, *n, 0, NULL, err) < 0)
			return -1;
	if (!SANITIZED && rule(ctx, SCMP_ACT_KILL_PROCESS, "ptrace", 0, NULL, err) < 0)
		return -1;
	for (const char *const *n = enosys_calls; *n; n++)
		if (rule(ctx, SCMP_ACT_ERRNO(ENOSYS), *n, 0, NULL, err) < 0)
			return -1;
	return 0;
}

/* clone: only threads (CLONE_VM) and never new namespaces. s390 passes the
 * flags as the second argument. */
static int add_clone_rules(scmp_filter_ctx ctx, cr_error **err)
{
	static const unsigned long ns_flags[] = {CLONE_NEWNS,   CLONE_NEWCGROUP, CLONE_NEWUTS, CLONE_NEWIPC,
						 CLONE_NEWUSER, CLONE_NEWPID,    CLONE_NEWNET, CLONE_NEWTIME};
	uint32_t arch = seccomp_arch_native();
	unsigned arg = (arch == SCMP_ARCH_S390 || arch == SCMP_ARCH_S390X) ? 1 : 0;
	struct scmp_arg_cmp no_vm = SCMP_CMP(arg, SCMP_CMP_MASKED_EQ, CLONE_VM, 0);
	if (rule(ctx, SCMP_ACT_KILL_PROCESS, "clone", 1, &no_vm, err) < 0)
		return -1;
	for (size_t i = 0; i < sizeof(ns_flags) / sizeof(ns_flags[0]); i++) {
		struct scmp_arg_cmp c = SCMP_CMP(arg, SCMP_CMP_MASKED_EQ, ns_flags[i], ns_flags[i]);
		if (rule(ctx, SCMP_ACT_KILL_PROCESS, "clone", 1, &c, err) < 0)
			return -1;
	}
	return 0;
}

/* socket: AF_UNIX (1), AF_INET (2) and AF_INET6 (10) only; netlink, packet,
 * alg, vsock, ... fail with EAFNOSUPPORT. */
static int add_socket_rules(scmp_filter_ctx ctx, cr_error **err)
{
	uint32_t act = SCMP_ACT_ERRNO(EAFNOSUPPORT);
	struct scmp_arg_cmp high = SCMP_CMP(0, SCMP_CMP_GT, AF_INET6);
	if (rule(ctx, act, "socket", 1, &high, err) < 0)
		return -1;
	for (int family = 0; family < AF_INET6; family++) {
		if (family == AF_UNIX || family == AF_INET)
			continue;
		struct scmp_arg_cmp c = SCMP_CMP(0, SCMP_CMP_EQ, (scmp_datum_t)family);
		if (rule(ctx, act, "socket", 1, &c, err) < 0)
			return -1;
	}
	return 0;
}

int cr_gw_seccomp_install(cr_error **err)
{
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return cr_error_make(err, errno, CR_REASON_INTERNAL, "prctl(PR_SET_NO_NEW_PRIVS)");
	__attribute__((cleanup(ctx_releasep))) scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
	if (!ctx)
		return cr_error_make(err, ENOMEM, CR_REASON_INTERNAL, "seccomp_init");
	int rc = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
	if (rc < 0)
		return cr_error_make(err, -rc, CR_REASON_INTERNAL, "seccomp filter attributes");
	if (add_lists(ctx, err) < 0 || add_clone_rules(ctx, err) < 0 || add_socket_rules(ctx, err) < 0)
		return -1;
	rc = seccomp_load(ctx);
	if (rc < 0)
		return cr_error_make(err, -rc, CR_REASON_INTERNAL, "load the gateway's seccomp filter");
	return 0;
}

int cr_gw_drop_privileges(uid_t uid, gid_t gid, cr_error **err)
{
	if (uid == 0 && gid == 0)
		return 0;
	/* without root, setgroups fails; the identity may already be the one asked for */
	if (setgroups(0, NULL) < 0 && geteuid() == 0)
		return cr_error_make(err, errno, CR_REASON_INTERNAL, "setgroups(0)");
	if (setresgid(gid, gid, gid) < 0)
		return cr_error_make(err, errno, CR_REASON_INTERNAL, "setresgid(%u)", (unsigned)gid);
	if (setresuid(uid, uid, uid) < 0)
		return cr_error_make(err, errno, CR_REASON_INTERNAL, "setresuid(%u)", (unsigned)uid);
	if (uid != 0 && (setuid(0) == 0 || seteuid(0) == 0))
		return cr_error_make(err, 0, CR_REASON_INTERNAL, "uid 0 could be regained after the drop");
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		return cr_error_make(err, errno, CR_REASON_INTERNAL, "prctl(PR_SET_DUMPABLE)");
	return 0;
}
