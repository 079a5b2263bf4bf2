/* SPDX-License-Identifier: Apache-2.0 */
/* audit_service.c -- AdminService.QueryAudit: the API form of the audit
 * trail. The request's filters become a cr_audit_filter, the matching lines
 * become AuditEvent messages; strings move from the parsed records into the
 * response, which protobuf_c_message_free_unpacked releases. */
#include "server/audit_service.h"

#include <errno.h>
#include <stdlib.h>

#include "audit/trail.h"
#include "cleanroom/v1/admin.pb-c.h"
#include "server/util.h"
#include "util/cleanup.h"
#include "util/xalloc.h"

/* google.protobuf.Timestamp's range: 0001-01-01T00:00:00Z .. 9999-12-31T23:59:59Z */
#define TS_MIN_SECONDS (-62135596800LL)
#define TS_MAX_SECONDS 253402300799LL

/* Events carry whole milliseconds, so for an instant t (with nanoseconds)
 * `ts >= t` and `ts < t` hold exactly when they hold against ceil(t) in ms. */
static int timestamp_ms(const Google__Protobuf__Timestamp *t, const char *field, int64_t *ms, cr_error **err)
{
	if (t->seconds < TS_MIN_SECONDS || t->seconds > TS_MAX_SECONDS || t->nanos < 0 ||
	    t->nanos > 999999999)
		return cr_error_make(err, 0, CR_REASON_USAGE_INVALID,
				     "%s is not a valid timestamp (seconds %lld, nanos %d)", field,
				     (long long)t->seconds, (int)t->nanos);
	*ms = (int64_t)t->seconds * 1000 + (t->nanos + 999999) / 1000000;
	return 0;
}

static int make_filter(const Cleanroom__V1__QueryAuditRequest *req, cr_audit_filter *f, cr_error **err)
{
	*f = (cr_audit_filter){.run_id = req->run_id,
			       .sandbox_id = req->sandbox_id,
			       .execution_id = req->execution_id,
			       .kind = req->kind,
			       .reason_code = req->reason_code,
			       .has_since = req->since != NULL,
			       .has_until = req->until != NULL,
			       .after_seq = req->after_seq,
			       .limit = req->limit};
	if (req->since && timestamp_ms(req->since, "since", &f->since_ms, err) < 0)
		return -1;
	if (req->until && timestamp_ms(req->until, "until", &f->until_ms, err) < 0)
		return -1;
	return 0;
}

/* Moves the strings of r into a new AuditEvent. */
static Cleanroom__V1__AuditEvent *event_from_record(cr_audit_record *r)
{
	Cleanroom__V1__AuditEvent *e = cr_xmalloc(sizeof(*e));
	cleanroom__v1__audit_event__init(e);
	e->ts = cr_pb_timestamp(r->ts_ms);
	e->seq = r->seq;
	e->run_id = steal_pointer(&r->run_id);
	e->sandbox_id = steal_pointer(&r->sandbox_id);
	e->execution_id = steal_pointer(&r->execution_id);
	e->actor = steal_pointer(&r->actor);
	e->backend = steal_pointer(&r->backend);
	e->policy_hash = steal_pointer(&r->policy_hash);
	e->kind = steal_pointer(&r->kind);
	e->reason_code = steal_pointer(&r->reason_code);
	e->prev_hash = steal_pointer(&r->prev_hash);
	e->hash = steal_pointer(&r->hash);
	e->detail = cr_xcalloc(r->n_detail + 1, sizeof(*e->detail));
	for (size_t i = 0; i < r->n_detail; i++) {
		Cleanroom__V1__AuditEvent__DetailEntry *d = cr_xmalloc(sizeof(*d));
		cleanroom__v1__audit_event__detail_entry__init(d);
		d->key = steal_pointer(&r->detail[2 * i]);
		d->value = steal_pointer(&r->detail[2 * i + 1]);
		e->detail[e->n_detail++] = d;
	}
	return e;
}

int cr_admin_query_audit(cr_server *srv, const cr_api_call *call, const ProtobufCMessage *in,
			 ProtobufCMessage **out, cr_error **err)
{
	(void)call;
	const Cleanroom__V1__QueryAuditRequest *req = (const void *)in;
	if (!srv->audit_path)
		return cr_error_make(err, ENOENT, CR_REASON_INTERNAL, "this server keeps no audit trail");
	cr_audit_filter f;
	if (make_filter(req, &f, err) < 0)
		return -1;
	cr_audit_record *recs = NULL;
	size_t n = 0;
	bool truncated = false;
	if (cr_audit_query(srv->audit_path, &f, &recs, &n, &truncated, err) < 0)
		return -1;
	Cleanroom__V1__QueryAuditResponse *r = cr_xmalloc(sizeof(*r));
	cleanroom__v1__query_audit_response__init(r);
	r->events = cr_xcalloc(n + 1, sizeof(*r->events));
	for (size_t i = 0; i < n; i++)
		r->events[r->n_events++] = event_from_record(&recs[i]);
	r->truncated = truncated;
	cr_audit_records_free(recs, n);
	*out = &r->base;
	return 0;
}
