/* SPDX-License-Identifier: Apache-2.0 */
/* audit_emit.c -- the server's lifecycle events into the audit trail
 * (src/lib/audit/trail.h, the one writer): every sandbox and execution
 * event with run_id, actor, backend, policy_hash, a timestamp, and a reason
 * code for failures and refusals. A trail that cannot be written is loud on
 * stderr but does not stop the sandbox it describes. */
#include <stdio.h>

#include "audit/trail.h"
#include "server/server.h"

void cr_server_audit(cr_server *srv, const char *kind, const cr_audit_ctx *ctx, cr_reason reason,
		     const char *const *detail)
{
	if (!srv->audit)
		return;
	cr_audit_event ev = {.kind = kind,
			     .run_id = ctx->run_id,
			     .sandbox_id = ctx->sandbox_id,
			     .execution_id = ctx->execution_id,
			     .actor = ctx->actor,
			     .backend = ctx->backend,
			     .policy_hash = ctx->policy_hash,
			     .reason = reason,
			     .detail = detail};
	cr_error *err = NULL;
	if (cr_audit_append(srv->audit, &ev, &err) < 0) {
		fprintf(stderr, "cleanroom serve: audit trail '%s': %s (event %s lost)\n", srv->audit_path,
			err->msg, kind);
		cr_error_free(err);
	}
}
