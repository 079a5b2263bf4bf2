/* SPDX-License-Identifier: Apache-2.0 */
/* test_agent_loop.c -- the sandbox agent driven over a socketpair.
 *
 * Each test forks a process that runs cr_agent_main() as an ordinary
 * process (no namespaces; it is not PID 1, so it makes itself a child
 * subreaper) and plays the host: it sends EXEC, STDIN, RESIZE, SIGNAL and
 * SHUTDOWN frames and checks the frames that come back, including their
 * order (STARTED before output, both end-of-stream frames before EXIT).
 * Every wait has a deadline, so a hung agent fails a test instead of
 * hanging the suite. */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent/agent.h"
#include "agent/protocol.h"
#include "util/buf.h"

#define TIMEOUT_MS 10000

typedef struct harness {
	pid_t pid;
	int fd;
	cr_agent_decoder dec;
} harness;

typedef struct result {
	uint32_t id;
	bool started, out_ended, err_ended, exited;
	long pid;
	cr_buf out, err;
	char *error; /* ERROR message for this exec_id */
	int code, signal;
} result;

static long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void send_frame(harness *h, uint8_t type, uint32_t id, const void *p, size_t len)
{
	cr_buf b;
	cr_buf_init(&b, 2 * CR_AGENT_MAX_FRAME);
	assert_int_equal(cr_agent_encode(&b, type, id, p, len), 0);
	assert_int_equal(cr_agent_write_all(h->fd, b.data, b.len, NULL), 0);
	cr_buf_free(&b);
}

/* Waits for the next frame until `deadline`; returns 1, or 0 at end of stream. */
static int next_frame(harness *h, cr_agent_frame *f, long deadline)
{
	for (;;) {
		int rc = cr_agent_decoder_next(&h->dec, f, NULL);
		assert_int_not_equal(rc, -1);
		if (rc == 1)
			return 1;
		long left = deadline - now_ms();
		if (left <= 0)
			fail_msg("timed out waiting for a frame from the agent");
		struct pollfd pfd = {.fd = h->fd, .events = POLLIN};
		if (poll(&pfd, 1, (int)left) <= 0)
			continue;
		char chunk[65536];
		ssize_t n = read(h->fd, chunk, sizeof(chunk));
		if (n <= 0)
			return 0;
		cr_agent_decoder_feed(&h->dec, chunk, (size_t)n);
	}
}

static json_t *frame_json(const cr_agent_frame *f)
{
	json_t *j = cr_agent_frame_json(f, NULL);
	assert_non_null(j);
	return j;
}

static void start_agent(harness *h)
{
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	h->pid = fork();
	assert_true(h->pid >= 0);
	if (h->pid == 0) {
		close(sv[0]);
		_exit(cr_agent_main(sv[1], -1));
	}
	close(sv[1]);
	h->fd = sv[0];
	cr_agent_decoder_init(&h->dec);
	cr_agent_frame f;
	assert_int_equal(next_frame(h, &f, now_ms() + TIMEOUT_MS), 1);
	assert_int_equal(f.type, CR_AGENT_HELLO);
	assert_int_equal(f.exec_id, 0);
	json_t *j = frame_json(&f);
	assert_int_equal(json_integer_value(json_object_get(j, "version")), CR_AGENT_PROTOCOL_VERSION);
	assert_int_equal(json_integer_value(json_object_get(j, "pid")), h->pid);
	json_decref(j);
}

/* Waits for the agent to exit; returns its exit status. */
static int wait_agent(harness *h)
{
	long deadline = now_ms() + TIMEOUT_MS;
	int status;
	for (;;) {
		pid_t r = waitpid(h->pid, &status, WNOHANG);
		if (r == h->pid)
			break;
		if (now_ms() > deadline) {
			kill(h->pid, SIGKILL);
			waitpid(h->pid, &status, 0);
			fail_msg("agent did not exit");
		}
		usleep(5000);
	}
	close(h->fd);
	cr_agent_decoder_free(&h->dec);
	assert_true(WIFEXITED(status));
	return WEXITSTATUS(status);
}

static void stop_agent(harness *h)
{
	send_frame(h, CR_AGENT_SHUTDOWN, 0, NULL, 0);
	cr_agent_frame f;
	while (next_frame(h, &f, now_ms() + TIMEOUT_MS) == 1)
		;
	assert_int_equal(wait_agent(h), 0);
}

