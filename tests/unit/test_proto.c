/* SPDX-License-Identifier: Apache-2.0 */
/* test_proto.c -- the cleanroom.v1 API schema: binary round trips of the
 * generated protobuf-c messages, and the field names, numbers and types that
 * must stay identical to the reference implementation's
 * (/work/shared/reference/api-fields.md, proto/README.md). A renumbered or
 * retyped shared field, or an addition below 100 in a shared message, fails
 * here. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cleanroom/v1/admin.pb-c.h"
#include "cleanroom/v1/execution.pb-c.h"
#include "cleanroom/v1/sandbox.pb-c.h"
#include "google/protobuf/timestamp.pb-c.h"

/* ---- descriptor expectations ------------------------------------------ */

/* One expected field: name, number, wire type, repeated?, member of a oneof?,
 * and for message/enum fields the descriptor of the referenced type. */
struct field_expect {
	const char *name;
	uint32_t id;
	ProtobufCType type;
	bool repeated;
	bool oneof;
	const void *sub;
};

#define F(n, i, t)                                            \
	{                                                     \
		n, i, PROTOBUF_C_TYPE_##t, false, false, NULL \
	}
#define FR(n, i, t)                                          \
	{                                                    \
		n, i, PROTOBUF_C_TYPE_##t, true, false, NULL \
	}
#define FO(n, i, t)                                          \
	{                                                    \
		n, i, PROTOBUF_C_TYPE_##t, false, true, NULL \
	}
#define FM(n, i, d)                                             \
	{                                                       \
		n, i, PROTOBUF_C_TYPE_MESSAGE, false, false, &d \
	}
#define FMR(n, i, d)                                           \
	{                                                      \
		n, i, PROTOBUF_C_TYPE_MESSAGE, true, false, &d \
	}
#define FMO(n, i, d)                                           \
	{                                                      \
		n, i, PROTOBUF_C_TYPE_MESSAGE, false, true, &d \
	}
#define FE(n, i, d)                                          \
	{                                                    \
		n, i, PROTOBUF_C_TYPE_ENUM, false, false, &d \
	}
#define TS google__protobuf__timestamp__descriptor
#define END                                    \
	{                                      \
		NULL, 0, 0, false, false, NULL \
	}
#define CR(x) cleanroom__v1__##x##__descriptor

/* One expected message. When `shared` is set the message also exists in the
 * reference implementation: every field numbered below 100 must then be one
 * of the listed fields (ours take >= 100). `absent` lists reserved numbers
 * that must not be declared (0-terminated). */
struct msg_expect {
	const ProtobufCMessageDescriptor *desc;
	const char *full_name;
	bool shared;
	const uint32_t absent[4];
	const struct field_expect fields[16];
};

/* Every row of api-fields.md, plus the reference messages it implies
 * (DownloadSandboxFile*, Policy, the attach sub-messages) and a few of our
 * own >= 100 fields that clients depend on. */
