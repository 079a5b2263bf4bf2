/* SPDX-License-Identifier: Apache-2.0 */
/* test_store.c -- the control plane's SQLite state: rows round-trip, status
 * transitions, the output cap, crash recovery (fail_live), retention, and
 * persistence across reopening. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "server/store/store.h"

static char dir[] = "/tmp/cr-store-XXXXXX";
static char path[64];

static int setup(void **state)
{
	(void)state;
	memcpy(dir, "/tmp/cr-store-XXXXXX", sizeof(dir)); /* fresh per test */
	if (!mkdtemp(dir))
		return -1;
	snprintf(path, sizeof(path), "%s/state.db", dir);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static cr_store *open_store(void)
{
	cr_store *s = NULL;
	cr_error *err = NULL;
	if (cr_store_open(path, &s, &err) < 0)
		fail_msg("%s", err->msg);
	return s;
}

static void put_sandbox(cr_store *s, const char *id, int status, int64_t t)
{
	cr_sandbox_row r = {.sandbox_id = (char *)id,
			    .backend = "netns",
			    .policy_hash = "abc",
			    .run_id = "run-1",
			    .actor = "uid:1000",
			    .reason = "",
			    .status = status,
			    .created_ms = t,
			    .updated_ms = t};
	assert_int_equal(cr_store_sandbox_put(s, &r, NULL), 0);
}

static void test_sandboxes(void **state)
{
	(void)state;
	cr_store *s = open_store();
	put_sandbox(s, "a", CR_SB_READY, 100);
	put_sandbox(s, "b", CR_SB_PROVISIONING, 200);
	cr_sandbox_row r;
	assert_int_equal(cr_store_sandbox_get(s, "a", &r, NULL), 1);
	assert_string_equal(r.backend, "netns");
	assert_string_equal(r.actor, "uid:1000");
	assert_int_equal(r.status, CR_SB_READY);
	cr_sandbox_row_clear(&r);
	assert_int_equal(cr_store_sandbox_get(s, "zzz", &r, NULL), 0);
	assert_int_equal(
		cr_store_sandbox_set_status(s, "a", CR_SB_FAILED, "runtime_launch_failed", 300, NULL), 0);
	cr_error *err = NULL;
	assert_int_equal(cr_store_sandbox_set_status(s, "nope", CR_SB_FAILED, "", 300, &err), -1);
	assert_non_null(strstr(err->msg, "not found"));
	cr_error_free(err);
	cr_sandbox_row *rows;
	size_t n;
	assert_int_equal(cr_store_sandbox_list(s, &rows, &n, NULL), 0);
	assert_int_equal(n, 2);
	assert_string_equal(rows[0].sandbox_id, "b"); /* newest first */
	assert_string_equal(rows[1].reason, "runtime_launch_failed");
	for (size_t i = 0; i < n; i++)
		cr_sandbox_row_clear(&rows[i]);
	free(rows);
	cr_store_close(s);
}

static void put_execution(cr_store *s, const char *id, const char *sb)
{
	char *cmd[] = {"/bin/sh", "-lc", "echo 'hi there'", NULL};
	cr_execution_row e = {.execution_id = (char *)id,
			      .sandbox_id = (char *)sb,
			      .run_id = "run-1",
			      .actor = "me",
			      .command = cmd,
			      .status = CR_EX_QUEUED,
			      .exit_code = -1,
			      .created_ms = 10};
	assert_int_equal(cr_store_execution_put(s, &e, NULL), 0);
}

static void test_executions_and_persistence(void **state)
{
	(void)state;
	cr_store *s = open_store();
	put_sandbox(s, "a", CR_SB_READY, 100);
	put_execution(s, "e1", "a");
	assert_int_equal(cr_store_execution_set_running(s, "e1", 20, NULL), 0);
	assert_int_equal(
		cr_store_execution_finish(s, "e1", CR_EX_FAILED, 7, 0, "", "exited with code 7", 30, NULL),
		0);
	cr_store_close(s);

	s = open_store(); /* a restart: everything is still there */
	cr_execution_row e;
	assert_int_equal(cr_store_execution_get(s, "e1", &e, NULL), 1);
	assert_int_equal(e.status, CR_EX_FAILED);
	assert_int_equal(e.exit_code, 7);
	assert_int_equal(e.started_ms, 20);
	assert_int_equal(e.finished_ms, 30);
	assert_string_equal(e.command[2], "echo 'hi there'");
	assert_null(e.command[3]);
	cr_execution_row_clear(&e);
	cr_execution_row *rows;
	size_t n;
	assert_int_equal(cr_store_execution_list(s, "a", &rows, &n, NULL), 0);
	assert_int_equal(n, 1);
	cr_execution_row_clear(&rows[0]);
	free(rows);
	cr_store_close(s);
}