static void send_exec_req(harness *h, uint32_t id, cr_agent_exec_req *r)
{
	char *env[] = {"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=/", NULL};
	if (!r->env)
		r->env = env;
	if (!r->cwd)
		r->cwd = "/";
	if (r->tty && !r->cols) {
		r->cols = 80;
		r->rows = 24;
	}
	json_t *j = cr_agent_exec_req_to_json(r);
	char *text = json_dumps(j, JSON_COMPACT);
	send_frame(h, CR_AGENT_EXEC, id, text, strlen(text));
	free(text);
	json_decref(j);
}

static void send_exec(harness *h, uint32_t id, bool tty, char **argv)
{
	cr_agent_exec_req r = {.argv = argv, .tty = tty};
	send_exec_req(h, id, &r);
}

static void result_init(result *r, uint32_t id)
{
	*r = (result){.id = id, .code = -1};
	cr_buf_init(&r->out, 16u << 20);
	cr_buf_init(&r->err, 16u << 20);
}

static void result_free(result *r)
{
	cr_buf_free(&r->out);
	cr_buf_free(&r->err);
	free(r->error);
}

static void on_data(result *r, const cr_agent_frame *f)
{
	bool is_err = f->type == CR_AGENT_STDERR;
	bool *ended = is_err ? &r->err_ended : &r->out_ended;
	if (!r->started)
		fail_msg("exec %u: output before STARTED", r->id);
	if (*ended)
		fail_msg("exec %u: output after its end of stream", r->id);
	if (f->len == 0)
		*ended = true;
	else
		assert_int_equal(cr_buf_append(is_err ? &r->err : &r->out, f->payload, f->len), 0);
}

static void on_exit_frame(result *r, const cr_agent_frame *f)
{
	if (r->started && (!r->out_ended || !r->err_ended))
		fail_msg("exec %u: EXIT before both end-of-stream frames", r->id);
	json_t *j = frame_json(f);
	r->code = (int)json_integer_value(json_object_get(j, "code"));
	r->signal = (int)json_integer_value(json_object_get(j, "signal"));
	json_decref(j);
	r->exited = true;
}

/* Records one frame in the result it belongs to. */
static void record(result *rs, size_t n, const cr_agent_frame *f)
{
	result *r = NULL;
	for (size_t i = 0; i < n && !r; i++)
		if (rs[i].id == f->exec_id)
			r = &rs[i];
	if (!r)
		fail_msg("frame %s for unexpected exec_id %u", cr_agent_type_name(f->type), f->exec_id);
	if (r->exited)
		fail_msg("exec %u: %s after EXIT", r->id, cr_agent_type_name(f->type));
	json_t *j;
	switch (f->type) {
	case CR_AGENT_STARTED:
		assert_false(r->started);
		j = frame_json(f);
		r->pid = (long)json_integer_value(json_object_get(j, "pid"));
		json_decref(j);
		r->started = true;
		break;
	case CR_AGENT_STDOUT:
	case CR_AGENT_STDERR: on_data(r, f); break;
	case CR_AGENT_ERROR:
		j = frame_json(f);
		r->error = strdup(json_string_value(json_object_get(j, "message")));
		json_decref(j);
		break;
	case CR_AGENT_EXIT: on_exit_frame(r, f); break;
	default: fail_msg("unexpected %s frame", cr_agent_type_name(f->type));
	}
}

static bool all_exited(const result *rs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!rs[i].exited)
			return false;
	return true;
}

/* Reads frames for any of the n results until the first `until` have exited. */
static void collect_some(harness *h, result *rs, size_t n, size_t until)
{
	long deadline = now_ms() + TIMEOUT_MS;
	while (!all_exited(rs, until)) {
		cr_agent_frame f;
		if (next_frame(h, &f, deadline) != 1)
			fail_msg("agent closed the channel");
		record(rs, n, &f);
	}
}

/* Reads frames until every result in rs has its EXIT. */
static void collect(harness *h, result *rs, size_t n)
{
	collect_some(h, rs, n, n);
}

