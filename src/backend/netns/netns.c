/* SPDX-License-Identifier: Apache-2.0 */
/* netns.c -- the namespace backend (Type 0 process isolation): capability
 * map, doctor checks, provision, terminate and the start-up cleanup. A
 * sandbox lives in <state>/netns/<id>/ (owner lock, resource record, the
 * directory its root is built on); executions and file transfer are in
 * netns_exec.c and netns_files.c. */
#include "backend/netns/netns.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backend/netns/harden.h"
#include "backend/netns/spawn.h"
#include "net/link.h"
#include "config.h"
#include "util/cleanup.h"
#include "util/fileio.h"
#include "util/xalloc.h"

#define UID_BASE  0x40000000u /* host uids for sandboxes: slot N gets [base + N*65536, +65536) */
#define UID_SLOTS 4096

static const cr_capability capabilities[] = {
	{"network_default_deny", true},      {"network_host_port_filtering", true},
	{"dns_control_or_equivalent", true}, {"policy_immutability", true},
	{"audit_event_emission", true},      {"secret_isolation", false},
	{"protocol_granularity", false},     {"advanced_destination_identity", true},
	{"offline_cache_mode", true},        {"registry_mediation", true},
};

static void netns_capabilities(cr_backend_caps *out)
{
	*out = (cr_backend_caps){
		.backend_name = "netns",
		.backend_version = CLEANROOM_VERSION,
		.capabilities = capabilities,
		.n_capabilities = sizeof(capabilities) / sizeof(capabilities[0]),
		.notes = "network_default_deny: a sandbox has its own network namespace; its only link "
			 "leads to its gateway, and the host firewall sends all its DNS and TCP there and "
			 "drops everything else. network_host_port_filtering, dns_control_or_equivalent and "
			 "advanced_destination_identity (TLS SNI / HTTP Host checked against the managed "
			 "resolver's answers) hold only where the server runs egress (as root; see "
			 "GetCapabilities notes): without it a sandbox has loopback only. "
			 "policy_immutability: the compiled policy is fixed at provision. "
			 "audit_event_emission: lifecycle events and every egress decision are in the "
			 "audit trail. registry_mediation (ours: npm, PyPI and git fronts in the gateway "
			 "with lockfile enforcement and integrity checks) and offline_cache_mode (the "
			 "content cache; `serve --offline` serves warm entries only) also need egress. "
			 "Not built yet: secret_isolation (secrets) and protocol_granularity, so "
			 "policies with secrets are refused.",
	};
}

static bool valid_id(const char *id)
{
	size_t n = strlen(id);
	return n >= 1 && n <= 64 && strspn(id, "abcdefghijklmnopqrstuvwxyz0123456789-") == n && id[0] != '-';
}

static int mkdir_p(const char *path, mode_t mode, cr_error **err)
{
	cleanup_free char *p = cr_xstrdup(path);
	for (char *s = p + 1; (s = strchr(s, '/')); s++) {
		*s = '\0';
		if (mkdir(p, mode) < 0 && errno != EEXIST)
			return cr_error_make(err, errno, CR_REASON_RUNTIME_LAUNCH_FAILED, "mkdir '%s'", p);
		*s = '/';
	}
	if (mkdir(p, mode) < 0 && errno != EEXIST)
		return cr_error_make(err, errno, CR_REASON_RUNTIME_LAUNCH_FAILED, "mkdir '%s'", p);
	return 0;
}

/* Takes the first free uid slot (a file created with O_EXCL holding the
 * sandbox id) and records it. */
static int take_uid_slot(cr_sandbox *sb, const char *state_dir, uid_t *base, cr_error **err)
{
	cleanup_free char *dir = cr_asprintf("%s/netns-uids", state_dir);
	if (mkdir_p(dir, 0700, err) < 0)
		return -1;
	for (unsigned slot = 0; slot < UID_SLOTS; slot++) {
		cleanup_free char *path = cr_asprintf("%s/%u", dir, slot);
		int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd < 0 && errno == EEXIST)
			continue;
		if (fd < 0)
			return cr_error_make(err, errno, CR_REASON_RUNTIME_LAUNCH_FAILED, "create '%s'",
					     path);
		ssize_t w = write(fd, sb->id, strlen(sb->id));
		close(fd);
		if (w < 0 || cr_record_file(&sb->record, path, err) < 0)
			return unlink(path), -1;
		*base = UID_BASE + slot * CR_NETNS_UID_RANGE;
		return 0;
	}
	return cr_error_make(err, 0, CR_REASON_RUNTIME_LAUNCH_FAILED, "no free uid range (%u sandboxes)",
			     UID_SLOTS);
}