static const struct msg_expect messages[] = {
	{&CR(sandbox),
	 "cleanroom.v1.Sandbox",
	 true,
	 {0},
	 {F("sandbox_id", 1, STRING), FE("status", 2, CR(sandbox_status)), F("backend", 3, STRING),
	  F("policy_hash", 4, STRING), FM("created_at", 5, TS), FM("updated_at", 6, TS),
	  F("reason", 100, STRING), F("run_id", 101, STRING), F("actor", 102, STRING),
	  FM("expires_at", 103, TS), END}},
	{&CR(sandbox_options),
	 "cleanroom.v1.SandboxOptions",
	 true,
	 {2, 0},
	 {F("launch_seconds", 3, INT64), F("ttl_seconds", 100, INT64), END}},
	{&CR(create_sandbox_request),
	 "cleanroom.v1.CreateSandboxRequest",
	 true,
	 {1, 0},
	 {F("backend", 2, STRING), FM("options", 3, CR(sandbox_options)), FM("policy", 4, CR(policy)),
	  F("compiled_policy_json", 100, STRING), F("run_id", 101, STRING), END}},
	{&CR(policy),
	 "cleanroom.v1.Policy",
	 true,
	 {0},
	 {F("version", 1, INT32), F("image_ref", 2, STRING), F("image_digest", 3, STRING),
	  F("network_default", 4, STRING), FMR("allow", 5, CR(policy_allow_rule)), F("hash", 6, STRING),
	  FM("services", 7, CR(policy_services)), END}},
	{&CR(policy_allow_rule),
	 "cleanroom.v1.PolicyAllowRule",
	 true,
	 {0},
	 {F("host", 1, STRING), FR("ports", 2, INT32), END}},
	{&CR(create_sandbox_response),
	 "cleanroom.v1.CreateSandboxResponse",
	 true,
	 {0},
	 {FM("sandbox", 1, CR(sandbox)), F("policy_source", 2, STRING), F("message", 3, STRING), END}},
	{&CR(get_sandbox_request),
	 "cleanroom.v1.GetSandboxRequest",
	 true,
	 {0},
	 {F("sandbox_id", 1, STRING), END}},
	{&CR(get_sandbox_response),
	 "cleanroom.v1.GetSandboxResponse",
	 true,
	 {0},
	 {FM("sandbox", 1, CR(sandbox)), END}},
	{&CR(list_sandboxes_request), "cleanroom.v1.ListSandboxesRequest", true, {0}, {END}},
	{&CR(list_sandboxes_response),
	 "cleanroom.v1.ListSandboxesResponse",
	 true,
	 {0},
	 {FMR("sandboxes", 1, CR(sandbox)), END}},
	{&CR(download_sandbox_file_request),
	 "cleanroom.v1.DownloadSandboxFileRequest",
	 true,
	 {0},
	 {F("sandbox_id", 1, STRING), F("path", 2, STRING), F("max_bytes", 3, INT64), END}},
	{&CR(download_sandbox_file_response),
	 "cleanroom.v1.DownloadSandboxFileResponse",
	 true,
	 {0},
	 {F("sandbox_id", 1, STRING), F("path", 2, STRING), F("data", 3, BYTES), F("size_bytes", 4, INT64),
	  END}},
	{&CR(terminate_sandbox_request),
	 "cleanroom.v1.TerminateSandboxRequest",
	 true,
	 {0},
	 {F("sandbox_id", 1, STRING), END}},
	{&CR(terminate_sandbox_response),
	 "cleanroom.v1.TerminateSandboxResponse",
	 true,
	 {0},
	 {F("sandbox_id", 1, STRING), F("terminated", 2, BOOL), F("message", 3, STRING), END}},
	{&CR(stream_sandbox_events_request),
	 "cleanroom.v1.StreamSandboxEventsRequest",
	 true,
	 {0},
	 {F("sandbox_id", 1, STRING), F("follow", 2, BOOL), END}},
	{&CR(sandbox_event),
	 "cleanroom.v1.SandboxEvent",
	 true,
	 {0},
	 {F("sandbox_id", 1, STRING), FE("status", 2, CR(sandbox_status)), F("message", 3, STRING),
	  FM("occurred_at", 4, TS), END}},
	{&CR(execution),
	 "cleanroom.v1.Execution",
	 true,
	 {0},
	 {F("execution_id", 1, STRING), F("sandbox_id", 2, STRING), FE("status", 3, CR(execution_status)),
	  FR("command", 4, STRING), F("exit_code", 5, INT32), FM("started_at", 6, TS),
	  FM("finished_at", 7, TS), F("tty", 8, BOOL), F("run_id", 9, STRING), F("reason", 100, STRING),
	  F("actor", 101, STRING), END}},
	{&CR(execution_options),
	 "cleanroom.v1.ExecutionOptions",
	 true,
	 {2, 0},
	 {F("launch_seconds", 5, INT64), F("tty", 6, BOOL), F("cwd", 7, STRING), FR("env", 100, STRING),
	  F("timeout_seconds", 101, INT64), END}},
	{&CR(create_execution_request),
	 "cleanroom.v1.CreateExecutionRequest",
	 true,
	 {0},
	 {F("sandbox_id", 1, STRING), FR("command", 2, STRING), FM("options", 3, CR(execution_options)),
	  END}},
	{&CR(create_execution_response),
	 "cleanroom.v1.CreateExecutionResponse",
	 true,
	 {0},
	 {FM("execution", 1, CR(execution)), END}},
	{&CR(get_execution_request),
	 "cleanroom.v1.GetExecutionRequest",
	 true,
	 {0},
	 {F("sandbox_id", 1, STRING), F("execution_id", 2, STRING), END}},
	{&CR(get_execution_response),
	 "cleanroom.v1.GetExecutionResponse",
	 true,
	 {0},
	 {FM("execution", 1, CR(execution)), END}},
	{&CR(cancel_execution_request),
	 "cleanroom.v1.CancelExecutionRequest",
	 true,
	 {0},
	 {F("sandbox_id", 1, STRING), F("execution_id", 2, STRING), F("signal", 3, INT32), END}},
	{&CR(cancel_execution_response),
	 "cleanroom.v1.CancelExecutionResponse",
	 true,
	 {0},
	 {F("sandbox_id", 1, STRING), F("execution_id", 2, STRING), F("accepted", 3, BOOL),
	  FE("status", 4, CR(execution_status)), END}},
	{&CR(stream_execution_request),
	 "cleanroom.v1.StreamExecutionRequest",
	 true,
	 {0},
	 {F("sandbox_id", 1, STRING), F("execution_id", 2, STRING), F("follow", 3, BOOL), END}},
	{&CR(execution_exit),
	 "cleanroom.v1.ExecutionExit",
	 true,
	 {0},
	 {F("exit_code", 1, INT32), FE("status", 2, CR(execution_status)), F("message", 3, STRING),
	  F("reason", 100, STRING), END}},
	{&CR(execution_stream_event),
	 "cleanroom.v1.ExecutionStreamEvent",
	 true,
	 {0},
	 {F("sandbox_id", 1, STRING), F("execution_id", 2, STRING), FE("status", 3, CR(execution_status)),
	  FO("stdout", 4, BYTES), FO("stderr", 5, BYTES), FMO("exit", 6, CR(execution_exit)),
	  FO("message", 7, STRING), FM("occurred_at", 8, TS), END}},
	{&CR(execution_attach_frame),
	 "cleanroom.v1.ExecutionAttachFrame",
	 true,
	 {0},
	 {F("sandbox_id", 1, STRING), F("execution_id", 2, STRING), FMO("open", 3, CR(execution_attach_open)),
	  FO("stdin", 4, BYTES), FMO("resize", 5, CR(execution_resize)),
	  FMO("signal", 6, CR(execution_signal)), FMO("heartbeat", 7, CR(execution_heartbeat)),
	  FMO("close", 8, CR(execution_close)), FO("stdout", 9, BYTES), FO("stderr", 10, BYTES),
	  FMO("exit", 11, CR(execution_exit)), FO("error", 12, STRING), FM("occurred_at", 13, TS), END}},
	{&CR(execution_attach_open),
	 "cleanroom.v1.ExecutionAttachOpen",
	 true,
	 {0},
	 {F("sandbox_id", 1, STRING), F("execution_id", 2, STRING), END}},
	{&CR(execution_resize),
	 "cleanroom.v1.ExecutionResize",
	 true,
	 {0},
	 {F("cols", 1, UINT32), F("rows", 2, UINT32), END}},
	{&CR(execution_signal), "cleanroom.v1.ExecutionSignal", true, {0}, {F("signal", 1, INT32), END}},
	{&CR(execution_heartbeat), "cleanroom.v1.ExecutionHeartbeat", true, {0}, {END}},
	{&CR(execution_close), "cleanroom.v1.ExecutionClose", true, {0}, {F("detach", 1, BOOL), END}},
	/* Ours only: spot checks of what the CLI relies on. */
	{&CR(upload_sandbox_files_request),
	 "cleanroom.v1.UploadSandboxFilesRequest",
	 false,
	 {0},
	 {F("sandbox_id", 1, STRING), F("dest_path", 2, STRING), F("archive", 3, BYTES), END}},
	{&CR(list_executions_request),
	 "cleanroom.v1.ListExecutionsRequest",
	 false,
	 {0},
	 {F("sandbox_id", 1, STRING), END}},
	{&CR(audit_event),
	 "cleanroom.v1.AuditEvent",
	 false,
	 {0},
	 {FM("ts", 1, TS), F("seq", 2, UINT64), F("run_id", 3, STRING), F("policy_hash", 8, STRING),
	  F("reason_code", 10, STRING), FMR("detail", 11, CR(audit_event__detail_entry)),
	  F("prev_hash", 12, STRING), F("hash", 13, STRING), END}},
};

