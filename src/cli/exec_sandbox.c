/* SPDX-License-Identifier: Apache-2.0 */
/* exec_sandbox.c -- the steps of `cleanroom exec` before the command runs:
 * compile the policy in-process (as `cleanroom policy compile` does), reach
 * the server (starting a private one when nothing answers at the default
 * socket), create a sandbox from the compiled policy or select an existing
 * READY one, and upload the workspace as a tar archive. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cleanroom/v1/admin.pb-c.h"
#include "cleanroom/v1/sandbox.pb-c.h"
#include "cli/cli.h"
#include "cli/exec.h"
#include "cli/private_server.h"
#include "server/http.h"
#include "server/util.h"
#include "util/cleanup.h"
#include "util/xalloc.h"
#include "workspace/workspace.h"

#define SBX "cleanroom.v1.SandboxService"
#define ADM "cleanroom.v1.AdminService"

/* What one UploadSandboxFiles request may carry: the server's body cap less
 * room for the request's other fields. */
#define MAX_ARCHIVE_BYTES ((size_t)CR_HTTP_MAX_BODY_BYTES - (64u << 10))

typedef Cleanroom__V1__Sandbox Sandbox;

/* Unary calls made before the execution exists are not abandoned on the
 * first interrupt (the server would create what we no longer know about);
 * exec.c checks for an interrupt between steps. A second one abandons. */
int cr_exec_second_interrupt(void *ctx)
{
	(void)ctx;
	return cr_exec_interrupts(NULL) >= 2;
}

int cr_exec_connect(cr_exec_run *r, cr_error **err)
{
	if (cr_client_open(r->endpoint, &r->client, err) < 0)
		return -1;
	cr_client_set_poll(r->client, cr_exec_second_interrupt, NULL);
	cr_error *first = NULL;
	if (cr_client_ping(r->client, &first) == 0)
		return 0;
	if (r->endpoint_explicit || !cr_client_unreachable(r->client)) {
		*err = first;
		return -1;
	}
	cr_error_free(first);
	cleanup_free char *sock = cr_http_default_socket();
	int started = cr_private_server_ensure(sock, !r->opts->json, err);
	if (started < 0)
		return -1;
	r->started_server = started == 1;
	return cr_client_ping(r->client, err);
}

int cr_exec_compile(cr_exec_run *r, char **compiled, char **repo_root, cr_error **err)
{
	/* -c is relative to where exec runs, not to --workspace (which only says
	 * where the repository is) */
	const char *config = r->opts->config;
	cleanup_free char *abs_config = NULL;
	if (config && config[0] != '/' && r->opts->workspace) {
		cleanup_free char *cwd = getcwd(NULL, 0);
		if (cwd)
			config = abs_config = cr_asprintf("%s/%s", cwd, config);
	}
	cr_policy_opts po = {.config = config, .repo_dir = r->opts->workspace};
	cr_diags d = {0};
	cr_policy_result res;
	int ok = cr_cli_load_policy(&po, true, &res, &d) == 0;
	cr_diags_print(&d, stderr);
	if (ok) {
		*compiled = steal_pointer(&res.compiled);
		*repo_root = steal_pointer(&res.repo_root);
		r->policy_hash = cr_xstrdup(res.policy->policy_hash);
	} else {
		cr_reason reason = cr_diags_first_reason(&d);
		cr_error_make(err, 0, reason != CR_REASON_NONE ? reason : CR_REASON_POLICY_INVALID,
			      "%s: invalid (%zu error%s)", res.policy_file ? res.policy_file : "policy",
			      d.n_errors, d.n_errors == 1 ? "" : "s");
	}
	cr_diags_clear(&d);
	cr_policy_result_clear(&res);
	return ok ? 0 : -1;
}

/* A sandbox that is not READY as an error: its own reason when it failed. */
static int not_ready(const Sandbox *s, cr_error **err)
{
	cr_reason reason = *s->reason ? cr_reason_from_name(s->reason) : CR_REASON_NONE;
	const char *status = cr_sandbox_status_name(s->status);
	return cr_error_make(err, 0, reason != CR_REASON_NONE ? reason : CR_REASON_RUNTIME_LAUNCH_FAILED,
			     "sandbox %s is %s%s%s", s->sandbox_id, status, *s->message ? ": " : "",
			     s->message);
}