static bool limits_requested(const cr_resources *r)
{
	return r->memory_bytes || r->pids || r->millicpus;
}

static int make_cgroup(cr_sandbox *sb, const cr_resources *res, cr_error **err)
{
	cr_cgroup_layout layout = {0};
	bool need = limits_requested(res);
	if (geteuid() != 0 || cr_cgroup_detect(&layout, NULL) < 0) {
		cr_cgroup_layout_clear(&layout);
		return need ? cr_error_make(err, 0, CR_REASON_RUNTIME_LAUNCH_FAILED,
					    "sandbox.resources needs cgroups, which this server cannot use "
					    "(run it as root)")
			    : 0;
	}
	cleanup_free char *name = cr_asprintf("cleanroom/%s", sb->id);
	char **dirs = NULL;
	size_t n = 0;
	int rc = cr_cgroup_plan(&layout, name, &dirs, &n, err);
	for (size_t i = 0; rc == 0 && i < n; i++)
		rc = cr_record_cgroup(&sb->record, dirs[i], err);
	for (size_t i = 0; i < n; i++)
		free(dirs[i]);
	free(dirs);
	cr_cgroup_limits lim = {res->memory_bytes, res->pids, res->millicpus};
	if (rc == 0)
		rc = cr_cgroup_create(&layout, name, &lim, &sb->cgroup, err);
	cr_cgroup_layout_clear(&layout);
	return rc;
}

static int lock_owner(cr_sandbox *sb, cr_error **err)
{
	cleanup_free char *path = cr_asprintf("%s/owner.lock", sb->dir);
	sb->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (sb->lock_fd < 0 || flock(sb->lock_fd, LOCK_EX | LOCK_NB) < 0)
		return cr_error_make(err, errno, CR_REASON_RUNTIME_LAUNCH_FAILED, "lock '%s'", path);
	return 0;
}

static cr_sandbox *sandbox_new(const cr_sandbox_spec *spec)
{
	cr_sandbox *sb = cr_xcalloc(1, sizeof(*sb));
	sb->id = cr_xstrdup(spec->sandbox_id);
	sb->dir = cr_asprintf("%s/netns/%s", spec->state_dir, spec->sandbox_id);
	sb->lock_fd = sb->pidfd = sb->ctl_fd = sb->spawn_err_fd = sb->record.fd = -1;
	sb->workload_uid = spec->workload_uid;
	if (spec->net) {
		sb->has_net = true;
		sb->net = *spec->net;
	}
	sb->next_exec_id = 1;
	cr_agent_decoder_init(&sb->dec);
	return sb;
}

static void sandbox_free(cr_sandbox *sb)
{
	if (!sb)
		return;
	for (cr_queued_frame *q = sb->queue, *next; q; q = next) {
		next = q->next;
		free(q->payload);
		free(q);
	}
	for (size_t i = 0; i < 8; i++)
		free(sb->start_error[i]);
	free(sb->held);
	free(sb->exit_message);
	cr_agent_decoder_free(&sb->dec);
	cr_cgroup_free(sb->cgroup);
	cr_record_close(&sb->record);
	if (sb->ctl_fd >= 0)
		close(sb->ctl_fd);
	if (sb->spawn_err_fd >= 0)
		close(sb->spawn_err_fd);
	if (sb->pidfd >= 0)
		close(sb->pidfd);
	if (sb->lock_fd >= 0)
		close(sb->lock_fd);
	free(sb->id);
	free(sb->dir);
	free(sb);
}

/* Kills the agent (and with it the whole PID namespace), removes every
 * recorded resource and the sandbox directory. */
static int destroy(cr_sandbox *sb, cr_error **err)
{
	if (sb->ctl_fd >= 0 && !sb->dead && sb->spawn_err_fd < 0)
		cr_netns_send(sb, CR_AGENT_SHUTDOWN, 0, NULL, 0, NULL);
	if (sb->pidfd >= 0)
		syscall(SYS_pidfd_send_signal, sb->pidfd, SIGKILL, NULL, 0);
	if (sb->agent_pid > 0)
		waitpid(sb->agent_pid, NULL, 0);
	sb->agent_pid = 0;
	int rc = 0;
	if (sb->has_net && cr_net_link_delete(sb->net.host_ifname, err) < 0)
		rc = -1;
	if (cr_record_teardown(sb->dir, rc < 0 ? NULL : err) < 0)
		rc = -1;
	sandbox_free(sb);
	return rc;
}