/* Reads frames of one execution until its stdout contains `needle`. */
static void await_output(harness *h, result *r, const char *needle)
{
	long deadline = now_ms() + TIMEOUT_MS;
	while (!r->out.data || !strstr(r->out.data, needle)) {
		cr_agent_frame f;
		assert_int_equal(next_frame(h, &f, deadline), 1);
		record(r, 1, &f);
		assert_false(r->exited);
	}
}

/* Reads frames of one execution until STARTED. */
static void await_started(harness *h, result *r)
{
	long deadline = now_ms() + TIMEOUT_MS;
	while (!r->started) {
		cr_agent_frame f;
		assert_int_equal(next_frame(h, &f, deadline), 1);
		record(r, 1, &f);
		assert_false(r->exited);
	}
}

static void run_one(harness *h, uint32_t id, bool tty, char **argv, result *r)
{
	result_init(r, id);
	send_exec(h, id, tty, argv);
	collect(h, r, 1);
}

static void test_echo(void **state)
{
	(void)state;
	harness h;
	start_agent(&h);
	result r;
	run_one(&h, 1, false, (char *[]){"/bin/echo", "hi", NULL}, &r);
	assert_true(r.started);
	assert_true(r.pid > 0);
	assert_string_equal(r.out.len ? r.out.data : "", "hi\n");
	assert_int_equal(r.err.len, 0);
	assert_int_equal(r.code, 0);
	assert_int_equal(r.signal, 0);
	result_free(&r);
	/* PATH lookup with the request's PATH, stderr kept apart */
	run_one(&h, 2, false, (char *[]){"sh", "-c", "echo out; echo err >&2; exit 7", NULL}, &r);
	assert_string_equal(r.out.data, "out\n");
	assert_string_equal(r.err.data, "err\n");
	assert_int_equal(r.code, 7);
	result_free(&r);
	stop_agent(&h);
}

static void test_killed_by_signal(void **state)
{
	(void)state;
	harness h;
	start_agent(&h);
	result r;
	run_one(&h, 3, false, (char *[]){"sh", "-c", "kill -9 $$", NULL}, &r);
	assert_int_equal(r.signal, 9);
	assert_int_equal(r.code, 137);
	result_free(&r);
	stop_agent(&h);
}

static void test_env_cwd(void **state)
{
	(void)state;
	harness h;
	start_agent(&h);
	/* exactly the request's environment; no PATH in it, the default one finds env */
	char *env[] = {"FOO=bar baz", NULL};
	cr_agent_exec_req req = {.argv = (char *[]){"env", NULL}, .env = env};
	result r;
	result_init(&r, 4);
	send_exec_req(&h, 4, &req);
	collect(&h, &r, 1);
	assert_string_equal(r.out.data, "FOO=bar baz\n");
	assert_int_equal(r.code, 0);
	result_free(&r);

	cr_agent_exec_req req2 = {
		.argv = (char *[]){"sh", "-c", "echo \"$FOO\"; pwd", NULL}, .env = env, .cwd = "/tmp"};
	result_init(&r, 5);
	send_exec_req(&h, 5, &req2);
	collect(&h, &r, 1);
	assert_string_equal(r.out.data, "bar baz\n/tmp\n");
	result_free(&r);
	stop_agent(&h);
}

/* As root: the requested uid/gid, and no supplementary groups left over. */
static void test_uid_gid(void **state)
{
	(void)state;
	if (geteuid() != 0)
		skip();
	harness h;
	start_agent(&h);
	cr_agent_exec_req req = {
		.argv = (char *[]){"sh", "-c", "id -u; id -g; id -G", NULL}, .uid = 65534, .gid = 65533};
	result r;
	result_init(&r, 12);
	send_exec_req(&h, 12, &req);
	collect(&h, &r, 1);
	assert_int_equal(r.code, 0);
	assert_string_equal(r.out.data, "65534\n65533\n65533\n");
	result_free(&r);
	stop_agent(&h);
}

static void test_stdin_round_trip(void **state)
{
	(void)state;
	harness h;
	start_agent(&h);
	result r;
	result_init(&r, 5);
	send_exec(&h, 5, false, (char *[]){"cat", NULL});
	await_started(&h, &r);
	send_frame(&h, CR_AGENT_STDIN, 5, "hello\n", 6);
	send_frame(&h, CR_AGENT_STDIN, 5, "world", 5);
	send_frame(&h, CR_AGENT_STDIN_EOF, 5, NULL, 0);
	collect(&h, &r, 1);
	assert_string_equal(r.out.data, "hello\nworld");
	assert_int_equal(r.code, 0);
	result_free(&r);
	stop_agent(&h);
}

