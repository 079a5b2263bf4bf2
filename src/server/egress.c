/* SPDX-License-Identifier: Apache-2.0 */
/* egress.c -- server-wide egress state and each sandbox's lease, firewall
 * chains and environment (egress.h). */
#include "server/egress.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "net/conntrack.h"
#include "gateway/gateway.h"
#include "net/link.h"
#include "server/server.h"
#include "util/cleanup.h"
#include "util/xalloc.h"

#define CMD "cleanroom serve"

/* Capabilities that hold only with egress active (links, firewall, gateways
 * and their registry fronts with the content cache). */
static const char *const network_keys[] = {"network_host_port_filtering", "dns_control_or_equivalent",
					   "advanced_destination_identity", "registry_mediation",
					   "offline_cache_mode"};

static void inactive(cr_egress *eg, const char *why)
{
	free(eg->why_inactive);
	eg->why_inactive = cr_xstrdup(why);
	fprintf(stderr, "%s: egress enforcement is off: %s; policies that allow destinations are refused\n",
		CMD, eg->why_inactive);
}

static void gateway_identity(cr_egress *eg)
{
	struct passwd *pw = getpwnam("nobody");
	eg->gateway_uid = pw ? pw->pw_uid : 65534;
	eg->gateway_gid = pw ? pw->pw_gid : 65534;
}

/* One server owns a network namespace's egress (the firewall table and
 * every crsb* link belong to the netns, not to a mount namespace): the lock
 * is an abstract unix socket, whose names are per network namespace, held
 * for the server's life. */
static int lock_host(cr_egress *eg, cr_error **err)
{
	eg->lock_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (eg->lock_fd < 0)
		return cr_error_make(err, errno, CR_REASON_INTERNAL, "create the egress lock socket");
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	memcpy(sa.sun_path + 1, CR_EGRESS_LOCK_NAME, strlen(CR_EGRESS_LOCK_NAME));
	socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(CR_EGRESS_LOCK_NAME));
	if (bind(eg->lock_fd, (struct sockaddr *)&sa, len) == 0)
		return 0;
	int e = errno;
	close(eg->lock_fd);
	eg->lock_fd = -1;
	if (e == EADDRINUSE)
		return cr_error_make(
			err, 0, CR_REASON_INTERNAL,
			"another cleanroom serve owns egress in this network namespace (it holds "
			"the abstract socket @%s)",
			CR_EGRESS_LOCK_NAME);
	return cr_error_make(err, e, CR_REASON_INTERNAL, "bind the egress lock @%s", CR_EGRESS_LOCK_NAME);
}

/* Leftovers of a crashed server: links, then the table (replaced by open),
 * then the leases that named them. */
static int take_over_host(cr_server *srv, cr_egress *eg, cr_error **err)
{
	int links = cr_net_link_cleanup_leftovers(err);
	if (links < 0)
		return -1;
	if (links)
		fprintf(stderr, "%s: removed %d leftover sandbox links\n", CMD, links);
	if (cr_firewall_open(&eg->fw, err) < 0)
		return -1;
	return cr_store_lease_clear(srv->store, err);
}

/* "IP" or "IP:PORT" (IPv4), as the gateway's --upstream-dns takes it. */
static int check_resolver(const char *r, cr_error **err)
{
	char ip[INET_ADDRSTRLEN];
	const char *colon = strchr(r, ':');
	size_t n = colon ? (size_t)(colon - r) : strlen(r);
	struct in_addr a;
	char *end = NULL;
	long port = colon ? strtol(colon + 1, &end, 10) : 53;
	if (n >= sizeof(ip) || (colon && (!*(colon + 1) || *end || port < 1 || port > 65535)))
		return cr_error_make(
			err, 0, CR_REASON_USAGE_INVALID,
			"--egress-resolver '%s' is not IPV4[:PORT] (e.g. 10.0.0.2 or 10.0.0.2:5353)", r);
	memcpy(ip, r, n);
	ip[n] = '\0';
	if (inet_pton(AF_INET, ip, &a) != 1)
		return cr_error_make(
			err, 0, CR_REASON_USAGE_INVALID,
			"--egress-resolver '%s' is not IPV4[:PORT] (e.g. 10.0.0.2 or 10.0.0.2:5353)", r);
	return 0;
}

int cr_egress_init(cr_server *srv, const cr_egress_options *o, cr_error **err)
{
	cr_egress *eg = &srv->egress;
	eg->lock_fd = -1;
	if (cr_net_pool_parse(o->pool ? o->pool : CR_NET_POOL_DEFAULT, &eg->pool, err) < 0)
		return cr_error_wrap(err, "--egress-pool");
	for (size_t i = 0; o->resolvers && o->resolvers[i]; i++)
		if (check_resolver(o->resolvers[i], err) < 0)
			return -1;
	eg->resolvers = o->resolvers;
	gateway_identity(eg);
	if (o->off) {
		inactive(eg, "--no-egress was given");
		return 0;
	}
	if (geteuid() != 0) {
		inactive(eg, "the server does not run as root (links and firewall need it)");
		return 0;
	}
	cleanup_error cr_error *e = NULL;
	if (lock_host(eg, &e) < 0 || take_over_host(srv, eg, &e) < 0 ||
	    cr_net_pool_check_routes(&eg->pool, &e) < 0) {
		inactive(eg, e->msg);
		cr_firewall_close(eg->fw);
		eg->fw = NULL;
		return 0;
	}
	if (cr_fronts_init(&eg->fronts, &o->fronts, srv->state_dir, eg->gateway_uid, eg->gateway_gid, err) <
	    0)
		return -1;
	eg->active = true;
	char cidr[CR_NET_CIDR_STRLEN];
	fprintf(stderr, "%s: egress enforcement on: address pool %s (%u sandboxes), gateways as uid %u\n",
		CMD, cr_net_pool_format(&eg->pool, cidr), cr_net_pool_size(&eg->pool),
		(unsigned)eg->gateway_uid);
	return 0;
}

