/* SPDX-License-Identifier: Apache-2.0 */
/* admin_service.c -- AdminService: the backend's capability map (spec §7.2),
 * its doctor checks, and the server's status (with the content cache's
 * counters, read by cache_status.c). Responses are built with malloc'd
 * fields so that protobuf_c_message_free_unpacked releases them. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cleanroom/v1/admin.pb-c.h"
#include "audit/trail.h"
#include "config.h"
#include "server/cache_status.h"
#include "server/server.h"
#include "util/xalloc.h"

static const struct cr_backend *choose_backend(cr_server *srv, const char *name, cr_error **err)
{
	if (!name || !*name)
		return srv->backend;
	const struct cr_backend *be = cr_backend_find(name);
	if (!be)
		cr_error_make(err, 0, CR_REASON_BACKEND_UNAVAILABLE,
			      "unknown backend '%s' (this server has: netns)", name);
	return be;
}

int cr_admin_get_capabilities(cr_server *srv, const cr_api_call *call, const ProtobufCMessage *in,
			      ProtobufCMessage **out, cr_error **err)
{
	(void)call;
	const Cleanroom__V1__GetCapabilitiesRequest *req = (const void *)in;
	const struct cr_backend *be = choose_backend(srv, req->backend, err);
	if (!be)
		return -1;
	cr_backend_caps caps;
	cr_capability storage[32];
	cr_egress_caps(srv, be, &caps, storage, sizeof(storage) / sizeof(storage[0]));
	Cleanroom__V1__GetCapabilitiesResponse *r = cr_xmalloc(sizeof(*r));
	cleanroom__v1__get_capabilities_response__init(r);
	r->backend_name = cr_xstrdup(caps.backend_name);
	r->backend_version = cr_xstrdup(caps.backend_version);
	r->n_capabilities = caps.n_capabilities;
	r->capabilities = cr_xcalloc(caps.n_capabilities + 1, sizeof(*r->capabilities));
	for (size_t i = 0; i < caps.n_capabilities; i++) {
		Cleanroom__V1__Capability *c = cr_xmalloc(sizeof(*c));
		cleanroom__v1__capability__init(c);
		c->key = cr_xstrdup(caps.capabilities[i].key);
		c->value = caps.capabilities[i].value;
		r->capabilities[i] = c;
	}
	r->notes = cr_xcalloc(2, sizeof(char *));
	if (caps.notes)
		r->notes[r->n_notes++] = cr_xstrdup(caps.notes);
	if (!srv->egress.active)
		r->notes[r->n_notes++] =
			cr_asprintf("egress enforcement is off on this server (%s): "
				    "network_host_port_filtering, dns_control_or_equivalent and "
				    "advanced_destination_identity are false",
				    srv->egress.why_inactive ? srv->egress.why_inactive : "not set up");
	*out = &r->base;
	return 0;
}

int cr_admin_doctor(cr_server *srv, const cr_api_call *call, const ProtobufCMessage *in,
		    ProtobufCMessage **out, cr_error **err)
{
	(void)call;
	const Cleanroom__V1__DoctorRequest *req = (const void *)in;
	const struct cr_backend *be = choose_backend(srv, req->backend, err);
	if (!be)
		return -1;
	cr_checks checks = {0};
	be->doctor(&checks);
	Cleanroom__V1__DoctorResponse *r = cr_xmalloc(sizeof(*r));
	cleanroom__v1__doctor_response__init(r);
	r->checks = cr_xcalloc(checks.n + 1, sizeof(*r->checks));
	r->ok = true;
	for (size_t i = 0; i < checks.n; i++) {
		Cleanroom__V1__DoctorCheck *c = cr_xmalloc(sizeof(*c));
		cleanroom__v1__doctor_check__init(c);
		c->name = cr_xstrdup(checks.items[i].name);
		c->status = (Cleanroom__V1__DoctorCheckStatus)(checks.items[i].status + 1);
		c->detail = cr_xstrdup(checks.items[i].detail);
		c->fix = cr_xstrdup(checks.items[i].fix ? checks.items[i].fix : "");
		r->ok = r->ok && checks.items[i].status != CR_CHECK_FAIL;
		r->checks[r->n_checks++] = c;
	}
	cr_checks_clear(&checks);
	*out = &r->base;
	return 0;
}

static uint32_t count_active(cr_server *srv)
{
	cr_sandbox_row *rows = NULL;
	size_t n = 0, active = 0;
	if (cr_store_sandbox_list(srv->store, &rows, &n, NULL) < 0)
		return 0;
	for (size_t i = 0; i < n; i++) {
		active += rows[i].status == CR_SB_PROVISIONING || rows[i].status == CR_SB_READY;
		cr_sandbox_row_clear(&rows[i]);
	}
	free(rows);
	return (uint32_t)active;
}

/* How long a status call waits for the cache's numbers (the loop is blocked
 * meanwhile; a healthy read takes a few milliseconds). */
