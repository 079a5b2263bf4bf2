/* SPDX-License-Identifier: Apache-2.0 */
/* exec.c -- `cleanroom exec`: the behaviour contract of spec §5.4.1 as a
 * table of steps (compile the policy, reach the server, create or select a
 * sandbox, upload the workspace, run and stream the command), the
 * interrupt counter, and the exit status. Everything exec decides before
 * the command starts fails with a non-zero status and one error line; once
 * the command has run, its own exit code is exec's. See docs/cli.md. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/exec.h"
#include "util/clock.h"
#include "util/xalloc.h"

const char *cr_exec_cmd = "cleanroom exec";

static volatile sig_atomic_t interrupts, last_interrupt;

/* A third interrupt falls back to the default action: the user insists. */
static void on_interrupt(int sig)
{
	last_interrupt = sig;
	if (++interrupts >= 3) {
		signal(sig, SIG_DFL);
		raise(sig);
	}
}

void cr_exec_signals_install(void)
{
	struct sigaction sa = {.sa_handler = on_interrupt}; /* no SA_RESTART: waits end at once */
	sigemptyset(&sa.sa_mask);
	sigaddset(&sa.sa_mask, SIGINT);
	sigaddset(&sa.sa_mask, SIGTERM);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN); /* a closed stdout is an EPIPE the stream handles */
}

int cr_exec_interrupts(int *last_signal)
{
	if (last_signal)
		*last_signal = last_interrupt;
	return interrupts;
}

/* What the steps hand on to each other. */
struct plan {
	char *compiled;
	char *repo_root;
};

/* A step returns 0 when done (and timed), 1 when done but not timed
 * (skipped), -1 with *err. */
static int step_compile(cr_exec_run *r, struct plan *p, cr_error **err)
{
	if (r->opts->sandbox_id)
		return 1; /* the sandbox keeps the policy it was created with */
	return cr_exec_compile(r, &p->compiled, &p->repo_root, err);
}

static int step_connect(cr_exec_run *r, struct plan *p, cr_error **err)
{
	(void)p;
	return cr_exec_connect(r, err) < 0 ? -1 : 1;
}

static int step_sandbox(cr_exec_run *r, struct plan *p, cr_error **err)
{
	if (r->opts->sandbox_id)
		return cr_exec_select_sandbox(r, err) < 0 ? -1 : 1;
	return cr_exec_create_sandbox(r, p->compiled, err);
}

static int step_upload(cr_exec_run *r, struct plan *p, cr_error **err)
{
	const char *dir = r->opts->workspace ? r->opts->workspace : p->repo_root;
	if (r->opts->no_workspace || !dir)
		return 1; /* the execution may be created at once: it waits QUEUED on the server */
	if (cr_exec_wait_ready(r, err) < 0)
		return -1;
	return cr_exec_upload(r, dir, err);
}

static int step_execute(cr_exec_run *r, struct plan *p, cr_error **err)
{
	(void)p;
	if (r->opts->attach && cr_exec_wait_ready(r, err) < 0) /* attaching needs a READY sandbox */
		return -1;
	if (cr_exec_create_execution(r, err) < 0)
		return -1;
	if (r->opts->attach) /* -i/-t: bidirectional (spec §5.4.1) */
		return cr_exec_attach(r, err) < 0 ? -1 : 0;
	int rc = cr_exec_stream(r, err);
	if (rc > 0)
		fprintf(stderr, "%s: detached; execution %s keeps running in sandbox %s\n", CR_EXEC_CMD,
			r->execution_id, r->sandbox_id);
	return rc < 0 ? -1 : 0;
}

static const struct step {
	int (*run)(cr_exec_run *r, struct plan *p, cr_error **err);
	int timing;    /* CR_EXEC_T_* slot, or -1 */
	int exit_code; /* when it fails */
} steps[] = {
	{step_compile, CR_EXEC_T_COMPILE, CR_EXEC_EXIT_POLICY},
	{step_connect, -1, CR_EXEC_EXIT_LAUNCH},
	{step_sandbox, CR_EXEC_T_CREATE, CR_EXEC_EXIT_LAUNCH},
	{step_upload, CR_EXEC_T_UPLOAD, CR_EXEC_EXIT_LAUNCH},
	{step_execute, CR_EXEC_T_EXECUTION, CR_EXEC_EXIT_LAUNCH},
};

static int run_steps(cr_exec_run *r, cr_error **err)
{
	struct plan p = {0};
	int code = 0;
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]) && !code; i++) {
		if (cr_exec_interrupts(NULL) > 0) {
			cr_error_make(err, 0, CR_REASON_EXECUTION_CANCELED,
				      "interrupted before the command started");
			code = CR_EXEC_EXIT_DETACH;
			break;
		}
		int64_t t0 = cr_monotonic_ms();
		int s = steps[i].run(r, &p, err);
		if (s < 0)
			code = cr_exec_interrupts(NULL) >= 2 ? CR_EXEC_EXIT_DETACH : steps[i].exit_code;
		else if (s == 0 && steps[i].timing >= 0)
			r->t_ms[steps[i].timing] = cr_monotonic_ms() - t0;
	}
	if (!code)
		code = r->detached ? CR_EXEC_EXIT_DETACH : r->exit_code;
	free(p.compiled);
	free(p.repo_root);
	return code;
}

static void run_clear(cr_exec_run *r)
{
	cr_client_free(r->client);
	free(r->endpoint);
	free(r->sandbox_id);
	free(r->execution_id);
	free(r->run_id);
	free(r->policy_hash);
	free(r->reason);
	free(r->message);
}

int cmd_exec(int argc, char **argv)
{
	cr_exec_opts o = {0};
	int parsed = cr_exec_parse_opts(argc, argv, &o);
	if (parsed != 0) {
		cr_exec_opts_clear(&o);
		return parsed > 0 ? CR_EXIT_OK : CR_EXIT_USAGE;
	}
	return cr_exec_main(&o);
}

int cr_exec_main(cr_exec_opts *opts)
{
	cr_exec_opts o = *opts;
	*opts = (cr_exec_opts){0};
	cr_exec_signals_install();
	const char *env_host = getenv("CLEANROOM_HOST");
	cr_exec_run r = {
		.opts = &o,
		.endpoint = cr_client_resolve_endpoint(o.host),
		.endpoint_explicit = (o.host && *o.host) || (env_host && *env_host),
		.t_start = cr_monotonic_ms(),
	};
	for (int i = 0; i < CR_EXEC_T__N; i++)
		r.t_ms[i] = -1;
	cr_error *err = NULL;
	int code = run_steps(&r, &err);
	cr_exec_finish_sandbox(&r);
	r.t_ms[CR_EXEC_T_TOTAL] = cr_monotonic_ms() - r.t_start;
	if (err)
		cr_exec_print_error(&r, err, r.client && cr_client_unreachable(r.client));
	if (o.json)
		cr_exec_print_record(&r, err);
	cr_error_free(err);
	run_clear(&r);
	cr_exec_opts_clear(&o);
	return code;
}
