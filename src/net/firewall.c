/* SPDX-License-Identifier: Apache-2.0 */
/* firewall.c -- the `inet cleanroom` table through one long-lived
 * libnftables context (see firewall.h for the ruleset).
 *
 * Every change is one nft script run by nft_run_cmd_from_buffer(), which the
 * library sends as one netlink batch: it applies completely or not at all.
 * Idempotence without nft's `destroy` (nftables >= 1.0.8): a script first
 * `add`s what it is about to delete (a no-op when present), so the deletes
 * that follow cannot fail on a missing object. */
#include "net/firewall.h"

#include <errno.h>
#include <jansson.h>
#include <nftables/libnftables.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/pool.h"
#include "util/buf.h"
#include "util/cleanup.h"
#include "util/xalloc.h"

#define TABLE      CR_FIREWALL_FAMILY " " CR_FIREWALL_TABLE
#define OUR_IFACES "\"" CR_NET_IFNAME_PREFIX "*\""
#define SCRIPT_MAX (16 * 1024)
#define ERROR_MAX  2048

struct cr_firewall {
	struct nft_ctx *ctx;
};

/* The base of the table. `add` + `delete` + definition in one transaction
 * replaces an existing table atomically, or creates a new one. */
static const char table_script[] = "add table " TABLE "\n"
				   "delete table " TABLE "\n"
				   "table " TABLE " {\n"
				   "\tmap nat_dispatch { type ifname : verdict; }\n"
				   "\tmap filter_dispatch { type ifname : verdict; }\n"
				   "\tchain nat_prerouting {\n"
				   "\t\ttype nat hook prerouting priority dstnat - 10; policy accept;\n"
				   "\t\tiifname vmap @nat_dispatch\n"
				   "\t}\n"
				   "\tchain filter_prerouting {\n"
				   "\t\ttype filter hook prerouting priority dstnat + 10; policy accept;\n"
				   "\t\tiifname vmap @filter_dispatch\n"
				   "\t\tiifname " OUR_IFACES " counter drop\n"
				   "\t}\n"
				   "\tchain forward {\n"
				   "\t\ttype filter hook forward priority filter - 10; policy accept;\n"
				   "\t\tiifname " OUR_IFACES " counter drop\n"
				   "\t\toifname " OUR_IFACES " counter drop\n"
				   "\t}\n"
				   "}\n";

static struct nft_ctx *new_context(cr_error **err)
{
	struct nft_ctx *ctx = nft_ctx_new(NFT_CTX_DEFAULT);
	if (!ctx) {
		cr_error_make(err, ENOMEM, CR_REASON_INTERNAL, "create a libnftables context");
		return NULL;
	}
	if (nft_ctx_buffer_output(ctx) < 0 || nft_ctx_buffer_error(ctx) < 0) {
		nft_ctx_free(ctx);
		cr_error_make(err, EIO, CR_REASON_INTERNAL, "buffer libnftables output");
		return NULL;
	}
	return ctx;
}

/* The first lines of nft's error text, without the trailing newline. */
static char *nft_error_text(struct nft_ctx *ctx)
{
	const char *e = nft_ctx_get_error_buffer(ctx);
	size_t n = e ? strlen(e) : 0;
	if (n > ERROR_MAX)
		n = ERROR_MAX;
	while (n > 0 && e[n - 1] == '\n')
		n--;
	return n ? cr_xstrndup(e, n) : cr_xstrdup("no error text");
}

/* Runs one script (one transaction). `what` names it in the error. */
static int run(struct nft_ctx *ctx, const char *script, const char *what, cr_error **err)
{
	int rc = nft_run_cmd_from_buffer(ctx, script);
	cleanup_free char *text = nft_error_text(ctx); /* also empties the buffers */
	nft_ctx_get_output_buffer(ctx);
	if (rc != 0)
		return cr_error_status(err, strstr(text, "No such file or directory") ? ENOENT : EIO,
				       CR_REASON_INTERNAL, "nftables: %s: %s", what, text);
	return 0;
}

/* A new context that has run `script` successfully. */
static int open_with(const char *script, const char *what, cr_firewall **fw, cr_error **err)
{
	struct nft_ctx *ctx = new_context(err);
	if (!ctx)
		return -1;
	if (run(ctx, script, what, err) < 0) {
		nft_ctx_free(ctx);
		return -1;
	}
	cr_firewall *f = cr_xcalloc(1, sizeof(*f));
	f->ctx = ctx;
	*fw = f;
	return 0;
}

int cr_firewall_open(cr_firewall **fw, cr_error **err)
{
	return open_with(table_script, "load table " TABLE, fw, err);
}

int cr_firewall_attach(cr_firewall **fw, cr_error **err)
{
	return open_with("list table " TABLE, "find table " TABLE, fw, err);
}

void cr_firewall_close(cr_firewall *fw)
{
	if (!fw)
		return;
	nft_ctx_free(fw->ctx);
	free(fw);
}

