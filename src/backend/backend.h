/* SPDX-License-Identifier: Apache-2.0 */
/* backend.h -- the sandbox backend interface and the capability handshake
 * (spec §7, §7.1, §7.2).
 *
 * A backend is one struct of function pointers and one exported instance per
 * implementation (cr_backend_netns today; a VM backend later). The control
 * plane owns sandboxes through this interface only: provision a sandbox for a
 * compiled policy, run executions in it (events come back through
 * event_fd/next_event, so one event loop can serve many sandboxes), move files
 * in and out, and terminate it. Every backend declares what it enforces in a
 * capability map, and launch validation refuses policies that need more. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "net/pool.h"
#include "policy/policy.h"
#include "util/error.h"
#include "workspace/workspace.h"

/* ---- capability handshake (spec §7.2) ---- */

typedef struct cr_capability {
	const char *key; /* "network_default_deny", ... */
	bool value;
} cr_capability;

typedef struct cr_backend_caps {
	const char *backend_name;
	const char *backend_version;
	const cr_capability *capabilities; /* the spec's required and optional keys, all listed */
	size_t n_capabilities;
	const char *notes; /* why a key is false, in one paragraph; may be NULL */
} cr_backend_caps;

/* ---- doctor ---- */

typedef enum cr_check_status { CR_CHECK_PASS, CR_CHECK_WARN, CR_CHECK_FAIL } cr_check_status;

typedef struct cr_check {
	char *name; /* "user namespaces" */
	cr_check_status status;
	char *detail; /* what was found */
	char *fix;    /* how to fix it, NULL when passing */
} cr_check;

typedef struct cr_checks {
	cr_check *items;
	size_t n, cap;
} cr_checks;

