/* SPDX-License-Identifier: Apache-2.0 */
/* host.h -- host patterns and destinations, normalised (spec §5.2.1).
 *
 * A policy host is one of: an exact name, a wildcard `*.example.com` (one
 * left-most `*` label, never matching the apex), an IP literal, or a CIDR
 * block. Names are lowercased, IDNs converted to punycode (IDNA2008 with
 * UTS#46 mapping, via libidn2) and a trailing dot is removed; IPs and CIDRs
 * are printed in their canonical form (inet_ntop), an IPv4-mapped IPv6
 * address becomes IPv4, and a /32 or /128 block is an IP. Destinations use
 * the same normalisation but are never wildcards or blocks. */
#pragma once

#include <stdbool.h>

typedef enum cr_host_kind { CR_HOST_NAME, CR_HOST_WILDCARD, CR_HOST_IP, CR_HOST_CIDR } cr_host_kind;

typedef struct cr_host_pattern {
	cr_host_kind kind;
	char *text; /* canonical text, owned */
	int family; /* AF_INET or AF_INET6 for IP and CIDR, else 0 */
	unsigned char addr[16];
	unsigned prefix; /* CIDR prefix length; full length for an IP */
} cr_host_pattern;

enum {
	CR_HOST_ALLOW_WILDCARD = 1 << 0,
	CR_HOST_ALLOW_IP = 1 << 1,
	CR_HOST_ALLOW_CIDR = 1 << 2,
};

/* Parses and normalises `in`, accepting the kinds named in `flags` (names
 * are always accepted). Returns 0, or -1 with *why set to an owned message
 * ("'a*b.com' ...") and *hint to an owned fix hint or NULL. */
int cr_host_pattern_parse(const char *in, unsigned flags, cr_host_pattern *out, char **why, char **hint);

/* Parses a destination (a name or an IP literal, optionally in [brackets]). */
int cr_host_dest_parse(const char *in, cr_host_pattern *out, char **why);

/* True when destination `dest` (NAME or IP) falls under pattern `pat`:
 * equal names; a wildcard whose suffix `.example.com` ends dest with at least
 * one more label; equal IPs; an IP inside a CIDR of the same family. */
bool cr_host_matches(const cr_host_pattern *pat, const cr_host_pattern *dest);

/* True for the kinds the precedence of §5.2.1 calls "exact" (NAME and IP). */
static inline bool cr_host_is_exact(const cr_host_pattern *p)
{
	return p->kind == CR_HOST_NAME || p->kind == CR_HOST_IP;
}

const char *cr_host_kind_name(cr_host_kind k);
/* Returns the kind for a name from cr_host_kind_name, or -1. */
int cr_host_kind_from_name(const char *s);

cr_host_pattern cr_host_pattern_copy(const cr_host_pattern *p);
void cr_host_pattern_clear(cr_host_pattern *p);
