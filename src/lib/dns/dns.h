/* SPDX-License-Identifier: Apache-2.0 */
/* dns.h -- DNS queries in, small answers out (RFC 1035, RFC 6891).
 *
 * The gateway's managed resolver reads queries a sandbox sends and answers
 * them itself, so it needs only this: a parser for QUERY messages with
 * exactly one question, and a builder for the response to one. Both work on
 * caller-provided memory and never allocate; every length is capped. Names
 * are decoded to lower-case presentation form without the trailing dot, and
 * only host-name bytes ([a-z0-9-_], upper case folded) are accepted: a name
 * that carries anything else cannot be a destination a policy allows, and
 * refusing it closes the easiest DNS tunnels. */
#pragma once

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CR_DNS_HEADER_LEN   12
#define CR_DNS_MAX_MESSAGE  4096 /* cap for one query or answer, UDP payload or TCP frame */
#define CR_DNS_UDP_PLAIN    512  /* UDP answer limit when the query has no EDNS record */
#define CR_DNS_EDNS_SIZE    1232 /* the UDP payload size we advertise in our OPT record */
#define CR_DNS_MAX_NAME     253  /* presentation form, without the trailing dot */
#define CR_DNS_MAX_WIRENAME 255
#define CR_DNS_MAX_LABEL    63
#define CR_DNS_MAX_ANSWERS  16
/* Room for a refused name printed with \DDD escapes (audit detail only). */
#define CR_DNS_NAME_BUF (CR_DNS_MAX_WIRENAME * 4 + 1)

enum {
	CR_DNS_TYPE_A = 1,
	CR_DNS_TYPE_AAAA = 28,
	CR_DNS_TYPE_OPT = 41,
	CR_DNS_CLASS_IN = 1,
};

enum {
	CR_DNS_RCODE_NOERROR = 0,
	CR_DNS_RCODE_FORMERR = 1,
	CR_DNS_RCODE_SERVFAIL = 2,
	CR_DNS_RCODE_NXDOMAIN = 3,
	CR_DNS_RCODE_NOTIMP = 4,
	CR_DNS_RCODE_REFUSED = 5,
	CR_DNS_RCODE_BADVERS = 16, /* extended: needs an OPT record to be expressed */
};

/* What the parser concluded about a message. */
typedef enum cr_dns_status {
	CR_DNS_OK = 0,  /* a well-formed query; every field of cr_dns_query is set */
	CR_DNS_DROP,    /* not answerable: shorter than a header, or a response (QR set) */
	CR_DNS_FORMERR, /* malformed: answer FORMERR (with the question when has_question) */
	CR_DNS_NOTIMP,  /* an opcode other than QUERY: answer NOTIMP */
	CR_DNS_BADNAME, /* well-formed, but the name is no host name: answer NXDOMAIN */
	CR_DNS_BADVERS, /* an EDNS version other than 0: answer BADVERS */
} cr_dns_status;

typedef struct cr_dns_query {
	uint16_t id;
	uint16_t flags; /* header flags as received */
	bool has_question;
	uint16_t qtype, qclass;
	/* Lower-case presentation form without the trailing dot ("" for the
	 * root). For CR_DNS_BADNAME, the name with bytes outside the host-name
	 * set printed as \DDD, for messages only. */
	char name[CR_DNS_NAME_BUF];
	/* The question exactly as received (name as sent, case included, then
	 * type and class): echoed in the answer, as clients that randomise case
	 * (0x20) expect. */
	uint8_t question[CR_DNS_MAX_WIRENAME + 4];
	size_t question_len;
	bool has_edns;
	uint16_t edns_udp_size; /* the client's advertised payload size, when has_edns */
} cr_dns_query;

/* Parses msg (len bytes, at most CR_DNS_MAX_MESSAGE) into *q. Exactly one
 * question; no answer or authority records; at most one additional record,
 * which must be an OPT record (EDNS) with the root name; no bytes after the
 * last record. Compression pointers are rejected in the question (in a
 * one-question query they can only point back into the same name, i.e. loop)
 * and in the OPT owner name. Never reads past len. */
cr_dns_status cr_dns_parse_query(const uint8_t *msg, size_t len, cr_dns_query *q);

/* The largest answer the client can take over the transport: 512 bytes over
 * UDP without EDNS, its advertised size (at least 512, at most
 * CR_DNS_MAX_MESSAGE) with EDNS, CR_DNS_MAX_MESSAGE over TCP. */
size_t cr_dns_answer_limit(const cr_dns_query *q, bool tcp);

/* Builds the response to q into out (cap bytes): id, opcode, RD and CD echoed,
 * QR and RA set, the question echoed when q->has_question, `rcode`, and for
 * an A question with NOERROR one A record per address (at most
 * CR_DNS_MAX_ANSWERS, and no more than fit in cap) whose owner is a
 * compression pointer to the question name, with the given TTL. An OPT record
 * is added when the query had one. Returns the length written, or 0 when cap
 * cannot hold even the header and question. */
size_t cr_dns_build_response(const cr_dns_query *q, unsigned rcode, const struct in_addr *addrs,
			     size_t n_addrs, uint32_t ttl, uint8_t *out, size_t cap);

/* TCP framing (RFC 1035 4.2.2): the 2-byte length before each message.
 * Returns the length of the message that starts after the prefix at buf
 * (which holds at least 2 bytes), or -1 when it is 0 or over
 * CR_DNS_MAX_MESSAGE: the stream must be closed. */
int cr_dns_tcp_frame_len(const uint8_t *buf);

/* Mnemonic of a query type ("A", "AAAA", "TXT", ...) or "TYPE<n>", written
 * into buf (at least 16 bytes), which is returned. */
const char *cr_dns_type_name(uint16_t qtype, char buf[static 16]);