void cr_checks_add(cr_checks *c, const char *name, cr_check_status st, const char *fix, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
void cr_checks_clear(cr_checks *c);

/* ---- sandboxes and executions ---- */

typedef struct cr_sandbox_spec {
	const char *sandbox_id;  /* [a-z0-9-]{1,64}, unique on the host */
	const cr_policy *policy; /* the compiled policy; never re-read from files (spec §6.1.1) */
	const char *state_dir;   /* the server's state directory; the backend keeps its records below it */
	const char *image_dir;   /* an unpacked image to use as the root, or NULL for the host view */
	uid_t workload_uid; /* uid inside the sandbox that executions run as by default (0 = root inside) */
	/* The sandbox's link to its gateway (egress), or NULL for none: then
	 * the sandbox has loopback only. The backend creates the link before
	 * the sandbox is ready (host side lease->host_ifname with gateway_addr,
	 * eth0 inside with sandbox_addr, default route via the gateway, IPv6
	 * off), points /etc/resolv.conf at the gateway, and removes the link at
	 * terminate. Firewall and gateway are the server's. */
	const cr_net_lease *net;
} cr_sandbox_spec;

typedef struct cr_exec_spec {
	char *const *argv;      /* NULL-terminated */
	char *const *env;       /* NULL-terminated "K=V"; NULL = a minimal default environment */
	char *const *extra_env; /* NULL or "K=V" entries added to env (replacing the same K) */
	const char *cwd;        /* NULL = /workspace */
	bool tty;
	uint16_t cols, rows;
} cr_exec_spec;

typedef enum cr_exec_event_type {
	CR_EVENT_STARTED,
	CR_EVENT_STDOUT,
	CR_EVENT_STDERR,
	CR_EVENT_EXIT,
} cr_exec_event_type;

typedef struct cr_exec_event {
	cr_exec_event_type type;
	uint32_t exec_id;
	const unsigned char
		*data; /* STDOUT/STDERR bytes (empty = end of stream); valid until the next call */
	size_t len;
	int exit_code;       /* EXIT: the code, or 128 + signal */
	int term_signal;     /* EXIT: the signal that ended it, 0 if it exited */
	bool oom_killed;     /* EXIT: the memory limit killed it (exit_code 137) */
	const char *message; /* EXIT: why it failed to start or was killed, or NULL */
} cr_exec_event;

typedef struct cr_sandbox cr_sandbox; /* opaque, per backend */

struct cr_backend {
	const char *name;
	/* The capability map (static data). */
	void (*capabilities)(cr_backend_caps *out);
	/* Host checks for `cleanroom doctor`. */
	void (*doctor)(cr_checks *out);
	/* Creates a sandbox and starts its agent without waiting for it: returns
	 * at once with *out set (provisioning goes on in the background). On
	 * failure nothing is left behind. */
	int (*provision_start)(const cr_sandbox_spec *spec, cr_sandbox **out, cr_error **err);
	/* Makes progress without blocking, when event_fd is readable: 1 = ready
	 * for executions, 0 = not yet, -1 = provisioning failed (*err says why;
	 * the caller terminates sb). Returns 1 once ready. */
	int (*provision_step)(cr_sandbox *sb, cr_error **err);
	/* Starts an execution; its id is returned in *exec_id. */
	int (*exec)(cr_sandbox *sb, const cr_exec_spec *spec, uint32_t *exec_id, cr_error **err);
	int (*write_stdin)(cr_sandbox *sb, uint32_t exec_id, const void *data, size_t len, cr_error **err);
	int (*close_stdin)(cr_sandbox *sb, uint32_t exec_id, cr_error **err);
	int (*resize)(cr_sandbox *sb, uint32_t exec_id, uint16_t cols, uint16_t rows, cr_error **err);
	/* Sends signo to the execution's process group. */
	int (*signal)(cr_sandbox *sb, uint32_t exec_id, int signo, cr_error **err);
	/* Unpacks a tar stream read from archive_fd into dest (an absolute path
	 * inside the sandbox, e.g. /workspace), owned by the workload user; fills
	 * *stats (when not NULL) with what was written. */
	int (*upload_archive)(cr_sandbox *sb, int archive_fd, const char *dest, cr_workspace_stats *stats,
			      cr_error **err);
	/* Copies a file from inside the sandbox to out_fd, at most max bytes. */
	int (*download_file)(cr_sandbox *sb, const char *path, uint64_t max, int out_fd, cr_error **err);
	/* A descriptor that becomes readable when events may be available. */
	int (*event_fd)(cr_sandbox *sb);
	/* Returns 1 with the next event, 0 when none is available without
	 * blocking, -1 with *err when the sandbox is gone. */
	int (*next_event)(cr_sandbox *sb, cr_exec_event *ev, cr_error **err);
	/* Kills everything in the sandbox, removes every host resource and frees
	 * sb. Idempotent with respect to host state; sb is invalid afterwards. */
	int (*terminate)(cr_sandbox *sb, cr_error **err);
	/* Removes whatever sandboxes of this backend left below state_dir (after
	 * a crash of their owner). Returns the number of sandboxes cleaned. */
	int (*cleanup_leftovers)(const char *state_dir, cr_error **err);
};

extern const struct cr_backend cr_backend_netns;

/* The backends built into this binary, NULL-terminated. */
extern const struct cr_backend *const cr_backends[];
const struct cr_backend *cr_backend_find(const char *name);

/* The hidden `__agent` command of the binary: what a sandbox runs as its
 * PID 1 (see netns/agent_entry.c). */
int cr_backend_agent_main(int argc, char **argv);

/* Provisions synchronously: provision_start, then provision_step whenever
 * event_fd is readable, for at most timeout_ms. On failure or timeout the
 * sandbox is terminated and nothing is left. For tools and tests; the server
 * drives the two steps from its event loop. */
int cr_backend_provision(const struct cr_backend *be, const cr_sandbox_spec *spec, int timeout_ms,
			 cr_sandbox **out, cr_error **err);

/* Looks a capability up; false when absent. */
bool cr_backend_caps_get(const cr_backend_caps *c, const char *key);
