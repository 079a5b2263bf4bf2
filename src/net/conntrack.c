/* SPDX-License-Identifier: Apache-2.0 */
/* conntrack.c -- a sandbox's conntrack entries, found by a dump of the IPv4
 * table and deleted one by one (the kernel's flush filters know marks and
 * zones, not addresses). The dump is collected first: a handle cannot send a
 * deletion while its dump is still being read. */
#include "net/conntrack.h"

#include <errno.h>
#include <stdlib.h>

#include <libnetfilter_conntrack/libnetfilter_conntrack.h>

#include "util/xalloc.h"

typedef struct matches {
	struct in_addr addr;
	struct nf_conntrack **items;
	size_t n, cap;
} matches;

static void matches_free(matches *m)
{
	for (size_t i = 0; i < m->n; i++)
		nfct_destroy(m->items[i]);
	free(m->items);
}

static void nfct_closep(struct nfct_handle **h)
{
	if (*h)
		nfct_close(*h);
}

static int on_entry(enum nf_conntrack_msg_type type, struct nf_conntrack *ct, void *data)
{
	(void)type;
	matches *m = data;
	if (nfct_get_attr_u8(ct, ATTR_ORIG_L3PROTO) != AF_INET)
		return NFCT_CB_CONTINUE;
	if (nfct_get_attr_u32(ct, ATTR_ORIG_IPV4_SRC) != m->addr.s_addr &&
	    nfct_get_attr_u32(ct, ATTR_ORIG_IPV4_DST) != m->addr.s_addr)
		return NFCT_CB_CONTINUE;
	struct nf_conntrack *copy = nfct_clone(ct);
	if (!copy)
		abort(); /* memory exhausted, as in cr_xmalloc */
	m->items = cr_xgrow(m->items, &m->cap, m->n + 1, sizeof(*m->items));
	m->items[m->n++] = copy;
	return NFCT_CB_CONTINUE;
}

/* Opens a handle and collects the entries of addr into *m. */
static struct nfct_handle *collect(matches *m, cr_error **err)
{
	struct nfct_handle *h = nfct_open(CONNTRACK, 0);
	if (!h) {
		cr_error_make(err, errno, CR_REASON_INTERNAL, "open a conntrack netlink socket");
		return NULL;
	}
	uint32_t family = AF_INET;
	nfct_callback_register(h, NFCT_T_ALL, on_entry, m);
	if (nfct_query(h, NFCT_Q_DUMP, &family) < 0) {
		cr_error_make(err, errno, CR_REASON_INTERNAL, "dump the conntrack table");
		nfct_close(h);
		return NULL;
	}
	nfct_callback_unregister(h);
	return h;
}

int cr_conntrack_count_addr(struct in_addr addr, cr_error **err)
{
	matches m = {.addr = addr};
	struct nfct_handle *h __attribute__((cleanup(nfct_closep))) = collect(&m, err);
	int n = h ? (int)m.n : -1;
	matches_free(&m);
	return n;
}

int cr_conntrack_flush_addr(struct in_addr addr, cr_error **err)
{
	matches m = {.addr = addr};
	struct nfct_handle *h __attribute__((cleanup(nfct_closep))) = collect(&m, err);
	if (!h) {
		matches_free(&m);
		return -1;
	}
	int deleted = 0, rc = 0;
	for (size_t i = 0; i < m.n; i++) {
		if (nfct_query(h, NFCT_Q_DESTROY, m.items[i]) == 0)
			deleted++;
		else if (errno != ENOENT && rc == 0) /* ENOENT: it ended meanwhile */
			rc = cr_error_make(err, errno, CR_REASON_INTERNAL, "delete a conntrack entry");
	}
	matches_free(&m);
	return rc < 0 ? -1 : deleted;
}