#define CACHE_READ_MS 2000

static void fill_cache_numbers(Cleanroom__V1__ContentCacheStatus *cs, const cr_cache_stats *s)
{
	const cr_cache_counters *k = &s->counters;
	cs->entries = s->entries;
	cs->blobs = s->blobs;
	cs->blob_bytes = s->blob_bytes;
	cs->max_bytes = s->max_bytes;
	cs->hits = k->hits;
	cs->misses = k->misses;
	cs->stale_served = k->stale_served;
	cs->revalidated = k->revalidated;
	cs->bytes_served = k->bytes_served;
	cs->bytes_fetched = k->bytes_fetched;
	cs->upstream_requests = k->upstream_requests;
	cs->upstream_ms_total = k->upstream_ms_total;
	cs->upstream_errors = k->upstream_errors;
	cs->integrity_failures = k->integrity_failures;
}

/* The content cache's part of the status: never fails the call, an
 * unreadable cache is reported as unavailable with the reason. */
static Cleanroom__V1__ContentCacheStatus *cache_status(const cr_server *srv)
{
	Cleanroom__V1__ContentCacheStatus *cs = cr_xmalloc(sizeof(*cs));
	cleanroom__v1__content_cache_status__init(cs);
	const cr_fronts *f = &srv->egress.fronts;
	if (!srv->egress.active || !f->cache_dir) {
		cs->detail = cr_asprintf("none: egress enforcement is off (%s)",
					 srv->egress.why_inactive ? srv->egress.why_inactive : "not set up");
		return cs;
	}
	cs->cache_dir = cr_xstrdup(f->cache_dir);
	cr_cache_report rep;
	cleanup_error cr_error *e = NULL;
	if (cr_cache_status_read(f->cache_dir, f->cache_max_bytes, CACHE_READ_MS, &rep, &e) < 0) {
		cs->detail = cr_xstrdup(e->msg);
		return cs;
	}
	cs->available = true;
	if (rep.empty)
		cs->detail = cr_xstrdup("empty: no gateway has used it yet");
	fill_cache_numbers(cs, &rep.stats);
	return cs;
}

int cr_admin_get_server_status(cr_server *srv, const cr_api_call *call, const ProtobufCMessage *in,
			       ProtobufCMessage **out, cr_error **err)
{
	(void)call, (void)in, (void)err;
	Cleanroom__V1__ServerStatus *st = cr_xmalloc(sizeof(*st));
	cleanroom__v1__server_status__init(st);
	st->version = cr_xstrdup(CLEANROOM_VERSION);
	st->started_at = cr_xmalloc(sizeof(*st->started_at));
	google__protobuf__timestamp__init(st->started_at);
	st->started_at->seconds = srv->started;
	st->uptime_seconds = time(NULL) - srv->started;
	st->sandboxes_active = count_active(srv);
	for (const cr_live_sandbox *l = srv->live; l; l = l->next)
		for (const cr_live_exec *x = l->execs; x; x = x->next)
			st->executions_running++;
	st->audit_seq = srv->audit ? cr_audit_seq(srv->audit) : 0;
	st->endpoint = cr_asprintf("unix://%s", srv->socket_path);
	Cleanroom__V1__BackendStatus *b = cr_xmalloc(sizeof(*b));
	cleanroom__v1__backend_status__init(b);
	b->name = cr_xstrdup(srv->backend->name);
	b->available = true;
	b->is_default = true;
	b->detail = cr_xstrdup("Type 0 process isolation (namespaces, seccomp, Landlock, cgroups)");
	st->n_backends = 1;
	st->backends = cr_xcalloc(1, sizeof(*st->backends));
	st->backends[0] = b;
	st->content_cache = cache_status(srv);
	Cleanroom__V1__GetServerStatusResponse *r = cr_xmalloc(sizeof(*r));
	cleanroom__v1__get_server_status_response__init(r);
	r->status = st;
	*out = &r->base;
	return 0;
}
