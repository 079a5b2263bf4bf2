/* SPDX-License-Identifier: Apache-2.0 */
/* private_server.c -- a private `cleanroom serve` for CLIs run without a
 * server (see private_server.h). The daemon is started with a double fork
 * and setsid so it belongs to no terminal and is reparented away from the
 * CLI; it exits by itself after 60 s without sandboxes or requests. Two CLIs
 * racing to start it take the same lock, and the second one finds the
 * first one's server answering, so one daemon starts. */
#include "cli/private_server.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cleanroom/v1/admin.pb-c.h"
#include "cli/client/client.h"
#include "util/cleanup.h"
#include "server/http.h"
#include "util/xalloc.h"

#define PING_INTERVAL_MS 50

/* mkdir -p, the last component with `mode`. */
static int make_dirs(const char *dir, mode_t mode, cr_error **err)
{
	cleanup_free char *p = cr_xstrdup(dir);
	for (char *s = strchr(p + 1, '/'); s; s = strchr(s + 1, '/')) {
		*s = '\0';
		if (mkdir(p, 0755) < 0 && errno != EEXIST)
			return cr_error_make(err, errno, CR_REASON_INTERNAL, "create directory '%s'", p);
		*s = '/';
	}
	if (mkdir(p, mode) < 0 && errno != EEXIST)
		return cr_error_make(err, errno, CR_REASON_INTERNAL, "create directory '%s'", p);
	return 0;
}

/* 1 when a server answers at endpoint, 0 when nothing does, -1 on a client
 * failure (bad endpoint). A server answering with an error still answers. */
static int answers(const char *endpoint, cr_error **err)
{
	cr_client *c = NULL;
	if (cr_client_open(endpoint, &c, err) < 0)
		return -1;
	cr_error *e = NULL;
	int up = cr_client_ping(c, &e) == 0 || !cr_client_unreachable(c);
	cr_error_free(e);
	cr_client_free(c);
	return up;
}

/* The daemon side of the double fork: async-signal-safe calls only. */
static void __attribute__((noreturn)) become_daemon(int null_fd, int log_fd, char *const argv[])
{
	if (setsid() < 0)
		_exit(1);
	pid_t pid = fork();
	if (pid != 0)
		_exit(pid < 0 ? 1 : 0);
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	static const int reset[] = {SIGINT, SIGTERM, SIGHUP, SIGPIPE, SIGQUIT};
	for (size_t i = 0; i < sizeof(reset) / sizeof(reset[0]); i++)
		signal(reset[i], SIG_DFL);
	if (dup2(null_fd, 0) < 0 || dup2(log_fd, 1) < 0 || dup2(log_fd, 2) < 0 || chdir("/") < 0)
		_exit(1);
	execv("/proc/self/exe", argv);
	_exit(127);
}

static int spawn(const char *socket_path, const char *dir, const char *log_path, cr_error **err)
{
	cleanup_close int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	cleanup_close int log_fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (null_fd < 0 || log_fd < 0)
		return cr_error_make(err, errno, CR_REASON_INTERNAL, "open '%s'",
				     null_fd < 0 ? "/dev/null" : log_path);
	char idle[16];
	snprintf(idle, sizeof(idle), "%d", CR_PRIVATE_SERVER_IDLE_SECONDS);
	char *const argv[] = {"cleanroom",         "serve",       "--socket",
			      (char *)socket_path, "--state-dir", (char *)dir,
			      "--idle-exit",       idle,          NULL};
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0)
		return cr_error_make(err, errno, CR_REASON_INTERNAL, "fork the private server");
	if (pid == 0)
		become_daemon(null_fd, log_fd, argv);
	int status = 0;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return cr_error_make(err, 0, CR_REASON_INTERNAL, "start the private server: fork failed");
	return 0;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

static int wait_until_answering(const char *endpoint, const char *log_path, cr_error **err)
{
	for (int waited = 0; waited <= CR_PRIVATE_SERVER_WAIT_MS; waited += PING_INTERVAL_MS) {
		int up = answers(endpoint, err);
		if (up != 0)
			return up < 0 ? -1 : 0;
		sleep_ms(PING_INTERVAL_MS);
	}
	return cr_error_make(err, 0, CR_REASON_BACKEND_UNAVAILABLE,
			     "the private server started for %s did not answer within %d s; its log is '%s'",
			     endpoint, CR_PRIVATE_SERVER_WAIT_MS / 1000, log_path);
}

int cr_private_server_ensure(const char *socket_path, bool announce, cr_error **err)
{
	cleanup_free char *endpoint = cr_asprintf("unix://%s", socket_path);
	cleanup_free char *dir = cr_server_default_state_dir();
	if (make_dirs(dir, geteuid() == 0 ? 0711 : 0700, err) < 0)
		return -1;
	cleanup_free char *lock_path = cr_asprintf("%s/autostart.lock", dir);
	cleanup_free char *log_path = cr_asprintf("%s/serve.log", dir);
	cleanup_close int lock_fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (lock_fd < 0)
		return cr_error_make(err, errno, CR_REASON_INTERNAL, "open '%s'", lock_path);
	while (flock(lock_fd, LOCK_EX) < 0)
		if (errno != EINTR)
			return cr_error_make(err, errno, CR_REASON_INTERNAL, "lock '%s'", lock_path);
	int up = answers(endpoint, err); /* another CLI may have started it meanwhile */
	if (up != 0)
		return up < 0 ? -1 : 0;
	if (spawn(socket_path, dir, log_path, err) < 0 || wait_until_answering(endpoint, log_path, err) < 0)
		return -1;
	if (announce)
		fprintf(stderr, "cleanroom: started a private server on %s (exits after %d s idle)\n",
			endpoint, CR_PRIVATE_SERVER_IDLE_SECONDS);
	return 1;
}