static bool listed(const struct msg_expect *m, uint32_t id)
{
	for (const struct field_expect *f = m->fields; f->name; f++)
		if (f->id == id)
			return true;
	return false;
}

static void check_field(const struct msg_expect *m, const struct field_expect *f)
{
	const ProtobufCFieldDescriptor *fd =
		protobuf_c_message_descriptor_get_field_by_name(m->desc, f->name);
	if (!fd)
		fail_msg("%s: field %s missing", m->full_name, f->name);
	if (fd->id != f->id)
		fail_msg("%s.%s: number %u, reference says %u", m->full_name, f->name, fd->id, f->id);
	if (fd->type != f->type)
		fail_msg("%s.%s: type %d, expected %d", m->full_name, f->name, (int)fd->type, (int)f->type);
	if ((fd->label == PROTOBUF_C_LABEL_REPEATED) != f->repeated)
		fail_msg("%s.%s: repeated mismatch", m->full_name, f->name);
	if (((fd->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) != 0) != f->oneof)
		fail_msg("%s.%s: oneof membership mismatch", m->full_name, f->name);
	if (f->sub && fd->descriptor != f->sub)
		fail_msg("%s.%s: wrong message/enum type", m->full_name, f->name);
}

static void test_field_numbers(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(messages) / sizeof(messages[0]); i++) {
		const struct msg_expect *m = &messages[i];
		assert_string_equal(m->desc->name, m->full_name);
		for (const struct field_expect *f = m->fields; f->name; f++)
			check_field(m, f);
		for (const uint32_t *a = m->absent; *a; a++)
			if (protobuf_c_message_descriptor_get_field(m->desc, *a))
				fail_msg("%s: reserved number %u is declared", m->full_name, *a);
		if (!m->shared)
			continue;
		for (unsigned j = 0; j < m->desc->n_fields; j++) {
			const ProtobufCFieldDescriptor *fd = &m->desc->fields[j];
			if (fd->id < 100 && !listed(m, fd->id))
				fail_msg("%s.%s = %u: our additions to shared messages take numbers >= 100",
					 m->full_name, fd->name, fd->id);
		}
	}
}