void cr_egress_shutdown(cr_server *srv)
{
	cr_egress *eg = &srv->egress;
	if (eg->fw) {
		cr_firewall_close(eg->fw);
		cleanup_error cr_error *e = NULL;
		if (cr_firewall_destroy_table(&e) < 0)
			fprintf(stderr, "%s: remove the firewall table: %s\n", CMD, e->msg);
	}
	eg->fw = NULL;
	eg->active = false;
	if (eg->lock_fd > 0)
		close(eg->lock_fd);
	eg->lock_fd = -1;
	free(eg->why_inactive);
	eg->why_inactive = NULL;
	cr_fronts_free(&eg->fronts);
}

static bool is_network_key(const char *key)
{
	for (size_t i = 0; i < sizeof(network_keys) / sizeof(network_keys[0]); i++)
		if (strcmp(key, network_keys[i]) == 0)
			return true;
	return false;
}

void cr_egress_caps(const cr_server *srv, const struct cr_backend *be, cr_backend_caps *caps,
		    cr_capability *storage, size_t n_storage)
{
	be->capabilities(caps);
	size_t n = caps->n_capabilities < n_storage ? caps->n_capabilities : n_storage;
	for (size_t i = 0; i < n; i++) {
		storage[i] = caps->capabilities[i];
		if (is_network_key(storage[i].key))
			storage[i].value = storage[i].value && srv->egress.active;
	}
	caps->capabilities = storage;
	caps->n_capabilities = n;
}

/* The executions' environment: the explicit proxy for clients that want one
 * (the gateway and loopback excepted), then the fronts' variables. */
static void build_env(cr_sandbox_egress *e, const cr_policy *p)
{
	static const char *const proxy_names[] = {"HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"};
	char gw[INET_ADDRSTRLEN];
	cr_net_addr_str(e->lease.gateway_addr, gw);
	for (size_t i = 0; i < sizeof(proxy_names) / sizeof(proxy_names[0]); i++)
		cr_strv_push(&e->env, &e->n_env,
			     cr_asprintf("%s=http://%s:%d", proxy_names[i], gw, CR_GW_EXPLICIT_PROXY_PORT));
	cr_strv_push(&e->env, &e->n_env, cr_asprintf("NO_PROXY=localhost,127.0.0.1,%s", gw));
	cr_strv_push(&e->env, &e->n_env, cr_asprintf("no_proxy=localhost,127.0.0.1,%s", gw));
	cr_fronts_env(p, e->lease.gateway_addr, &e->env, &e->n_env);
}

int cr_egress_acquire(cr_server *srv, const char *sandbox_id, const char *compiled, const cr_policy *p,
		      cr_sandbox_egress **out, cr_error **err)
{
	cr_egress *eg = &srv->egress;
	uint32_t index = 0;
	if (cr_store_lease_take(srv->store, sandbox_id, cr_net_pool_size(&eg->pool), &index, err) < 0)
		return -1;
	cr_sandbox_egress *e = cr_xcalloc(1, sizeof(*e));
	if (cr_net_pool_lease(&eg->pool, index, &e->lease, err) < 0)
		goto fail;
	cr_fw_sandbox fw = {.id = sandbox_id,
			    .host_ifname = e->lease.host_ifname,
			    .sandbox_addr = e->lease.sandbox_addr,
			    .gateway_addr = e->lease.gateway_addr,
			    .dns_port = CR_EGRESS_DNS_PORT,
			    .proxy_port = CR_EGRESS_PROXY_PORT,
			    .front_port = CR_EGRESS_FRONT_PORT};
	if (cr_firewall_add_sandbox(eg->fw, &fw, err) < 0)
		goto fail;
	e->firewall_added = true;
	e->compiled = cr_xstrdup(compiled);
	build_env(e, p);
	*out = e;
	return 0;
fail:
	cr_egress_release(srv, sandbox_id, e);
	return -1;
}

int cr_egress_start_gateway(cr_live_sandbox *l, cr_error **err)
{
	cr_sandbox_egress *e = l->egress;
	int rc = cr_gateway_proc_start(l, e->compiled, err);
	free(e->compiled);
	e->compiled = NULL;
	return rc;
}

void cr_egress_release(cr_server *srv, const char *sandbox_id, cr_sandbox_egress *e)
{
	if (!e)
		return;
	cr_gateway_proc_stop(e->gw);
	cleanup_error cr_error *err = NULL;
	if (e->firewall_added && cr_firewall_remove_sandbox(srv->egress.fw, e->lease.host_ifname, &err) < 0)
		fprintf(stderr, "%s: remove the firewall chains of %s: %s\n", CMD, sandbox_id, err->msg);
	cr_error_freep(&err);
	if (e->firewall_added && cr_conntrack_flush_addr(e->lease.sandbox_addr, &err) < 0)
		fprintf(stderr, "%s: flush the connections of %s: %s\n", CMD, sandbox_id, err->msg);
	cr_error_freep(&err);
	if (cr_store_lease_release(srv->store, sandbox_id, &err) < 0)
		fprintf(stderr, "%s: release the address block of %s: %s\n", CMD, sandbox_id, err->msg);
	free(e->compiled);
	for (size_t i = 0; i < e->n_env; i++)
		free(e->env[i]);
	free(e->env);
	free(e);
}

char *const *cr_egress_env(cr_sandbox_egress *e)
{
	return e ? e->env : NULL;
}
