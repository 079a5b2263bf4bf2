/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz_dns_message.c -- libFuzzer target for the managed resolver's DNS code
 * (lib/dns): any bytes are parsed as a query; whatever the verdict, the
 * answer the gateway would send is built for every rcode it uses, under the
 * UDP and TCP limits, and checked: it fits its cap, echoes the id, carries
 * only host-name bytes in an accepted name, and at most 16 addresses. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dns/dns.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_name(const cr_dns_query *q)
{
	size_t n = strlen(q->name);
	if (n > CR_DNS_MAX_NAME)
		abort();
	for (size_t i = 0; i < n; i++) {
		char c = q->name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.'))
			abort();
	}
}

static void build_all(const cr_dns_query *q)
{
	static const unsigned rcodes[] = {0, 1, 2, 3, 4, 5, 16};
	struct in_addr addrs[20];
	for (unsigned i = 0; i < 20; i++)
		addrs[i].s_addr = 0x0AFE0000u + i;
	uint8_t out[CR_DNS_MAX_MESSAGE];
	for (size_t r = 0; r < sizeof(rcodes) / sizeof(rcodes[0]); r++) {
		for (int tcp = 0; tcp < 2; tcp++) {
			size_t cap = cr_dns_answer_limit(q, tcp);
			size_t n = cr_dns_build_response(q, rcodes[r], addrs, 20, 300, out, cap);
			if (n > cap || (n > 0 && n < CR_DNS_HEADER_LEN))
				abort();
			if (n && ((out[0] << 8 | out[1]) != q->id || !(out[2] & 0x80)))
				abort();
			if (n && (out[6] << 8 | out[7]) > CR_DNS_MAX_ANSWERS)
				abort();
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size >= 2)
		(void)cr_dns_tcp_frame_len(data);
	cr_dns_query q;
	cr_dns_status st = cr_dns_parse_query(data, size, &q);
	if (st == CR_DNS_OK)
		check_name(&q);
	if (st != CR_DNS_DROP)
		build_all(&q);
	char buf[16];
	(void)cr_dns_type_name(q.qtype, buf);
	return 0;
}