/* Enum value names and numbers (api-fields.md), and nothing else below 100. */
struct enum_expect {
	const ProtobufCEnumDescriptor *desc;
	const char *full_name;
	const char *names[8];
};

static const struct enum_expect enums[] = {
	{&CR(sandbox_status),
	 "cleanroom.v1.SandboxStatus",
	 {"SANDBOX_STATUS_UNSPECIFIED", "SANDBOX_STATUS_PROVISIONING", "SANDBOX_STATUS_READY",
	  "SANDBOX_STATUS_STOPPING", "SANDBOX_STATUS_STOPPED", "SANDBOX_STATUS_FAILED", NULL}},
	{&CR(execution_status),
	 "cleanroom.v1.ExecutionStatus",
	 {"EXECUTION_STATUS_UNSPECIFIED", "EXECUTION_STATUS_QUEUED", "EXECUTION_STATUS_RUNNING",
	  "EXECUTION_STATUS_SUCCEEDED", "EXECUTION_STATUS_FAILED", "EXECUTION_STATUS_CANCELED",
	  "EXECUTION_STATUS_TIMED_OUT", NULL}},
};

static void test_enum_values(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(enums) / sizeof(enums[0]); i++) {
		const struct enum_expect *e = &enums[i];
		assert_string_equal(e->desc->name, e->full_name);
		unsigned n = 0;
		for (; e->names[n]; n++) {
			const ProtobufCEnumValue *v =
				protobuf_c_enum_descriptor_get_value_by_name(e->desc, e->names[n]);
			if (!v)
				fail_msg("%s: value %s missing", e->full_name, e->names[n]);
			if (v->value != (int)n)
				fail_msg("%s.%s = %d, reference says %u", e->full_name, e->names[n], v->value,
					 n);
		}
		for (unsigned j = 0; j < e->desc->n_values; j++)
			if (e->desc->values[j].value < 100 && e->desc->values[j].value >= (int)n)
				fail_msg("%s.%s: our additions take numbers >= 100", e->full_name,
					 e->desc->values[j].name);
	}
}