static void test_output_cap(void **state)
{
	(void)state;
	cr_store *s = open_store();
	put_sandbox(s, "a", CR_SB_READY, 100);
	put_execution(s, "e1", "a");
	unsigned char bin[4] = {0, 0xff, 'x', '\n'};
	for (int i = 0; i < 10; i++)
		assert_int_equal(cr_store_output_append(s, "e1", 1 + i % 2, bin, sizeof(bin), 20, NULL),
				 i + 1);
	cr_output_chunk *c;
	size_t n;
	assert_int_equal(cr_store_output_read(s, "e1", 0, 100, &c, &n, NULL), 0);
	assert_int_equal(n, 5); /* 20 bytes kept of 40: the newest five chunks */
	assert_int_equal(c[0].seq, 6);
	assert_int_equal(c[0].stream, 2);
	assert_memory_equal(c[4].data, bin, 4);
	cr_output_chunks_free(c, n);
	assert_int_equal(cr_store_output_read(s, "e1", 8, 100, &c, &n, NULL), 0);
	assert_int_equal(n, 2);
	cr_output_chunks_free(c, n);
	cr_store_close(s);
}

static void test_recovery_and_retention(void **state)
{
	(void)state;
	cr_store *s = open_store();
	put_sandbox(s, "live", CR_SB_READY, 100);
	put_sandbox(s, "done", CR_SB_STOPPED, 100);
	put_execution(s, "e1", "live");
	assert_int_equal(cr_store_execution_set_running(s, "e1", 20, NULL), 0);
	assert_int_equal(cr_store_event_append(s, "live", CR_SB_READY, "", "ready", 101, NULL), 0);
	assert_int_equal(cr_store_fail_live(s, "server restarted", 500, NULL), 1);
	cr_sandbox_row r;
	assert_int_equal(cr_store_sandbox_get(s, "live", &r, NULL), 1);
	assert_int_equal(r.status, CR_SB_FAILED);
	assert_string_equal(r.reason, "server restarted");
	cr_sandbox_row_clear(&r);
	cr_execution_row e;
	assert_int_equal(cr_store_execution_get(s, "e1", &e, NULL), 1);
	assert_int_equal(e.status, CR_EX_FAILED);
	cr_execution_row_clear(&e);
	assert_int_equal(cr_store_prune(s, 400, NULL),
			 1); /* "done" (updated at 100); "live" was updated at 500 */
	assert_int_equal(cr_store_sandbox_get(s, "done", &r, NULL), 0);
	assert_int_equal(cr_store_prune(s, 1000, NULL), 1);
	assert_int_equal(cr_store_execution_get(s, "e1", &e, NULL), 0); /* cascaded */
	cr_store_close(s);
}

static void test_leases(void **state)
{
	(void)state;
	cr_store *s = open_store();
	cr_error *err = NULL;
	uint32_t a = 99, b = 99, c = 99, d = 99;
	assert_int_equal(cr_store_lease_take(s, "sb-a", 3, &a, &err), 0);
	assert_int_equal(cr_store_lease_take(s, "sb-b", 3, &b, &err), 0);
	assert_int_equal(cr_store_lease_take(s, "sb-c", 3, &c, &err), 0);
	assert_int_equal(a, 0);
	assert_int_equal(b, 1);
	assert_int_equal(c, 2);
	/* full: a clear error, nothing taken */
	assert_int_equal(cr_store_lease_take(s, "sb-d", 3, &d, &err), -1);
	assert_non_null(strstr(err->msg, "exhausted"));
	cr_error_free(err);
	err = NULL;
	/* the lowest free block is reused; one sandbox holds one lease */
	assert_int_equal(cr_store_lease_release(s, "sb-b", &err), 0);
	assert_int_equal(cr_store_lease_take(s, "sb-d", 3, &d, &err), 0);
	assert_int_equal(d, 1);
	assert_int_equal(cr_store_lease_take(s, "sb-d", 8, &d, &err), -1);
	cr_error_free(err);
	err = NULL;
	assert_int_equal(cr_store_lease_release(s, "sb-a", &err), 0);
	assert_int_equal(cr_store_lease_take(s, "sb-e", 3, &d, &err), 0);
	assert_int_equal(d, 0);
	/* persisted, and cleared at start */
	cr_store_close(s);
	s = open_store();
	assert_int_equal(cr_store_lease_take(s, "sb-f", 4, &d, &err), 0);
	assert_int_equal(d, 3);
	assert_int_equal(cr_store_lease_clear(s, &err), 0);
	assert_int_equal(cr_store_lease_take(s, "sb-g", 4, &d, &err), 0);
	assert_int_equal(d, 0);
	cr_store_close(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_sandboxes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_executions_and_persistence, setup, teardown),
		cmocka_unit_test_setup_teardown(test_output_cap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_recovery_and_retention, setup, teardown),
		cmocka_unit_test_setup_teardown(test_leases, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
