/* SPDX-License-Identifier: Apache-2.0 */
/* protocol.h -- the agent protocol: frames between a sandbox's agent (PID 1
 * inside the sandbox) and its owner on the host (the backend in
 * `cleanroom serve`, or a test driver).
 *
 * The same protocol runs over a socketpair (namespace backend) and over a
 * byte stream such as a virtio-serial port (a future VM guest agent), so it
 * is self-delimiting: every frame is
 *
 *     u32 length (big-endian, bytes that follow) | u8 type | u32 exec_id | payload
 *
 * with length >= 5 and at most CR_AGENT_MAX_FRAME. Control payloads are JSON
 * objects (EXEC, STARTED, EXIT, ERROR, HELLO); data payloads are raw bytes
 * (STDIN, STDOUT, STDERR); RESIZE is u16 cols | u16 rows; SIGNAL is u32 signo.
 * docs/internals/agent-protocol.md is the specification. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/error.h"

#define CR_AGENT_PROTOCOL_VERSION 1
#define CR_AGENT_HEADER_SIZE      9           /* length + type + exec_id */
#define CR_AGENT_MAX_FRAME        (1u << 20)  /* type + exec_id + payload */
#define CR_AGENT_MAX_DATA         (64u << 10) /* bytes of STDOUT/STDERR/STDIN per frame */

typedef enum cr_agent_type {
	/* agent -> host */
	CR_AGENT_HELLO = 1,   /* exec_id 0; {"version":1,"pid":1} once at start */
	CR_AGENT_STARTED = 2, /* {"pid":N} the execution is running */
	CR_AGENT_STDOUT = 3,  /* bytes; an empty payload means end of stdout */
	CR_AGENT_STDERR = 4,  /* bytes; an empty payload means end of stderr */
	CR_AGENT_EXIT = 5,    /* {"code":N} or {"signal":N,"code":128+N}; last frame of an execution */
	CR_AGENT_ERROR =
		6, /* {"message":"..."}; exec_id 0 = about the protocol, else the execution failed to start */
	/* host -> agent */
	CR_AGENT_EXEC = 16,      /* {"argv":[...],"env":[...],"cwd":"/workspace","uid":0,"gid":0,
				    "tty":false,"cols":80,"rows":24} (+ "internal":"extract") */
	CR_AGENT_STDIN = 17,     /* bytes for the execution's stdin */
	CR_AGENT_STDIN_EOF = 18, /* close the execution's stdin */
	CR_AGENT_RESIZE = 19,    /* u16 cols | u16 rows (big-endian), tty executions */
	CR_AGENT_SIGNAL = 20,    /* u32 signo (big-endian), sent to the execution's process group */
	CR_AGENT_SHUTDOWN = 21,  /* exec_id 0; kill every execution and exit */
} cr_agent_type;

typedef struct cr_agent_frame {
	uint8_t type;
	uint32_t exec_id;
	const unsigned char *payload; /* points into the decoder's buffer: valid until the next call */
	size_t len;
} cr_agent_frame;

/* Appends one encoded frame to out (a cr_buf, see util/buf.h). Returns 0 or -1
 * when the payload is larger than CR_AGENT_MAX_FRAME allows. */
struct cr_buf;
int cr_agent_encode(struct cr_buf *out, uint8_t type, uint32_t exec_id, const void *payload, size_t len);
/* The same with a JSON payload (encoded compactly). */
int cr_agent_encode_json(struct cr_buf *out, uint8_t type, uint32_t exec_id, const json_t *payload);

/* Incremental decoder over a byte stream. */
typedef struct cr_agent_decoder {
	unsigned char *buf;
	size_t len, cap, off;
	bool broken; /* a malformed frame was seen; the stream cannot be resynchronised */
} cr_agent_decoder;

void cr_agent_decoder_init(cr_agent_decoder *d);
void cr_agent_decoder_free(cr_agent_decoder *d);
/* Adds bytes read from the stream. */
void cr_agent_decoder_feed(cr_agent_decoder *d, const void *data, size_t len);
/* Returns 1 and fills *f when a whole frame is available, 0 when more bytes
 * are needed, -1 with *err when the stream is malformed (length out of range,
 * unknown type). After -1 every later call returns -1. */
int cr_agent_decoder_next(cr_agent_decoder *d, cr_agent_frame *f, cr_error **err);

/* Parses a control frame's JSON payload (capped, duplicate keys rejected). */
json_t *cr_agent_frame_json(const cr_agent_frame *f, cr_error **err);

/* Blocking helpers over a file descriptor (used by the agent, whose loop is
 * poll-driven, and by simple owners): write a whole buffer, retrying on
 * EINTR and partial writes. */
int cr_agent_write_all(int fd, const void *data, size_t len, cr_error **err);

/* The request of an EXEC frame, validated. */
typedef struct cr_agent_exec_req {
	char *internal; /* NULL for a workload command; "extract" or "read-file" to run the agent's
			   own binary as `cleanroom __<internal> ARGV...` (workspace upload/download) */
	char **argv; /* NULL-terminated, at least one element (for internal: its arguments, may be empty) */
	char **env;  /* NULL-terminated "K=V" strings */
	char *cwd;
	uint32_t uid, gid;
	bool tty;
	uint16_t cols, rows;
} cr_agent_exec_req;

/* Builds the JSON of an EXEC frame. */
json_t *cr_agent_exec_req_to_json(const cr_agent_exec_req *r);
/* Validates and reads it back: argv non-empty unless internal (at most 4096
 * entries, each at most 128 KiB), env entries contain '=', cwd absolute,
 * internal one of the known names. */
int cr_agent_exec_req_from_json(const json_t *j, cr_agent_exec_req *out, cr_error **err);
void cr_agent_exec_req_clear(cr_agent_exec_req *r);

const char *cr_agent_type_name(uint8_t type);