/* The methods (and their message types) named by the spec and the issue. */
struct method_expect {
	const ProtobufCServiceDescriptor *svc;
	const char *method;
	const ProtobufCMessageDescriptor *in, *out;
};

#define M(svc, name, in, out)                     \
	{                                         \
		&CR(svc), name, &CR(in), &CR(out) \
	}

static const struct method_expect methods[] = {
	M(sandbox_service, "CreateSandbox", create_sandbox_request, create_sandbox_response),
	M(sandbox_service, "GetSandbox", get_sandbox_request, get_sandbox_response),
	M(sandbox_service, "ListSandboxes", list_sandboxes_request, list_sandboxes_response),
	M(sandbox_service, "UploadSandboxFiles", upload_sandbox_files_request, upload_sandbox_files_response),
	M(sandbox_service, "DownloadSandboxFile", download_sandbox_file_request,
	  download_sandbox_file_response),
	M(sandbox_service, "TerminateSandbox", terminate_sandbox_request, terminate_sandbox_response),
	M(sandbox_service, "StreamSandboxEvents", stream_sandbox_events_request, sandbox_event),
	M(execution_service, "CreateExecution", create_execution_request, create_execution_response),
	M(execution_service, "GetExecution", get_execution_request, get_execution_response),
	M(execution_service, "ListExecutions", list_executions_request, list_executions_response),
	M(execution_service, "CancelExecution", cancel_execution_request, cancel_execution_response),
	M(execution_service, "StreamExecution", stream_execution_request, execution_stream_event),
	M(execution_service, "AttachExecution", execution_attach_frame, execution_attach_frame),
	M(admin_service, "GetCapabilities", get_capabilities_request, get_capabilities_response),
	M(admin_service, "Doctor", doctor_request, doctor_response),
	M(admin_service, "GetServerStatus", get_server_status_request, get_server_status_response),
	M(admin_service, "QueryAudit", query_audit_request, query_audit_response),
};

static void test_services(void **state)
{
	(void)state;
	assert_string_equal(CR(sandbox_service).name, "cleanroom.v1.SandboxService");
	assert_string_equal(CR(execution_service).name, "cleanroom.v1.ExecutionService");
	assert_string_equal(CR(admin_service).name, "cleanroom.v1.AdminService");
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		const struct method_expect *m = &methods[i];
		const ProtobufCMethodDescriptor *md =
			protobuf_c_service_descriptor_get_method_by_name(m->svc, m->method);
		if (!md)
			fail_msg("%s/%s missing", m->svc->name, m->method);
		assert_ptr_equal(md->input, m->in);
		assert_ptr_equal(md->output, m->out);
	}
	assert_int_equal(CR(sandbox_service).n_methods, 7);
	assert_int_equal(CR(execution_service).n_methods, 6);
	assert_int_equal(CR(admin_service).n_methods, 4);
}

/* ---- round trips --------------------------------------------------------- */

/* Packs `msg` into a fresh buffer; *len receives its size. */
static uint8_t *pack(const ProtobufCMessage *msg, size_t *len)
{
	*len = protobuf_c_message_get_packed_size(msg);
	uint8_t *buf = malloc(*len ? *len : 1);
	assert_non_null(buf);
	assert_int_equal(protobuf_c_message_pack(msg, buf), *len);
	return buf;
}