/* More input than any pipe holds, sent while cat's output must be read
 * concurrently: exercises the stdin queue and POLLOUT flushing. */
static void test_stdin_large(void **state)
{
	(void)state;
	harness h;
	start_agent(&h);
	result r;
	result_init(&r, 6);
	send_exec(&h, 6, false, (char *[]){"cat", NULL});
	await_started(&h, &r);
	size_t total = 6u << 20;
	unsigned char *data = malloc(total);
	for (size_t i = 0; i < total; i++)
		data[i] = (unsigned char)(i * 31 + i / 4099);
	/* A writer child, so that the test can read while the agent applies backpressure. */
	pid_t w = fork();
	assert_true(w >= 0);
	if (w == 0) {
		harness hw = h;
		for (size_t off = 0; off < total; off += CR_AGENT_MAX_DATA)
			send_frame(&hw, CR_AGENT_STDIN, 6, data + off, CR_AGENT_MAX_DATA);
		send_frame(&hw, CR_AGENT_STDIN_EOF, 6, NULL, 0);
		_exit(0);
	}
	collect(&h, &r, 1);
	int st;
	assert_int_equal(waitpid(w, &st, 0), w);
	assert_int_equal(r.code, 0);
	assert_int_equal(r.out.len, total);
	assert_memory_equal(r.out.data, data, total);
	free(data);
	result_free(&r);
	stop_agent(&h);
}

static void test_tty(void **state)
{
	(void)state;
	harness h;
	start_agent(&h);
	result r;
	run_one(&h, 7, true, (char *[]){"tty", NULL}, &r);
	assert_int_equal(r.code, 0);
	assert_non_null(r.out.data);
	assert_true(strncmp(r.out.data, "/dev/pts/", 9) == 0);
	assert_int_equal(r.err.len, 0);
	assert_true(r.err_ended);
	result_free(&r);

	/* RESIZE reaches the terminal: stty reads the new size */
	result_init(&r, 8);
	send_exec(&h, 8, true, (char *[]){"sh", "-c", "read x; stty size", NULL});
	await_started(&h, &r);
	const unsigned char size[4] = {0, 100, 0, 30}; /* cols 100, rows 30 */
	send_frame(&h, CR_AGENT_RESIZE, 8, size, 4);
	send_frame(&h, CR_AGENT_STDIN, 8, "\n", 1);
	collect(&h, &r, 1);
	assert_int_equal(r.code, 0);
	if (!strstr(r.out.data, "30 100"))
		fail_msg("stty size printed '%s'", r.out.data);
	result_free(&r);
	stop_agent(&h);
}

static void test_tty_stdin_eof(void **state)
{
	(void)state;
	harness h;
	start_agent(&h);
	result r;
	result_init(&r, 9);
	send_exec(&h, 9, true, (char *[]){"sh", "-c", "stty -echo; echo ready; cat; echo done", NULL});
	await_output(&h, &r, "ready\r\n"); /* echo is off before input arrives */
	send_frame(&h, CR_AGENT_STDIN, 9, "line\nhalf", 9);
	send_frame(&h, CR_AGENT_STDIN_EOF, 9, NULL, 0);
	collect(&h, &r, 1);
	assert_int_equal(r.code, 0);
	assert_string_equal(r.out.data, "ready\r\nline\r\nhalfdone\r\n");
	result_free(&r);
	stop_agent(&h);
}

static void test_signal(void **state)
{
	(void)state;
	harness h;
	start_agent(&h);
	result r;
	result_init(&r, 10);
	send_exec(&h, 10, false, (char *[]){"sleep", "100", NULL});
	await_started(&h, &r);
	const unsigned char term[4] = {0, 0, 0, SIGTERM};
	send_frame(&h, CR_AGENT_SIGNAL, 10, term, 4);
	collect(&h, &r, 1);
	assert_int_equal(r.signal, SIGTERM);
	assert_int_equal(r.code, 128 + SIGTERM);
	result_free(&r);
	/* frames for an execution that already ended are ignored */
	send_frame(&h, CR_AGENT_SIGNAL, 10, term, 4);
	send_frame(&h, CR_AGENT_STDIN, 10, "x", 1);
	run_one(&h, 11, false, (char *[]){"true", NULL}, &r);
	assert_int_equal(r.code, 0);
	result_free(&r);
	stop_agent(&h);
}

