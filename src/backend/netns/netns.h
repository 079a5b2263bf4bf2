/* SPDX-License-Identifier: Apache-2.0 */
/* netns.h -- internals shared by the files of the namespace backend. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "agent/protocol.h"
#include "backend/backend.h"
#include "backend/netns/cgroup.h"
#include "backend/netns/record.h"

/* Bounds on waiting for the agent on the caller's thread: a file transfer
 * (upload or download) ends within this time, and a write to the agent's
 * socket that cannot proceed for CR_NETNS_SEND_TIMEOUT_S fails. */
#define CR_NETNS_FILE_OP_TIMEOUT_MS 60000
#define CR_NETNS_SEND_TIMEOUT_S     30

/* A frame that arrived while a synchronous operation (upload, download) was
 * waiting for its own execution, kept for next_event. */
typedef struct cr_queued_frame {
	uint8_t type;
	uint32_t exec_id;
	unsigned char *payload;
	size_t len;
	struct cr_queued_frame *next;
} cr_queued_frame;

struct cr_sandbox {
	char *id;
	char *dir;   /* <state>/netns/<id> */
	int lock_fd; /* flock on <dir>/owner.lock while we own it */
	cr_record record;
	cr_cgroup *cgroup; /* NULL when running without cgroups */
	pid_t agent_pid;
	int pidfd;
	int ctl_fd;
	int spawn_err_fd; /* the child's error pipe while provisioning, else -1 */
	uid_t workload_uid;
	bool has_net; /* net: the link to the gateway, created when the agent is up */
	cr_net_lease net;
	uint32_t next_exec_id;
	cr_agent_decoder dec;
	cr_queued_frame *queue, *queue_tail;
	unsigned char *held;  /* payload of the event last returned from the queue */
	char *exit_message;   /* message of the event last returned */
	char *start_error[8]; /* ERROR messages waiting for their EXIT, by exec_id % 8 */
	uint64_t oom_at_start;
	bool dead;
	bool dir_created;
};

/* Sends one frame to the agent. */
int cr_netns_send(cr_sandbox *sb, uint8_t type, uint32_t exec_id, const void *payload, size_t len,
		  cr_error **err);
/* Reads what the agent sent so far and returns the next frame (1), nothing
 * within timeout_ms (0: do not wait; -1: wait as long as it takes), or -1
 * when the agent is gone. */
int cr_netns_next_frame(cr_sandbox *sb, cr_agent_frame *f, int timeout_ms, cr_error **err);
/* Keeps a frame for later (a copy), and takes back the oldest one kept for
 * one execution (its payload handed over in *payload). */
void cr_netns_queue(cr_sandbox *sb, const cr_agent_frame *f);
bool cr_netns_take_queued(cr_sandbox *sb, uint32_t exec_id, cr_agent_frame *f, unsigned char **payload);
/* Starts an execution from a request; returns its id. */
int cr_netns_start(cr_sandbox *sb, cr_agent_exec_req *req, uint32_t *exec_id, cr_error **err);

/* The vtable entries implemented in netns_exec.c and netns_files.c. */
int cr_netns_exec(cr_sandbox *sb, const cr_exec_spec *spec, uint32_t *exec_id, cr_error **err);
int cr_netns_write_stdin(cr_sandbox *sb, uint32_t exec_id, const void *data, size_t len, cr_error **err);
int cr_netns_close_stdin(cr_sandbox *sb, uint32_t exec_id, cr_error **err);
int cr_netns_resize(cr_sandbox *sb, uint32_t exec_id, uint16_t cols, uint16_t rows, cr_error **err);
int cr_netns_signal(cr_sandbox *sb, uint32_t exec_id, int signo, cr_error **err);
int cr_netns_event_fd(cr_sandbox *sb);
int cr_netns_next_event(cr_sandbox *sb, cr_exec_event *ev, cr_error **err);
int cr_netns_upload(cr_sandbox *sb, int archive_fd, const char *dest, cr_workspace_stats *stats,
		    cr_error **err);
int cr_netns_download(cr_sandbox *sb, const char *path, uint64_t max, int out_fd, cr_error **err);