static void test_timestamp_round_trip(void **state)
{
	(void)state;
	Google__Protobuf__Timestamp ts = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
	ts.seconds = 1700000000;
	ts.nanos = 123456789;
	size_t len;
	uint8_t *buf = pack(&ts.base, &len);
	/* field 1 (seconds) varint, then field 2 (nanos) varint */
	static const uint8_t want[] = {0x08, 0x80, 0xe2, 0xcf, 0xaa, 0x06, 0x10, 0x95, 0x9a, 0xef, 0x3a};
	assert_int_equal(len, sizeof(want));
	assert_memory_equal(buf, want, sizeof(want));
	Google__Protobuf__Timestamp *back = google__protobuf__timestamp__unpack(NULL, len, buf);
	assert_non_null(back);
	assert_int_equal(back->seconds, 1700000000);
	assert_int_equal(back->nanos, 123456789);
	google__protobuf__timestamp__free_unpacked(back, NULL);
	free(buf);
}

static void test_create_sandbox_request_round_trip(void **state)
{
	(void)state;
	Cleanroom__V1__SandboxOptions opts = CLEANROOM__V1__SANDBOX_OPTIONS__INIT;
	opts.launch_seconds = 30;
	opts.ttl_seconds = 3600;
	Cleanroom__V1__CreateSandboxRequest req = CLEANROOM__V1__CREATE_SANDBOX_REQUEST__INIT;
	req.backend = "netns";
	req.options = &opts;
	req.compiled_policy_json = "{\"policy_hash\":\"sha256:00\",\"version\":1}";
	req.run_id = "run-1";

	size_t len;
	uint8_t *buf = pack(&req.base, &len);
	assert_memory_equal(buf, "\x12\x05netns", 7); /* backend is field 2, wire type 2 */
	Cleanroom__V1__CreateSandboxRequest *back =
		cleanroom__v1__create_sandbox_request__unpack(NULL, len, buf);
	assert_non_null(back);
	assert_string_equal(back->backend, "netns");
	assert_non_null(back->options);
	assert_int_equal(back->options->launch_seconds, 30);
	assert_int_equal(back->options->ttl_seconds, 3600);
	assert_string_equal(back->compiled_policy_json, req.compiled_policy_json);
	assert_string_equal(back->run_id, "run-1");
	assert_null(back->policy);
	cleanroom__v1__create_sandbox_request__free_unpacked(back, NULL);
	free(buf);
}

/* What a reference client sends: the old cwd field 1 (now reserved) and a
 * Policy in field 4. It must decode (so the server can answer with a
 * precise invalid_argument), with field 1 kept as an unknown field. */
static void test_create_sandbox_request_from_reference_client(void **state)
{
	(void)state;
	static const uint8_t wire[] = {
		0x0a, 0x01, '/',                       /* 1: cwd "/" (reserved) */
		0x12, 0x05, 'n',  'e',  't', 'n', 's', /* 2: backend "netns" */
		0x1a, 0x02, 0x18, 0x05,                /* 3: options { 3: launch_seconds 5 } */
		0x22, 0x0c, 0x08, 0x01,                /* 4: policy { 1: version 1, */
		0x2a, 0x08, 0x0a, 0x02, 'a', '.',      /*   5: allow { 1: host "a.", */
		0x12, 0x02, 0xbb, 0x03,                /*     2: ports [443] (packed) } } */
	};
	size_t len = sizeof(wire);
	Cleanroom__V1__CreateSandboxRequest *req =
		cleanroom__v1__create_sandbox_request__unpack(NULL, len, wire);
	assert_non_null(req);
	assert_string_equal(req->backend, "netns");
	assert_int_equal(req->options->launch_seconds, 5);
	assert_non_null(req->policy);
	assert_int_equal(req->policy->version, 1);
	assert_int_equal(req->policy->n_allow, 1);
	assert_string_equal(req->policy->allow[0]->host, "a.");
	assert_int_equal(req->policy->allow[0]->n_ports, 1);
	assert_int_equal(req->policy->allow[0]->ports[0], 443);
	assert_string_equal(req->compiled_policy_json, "");
	assert_int_equal(req->base.n_unknown_fields, 1);
	assert_int_equal(req->base.unknown_fields[0].tag, 1);
	cleanroom__v1__create_sandbox_request__free_unpacked(req, NULL);
}