static int prepare(cr_sandbox *sb, const cr_sandbox_spec *spec, uid_t *base, cr_error **err)
{
	cleanup_free char *parent = cr_asprintf("%s/netns", spec->state_dir);
	if (mkdir_p(parent, 0711, err) < 0)
		return -1;
	if (mkdir(sb->dir, 0711) < 0)
		return cr_error_make(err, errno, CR_REASON_RUNTIME_LAUNCH_FAILED,
				     "create sandbox directory '%s'", sb->dir);
	sb->dir_created = true;
	cleanup_free char *root = cr_asprintf("%s/root", sb->dir), *rw = cr_asprintf("%s/root.rw", sb->dir);
	if (lock_owner(sb, err) < 0 || cr_record_open(&sb->record, sb->dir, err) < 0)
		return -1;
	/* the upper layer's mount point for an image root (see rootfs.c) */
	if (mkdir(root, 0755) < 0 || (spec->image_dir && mkdir(rw, 0700) < 0))
		return cr_error_make(err, errno, CR_REASON_RUNTIME_LAUNCH_FAILED, "mkdir in '%s'", sb->dir);
	if (geteuid() == 0 && take_uid_slot(sb, spec->state_dir, base, err) < 0)
		return -1;
	return make_cgroup(sb, &spec->policy->resources, err);
}

/* <dir>/resolv.conf naming the gateway, bound over the root's. */
static int write_resolv_conf(cr_sandbox *sb, char **path, cr_error **err)
{
	char gw[INET_ADDRSTRLEN];
	cleanup_free char *text = cr_asprintf("# written by cleanroom: the sandbox's gateway resolves the "
					      "names its policy allows\nnameserver %s\noptions attempts:2 "
					      "timeout:3\n",
					      cr_net_addr_str(sb->net.gateway_addr, gw));
	*path = cr_asprintf("%s/resolv.conf", sb->dir);
	cleanup_close int fd = open(*path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0 || cr_write_all(fd, text, strlen(text)) < 0)
		return cr_error_make(err, errno, CR_REASON_RUNTIME_LAUNCH_FAILED, "write '%s'", *path);
	return 0;
}

/* The link to the gateway, once the agent (and so its netns) is up. */
static int attach_link(cr_sandbox *sb, cr_error **err)
{
	if (!sb->has_net)
		return 0;
	cleanup_close int netns = cr_net_netns_open(sb->agent_pid, sb->pidfd, err);
	if (netns < 0)
		return -1;
	return cr_net_link_create(&sb->net, netns, err);
}

static int netns_provision_start(const cr_sandbox_spec *spec, cr_sandbox **out, cr_error **err)
{
	if (!valid_id(spec->sandbox_id))
		return cr_error_make(err, 0, CR_REASON_RUNTIME_LAUNCH_FAILED,
				     "invalid sandbox id '%s' (1-64 of a-z, 0-9, '-')", spec->sandbox_id);
	cr_sandbox *sb = sandbox_new(spec);
	uid_t base = geteuid();
	if (prepare(sb, spec, &base, err) < 0) {
		if (sb->dir_created)
			destroy(sb, NULL);
		else
			sandbox_free(sb); /* the directory belongs to another sandbox */
		return -1;
	}
	cleanup_free char *root = cr_asprintf("%s/root", sb->dir);
	cr_rootfs_spec rootfs = {.root_dir = root,
				 .image_dir = spec->image_dir,
				 .owner_uid = spec->workload_uid,
				 .owner_gid = spec->workload_uid,
				 .tmpfs_bytes = spec->policy->resources.disk_bytes};
	cleanup_free char *resolv = NULL;
	if (spec->net && write_resolv_conf(sb, &resolv, err) < 0)
		return destroy(sb, NULL), -1;
	rootfs.resolv_conf = resolv;
	cr_spawn_spec s = {.rootfs = &rootfs,
			   .host_uid_base = base,
			   .map_range = geteuid() == 0,
			   .cgroup = sb->cgroup,
			   .record = &sb->record};
	cr_spawned sp;
	if (cr_netns_spawn_start(&s, &sp, err) < 0)
		return destroy(sb, NULL), -1;
	sb->agent_pid = sp.pid;
	sb->pidfd = sp.pidfd;
	sb->ctl_fd = sp.ctl_fd;
	sb->spawn_err_fd = sp.err_fd;
	struct timeval send_timeout = {.tv_sec = CR_NETNS_SEND_TIMEOUT_S};
	if (setsockopt(sb->ctl_fd, SOL_SOCKET, SO_SNDTIMEO, &send_timeout, sizeof(send_timeout)) < 0) {
		cr_error_make(err, errno, CR_REASON_RUNTIME_LAUNCH_FAILED, "set the agent socket's timeout");
		return destroy(sb, NULL), -1;
	}
	*out = sb;
	return 0;
}

