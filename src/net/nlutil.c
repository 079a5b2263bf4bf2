/* SPDX-License-Identifier: Apache-2.0 */
/* nlutil.c -- libnl-3 errors, sockets and addresses for src/net. */
#include "net/nlutil.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>

#include <netlink/errno.h>

#include "util/xalloc.h"

static const struct {
	int nle, errnum;
} nl_errnos[] = {
	{NLE_EXIST, EEXIST},         {NLE_NODEV, ENODEV}, {NLE_OBJ_NOTFOUND, ENOENT},  {NLE_PERM, EPERM},
	{NLE_NOACCESS, EACCES},      {NLE_BUSY, EBUSY},   {NLE_INVAL, EINVAL},         {NLE_NOMEM, ENOMEM},
	{NLE_NOADDR, EADDRNOTAVAIL}, {NLE_AGAIN, EAGAIN}, {NLE_OPNOTSUPP, EOPNOTSUPP}, {NLE_RANGE, ERANGE},
};

static int nl_errno(int nlerr)
{
	for (size_t i = 0; i < sizeof(nl_errnos) / sizeof(nl_errnos[0]); i++)
		if (nl_errnos[i].nle == abs(nlerr))
			return nl_errnos[i].errnum;
	return EIO;
}

int cr_net_nl_error(cr_error **err, int nlerr, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	cleanup_free char *what = cr_vasprintf(fmt, ap);
	va_end(ap);
	return cr_error_status(err, nl_errno(nlerr), CR_REASON_INTERNAL, "%s: %s", what, nl_geterror(nlerr));
}

struct nl_sock *cr_net_nl_socket(cr_error **err)
{
	cleanup_nlsock struct nl_sock *sk = nl_socket_alloc();
	if (!sk) {
		cr_error_make(err, ENOMEM, CR_REASON_INTERNAL, "allocate a netlink socket");
		return NULL;
	}
	int rc = nl_connect(sk, NETLINK_ROUTE);
	if (rc < 0) {
		cr_net_nl_error(err, rc, "open a NETLINK_ROUTE socket");
		return NULL;
	}
	return steal_pointer(&sk);
}

struct nl_addr *cr_net_nl_addr4(struct in_addr a, unsigned prefix)
{
	struct nl_addr *addr = cr_net_nl_must(nl_addr_build(AF_INET, &a, sizeof(a)));
	nl_addr_set_prefixlen(addr, (int)prefix);
	return addr;
}
