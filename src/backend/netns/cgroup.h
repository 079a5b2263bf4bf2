/* SPDX-License-Identifier: Apache-2.0 */
/* cgroup.h -- resource limits for a sandbox on cgroup v1, v2 or both.
 *
 * Hosts differ: on this project's machines the memory, pids and cpu
 * controllers are mounted as cgroup v1 while the v2 hierarchy
 * (/sys/fs/cgroup/unified) has none of them; elsewhere everything is v2 at
 * /sys/fs/cgroup. cr_cgroup_detect() finds, per controller, where it lives;
 * a sandbox's cgroup is then one directory per hierarchy that holds a
 * controller it needs, named cleanroom/<sandbox_id>. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "util/error.h"

typedef enum cr_cgroup_controller { CR_CG_MEMORY, CR_CG_PIDS, CR_CG_CPU, CR_CG__COUNT } cr_cgroup_controller;

typedef struct cr_cgroup_layout {
	/* Mount point of each controller's hierarchy ("/sys/fs/cgroup/memory",
	 * "/sys/fs/cgroup"), or NULL when the controller is not available. */
	char *mount[CR_CG__COUNT];
	bool v2[CR_CG__COUNT]; /* that hierarchy is cgroup v2 */
	char *v2_mount;        /* the v2 hierarchy, even without controllers, or NULL */
} cr_cgroup_layout;

/* Reads /proc/self/mountinfo (and cgroup.controllers of v2). */
int cr_cgroup_detect(cr_cgroup_layout *l, cr_error **err);
void cr_cgroup_layout_clear(cr_cgroup_layout *l);

/* Reads the space-separated controller list of the v2 hierarchy mounted at
 * `mount` (its cgroup.controllers); returns a new string the caller frees, or
 * NULL when it cannot be read (then the hierarchy counts as controller-less). */
typedef char *(*cr_cgroup_controllers_fn)(const char *mount, void *data);
/* cr_cgroup_detect() on given text: `mountinfo` in /proc/<pid>/mountinfo
 * format; `read_controllers` (with `data`) is asked about the first cgroup2
 * mount only. A controller the v2 hierarchy offers is taken from there, else
 * from the first v1 mount whose super options name it. Fills *l (which the
 * caller clears); lines that are not well-formed are skipped. */
int cr_cgroup_detect_from(const char *mountinfo, cr_cgroup_controllers_fn read_controllers, void *data,
			  cr_cgroup_layout *l, cr_error **err);
/* "v1 (memory, pids, cpu)", "v2 (memory, pids, cpu)", "hybrid: ..." for doctor. */
char *cr_cgroup_describe(const cr_cgroup_layout *l);

typedef struct cr_cgroup_limits {
	long long memory_bytes; /* 0 = none; swap is limited to the same (no extra swap) */
	long long pids;         /* 0 = none */
	long long millicpus;    /* 0 = none; CFS quota over a 100 ms period */
} cr_cgroup_limits;

typedef struct cr_cgroup {
	char *dir[CR_CG__COUNT]; /* the sandbox's directory per controller (may repeat for v2), or NULL */
	char **all_dirs;         /* every distinct directory created, for removal */
	size_t n_dirs;
} cr_cgroup;

/* The directories cr_cgroup_create would make for `name`, without creating
 * them (for the resource record written before creation). */
int cr_cgroup_plan(const cr_cgroup_layout *l, const char *name, char ***dirs, size_t *n, cr_error **err);

/* Creates the sandbox's cgroup(s) and writes the limits. A limit whose
 * controller is unavailable is an error (never silently unenforced).
 * Controllers are created even without a limit so that processes can be
 * counted and killed. */
int cr_cgroup_create(const cr_cgroup_layout *l, const char *name, const cr_cgroup_limits *lim,
		     cr_cgroup **out, cr_error **err);
/* Moves pid into every directory of the cgroup. */
int cr_cgroup_attach(const cr_cgroup *cg, pid_t pid, cr_error **err);
/* Number of OOM kills in the memory controller so far (v1 memory.oom_control
 * "oom_kill", v2 memory.events "oom_kill"); 0 when unknown. */
uint64_t cr_cgroup_oom_kills(const cr_cgroup *cg);
/* Peak memory use in bytes (v1 memory.max_usage_in_bytes, v2 memory.peak), 0 when unknown. */
uint64_t cr_cgroup_memory_peak(const cr_cgroup *cg);
void cr_cgroup_free(cr_cgroup *cg);

/* Kills every process in the cgroup directory `dir` (SIGKILL, repeated until
 * cgroup.procs is empty or ~2 s passed) and removes the directory.
 * Idempotent: a missing directory is success. Used by teardown, also for
 * leftovers found at start-up. */
int cr_cgroup_remove_dir(const char *dir, cr_error **err);
/* Number of processes in the cgroup directory `dir` (its cgroup.procs, not
 * counting child cgroups), or -1 with *err (status ENOENT when the directory
 * is gone). */
long cr_cgroup_procs_count(const char *dir, cr_error **err);
