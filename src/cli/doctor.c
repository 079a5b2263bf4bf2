/* SPDX-License-Identifier: Apache-2.0 */
/* doctor.c -- `cleanroom doctor`: the server's host checks
 * (AdminService.Doctor) and its backend's capability map
 * (AdminService.GetCapabilities). When no server answers, that is itself a
 * failed check, and the same host checks run here, in this process, through
 * the backend's doctor(); the output says they are local. Exit 0 when no
 * check failed, 1 otherwise. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "cleanroom/v1/admin.pb-c.h"
#include "cli/admin_cmds.h"
#include "cli/cli.h"
#include "cli/remote.h"
#include "pbjson/pbjson.h"
#include "util/cleanup.h"
#include "util/xalloc.h"

#define CMD   "cleanroom doctor"
#define USAGE CMD " [--host ENDPOINT] [--backend NAME] [--json]"

typedef struct doctor_report {
	bool local;     /* no server answered: checks ran in this process */
	char *endpoint; /* where the server was asked */
	Cleanroom__V1__DoctorResponse *doctor;
	Cleanroom__V1__GetCapabilitiesResponse *caps;
} doctor_report;

static int on_opt(void *ctx, int val, const char *arg)
{
	(void)val;
	*(const char **)ctx = arg;
	return 0;
}

static Cleanroom__V1__DoctorCheck *check_message(const char *name, int status, const char *detail,
						 const char *fix)
{
	Cleanroom__V1__DoctorCheck *c = cr_xmalloc(sizeof(*c));
	cleanroom__v1__doctor_check__init(c);
	c->name = cr_xstrdup(name);
	c->status = (Cleanroom__V1__DoctorCheckStatus)status;
	c->detail = cr_xstrdup(detail);
	c->fix = cr_xstrdup(fix ? fix : "");
	return c;
}

/* The server check that failed, then the backend's own checks, as the
 * server would have answered them. */
static Cleanroom__V1__DoctorResponse *local_doctor(const struct cr_backend *be, const char *endpoint)
{
	cr_checks checks = {0};
	be->doctor(&checks);
	Cleanroom__V1__DoctorResponse *r = cr_xmalloc(sizeof(*r));
	cleanroom__v1__doctor_response__init(r);
	r->checks = cr_xcalloc(checks.n + 1, sizeof(*r->checks));
	cleanup_free char *detail = cr_asprintf("no server at %s", endpoint);
	r->checks[r->n_checks++] = check_message(
		"server", CLEANROOM__V1__DOCTOR_CHECK_STATUS__DOCTOR_CHECK_STATUS_FAIL, detail,
		"start one with `cleanroom serve` (or install a unit: `cleanroom serve install`)");
	for (size_t i = 0; i < checks.n; i++)
		r->checks[r->n_checks++] =
			check_message(checks.items[i].name, (int)checks.items[i].status + 1,
				      checks.items[i].detail, checks.items[i].fix);
	cr_checks_clear(&checks);
	r->ok = false;
	return r;
}

static Cleanroom__V1__GetCapabilitiesResponse *local_caps(const struct cr_backend *be)
{
	cr_backend_caps caps;
	be->capabilities(&caps);
	Cleanroom__V1__GetCapabilitiesResponse *r = cr_xmalloc(sizeof(*r));
	cleanroom__v1__get_capabilities_response__init(r);
	r->backend_name = cr_xstrdup(caps.backend_name);
	r->backend_version = cr_xstrdup(caps.backend_version);
	r->capabilities = cr_xcalloc(caps.n_capabilities + 1, sizeof(*r->capabilities));
	for (size_t i = 0; i < caps.n_capabilities; i++) {
		Cleanroom__V1__Capability *c = cr_xmalloc(sizeof(*c));
		cleanroom__v1__capability__init(c);
		c->key = cr_xstrdup(caps.capabilities[i].key);
		c->value = caps.capabilities[i].value;
		r->capabilities[r->n_capabilities++] = c;
	}
	if (caps.notes) {
		r->notes = cr_xcalloc(1, sizeof(char *));
		r->notes[r->n_notes++] = cr_xstrdup(caps.notes);
	}
	return r;
}

static int run_local(doctor_report *rep, const char *backend)
{
	const struct cr_backend *be = backend && *backend ? cr_backend_find(backend) : &cr_backend_netns;
	if (!be) {
		cleanup_free char *msg = cr_asprintf("unknown backend '%s'", backend);
		cr_cli_print_error(CMD, "backend_unavailable", msg, "this cleanroom has the backend netns");
		return -1;
	}
	fprintf(stderr, "%s: no server at %s; running the host checks locally\n", CMD, rep->endpoint);
	rep->local = true;
	rep->doctor = local_doctor(be, rep->endpoint);
	rep->caps = local_caps(be);
	return 0;
}

static int ask_server(doctor_report *rep, const cr_cli_opts *o, const char *backend)
{
	cr_remote r;
	if (cr_remote_open(&r, CMD, o) < 0)
		return -1;
	rep->endpoint = cr_xstrdup(cr_client_endpoint(r.client));
	Cleanroom__V1__DoctorRequest dreq = CLEANROOM__V1__DOCTOR_REQUEST__INIT;
	dreq.backend = (char *)(backend ? backend : "");
	cleanup_error cr_error *err = NULL;
	ProtobufCMessage *out = NULL;
	int rc = cr_client_unary(r.client, CR_ADMIN_SERVICE, "Doctor", &dreq.base,
				 &cleanroom__v1__doctor_response__descriptor, &out, &err);
	if (rc < 0 && cr_remote_unreachable(&r)) {
		cr_remote_close(&r);
		return run_local(rep, backend);
	}
	if (rc < 0) {
		cr_remote_report(&r, err);
		cr_remote_close(&r);
		return -1;
	}
	rep->doctor = (void *)out;
	Cleanroom__V1__GetCapabilitiesRequest creq = CLEANROOM__V1__GET_CAPABILITIES_REQUEST__INIT;
	creq.backend = dreq.backend;
	rc = cr_remote_unary(&r, CR_ADMIN_SERVICE, "GetCapabilities", &creq.base,
			     &cleanroom__v1__get_capabilities_response__descriptor, &out);
	if (rc == 0)
		rep->caps = (void *)out;
	cr_remote_close(&r);
	return rc;
}

