/* SPDX-License-Identifier: Apache-2.0 */
/* protocol.c -- the agent protocol's frame codec and EXEC request schema.
 *
 * Encoding appends a frame to a capped cr_buf; decoding is incremental over
 * an arbitrarily split byte stream and refuses, as soon as the header shows
 * it, a length out of range or an unknown type (the stream cannot be
 * resynchronised after that, so the decoder stays broken). Everything here
 * sees bytes from the other side of a trust boundary (a sandbox's agent can
 * be replaced by the workload's own code), so nothing may crash, read past a
 * buffer or grow without a cap. docs/internals/agent-protocol.md is the
 * specification. */
#include "agent/protocol.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/buf.h"
#include "util/cleanup.h"
#include "util/fileio.h"
#include "util/xalloc.h"

/* Bytes the decoder holds unconsumed at most: two whole frames. A reader
 * feeds a bounded chunk and then takes every complete frame, so this is only
 * reached by a caller that feeds without ever calling _next. */
#define DECODER_LIMIT (2 * (4 + (size_t)CR_AGENT_MAX_FRAME))

#define MAX_ARGS      4096
#define MAX_ARG_BYTES (128u << 10)

static const char *const type_names[] = {
	[CR_AGENT_HELLO] = "HELLO",   [CR_AGENT_STARTED] = "STARTED", [CR_AGENT_STDOUT] = "STDOUT",
	[CR_AGENT_STDERR] = "STDERR", [CR_AGENT_EXIT] = "EXIT",       [CR_AGENT_ERROR] = "ERROR",
	[CR_AGENT_EXEC] = "EXEC",     [CR_AGENT_STDIN] = "STDIN",     [CR_AGENT_STDIN_EOF] = "STDIN_EOF",
	[CR_AGENT_RESIZE] = "RESIZE", [CR_AGENT_SIGNAL] = "SIGNAL",   [CR_AGENT_SHUTDOWN] = "SHUTDOWN",
};

const char *cr_agent_type_name(uint8_t type)
{
	if (type < sizeof(type_names) / sizeof(type_names[0]) && type_names[type])
		return type_names[type];
	return NULL;
}

static void put_u32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

static uint32_t get_u32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

int cr_agent_encode(struct cr_buf *out, uint8_t type, uint32_t exec_id, const void *payload, size_t len)
{
	if (len > CR_AGENT_MAX_FRAME - 5) {
		errno = E2BIG;
		return -1;
	}
	unsigned char head[CR_AGENT_HEADER_SIZE];
	put_u32(head, (uint32_t)(len + 5));
	head[4] = type;
	put_u32(head + 5, exec_id);
	size_t before = out->len;
	if (cr_buf_append(out, head, sizeof(head)) < 0)
		return -1;
	if (len && cr_buf_append(out, payload, len) < 0) {
		out->len = before; /* leave no half frame behind */
		if (out->data)
			out->data[before] = '\0';
		return -1;
	}
	return 0;
}

int cr_agent_encode_json(struct cr_buf *out, uint8_t type, uint32_t exec_id, const json_t *payload)
{
	cleanup_free char *text = json_dumps(payload, JSON_COMPACT);
	if (!text) {
		errno = EINVAL;
		return -1;
	}
	return cr_agent_encode(out, type, exec_id, text, strlen(text));
}

void cr_agent_decoder_init(cr_agent_decoder *d)
{
	*d = (cr_agent_decoder){0};
}

void cr_agent_decoder_free(cr_agent_decoder *d)
{
	free(d->buf);
	cr_agent_decoder_init(d);
}

void cr_agent_decoder_feed(cr_agent_decoder *d, const void *data, size_t len)
{
	if (d->broken || len == 0)
		return;
	if (d->off > 0) { /* drop consumed frames before growing */
		memmove(d->buf, d->buf + d->off, d->len - d->off);
		d->len -= d->off;
		d->off = 0;
	}
	if (len > DECODER_LIMIT - d->len) {
		d->broken = true; /* reported by the next call to _next */
		return;
	}
	d->buf = cr_xgrow(d->buf, &d->cap, d->len + len, 1);
	memcpy(d->buf + d->len, data, len);
	d->len += len;
}

int cr_agent_decoder_next(cr_agent_decoder *d, cr_agent_frame *f, cr_error **err)
{
	if (d->broken)
		return cr_error_make(err, 0, CR_REASON_INTERNAL,
				     "agent frame stream is malformed or overran its buffer");
	size_t avail = d->len - d->off;
	if (avail < 4)
		return 0;
	const unsigned char *p = d->buf + d->off;
	uint32_t len = get_u32(p);
	if (len < 5 || len > CR_AGENT_MAX_FRAME) {
		d->broken = true;
		return cr_error_make(err, 0, CR_REASON_INTERNAL, "agent frame length %u out of range (5..%u)",
				     len, CR_AGENT_MAX_FRAME);
	}
	if (avail < 5)
		return 0;
	if (!cr_agent_type_name(p[4])) {
		d->broken = true;
		return cr_error_make(err, 0, CR_REASON_INTERNAL, "unknown agent frame type %u", p[4]);
	}
	if (avail - 4 < len)
		return 0;
	*f = (cr_agent_frame){
		.type = p[4],
		.exec_id = get_u32(p + 5),
		.payload = p + CR_AGENT_HEADER_SIZE,
		.len = len - 5,
	};
	d->off += 4 + (size_t)len;
	return 1;
}