int cr_firewall_destroy_table(cr_error **err)
{
	cr_firewall *fw = NULL;
	int rc = open_with("add table " TABLE "\ndelete table " TABLE "\n", "delete table " TABLE, &fw, err);
	cr_firewall_close(fw);
	return rc;
}

/* ---- one sandbox ---- */

static bool valid_ifname(const char *ifname)
{
	uint32_t index;
	return ifname && cr_net_ifname_index(ifname, &index) == 0;
}

static bool valid_id(const char *id)
{
	size_t n = id ? strlen(id) : 0;
	return n > 0 && n <= CR_FIREWALL_ID_MAX &&
	       strspn(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == n;
}

static int check_sandbox(const cr_fw_sandbox *sb, cr_error **err)
{
	if (!valid_id(sb->id))
		return cr_error_make(err, EINVAL, CR_REASON_USAGE_INVALID,
				     "firewall: sandbox id '%s' is not 1-%d characters of [A-Za-z0-9._-]",
				     sb->id ? sb->id : "", CR_FIREWALL_ID_MAX);
	if (!valid_ifname(sb->host_ifname))
		return cr_error_make(err, EINVAL, CR_REASON_USAGE_INVALID,
				     "firewall: '%s' is not a sandbox interface name (" CR_NET_IFNAME_PREFIX
				     "<hex>)",
				     sb->host_ifname ? sb->host_ifname : "");
	if (sb->dns_port == 0 || sb->proxy_port == 0 || sb->dns_port == sb->proxy_port ||
	    sb->front_port == sb->dns_port)
		return cr_error_make(err, EINVAL, CR_REASON_USAGE_INVALID,
				     "firewall: dns port %u and proxy port %u must be distinct and non-zero",
				     sb->dns_port, sb->proxy_port);
	return 0;
}

/* Deletes whatever exists of sandbox S, without failing on what does not. */
static int put_remove(cr_buf *b, const char *s)
{
	return cr_buf_printf(b,
			     "add chain " TABLE " %1$s_nat\n"
			     "add chain " TABLE " %1$s_filter\n"
			     "add element " TABLE " nat_dispatch { \"%1$s\" : goto %1$s_nat }\n"
			     "add element " TABLE " filter_dispatch { \"%1$s\" : goto %1$s_filter }\n"
			     "delete element " TABLE " nat_dispatch { \"%1$s\" }\n"
			     "delete element " TABLE " filter_dispatch { \"%1$s\" }\n"
			     "flush chain " TABLE " %1$s_nat\n"
			     "flush chain " TABLE " %1$s_filter\n"
			     "delete chain " TABLE " %1$s_nat\n"
			     "delete chain " TABLE " %1$s_filter\n",
			     s);
}

/* The sandbox's two chains. In S_filter only packets from sandbox_addr can
 * be accepted; whatever no rule accepted or rejected falls through to the
 * last two rules: counted, logged (rate-limited: over the limit the `limit`
 * ends that rule early) and dropped. Nothing can fall off the end of the
 * chain, which would return to the base chain's accept policy. Every packet
 * dropped or rejected passes exactly one counter, and those are the only
 * counters of S_filter (cr_firewall_counters sums them). */
static int put_add(cr_buf *b, const cr_fw_sandbox *sb)
{
	char sandbox[INET_ADDRSTRLEN], gateway[INET_ADDRSTRLEN];
	cr_net_addr_str(sb->sandbox_addr, sandbox);
	cr_net_addr_str(sb->gateway_addr, gateway);
	const char *s = sb->host_ifname;
	unsigned dns = sb->dns_port, proxy = sb->proxy_port, front = sb->front_port;
	int rc = cr_buf_printf(b,
			       "table " TABLE " {\n"
			       "\tchain %1$s_nat {\n"
			       "\t\tudp dport 53 redirect to :%2$u\n"
			       "\t\ttcp dport 53 redirect to :%2$u\n",
			       s, dns);
	if (front) /* the registry and git fronts */
		rc |= cr_buf_printf(b, "\t\tip daddr %s tcp dport 80 redirect to :%u\n", gateway, front);
	rc |= cr_buf_printf(b,
			    "\t\tmeta l4proto tcp redirect to :%u\n"
			    "\t}\n",
			    proxy);
	rc |= cr_buf_printf(b,
			    "\tchain %1$s_filter {\n"
			    "\t\tip saddr %2$s ct state established,related accept\n"
			    "\t\tip saddr %2$s ip daddr %3$s tcp dport %4$u accept\n"
			    "\t\tip saddr %2$s ip daddr %3$s tcp dport %5$u accept\n",
			    s, sandbox, gateway, dns, proxy);
	if (front)
		rc |= cr_buf_printf(b, "\t\tip saddr %s ip daddr %s tcp dport %u accept\n", sandbox, gateway,
				    front);
	rc |= cr_buf_printf(b,
			    "\t\tip saddr %2$s ip daddr %3$s udp dport %4$u accept\n"
			    "\t\tip saddr %2$s meta l4proto tcp counter reject with tcp reset\n"
			    "\t\tcounter limit rate 10/second log prefix \"cleanroom-drop %5$s \"\n"
			    "\t\tdrop\n"
			    "\t}\n"
			    "}\n"
			    "add element " TABLE " nat_dispatch { \"%1$s\" : goto %1$s_nat }\n"
			    "add element " TABLE " filter_dispatch { \"%1$s\" : goto %1$s_filter }\n",
			    s, sandbox, gateway, dns, sb->id);
	return rc;
}

int cr_firewall_add_sandbox(cr_firewall *fw, const cr_fw_sandbox *sb, cr_error **err)
{
	if (check_sandbox(sb, err) < 0)
		return -1;
	cleanup_buf cr_buf b;
	cr_buf_init(&b, SCRIPT_MAX);
	if (put_remove(&b, sb->host_ifname) < 0 || put_add(&b, sb) < 0)
		return cr_error_make(err, E2BIG, CR_REASON_INTERNAL, "firewall: script for '%s'",
				     sb->host_ifname);
	cleanup_free char *what =
		cr_asprintf("add the chains of sandbox '%s' on '%s'", sb->id, sb->host_ifname);
	return run(fw->ctx, b.data, what, err);
}

int cr_firewall_remove_sandbox(cr_firewall *fw, const char *host_ifname, cr_error **err)
{
	if (!valid_ifname(host_ifname))
		return cr_error_make(err, EINVAL, CR_REASON_USAGE_INVALID,
				     "firewall: '%s' is not a sandbox interface name",
				     host_ifname ? host_ifname : "");
	cleanup_buf cr_buf b;
	cr_buf_init(&b, SCRIPT_MAX);
	if (put_remove(&b, host_ifname) < 0)
		return cr_error_make(err, E2BIG, CR_REASON_INTERNAL, "firewall: script for '%s'",
				     host_ifname);
	cleanup_free char *what = cr_asprintf("remove the chains of '%s'", host_ifname);
	return run(fw->ctx, b.data, what, err);
}

/* ---- counters ---- */

/* Adds up the counter statements of the rules in nft's JSON listing of one
 * chain: {"nftables": [..., {"rule": {"expr": [..., {"counter":
 * {"packets": N, "bytes": N}}]}}]}. */
static void sum_counters(json_t *root, uint64_t *packets, uint64_t *bytes)
{
	json_t *item, *expr;
	size_t i, j;
	json_array_foreach (json_object_get(root, "nftables"), i, item) {
		json_array_foreach (json_object_get(json_object_get(item, "rule"), "expr"), j, expr) {
			json_t *c = json_object_get(expr, "counter");
			json_t *p = json_object_get(c, "packets"), *by = json_object_get(c, "bytes");
			if (json_is_integer(p) && json_is_integer(by)) {
				*packets += (uint64_t)json_integer_value(p);
				*bytes += (uint64_t)json_integer_value(by);
			}
		}
	}
}

static int parse_counters(const char *json, uint64_t *packets, uint64_t *bytes, cr_error **err)
{
	json_t *root = json_loads(json, 0, NULL);
	if (!json_is_array(json_object_get(root, "nftables"))) {
		json_decref(root);
		return cr_error_make(err, EIO, CR_REASON_INTERNAL, "nftables: unexpected JSON listing");
	}
	*packets = *bytes = 0;
	sum_counters(root, packets, bytes);
	json_decref(root);
	return 0;
}

int cr_firewall_counters(cr_firewall *fw, const char *host_ifname, uint64_t *packets, uint64_t *bytes,
			 cr_error **err)
{
	if (!valid_ifname(host_ifname))
		return cr_error_make(err, EINVAL, CR_REASON_USAGE_INVALID,
				     "firewall: '%s' is not a sandbox interface name",
				     host_ifname ? host_ifname : "");
	cleanup_free char *cmd = cr_asprintf("list chain " TABLE " %s_filter", host_ifname);
	unsigned flags = nft_ctx_output_get_flags(fw->ctx);
	nft_ctx_output_set_flags(fw->ctx, flags | NFT_CTX_OUTPUT_JSON);
	int rc = nft_run_cmd_from_buffer(fw->ctx, cmd);
	nft_ctx_output_set_flags(fw->ctx, flags);
	cleanup_free char *text = nft_error_text(fw->ctx);
	const char *out = nft_ctx_get_output_buffer(fw->ctx);
	if (rc != 0)
		return cr_error_status(err, strstr(text, "No such file or directory") ? ENOENT : EIO,
				       CR_REASON_INTERNAL, "nftables: read the drop counters of '%s': %s",
				       host_ifname, text);
	return parse_counters(out ? out : "", packets, bytes, err);
}