static void test_concurrent(void **state)
{
	(void)state;
	harness h;
	start_agent(&h);
	result rs[3];
	result_init(&rs[0], 21);
	result_init(&rs[1], 22);
	result_init(&rs[2], 20);
	send_exec(&h, 20, false, (char *[]){"cat", NULL});
	send_exec(&h, 21, false,
		  (char *[]){"sh", "-c", "for i in 1 2 3; do echo b$i; sleep 0.05; done", NULL});
	send_exec(&h, 22, true, (char *[]){"sh", "-c", "echo c; sleep 0.1; echo c", NULL});
	/* 21 and 22 finish while 20 still waits for input */
	collect_some(&h, rs, 3, 2);
	assert_false(rs[2].exited);
	send_frame(&h, CR_AGENT_STDIN, 20, "to cat", 6);
	send_frame(&h, CR_AGENT_STDIN_EOF, 20, NULL, 0);
	collect(&h, rs, 3);
	assert_string_equal(rs[2].out.data, "to cat");
	assert_string_equal(rs[0].out.data, "b1\nb2\nb3\n");
	assert_string_equal(rs[1].out.data, "c\r\nc\r\n");
	for (int i = 0; i < 3; i++) {
		assert_int_equal(rs[i].code, 0);
		result_free(&rs[i]);
	}
	stop_agent(&h);
}

static void test_start_failures(void **state)
{
	(void)state;
	harness h;
	start_agent(&h);
	result r;
	run_one(&h, 30, false, (char *[]){"no-such-command-cleanroom", NULL}, &r);
	assert_false(r.started);
	assert_non_null(r.error);
	if (!strstr(r.error, "No such file or directory"))
		fail_msg("error: %s", r.error);
	assert_int_equal(r.code, 127);
	result_free(&r);

	cr_agent_exec_req req = {.argv = (char *[]){"true", NULL}, .cwd = "/proc/self/nonexistent-dir"};
	result_init(&r, 31);
	send_exec_req(&h, 31, &req);
	collect(&h, &r, 1);
	assert_non_null(r.error);
	assert_non_null(strstr(r.error, "change directory to '/proc/self/nonexistent-dir'"));
	assert_int_equal(r.code, 127);
	result_free(&r);

	/* an invalid request is a failed start, not a protocol error */
	result_init(&r, 32);
	send_frame(&h, CR_AGENT_EXEC, 32, "{\"argv\":[]}", 11);
	collect(&h, &r, 1);
	assert_non_null(strstr(r.error, "argv is empty"));
	assert_int_equal(r.code, 127);
	result_free(&r);

	/* internal commands run in the agent's child without an exec: one
	 * given a directory that does not exist starts, then fails */
	cr_agent_exec_req ireq = {.internal = "extract",
				  .argv = (char *[]){"/proc/self/nonexistent-dir", NULL}};
	result_init(&r, 33);
	send_exec_req(&h, 33, &ireq);
	collect(&h, &r, 1);
	assert_null(r.error);
	assert_int_equal(r.code, 1);
	result_free(&r);
	stop_agent(&h);
}

static void expect_error0(harness *h, const char *needle)
{
	cr_agent_frame f;
	assert_int_equal(next_frame(h, &f, now_ms() + TIMEOUT_MS), 1);
	assert_int_equal(f.type, CR_AGENT_ERROR);
	assert_int_equal(f.exec_id, 0);
	json_t *j = frame_json(&f);
	const char *msg = json_string_value(json_object_get(j, "message"));
	if (!msg || !strstr(msg, needle))
		fail_msg("ERROR '%s' does not mention '%s'", msg ? msg : "(null)", needle);
	json_decref(j);
}