static int get_sandbox(cr_exec_run *r, const char *id, Cleanroom__V1__GetSandboxResponse **out,
		       cr_error **err)
{
	Cleanroom__V1__GetSandboxRequest req = CLEANROOM__V1__GET_SANDBOX_REQUEST__INIT;
	req.sandbox_id = (char *)id;
	ProtobufCMessage *resp = NULL;
	if (cr_client_unary(r->client, SBX, "GetSandbox", &req.base,
			    &cleanroom__v1__get_sandbox_response__descriptor, &resp, err) < 0)
		return -1;
	*out = (Cleanroom__V1__GetSandboxResponse *)resp;
	if (!(*out)->sandbox) {
		protobuf_c_message_free_unpacked(resp, NULL);
		return cr_error_make(err, 0, CR_REASON_INTERNAL, "GetSandbox answered without a sandbox");
	}
	return 0;
}

struct ready_wait {
	int status;                    /* the last status seen */
	char reason[64], message[512]; /* of a failure */
};

static int on_sandbox_event(void *ctx, const ProtobufCMessage *m)
{
	struct ready_wait *w = ctx;
	const Cleanroom__V1__SandboxEvent *ev = (const void *)m;
	w->status = ev->status;
	snprintf(w->reason, sizeof(w->reason), "%s", ev->reason);
	snprintf(w->message, sizeof(w->message), "%s", ev->message);
	return ev->status != CLEANROOM__V1__SANDBOX_STATUS__SANDBOX_STATUS_PROVISIONING;
}

static int interrupted(void *ctx)
{
	(void)ctx;
	return cr_exec_interrupts(NULL) > 0;
}

int cr_exec_wait_ready(cr_exec_run *r, cr_error **err)
{
	if (!r->provisioning)
		return 0;
	r->provisioning = false;
	Cleanroom__V1__StreamSandboxEventsRequest req = CLEANROOM__V1__STREAM_SANDBOX_EVENTS_REQUEST__INIT;
	req.sandbox_id = r->sandbox_id;
	req.follow = true;
	struct ready_wait w = {.status = CLEANROOM__V1__SANDBOX_STATUS__SANDBOX_STATUS_PROVISIONING};
	int s = cr_client_stream(r->client, SBX, "StreamSandboxEvents", &req.base,
				 &cleanroom__v1__sandbox_event__descriptor, on_sandbox_event, interrupted, &w,
				 err);
	if (s < 0)
		return -1;
	if (w.status == CLEANROOM__V1__SANDBOX_STATUS__SANDBOX_STATUS_READY)
		return 0;
	if (cr_exec_interrupts(NULL) > 0)
		return cr_error_make(err, 0, CR_REASON_EXECUTION_CANCELED,
				     "interrupted while sandbox %s was provisioning", r->sandbox_id);
	Sandbox sb = CLEANROOM__V1__SANDBOX__INIT;
	sb.sandbox_id = r->sandbox_id;
	sb.status = w.status;
	sb.reason = w.reason;
	sb.message = w.message;
	return not_ready(&sb, err);
}

static void take_sandbox(cr_exec_run *r, const Sandbox *s)
{
	r->sandbox_id = cr_xstrdup(s->sandbox_id);
	if (*s->run_id)
		r->run_id = cr_xstrdup(s->run_id);
	if (*s->policy_hash) {
		free(r->policy_hash);
		r->policy_hash = cr_xstrdup(s->policy_hash);
	}
}

int cr_exec_create_sandbox(cr_exec_run *r, const char *compiled, cr_error **err)
{
	Cleanroom__V1__CreateSandboxRequest req = CLEANROOM__V1__CREATE_SANDBOX_REQUEST__INIT;
	req.compiled_policy_json = (char *)compiled;
	ProtobufCMessage *resp = NULL;
	if (cr_client_unary(r->client, SBX, "CreateSandbox", &req.base,
			    &cleanroom__v1__create_sandbox_response__descriptor, &resp, err) < 0)
		return -1;
	Cleanroom__V1__CreateSandboxResponse *c = (Cleanroom__V1__CreateSandboxResponse *)resp;
	int rc = 0;
	if (!c->sandbox || !*c->sandbox->sandbox_id) {
		rc = cr_error_make(err, 0, CR_REASON_INTERNAL, "CreateSandbox answered without a sandbox");
	} else {
		take_sandbox(r, c->sandbox);
		r->created_sandbox = true;
		r->provisioning =
			c->sandbox->status == CLEANROOM__V1__SANDBOX_STATUS__SANDBOX_STATUS_PROVISIONING;
		if (c->sandbox->status != CLEANROOM__V1__SANDBOX_STATUS__SANDBOX_STATUS_READY &&
		    !r->provisioning)
			rc = not_ready(c->sandbox, err);
	}
	protobuf_c_message_free_unpacked(resp, NULL);
	return rc;
}