static void test_execution_stream_event_oneof(void **state)
{
	(void)state;
	static const Cleanroom__V1__ExecutionStreamEvent__PayloadCase cases[] = {
		CLEANROOM__V1__EXECUTION_STREAM_EVENT__PAYLOAD_STDOUT,
		CLEANROOM__V1__EXECUTION_STREAM_EVENT__PAYLOAD_STDERR,
		CLEANROOM__V1__EXECUTION_STREAM_EVENT__PAYLOAD_EXIT,
		CLEANROOM__V1__EXECUTION_STREAM_EVENT__PAYLOAD_MESSAGE,
		CLEANROOM__V1__EXECUTION_STREAM_EVENT__PAYLOAD__NOT_SET,
	};
	/* the oneof case constants are the field numbers */
	assert_int_equal(CLEANROOM__V1__EXECUTION_STREAM_EVENT__PAYLOAD_STDOUT, 4);
	assert_int_equal(CLEANROOM__V1__EXECUTION_STREAM_EVENT__PAYLOAD_MESSAGE, 7);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		Google__Protobuf__Timestamp ts = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
		ts.seconds = 42;
		Cleanroom__V1__ExecutionExit ex = CLEANROOM__V1__EXECUTION_EXIT__INIT;
		ex.exit_code = 3;
		ex.status = CLEANROOM__V1__EXECUTION_STATUS__EXECUTION_STATUS_FAILED;
		ex.message = "exit 3";
		ex.reason = "runtime_launch_failed";
		Cleanroom__V1__ExecutionStreamEvent ev = CLEANROOM__V1__EXECUTION_STREAM_EVENT__INIT;
		ev.sandbox_id = "sb-1";
		ev.execution_id = "ex-1";
		ev.status = CLEANROOM__V1__EXECUTION_STATUS__EXECUTION_STATUS_RUNNING;
		ev.occurred_at = &ts;
		ev.payload_case = cases[i];
		switch (cases[i]) {
		case CLEANROOM__V1__EXECUTION_STREAM_EVENT__PAYLOAD_STDOUT:
			ev.stdout = (ProtobufCBinaryData){.len = 3, .data = (uint8_t *)"o\0t"};
			break;
		case CLEANROOM__V1__EXECUTION_STREAM_EVENT__PAYLOAD_STDERR:
			ev.stderr = (ProtobufCBinaryData){.len = 0, .data = NULL};
			break;
		case CLEANROOM__V1__EXECUTION_STREAM_EVENT__PAYLOAD_EXIT: ev.exit = &ex; break;
		case CLEANROOM__V1__EXECUTION_STREAM_EVENT__PAYLOAD_MESSAGE: ev.message = ""; break;
		default: break;
		}

		size_t len;
		uint8_t *buf = pack(&ev.base, &len);
		Cleanroom__V1__ExecutionStreamEvent *back =
			cleanroom__v1__execution_stream_event__unpack(NULL, len, buf);
		assert_non_null(back);
		/* a set oneof member is sent even when empty */
		assert_int_equal(back->payload_case, cases[i]);
		assert_string_equal(back->sandbox_id, "sb-1");
		assert_string_equal(back->execution_id, "ex-1");
		assert_int_equal(back->status, CLEANROOM__V1__EXECUTION_STATUS__EXECUTION_STATUS_RUNNING);
		assert_non_null(back->occurred_at);
		assert_int_equal(back->occurred_at->seconds, 42);
		switch (cases[i]) {
		case CLEANROOM__V1__EXECUTION_STREAM_EVENT__PAYLOAD_STDOUT:
			assert_int_equal(back->stdout.len, 3);
			assert_memory_equal(back->stdout.data, "o\0t", 3);
			break;
		case CLEANROOM__V1__EXECUTION_STREAM_EVENT__PAYLOAD_STDERR:
			assert_int_equal(back->stderr.len, 0);
			break;
		case CLEANROOM__V1__EXECUTION_STREAM_EVENT__PAYLOAD_EXIT:
			assert_non_null(back->exit);
			assert_int_equal(back->exit->exit_code, 3);
			assert_int_equal(back->exit->status,
					 CLEANROOM__V1__EXECUTION_STATUS__EXECUTION_STATUS_FAILED);
			assert_string_equal(back->exit->message, "exit 3");
			assert_string_equal(back->exit->reason, "runtime_launch_failed");
			break;
		case CLEANROOM__V1__EXECUTION_STREAM_EVENT__PAYLOAD_MESSAGE:
			assert_string_equal(back->message, "");
			break;
		default: break;
		}
		cleanroom__v1__execution_stream_event__free_unpacked(back, NULL);
		free(buf);
	}
}