json_t *cr_agent_frame_json(const cr_agent_frame *f, cr_error **err)
{
	json_error_t jerr;
	const char *name = cr_agent_type_name(f->type);
	if (f->len > CR_AGENT_MAX_FRAME) {
		cr_error_make(err, 0, CR_REASON_INTERNAL, "%s payload", name ? name : "frame");
		return NULL;
	}
	json_t *j = json_loadb((const char *)f->payload, f->len, JSON_REJECT_DUPLICATES, &jerr);
	if (!j) {
		cr_error_make(err, 0, CR_REASON_INTERNAL, "%s payload is not JSON: %s", name ? name : "frame",
			      jerr.text);
		return NULL;
	}
	if (!json_is_object(j)) {
		json_decref(j);
		cr_error_make(err, 0, CR_REASON_INTERNAL, "%s payload is not a JSON object",
			      name ? name : "frame");
		return NULL;
	}
	return j;
}

int cr_agent_write_all(int fd, const void *data, size_t len, cr_error **err)
{
	if (cr_write_all(fd, data, len) < 0)
		return cr_error_make(err, errno, CR_REASON_INTERNAL, "write agent channel");
	return 0;
}

/* ---- EXEC request ---- */

static json_t *string_array(char *const *v)
{
	json_t *a = json_array();
	for (size_t i = 0; v && v[i]; i++)
		json_array_append_new(a, json_string(v[i]));
	return a;
}

json_t *cr_agent_exec_req_to_json(const cr_agent_exec_req *r)
{
	json_t *j = json_pack("{s:o,s:o,s:s,s:I,s:I,s:b,s:i,s:i}", "argv", string_array(r->argv), "env",
			      string_array(r->env), "cwd", r->cwd ? r->cwd : "/", "uid", (json_int_t)r->uid,
			      "gid", (json_int_t)r->gid, "tty", r->tty, "cols", (int)r->cols, "rows",
			      (int)r->rows);
	if (j && r->internal)
		json_object_set_new(j, "internal", json_string(r->internal));
	return j;
}