/* The agent's HELLO ends provisioning; end of file before it means the
 * child failed, and its error pipe says why. */
static int netns_provision_step(cr_sandbox *sb, cr_error **err)
{
	if (sb->spawn_err_fd < 0)
		return 1;
	cr_agent_frame f;
	cleanup_error cr_error *e = NULL;
	int got = cr_netns_next_frame(sb, &f, 0, &e);
	if (got == 0)
		return 0;
	cleanup_free char *child = cr_netns_spawn_error(sb->spawn_err_fd);
	close(sb->spawn_err_fd);
	sb->spawn_err_fd = -1;
	if (got == 1 && f.type == CR_AGENT_HELLO)
		return attach_link(sb, err) < 0 ? -1 : 1;
	if (*child)
		return cr_error_make(err, 0, CR_REASON_RUNTIME_LAUNCH_FAILED, "set up the sandbox: %s",
				     child);
	return cr_error_make(err, 0, CR_REASON_RUNTIME_LAUNCH_FAILED, "%s",
			     got == 1 ? "the agent did not say hello"
				      : "the agent exited before saying hello");
}

static int netns_terminate(cr_sandbox *sb, cr_error **err)
{
	return sb ? destroy(sb, err) : 0;
}

/* A sandbox directory whose owner lock can be taken has no living owner. */
static bool orphaned(const char *dir)
{
	cleanup_free char *path = cr_asprintf("%s/owner.lock", dir);
	cleanup_close int fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
	return fd < 0 || flock(fd, LOCK_EX | LOCK_NB) == 0;
}

/* uid slot files whose sandbox directory is gone (a crash between taking
 * the slot and recording it). */
static void remove_stale_slots(const char *state_dir)
{
	cleanup_free char *dir = cr_asprintf("%s/netns-uids", state_dir);
	DIR *d = opendir(dir);
	struct dirent *e;
	while (d && (e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		cleanup_free char *slot = cr_asprintf("%s/%s", dir, e->d_name), *id = NULL;
		cleanup_free char *sbdir = NULL;
		if (cr_read_file(slot, 128, &id, NULL, NULL) < 0)
			continue;
		sbdir = cr_asprintf("%s/netns/%s", state_dir, id);
		if (access(sbdir, F_OK) < 0)
			unlink(slot);
	}
	if (d)
		closedir(d);
}

static int netns_cleanup_leftovers(const char *state_dir, cr_error **err)
{
	cleanup_free char *parent = cr_asprintf("%s/netns", state_dir);
	DIR *d = opendir(parent);
	if (!d)
		return errno == ENOENT ? 0
				       : cr_error_make(err, errno, CR_REASON_INTERNAL, "open '%s'", parent);
	int cleaned = 0, rc = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		cleanup_free char *dir = cr_asprintf("%s/%s", parent, e->d_name);
		if (!orphaned(dir))
			continue;
		if (cr_record_teardown(dir, rc ? NULL : err) < 0)
			rc = -1;
		else
			cleaned++;
	}
	closedir(d);
	remove_stale_slots(state_dir);
	return rc < 0 ? -1 : cleaned;
}

void cr_netns_doctor(cr_checks *out);

const struct cr_backend cr_backend_netns = {
	.name = "netns",
	.capabilities = netns_capabilities,
	.doctor = cr_netns_doctor,
	.provision_start = netns_provision_start,
	.provision_step = netns_provision_step,
	.exec = cr_netns_exec,
	.write_stdin = cr_netns_write_stdin,
	.close_stdin = cr_netns_close_stdin,
	.resize = cr_netns_resize,
	.signal = cr_netns_signal,
	.upload_archive = cr_netns_upload,
	.download_file = cr_netns_download,
	.event_fd = cr_netns_event_fd,
	.next_event = cr_netns_next_event,
	.terminate = netns_terminate,
	.cleanup_leftovers = netns_cleanup_leftovers,
};