/* A reference server's stdout event, byte for byte: field 4 carries stdout. */
static void test_execution_stream_event_wire(void **state)
{
	(void)state;
	static const uint8_t wire[] = {0x0a, 0x01, 's', 0x12, 0x01, 'e', 0x18, 0x02, 0x22, 0x02, 'h', 'i'};
	Cleanroom__V1__ExecutionStreamEvent *ev =
		cleanroom__v1__execution_stream_event__unpack(NULL, sizeof(wire), wire);
	assert_non_null(ev);
	assert_int_equal(ev->payload_case, CLEANROOM__V1__EXECUTION_STREAM_EVENT__PAYLOAD_STDOUT);
	assert_int_equal(ev->stdout.len, 2);
	assert_memory_equal(ev->stdout.data, "hi", 2);
	assert_int_equal(ev->status, CLEANROOM__V1__EXECUTION_STATUS__EXECUTION_STATUS_RUNNING);
	cleanroom__v1__execution_stream_event__free_unpacked(ev, NULL);
}

static void test_attach_frame_and_audit_map(void **state)
{
	(void)state;
	Cleanroom__V1__ExecutionResize rs = CLEANROOM__V1__EXECUTION_RESIZE__INIT;
	rs.cols = 120;
	rs.rows = 40;
	Cleanroom__V1__ExecutionAttachFrame fr = CLEANROOM__V1__EXECUTION_ATTACH_FRAME__INIT;
	fr.payload_case = CLEANROOM__V1__EXECUTION_ATTACH_FRAME__PAYLOAD_RESIZE;
	fr.resize = &rs;
	size_t len;
	uint8_t *buf = pack(&fr.base, &len);
	static const uint8_t want[] = {0x2a, 0x04, 0x08, 0x78, 0x10, 0x28}; /* 5: { 1: 120, 2: 40 } */
	assert_int_equal(len, sizeof(want));
	assert_memory_equal(buf, want, sizeof(want));
	free(buf);

	Cleanroom__V1__AuditEvent__DetailEntry e1 = CLEANROOM__V1__AUDIT_EVENT__DETAIL_ENTRY__INIT;
	e1.key = "host";
	e1.value = "evil.example";
	Cleanroom__V1__AuditEvent__DetailEntry *entries[] = {&e1};
	Cleanroom__V1__AuditEvent ae = CLEANROOM__V1__AUDIT_EVENT__INIT;
	ae.seq = 7;
	ae.kind = "network.denied";
	ae.reason_code = "host_not_allowed";
	ae.n_detail = 1;
	ae.detail = entries;
	buf = pack(&ae.base, &len);
	Cleanroom__V1__AuditEvent *back = cleanroom__v1__audit_event__unpack(NULL, len, buf);
	assert_non_null(back);
	assert_int_equal(back->seq, 7);
	assert_string_equal(back->reason_code, "host_not_allowed");
	assert_int_equal(back->n_detail, 1);
	assert_string_equal(back->detail[0]->key, "host");
	assert_string_equal(back->detail[0]->value, "evil.example");
	cleanroom__v1__audit_event__free_unpacked(back, NULL);
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_field_numbers),
		cmocka_unit_test(test_enum_values),
		cmocka_unit_test(test_services),
		cmocka_unit_test(test_timestamp_round_trip),
		cmocka_unit_test(test_create_sandbox_request_round_trip),
		cmocka_unit_test(test_create_sandbox_request_from_reference_client),
		cmocka_unit_test(test_execution_stream_event_oneof),
		cmocka_unit_test(test_execution_stream_event_wire),
		cmocka_unit_test(test_attach_frame_and_audit_map),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
