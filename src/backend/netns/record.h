/* SPDX-License-Identifier: Apache-2.0 */
/* record.h -- the resource record of a sandbox and its one teardown.
 *
 * Every host resource a sandbox uses (its processes, cgroup directories, uid
 * range, state directory) is appended to <sandbox dir>/resources.jsonl before
 * it is created (or, for a process, as soon as its pid exists), so that one
 * idempotent routine can remove everything: at terminate, after a failed
 * provision, and at start-up for sandboxes whose owner died. The owner holds
 * an flock on <sandbox dir>/owner.lock for as long as it lives; a sandbox
 * whose lock can be taken has no owner and is a leftover. */
#pragma once

#include <stdint.h>
#include <sys/types.h>

#include "util/error.h"

typedef struct cr_record {
	int fd; /* resources.jsonl, O_APPEND */
	char *path;
} cr_record;

/* Opens (creating) the record in dir. */
int cr_record_open(cr_record *r, const char *dir, cr_error **err);
void cr_record_close(cr_record *r);

/* Appends one resource; each line is written with one write(2) and fsync'd. */
int cr_record_cgroup(cr_record *r, const char *path, cr_error **err);
int cr_record_process(cr_record *r, pid_t pid, cr_error **err);
int cr_record_file(cr_record *r, const char *path, cr_error **err);

/* Removes every resource listed in dir/resources.jsonl (processes killed,
 * cgroups emptied and removed, files unlinked), then dir itself and all it
 * holds. Missing resources are fine. Returns 0, or -1 with *err describing
 * the first resource that could not be removed (the others are still
 * attempted). */
int cr_record_teardown(const char *dir, cr_error **err);

/* The start time of a process (field 22 of /proc/PID/stat), 0 if it is gone. */
uint64_t cr_proc_starttime(pid_t pid);
