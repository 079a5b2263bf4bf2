/* SPDX-License-Identifier: Apache-2.0 */
/* names.c -- what the managed resolver told this sandbox: name -> addresses,
 * each address with its own expiry. The transparent proxy asks it whether the
 * original destination of a connection is an address the resolver returned
 * for the name the client presented (a forged SNI must not reach another IP),
 * and which name an address belongs to when a client presents none.
 *
 * Bounded: at most NAMES_MAX names of at most ADDRS_MAX addresses; past that
 * the name updated least recently (an expired one first) is forgotten, and a
 * name's soonest-expiring address makes room for a new one. TTLs are held
 * between a floor of 60 s (clients cache a little past the TTL they were
 * given) and a cap of one day. */
#include <string.h>

#include "gateway/gateway.h"
#include "util/xalloc.h"

#define NAMES_MAX    4096
#define ADDRS_MAX    16
#define TTL_FLOOR_S  60u
#define TTL_CAP_S    86400u
#define BUCKETS      8192 /* power of two, twice NAMES_MAX */
#define NAME_MAX_LEN 253

typedef struct name_addr {
	struct in_addr ip;
	uint64_t expires_ms;
	uint64_t seq; /* when it was last resolved, as an ordering */
} name_addr;

typedef struct name_entry {
	char *name;
	name_addr addrs[ADDRS_MAX];
	size_t n_addrs;
	uint64_t seq; /* last update */
	int32_t next; /* next entry in the same bucket, -1 at the end */
} name_entry;

struct cr_gw_names {
	name_entry *entries;
	size_t n, cap;
	uint64_t seq;
	int32_t buckets[BUCKETS];
};

static uint32_t hash_name(const char *s)
{
	uint32_t h = 2166136261u; /* FNV-1a */
	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	return h & (BUCKETS - 1);
}

cr_gw_names *cr_gw_names_new(void)
{
	cr_gw_names *n = cr_xcalloc(1, sizeof(*n));
	memset(n->buckets, 0xFF, sizeof(n->buckets)); /* all -1 */
	return n;
}

void cr_gw_names_free(cr_gw_names *n)
{
	if (!n)
		return;
	for (size_t i = 0; i < n->n; i++)
		free(n->entries[i].name);
	free(n->entries);
	free(n);
}

static name_entry *find(const cr_gw_names *n, const char *name)
{
	for (int32_t i = n->buckets[hash_name(name)]; i >= 0; i = n->entries[i].next)
		if (strcmp(n->entries[i].name, name) == 0)
			return &n->entries[i];
	return NULL;
}

static bool entry_live(const name_entry *e, uint64_t now_ms)
{
	for (size_t i = 0; i < e->n_addrs; i++)
		if (e->addrs[i].expires_ms > now_ms)
			return true;
	return false;
}

/* The slot to reuse when full: an expired name, else the least recently
 * updated one. */
static size_t victim(const cr_gw_names *n, uint64_t now_ms)
{
	size_t best = 0;
	for (size_t i = 0; i < n->n; i++) {
		if (!entry_live(&n->entries[i], now_ms))
			return i;
		if (n->entries[i].seq < n->entries[best].seq)
			best = i;
	}
	return best;
}

static void unlink_entry(cr_gw_names *n, size_t idx)
{
	int32_t *link = &n->buckets[hash_name(n->entries[idx].name)];
	while (*link != (int32_t)idx)
		link = &n->entries[*link].next;
	*link = n->entries[idx].next;
	free(n->entries[idx].name);
}

static name_entry *insert(cr_gw_names *n, const char *name, uint64_t now_ms)
{
	size_t idx;
	if (n->n < NAMES_MAX) {
		n->entries = cr_xgrow(n->entries, &n->cap, n->n + 1, sizeof(*n->entries));
		idx = n->n++;
	} else {
		idx = victim(n, now_ms);
		unlink_entry(n, idx);
	}
	name_entry *e = &n->entries[idx];
	*e = (name_entry){.name = cr_xstrdup(name)};
	uint32_t h = hash_name(name);
	e->next = n->buckets[h];
	n->buckets[h] = (int32_t)idx;
	return e;
}

/* The slot for ip in e: its own, a free one, an expired one, or the one
 * expiring soonest. */
static name_addr *addr_slot(name_entry *e, struct in_addr ip, uint64_t now_ms)
{
	size_t soonest = 0;
	for (size_t i = 0; i < e->n_addrs; i++)
		if (e->addrs[i].ip.s_addr == ip.s_addr)
			return &e->addrs[i];
	if (e->n_addrs < ADDRS_MAX)
		return &e->addrs[e->n_addrs++];
	for (size_t i = 0; i < e->n_addrs; i++) {
		if (e->addrs[i].expires_ms <= now_ms)
			return &e->addrs[i];
		if (e->addrs[i].expires_ms < e->addrs[soonest].expires_ms)
			soonest = i;
	}
	return &e->addrs[soonest];
}

void cr_gw_names_add(cr_gw_names *n, const char *name, const struct in_addr *addrs, size_t n_addrs,
		     uint32_t ttl_s, uint64_t now_ms)
{
	if (n_addrs == 0 || !name[0] || strlen(name) > NAME_MAX_LEN)
		return;
	uint32_t ttl = ttl_s < TTL_FLOOR_S ? TTL_FLOOR_S : ttl_s > TTL_CAP_S ? TTL_CAP_S : ttl_s;
	uint64_t expires = now_ms + (uint64_t)ttl * 1000u;
	name_entry *e = find(n, name);
	if (!e)
		e = insert(n, name, now_ms);
	e->seq = ++n->seq;
	for (size_t i = 0; i < n_addrs; i++) {
		name_addr *a = addr_slot(e, addrs[i], now_ms);
		bool same = a->ip.s_addr == addrs[i].s_addr && a->expires_ms > now_ms;
		/* a shorter TTL never cuts short what a client may already cache */
		a->expires_ms = same && a->expires_ms > expires ? a->expires_ms : expires;
		a->ip = addrs[i];
		a->seq = n->seq;
	}
}

bool cr_gw_names_has(const cr_gw_names *n, const char *name, struct in_addr ip, uint64_t now_ms)
{
	const name_entry *e = find(n, name);
	for (size_t i = 0; e && i < e->n_addrs; i++)
		if (e->addrs[i].ip.s_addr == ip.s_addr && e->addrs[i].expires_ms > now_ms)
			return true;
	return false;
}

const char *cr_gw_names_for_ip(const cr_gw_names *n, struct in_addr ip, uint64_t now_ms)
{
	const char *best = NULL;
	uint64_t best_seq = 0;
	for (size_t i = 0; i < n->n; i++) {
		const name_entry *e = &n->entries[i];
		for (size_t j = 0; j < e->n_addrs; j++) {
			const name_addr *a = &e->addrs[j];
			if (a->ip.s_addr == ip.s_addr && a->expires_ms > now_ms && a->seq > best_seq) {
				best = e->name;
				best_seq = a->seq;
			}
		}
	}
	return best;
}