static void test_bad_ids(void **state)
{
	(void)state;
	harness h;
	start_agent(&h);
	result r;
	result_init(&r, 40);
	send_exec(&h, 40, false, (char *[]){"sleep", "100", NULL});
	await_started(&h, &r);
	send_exec(&h, 40, false, (char *[]){"true", NULL});
	expect_error0(&h, "already in use");
	send_exec(&h, 0, false, (char *[]){"true", NULL});
	expect_error0(&h, "is zero");
	const unsigned char bad_signal[4] = {0, 0, 1, 0};
	send_frame(&h, CR_AGENT_SIGNAL, 40, bad_signal, 4);
	expect_error0(&h, "not a signal number");
	/* SHUTDOWN kills the running execution, which still gets its EXIT */
	send_frame(&h, CR_AGENT_SHUTDOWN, 0, NULL, 0);
	collect(&h, &r, 1);
	assert_int_equal(r.signal, SIGKILL);
	assert_int_equal(r.code, 128 + SIGKILL);
	cr_agent_frame f;
	assert_int_equal(next_frame(&h, &f, now_ms() + TIMEOUT_MS), 0);
	assert_int_equal(wait_agent(&h), 0);
	assert_int_equal(kill((pid_t)r.pid, 0), -1);
	result_free(&r);
}

/* Closing the control channel ends the agent and everything it runs. */
static void test_eof_kills(void **state)
{
	(void)state;
	harness h;
	start_agent(&h);
	result r;
	result_init(&r, 50);
	send_exec(&h, 50, false, (char *[]){"sleep", "100", NULL});
	await_started(&h, &r);
	shutdown(h.fd, SHUT_WR);
	assert_int_equal(wait_agent(&h), 0);
	assert_int_equal(kill((pid_t)r.pid, 0), -1);
	assert_int_equal(errno, ESRCH);
	result_free(&r);
}

/* A background process holding the pipes does not delay EXIT. */
static void test_background_holder(void **state)
{
	(void)state;
	harness h;
	start_agent(&h);
	long t0 = now_ms();
	result r;
	run_one(&h, 60, false, (char *[]){"sh", "-c", "sleep 3 & echo x", NULL}, &r);
	assert_true(now_ms() - t0 < 2500);
	assert_string_equal(r.out.data, "x\n");
	assert_int_equal(r.code, 0);
	result_free(&r);
	stop_agent(&h);
}

static void expect_protocol_error(const void *bytes, size_t len, const char *needle)
{
	harness h;
	start_agent(&h);
	assert_int_equal(cr_agent_write_all(h.fd, bytes, len, NULL), 0);
	expect_error0(&h, needle);
	assert_int_equal(wait_agent(&h), 1);
}

static void test_protocol_errors(void **state)
{
	(void)state;
	const unsigned char short_len[] = {0, 0, 0, 1, 21};
	expect_protocol_error(short_len, sizeof(short_len), "out of range");
	const unsigned char unknown[] = {0, 0, 0, 5, 99, 0, 0, 0, 0};
	expect_protocol_error(unknown, sizeof(unknown), "unknown agent frame type 99");
	const unsigned char hello[] = {0, 0, 0, 7, CR_AGENT_HELLO, 0, 0, 0, 0, '{', '}'};
	expect_protocol_error(hello, sizeof(hello), "HELLO frame sent to the agent");
	const unsigned char resize[] = {0, 0, 0, 8, CR_AGENT_RESIZE, 0, 0, 0, 1, 0, 80, 0};
	expect_protocol_error(resize, sizeof(resize), "3-byte payload");
	const unsigned char shut[] = {0, 0, 0, 5, CR_AGENT_SHUTDOWN, 0, 0, 0, 9};
	expect_protocol_error(shut, sizeof(shut), "SHUTDOWN frame with exec_id 9");
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_echo),
		cmocka_unit_test(test_killed_by_signal),
		cmocka_unit_test(test_env_cwd),
		cmocka_unit_test(test_uid_gid),
		cmocka_unit_test(test_stdin_round_trip),
		cmocka_unit_test(test_stdin_large),
		cmocka_unit_test(test_tty),
		cmocka_unit_test(test_tty_stdin_eof),
		cmocka_unit_test(test_signal),
		cmocka_unit_test(test_concurrent),
		cmocka_unit_test(test_start_failures),
		cmocka_unit_test(test_bad_ids),
		cmocka_unit_test(test_eof_kills),
		cmocka_unit_test(test_background_holder),
		cmocka_unit_test(test_protocol_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
