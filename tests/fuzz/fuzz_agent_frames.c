/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz_agent_frames.c -- libFuzzer target for the agent protocol decoder.
 *
 * Frames cross a trust boundary in both directions (the workload can replace
 * a sandbox's agent), so the decoder must survive any byte stream however it
 * is split. The first input byte seeds the chunk sizes the rest is fed in;
 * every frame is checked against the caps, control payloads are parsed as
 * JSON, and an EXEC frame's request is validated and serialised back. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "agent/protocol.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_exec(const cr_agent_frame *f)
{
	cr_error *err = NULL;
	json_t *j = cr_agent_frame_json(f, &err);
	cr_agent_exec_req req = {0};
	if (j && cr_agent_exec_req_from_json(j, &req, &err) == 0) {
		if (!req.argv || !req.env || !req.cwd || (!req.internal && !req.argv[0]))
			abort();
		/* an accepted request serialises and reads back */
		json_t *again = cr_agent_exec_req_to_json(&req);
		cr_agent_exec_req back = {0};
		if (!again || cr_agent_exec_req_from_json(again, &back, NULL) != 0)
			abort();
		cr_agent_exec_req_clear(&back);
		json_decref(again);
	}
	cr_agent_exec_req_clear(&req);
	json_decref(j);
	cr_error_free(err);
}

static void check_frame(const cr_agent_frame *f)
{
	if (!cr_agent_type_name(f->type) || f->len > CR_AGENT_MAX_FRAME - 5)
		abort();
	if (f->type == CR_AGENT_EXEC) {
		check_exec(f);
	} else if (f->type == CR_AGENT_HELLO || f->type == CR_AGENT_STARTED || f->type == CR_AGENT_EXIT ||
		   f->type == CR_AGENT_ERROR) {
		cr_error *err = NULL;
		json_decref(cr_agent_frame_json(f, &err));
		cr_error_free(err);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	uint32_t seed = data[0];
	data++;
	size--;
	cr_agent_decoder d;
	cr_agent_decoder_init(&d);
	size_t off = 0;
	int rc = 0;
	while (off < size && rc >= 0) {
		seed = seed * 1103515245u + 12345u;
		size_t step = 1 + (seed >> 16) % 97;
		if (step > size - off)
			step = size - off;
		cr_agent_decoder_feed(&d, data + off, step);
		off += step;
		cr_agent_frame f;
		cr_error *err = NULL;
		while ((rc = cr_agent_decoder_next(&d, &f, &err)) == 1)
			check_frame(&f);
		if (rc < 0 && (!err || !d.broken))
			abort();
		cr_error_free(err);
	}
	cr_agent_decoder_free(&d);
	return 0;
}
