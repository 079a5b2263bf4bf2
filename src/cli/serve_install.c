/* SPDX-License-Identifier: Apache-2.0 */
/* serve_install.c -- `cleanroom serve install`: writes the systemd unit
 * cleanroom.service that runs this binary's `serve` as root, and says how to
 * enable it; it never runs systemctl. The unit keeps systemd's sandboxing
 * options off on purpose: each would break the namespace backend or be
 * inherited by every workload (the unit's own comments say which and why). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/admin_cmds.h"
#include "cli/cli.h"
#include "cli/output.h"
#include "config.h"
#include "util/buf.h"
#include "util/cleanup.h"
#include "util/fileio.h"
#include "util/xalloc.h"

#define CMD              "cleanroom serve install"
#define USAGE            CMD " [--socket PATH] [--state-dir DIR] [--unit-dir DIR] [--dry-run] [--json]"
#define DEFAULT_UNIT_DIR "/etc/systemd/system"
#define UNIT_NAME        "cleanroom.service"

typedef struct install_opts {
	const char *socket, *state_dir, *unit_dir;
	bool dry_run, json;
} install_opts;

static int parse(int argc, char **argv, install_opts *o)
{
	static const struct option opts[] = {{"socket", required_argument, NULL, 's'},
					     {"state-dir", required_argument, NULL, 'd'},
					     {"unit-dir", required_argument, NULL, 'u'},
					     {"dry-run", no_argument, NULL, 'n'},
					     {"json", no_argument, NULL, 'j'},
					     {"help", no_argument, NULL, 'h'},
					     {NULL, 0, NULL, 0}};
	int c;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 's': o->socket = optarg; break;
		case 'd': o->state_dir = optarg; break;
		case 'u': o->unit_dir = optarg; break;
		case 'n': o->dry_run = true; break;
		case 'j': o->json = true; break;
		case 'h': return printf("Usage: %s\n", USAGE), 1;
		default:
			return cr_cli_usage_error(CMD, "unknown or incomplete option '%s'", argv[optind - 1]),
			       -1;
		}
	}
	if (optind < argc)
		return cr_cli_usage_error(CMD, "unexpected argument '%s'", argv[optind]), -1;
	return 0;
}

/* An absolute form of a path given on the command line (the unit runs with
 * / as its working directory). Owned. */
static char *absolute(const char *path)
{
	if (path[0] == '/')
		return cr_xstrdup(path);
	cleanup_free char *cwd = getcwd(NULL, 0);
	return cr_asprintf("%s/%s", cwd ? cwd : "", path);
}

/* Appends one ExecStart= word: '%' and '$' doubled (systemd specifiers and
 * variables), quoted when it holds anything but plain path characters. -1
 * for control characters, which a unit file cannot carry. */
static int put_word(cr_buf *b, const char *w)
{
	static const char plain[] =
		"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._+-:=@,%$";
	bool quote = !*w || strspn(w, plain) != strlen(w);
	if (quote)
		cr_buf_putc(b, '"');
	for (const unsigned char *p = (const unsigned char *)w; *p; p++) {
		if (*p < 0x20 || *p == 0x7f)
			return -1;
		if (*p == '%' || *p == '$')
			cr_buf_putc(b, (char)*p);
		else if (quote && (*p == '"' || *p == '\\'))
			cr_buf_putc(b, '\\');
		cr_buf_putc(b, (char)*p);
	}
	if (quote)
		cr_buf_putc(b, '"');
	return 0;
}

static const char unit_head[] =
	"[Unit]\n"
	"Description=cleanroom control plane (sandboxes with deny-by-default egress)\n"
	"After=network-online.target\n"
	"Wants=network-online.target\n"
	"\n"
	"[Service]\n"
	"Type=simple\n";

static const char unit_tail[] =
	"Restart=on-failure\n"
	"RestartSec=2s\n"
	"# On stop, SIGTERM goes to the server alone: it terminates every sandbox it\n"
	"# owns before it exits. Sandboxes live in their own cgroups (cleanroom/<id>),\n"
	"# outside this unit's, so systemd would not remove them itself; after a crash\n"
	"# the next start removes what was left.\n"
	"KillMode=mixed\n"
	"TimeoutStopSec=60s\n"
	"# The API socket (mode 0600) and the state directory stay private to root.\n"
	"UMask=0077\n"
	"LimitNOFILE=65536\n"
	"#\n"
	"# Deliberately NOT set -- each breaks the namespace backend, which runs as root:\n"
	"#   ProtectSystem=, ProtectHome=, PrivateTmp=, PrivateDevices=, ReadOnlyPaths=,\n"
	"#   ProtectKernelTunables=, ProtectKernelModules=, ProtectControlGroups=:\n"
	"#     they put the server in a narrowed private mount namespace, while the\n"
	"#     backend mounts every sandbox's root, writes uid maps under /proc,\n"
	"#     creates cgroups under /sys/fs/cgroup and gives each sandbox a read-only\n"
	"#     view of the real host;\n"
	"#   PrivateUsers=, RestrictNamespaces=: each sandbox is a new user, mount, PID,\n"
	"#     network, IPC, UTS and cgroup namespace;\n"
	"#   PrivateNetwork=, RestrictAddressFamilies=, IPAddressDeny=: the backend\n"
	"#     creates network namespaces and links, and the gateways reach the network;\n"
	"#   CapabilityBoundingSet=, NoNewPrivileges=, SystemCallFilter=,\n"
	"#   ProtectHostname=, ProtectClock=, LockPersonality=, RestrictSUIDSGID=,\n"
	"#   MemoryDenyWriteExecute=, OOMScoreAdjust=: building a sandbox needs the full\n"
	"#     root capability set (and sethostname in the sandbox's UTS namespace), and\n"
	"#     these would be inherited by every workload. Each sandbox gets its own\n"
	"#     seccomp filter, Landlock rules, capability set and cgroup limits instead\n"
	"#     (docs/security.md).\n"
	"\n"
	"[Install]\n"
	"WantedBy=multi-user.target\n";