static void free_strv(char **v)
{
	for (size_t i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

void cr_agent_exec_req_clear(cr_agent_exec_req *r)
{
	if (!r)
		return;
	free(r->internal);
	free_strv(r->argv);
	free_strv(r->env);
	free(r->cwd);
	*r = (cr_agent_exec_req){0};
}

/* A JSON string without embedded NUL bytes, at most `max` bytes. */
static int get_cstring(const json_t *v, const char *what, size_t max, char **out, cr_error **err)
{
	if (!json_is_string(v))
		return cr_error_make(err, 0, CR_REASON_INTERNAL, "exec request: %s must be a string", what);
	size_t n = json_string_length(v);
	if (n > max)
		return cr_error_make(err, 0, CR_REASON_INTERNAL, "exec request: %s longer than %zu bytes",
				     what, max);
	if (memchr(json_string_value(v), '\0', n))
		return cr_error_make(err, 0, CR_REASON_INTERNAL, "exec request: %s contains a NUL byte",
				     what);
	*out = cr_xstrndup(json_string_value(v), n);
	return 0;
}

/* A JSON array of strings as a NULL-terminated vector; env entries need '='. */
static int get_strv(const json_t *a, const char *what, bool need_eq, char ***out, cr_error **err)
{
	if (!json_is_array(a))
		return cr_error_make(err, 0, CR_REASON_INTERNAL, "exec request: %s must be an array", what);
	size_t n = json_array_size(a);
	if (n > MAX_ARGS)
		return cr_error_make(err, 0, CR_REASON_INTERNAL, "exec request: %s has more than %d entries",
				     what, MAX_ARGS);
	char **v = cr_xcalloc(n + 1, sizeof(*v));
	for (size_t i = 0; i < n; i++) {
		if (get_cstring(json_array_get(a, i), what, MAX_ARG_BYTES, &v[i], err) < 0) {
			free_strv(v);
			return -1;
		}
		if (need_eq && (!strchr(v[i], '=') || v[i][0] == '=')) {
			free_strv(v);
			return cr_error_make(err, 0, CR_REASON_INTERNAL,
					     "exec request: %s entry %zu is not NAME=VALUE", what, i);
		}
	}
	*out = v;
	return 0;
}

static int get_uint(const json_t *v, const char *what, json_int_t max, json_int_t *out, cr_error **err)
{
	if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > max)
		return cr_error_make(err, 0, CR_REASON_INTERNAL,
				     "exec request: %s must be an integer from 0 to %lld", what,
				     (long long)max);
	*out = json_integer_value(v);
	return 0;
}

static int check_keys(const json_t *j, cr_error **err)
{
	static const char *const known[] = {"argv", "env",  "cwd",  "uid",     "gid",
					    "tty",  "cols", "rows", "internal"};
	const char *key;
	const json_t *v;
	json_object_foreach ((json_t *)j, key, v) {
		bool ok = false;
		for (size_t i = 0; i < sizeof(known) / sizeof(known[0]) && !ok; i++)
			ok = strcmp(key, known[i]) == 0;
		if (!ok)
			return cr_error_make(err, 0, CR_REASON_INTERNAL, "exec request: unknown key '%.64s'",
					     key);
	}
	return 0;
}

static int get_internal(const json_t *j, cr_agent_exec_req *r, cr_error **err)
{
	const json_t *v = json_object_get(j, "internal");
	if (!v || json_is_null(v))
		return 0;
	if (get_cstring(v, "internal", 64, &r->internal, err) < 0)
		return -1;
	if (strcmp(r->internal, "extract") != 0 && strcmp(r->internal, "read-file") != 0)
		return cr_error_make(err, 0, CR_REASON_INTERNAL,
				     "exec request: unknown internal command '%s'", r->internal);
	return 0;
}

static int get_cwd(const json_t *j, cr_agent_exec_req *r, cr_error **err)
{
	const json_t *v = json_object_get(j, "cwd");
	if (!v) {
		r->cwd = cr_xstrdup("/");
		return 0;
	}
	if (get_cstring(v, "cwd", 4096, &r->cwd, err) < 0)
		return -1;
	if (r->cwd[0] != '/')
		return cr_error_make(err, 0, CR_REASON_INTERNAL, "exec request: cwd must be absolute");
	return 0;
}

static int get_numbers(const json_t *j, cr_agent_exec_req *r, cr_error **err)
{
	json_int_t uid = 0, gid = 0, cols = 80, rows = 24;
	const json_t *v;
	if ((v = json_object_get(j, "uid")) && get_uint(v, "uid", 0xfffffffe, &uid, err) < 0)
		return -1;
	if ((v = json_object_get(j, "gid")) && get_uint(v, "gid", 0xfffffffe, &gid, err) < 0)
		return -1;
	if ((v = json_object_get(j, "cols")) && get_uint(v, "cols", 0xffff, &cols, err) < 0)
		return -1;
	if ((v = json_object_get(j, "rows")) && get_uint(v, "rows", 0xffff, &rows, err) < 0)
		return -1;
	if ((v = json_object_get(j, "tty")) && !json_is_boolean(v))
		return cr_error_make(err, 0, CR_REASON_INTERNAL, "exec request: tty must be a boolean");
	r->tty = v && json_is_true(v);
	r->uid = (uint32_t)uid;
	r->gid = (uint32_t)gid;
	r->cols = (uint16_t)cols;
	r->rows = (uint16_t)rows;
	return 0;
}

static int read_req(const json_t *j, cr_agent_exec_req *r, cr_error **err)
{
	if (!json_is_object(j))
		return cr_error_make(err, 0, CR_REASON_INTERNAL, "exec request must be a JSON object");
	if (check_keys(j, err) < 0 || get_internal(j, r, err) < 0)
		return -1;
	const json_t *argv = json_object_get(j, "argv");
	if (!argv && !r->internal)
		return cr_error_make(err, 0, CR_REASON_INTERNAL, "exec request: argv is required");
	if (argv && get_strv(argv, "argv", false, &r->argv, err) < 0)
		return -1;
	if (!argv)
		r->argv = cr_xcalloc(1, sizeof(char *));
	if (!r->internal && !r->argv[0])
		return cr_error_make(err, 0, CR_REASON_INTERNAL, "exec request: argv is empty");
	if (!r->internal && !r->argv[0][0])
		return cr_error_make(err, 0, CR_REASON_INTERNAL, "exec request: argv[0] is empty");
	const json_t *env = json_object_get(j, "env");
	if (env && get_strv(env, "env", true, &r->env, err) < 0)
		return -1;
	if (!env)
		r->env = cr_xcalloc(1, sizeof(char *));
	return get_cwd(j, r, err) < 0 ? -1 : get_numbers(j, r, err);
}

int cr_agent_exec_req_from_json(const json_t *j, cr_agent_exec_req *out, cr_error **err)
{
	cr_agent_exec_req r = {0};
	if (read_req(j, &r, err) < 0) {
		cr_agent_exec_req_clear(&r);
		return -1;
	}
	*out = r;
	return 0;
}
