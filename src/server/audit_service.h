/* SPDX-License-Identifier: Apache-2.0 */
/* audit_service.h -- AdminService.QueryAudit over the audit trail. */
#pragma once

#include "server/server.h"

/* AdminService.QueryAudit: reads srv->audit_path (src/lib/audit/trail.h)
 * with the request's filters, oldest first, at most `limit` events (0 = 100,
 * capped at 1000), `truncated` when more match. An invalid since/until is
 * usage_invalid; a trail that cannot be read or parsed fails the call with
 * the trail's own error (status EBADMSG for damage). On success *out is a
 * QueryAuditResponse owned by the caller (protobuf_c_message_free_unpacked). */
int cr_admin_query_audit(cr_server *srv, const cr_api_call *call, const ProtobufCMessage *in,
			 ProtobufCMessage **out, cr_error **err);