/* The unit's text for this binary and options; NULL with *bad naming a path
 * a unit cannot hold. */
static char *unit_text(const char *exe, const char *socket, const char *state_dir, const char **bad)
{
	const char *argv[] = {
		exe,      "serve", socket ? "--socket" : NULL, socket, state_dir ? "--state-dir" : NULL,
		state_dir};
	cleanup_buf cr_buf b;
	cr_buf_init(&b, 64 << 10);
	cr_buf_printf(&b, "# %s -- written by `cleanroom serve install` (cleanroom %s).\n", UNIT_NAME,
		      CLEANROOM_VERSION);
	cr_buf_puts(&b, "# Enable: systemctl daemon-reload && systemctl enable --now cleanroom\n");
	cr_buf_puts(&b, unit_head);
	cr_buf_puts(&b, "ExecStart=");
	for (size_t i = 0; i < sizeof(argv) / sizeof(argv[0]); i++) {
		if (!argv[i])
			continue;
		if (i)
			cr_buf_putc(&b, ' ');
		if (put_word(&b, argv[i]) < 0)
			return *bad = argv[i], NULL;
	}
	cr_buf_putc(&b, '\n');
	cr_buf_puts(&b, unit_tail);
	return cr_buf_steal(&b, NULL);
}

/* Writes text to dir/UNIT_NAME through a temporary file and rename, 0644. */
static int write_unit(const char *path, const char *dir, const char *text)
{
	cleanup_free char *tmp = cr_asprintf("%s/.%s.XXXXXX", dir, UNIT_NAME);
	int fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return -1;
	int bad = fchmod(fd, 0644) < 0 || cr_write_all(fd, text, strlen(text)) < 0 || fsync(fd) < 0;
	int saved = errno;
	bad |= close(fd) < 0;
	if (!bad && rename(tmp, path) == 0)
		return 0;
	saved = bad ? saved : errno;
	unlink(tmp);
	errno = saved;
	return -1;
}

static void report(const install_opts *o, const char *path, const char *text)
{
	if (o->json) {
		json_t *doc =
			json_pack("{s:s, s:s, s:b}", "unitPath", path, "unit", text, "written", !o->dry_run);
		char *s = json_dumps(doc, JSON_COMPACT);
		puts(s);
		free(s);
		json_decref(doc);
		return;
	}
	printf("%s %s:\n\n%s\n", o->dry_run ? "would write" : "wrote", path, text);
	printf("%sthen: systemctl daemon-reload && systemctl enable --now cleanroom\n",
	       o->dry_run ? "(dry run: nothing written) " : "");
}

int cmd_serve_install(int argc, char **argv)
{
	install_opts o = {.unit_dir = DEFAULT_UNIT_DIR};
	int p = parse(argc, argv, &o);
	if (p != 0)
		return p > 0 ? CR_EXIT_OK : CR_EXIT_USAGE;
	cleanup_free char *exe = realpath("/proc/self/exe", NULL);
	if (!exe) {
		cleanup_free char *msg =
			cr_asprintf("find this binary (/proc/self/exe): %s", strerror(errno));
		cr_cli_print_error(CMD, "internal", msg, NULL);
		return CR_EXIT_FAIL;
	}
	cleanup_free char *socket = o.socket ? absolute(o.socket) : NULL;
	cleanup_free char *state_dir = o.state_dir ? absolute(o.state_dir) : NULL;
	const char *bad = NULL;
	cleanup_free char *text = unit_text(exe, socket, state_dir, &bad);
	if (!text)
		return cr_cli_usage_error(
			CMD, "'%s' holds a control character, which a unit file cannot carry", bad);
	cleanup_free char *path = cr_asprintf("%s/%s", o.unit_dir, UNIT_NAME);
	if (!o.dry_run && write_unit(path, o.unit_dir, text) < 0) {
		int e = errno;
		cleanup_free char *msg = cr_asprintf("write '%s': %s", path, strerror(e));
		cr_cli_print_error(CMD, "internal", msg,
				   e == EACCES || e == EPERM ? "run it as root, or pass --unit-dir DIR"
							     : NULL);
		return CR_EXIT_FAIL;
	}
	report(&o, path, text);
	return CR_EXIT_OK;
}