static int print_json(const doctor_report *rep)
{
	cleanup_error cr_error *err = NULL;
	json_t *doc = json_object();
	json_object_set_new(doc, "source", json_string(rep->local ? "local" : "server"));
	json_object_set_new(doc, "endpoint", json_string(rep->endpoint));
	json_t *d = cr_pbjson_encode(&rep->doctor->base, &err);
	json_t *c = d ? cr_pbjson_encode(&rep->caps->base, &err) : NULL;
	json_object_set_new(doc, "doctor", d ? d : json_null());
	json_object_set_new(doc, "capabilities", c ? c : json_null());
	cleanup_free char *text = c ? cr_pbjson_dumps(doc, NULL, &err) : NULL;
	json_decref(doc);
	if (!text) {
		cr_cli_print_error(CMD, cr_reason_name(err->reason), err->msg, NULL);
		return -1;
	}
	puts(text);
	return 0;
}

static void print_checks(const Cleanroom__V1__DoctorResponse *d, size_t counts[4])
{
	cr_table t;
	cr_table_init(&t, 3, (const char *const[]){"CHECK", "STATUS", "DETAIL"});
	for (size_t i = 0; i < d->n_checks; i++) {
		char st[32];
		cr_fmt_enum(st, sizeof(st), &cleanroom__v1__doctor_check_status__descriptor,
			    d->checks[i]->status);
		cr_table_add(&t, (const char *const[]){d->checks[i]->name, st, d->checks[i]->detail});
		counts[d->checks[i]->status < 4 ? d->checks[i]->status : 0]++;
	}
	cr_table_print(&t, stdout);
	cr_table_clear(&t);
	bool header = false;
	for (size_t i = 0; i < d->n_checks; i++) {
		if (!*d->checks[i]->fix)
			continue;
		if (!header)
			printf("\nfixes:\n"), header = true;
		cleanup_free char *name = cr_fmt_sanitize(d->checks[i]->name);
		cleanup_free char *fix = cr_fmt_sanitize(d->checks[i]->fix);
		printf("  %s: %s\n", name, fix);
	}
}

static void print_caps(const Cleanroom__V1__GetCapabilitiesResponse *c)
{
	cleanup_free char *name = cr_fmt_sanitize(c->backend_name);
	cleanup_free char *version = cr_fmt_sanitize(c->backend_version);
	printf("\ncapabilities of backend %s %s:\n", name, version);
	cr_table t;
	cr_table_init(&t, 2, (const char *const[]){"CAPABILITY", "VALUE"});
	for (size_t i = 0; i < c->n_capabilities; i++)
		cr_table_add(&t, (const char *const[]){c->capabilities[i]->key,
						       c->capabilities[i]->value ? "true" : "false"});
	cr_table_print(&t, stdout);
	cr_table_clear(&t);
	for (size_t i = 0; i < c->n_notes; i++) {
		cleanup_free char *note = cr_fmt_sanitize(c->notes[i]);
		printf("%s%s\n", i == 0 ? "\nnotes:\n  " : "  ", note);
	}
}

static void print_text(const doctor_report *rep)
{
	if (rep->local)
		printf("local host checks (no server answered at %s):\n", rep->endpoint);
	else
		printf("host checks of the server at %s:\n", rep->endpoint);
	size_t counts[4] = {0};
	print_checks(rep->doctor, counts);
	print_caps(rep->caps);
	printf("\n%zu passed, %zu warnings, %zu failed%s\n", counts[1], counts[2], counts[3],
	       rep->local ? " (local checks)" : "");
}

static bool any_failed(const Cleanroom__V1__DoctorResponse *d)
{
	for (size_t i = 0; i < d->n_checks; i++)
		if (d->checks[i]->status == CLEANROOM__V1__DOCTOR_CHECK_STATUS__DOCTOR_CHECK_STATUS_FAIL)
			return true;
	return false;
}

int cmd_doctor(int argc, char **argv)
{
	cr_cli_opts o = {0};
	const char *backend = NULL;
	static const cr_cli_opt extra[] = {{"backend", true, 'b'}, {0}};
	int first = cr_cli_parse_opts(argc, argv, CMD, USAGE, &o, extra, on_opt, &backend);
	if (first < 0)
		return cr_cli_parse_exit(first);
	if (first < argc)
		return cr_cli_usage_error(CMD, "unexpected argument '%s'", argv[first]);
	doctor_report rep = {0};
	int rc = CR_EXIT_FAIL;
	if (ask_server(&rep, &o, backend) == 0) {
		int printed = o.json ? print_json(&rep) : (print_text(&rep), 0);
		rc = printed == 0 && !any_failed(rep.doctor) ? CR_EXIT_OK : CR_EXIT_FAIL;
	}
	if (rep.doctor)
		protobuf_c_message_free_unpacked(&rep.doctor->base, NULL);
	if (rep.caps)
		protobuf_c_message_free_unpacked(&rep.caps->base, NULL);
	free(rep.endpoint);
	return rc;
}