int cr_exec_select_sandbox(cr_exec_run *r, cr_error **err)
{
	Cleanroom__V1__GetSandboxResponse *g = NULL;
	if (get_sandbox(r, r->opts->sandbox_id, &g, err) < 0)
		return -1;
	int rc = 0;
	if (g->sandbox->status == CLEANROOM__V1__SANDBOX_STATUS__SANDBOX_STATUS_READY)
		take_sandbox(r, g->sandbox);
	else
		rc = not_ready(g->sandbox, err);
	protobuf_c_message_free_unpacked(&g->base, NULL);
	return rc;
}

/* The workspace as a tar archive in an anonymous file, mapped. */
static int archive(const char *dir, void **map, size_t *len, cr_error **err)
{
	cleanup_close int fd = memfd_create("cleanroom-workspace", MFD_CLOEXEC);
	if (fd < 0)
		return cr_error_make(err, errno, CR_REASON_INTERNAL,
				     "create a memory file for the workspace");
	cr_workspace_limits lim = CR_WORKSPACE_DEFAULT_LIMITS;
	lim.max_bytes = lim.max_file_bytes = MAX_ARCHIVE_BYTES;
	cr_workspace_stats stats = {0};
	if (cr_workspace_archive(dir, fd, &lim, &stats, err) < 0)
		return cr_error_wrap(err, "archive workspace '%s'", dir);
	struct stat st;
	if (fstat(fd, &st) < 0)
		return cr_error_make(err, errno, CR_REASON_INTERNAL, "stat the workspace archive");
	if ((size_t)st.st_size > MAX_ARCHIVE_BYTES)
		return cr_error_make(err, E2BIG, CR_REASON_INTERNAL,
				     "the archive of workspace '%s' is %lld bytes, the server accepts %zu",
				     dir, (long long)st.st_size, MAX_ARCHIVE_BYTES);
	*len = (size_t)st.st_size;
	*map = *len ? mmap(NULL, *len, PROT_READ, MAP_PRIVATE, fd, 0) : NULL;
	if (*map == MAP_FAILED)
		return cr_error_make(err, errno, CR_REASON_INTERNAL, "map the workspace archive");
	return 0;
}

int cr_exec_upload(cr_exec_run *r, const char *dir, cr_error **err)
{
	void *map = NULL;
	size_t len = 0;
	if (archive(dir, &map, &len, err) < 0)
		return -1;
	Cleanroom__V1__UploadSandboxFilesRequest req = CLEANROOM__V1__UPLOAD_SANDBOX_FILES_REQUEST__INIT;
	req.sandbox_id = r->sandbox_id;
	req.archive.data = map;
	req.archive.len = len;
	ProtobufCMessage *resp = NULL;
	int rc = cr_client_unary(r->client, SBX, "UploadSandboxFiles", &req.base,
				 &cleanroom__v1__upload_sandbox_files_response__descriptor, &resp, err);
	if (rc < 0)
		cr_error_wrap(err, "upload workspace '%s'", dir);
	else
		protobuf_c_message_free_unpacked(resp, NULL);
	if (map)
		munmap(map, len);
	return rc;
}

void cr_exec_finish_sandbox(cr_exec_run *r)
{
	if (!r->sandbox_id || !r->created_sandbox)
		return;
	if (r->detached || r->opts->keep) {
		r->kept = true;
		fprintf(stderr,
			"%s: kept sandbox %s%s; run more commands in it with --sandbox-id %s, remove it with "
			"'cleanroom sandbox rm %s'\n",
			CR_EXEC_CMD, r->sandbox_id,
			r->detached ? " (not terminated: the detached execution runs in it)" : "",
			r->sandbox_id, r->sandbox_id);
		return;
	}
	Cleanroom__V1__TerminateSandboxRequest req = CLEANROOM__V1__TERMINATE_SANDBOX_REQUEST__INIT;
	req.sandbox_id = r->sandbox_id;
	ProtobufCMessage *resp = NULL;
	cr_error *e = NULL;
	cr_client_set_poll(r->client, NULL, NULL); /* cleaning up is not interrupted */
	if (cr_client_unary(r->client, SBX, "TerminateSandbox", &req.base,
			    &cleanroom__v1__terminate_sandbox_response__descriptor, &resp, &e) < 0) {
		fprintf(stderr, "%s: warning: could not terminate sandbox %s: %s\n", CR_EXEC_CMD,
			r->sandbox_id, e->msg);
		cr_error_free(e);
		return;
	}
	protobuf_c_message_free_unpacked(resp, NULL);
}
