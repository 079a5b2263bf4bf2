/* SPDX-License-Identifier: Apache-2.0 */
/* host.c -- normalisation and matching of host names, wildcards, IPs and
 * CIDR blocks (see host.h). */
#include "policy/host.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <idn2.h>
#include <stdlib.h>
#include <string.h>

#include "util/cleanup.h"
#include "util/xalloc.h"

#define MAX_INPUT 1024
#define MAX_NAME  253
#define MAX_LABEL 63

static int fail(char **why, char **hint, const char *h, char *msg)
{
	*why = msg;
	if (hint)
		*hint = h ? cr_xstrdup(h) : NULL;
	return -1;
}

static bool parse_ip(const char *s, int *family, unsigned char addr[16])
{
	if (inet_pton(AF_INET, s, addr) == 1) {
		*family = AF_INET;
		return true;
	}
	if (inet_pton(AF_INET6, s, addr) != 1)
		return false;
	static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	if (memcmp(addr, mapped, 12) == 0) {
		memmove(addr, addr + 12, 4);
		*family = AF_INET;
	} else {
		*family = AF_INET6;
	}
	return true;
}

static char *ip_text(int family, const unsigned char addr[16])
{
	char buf[INET6_ADDRSTRLEN];
	inet_ntop(family, addr, buf, sizeof(buf));
	return cr_xstrdup(buf);
}

/* Strips one pair of [brackets] around an IPv6 literal, in place. */
static void unbracket(char *s)
{
	size_t n = strlen(s);
	if (n >= 2 && s[0] == '[' && s[n - 1] == ']') {
		memmove(s, s + 1, n - 2);
		s[n - 2] = '\0';
	}
}

static bool host_bits_clear(int family, const unsigned char *a, unsigned prefix)
{
	unsigned bits = family == AF_INET ? 32 : 128;
	for (unsigned i = prefix; i < bits; i++)
		if (a[i / 8] & (0x80 >> (i % 8)))
			return false;
	return true;
}

static void clear_host_bits(int family, unsigned char *a, unsigned prefix)
{
	unsigned bits = family == AF_INET ? 32 : 128;
	for (unsigned i = prefix; i < bits; i++)
		a[i / 8] &= (unsigned char)~(0x80 >> (i % 8));
}

static int parse_cidr(const char *in, char *s, cr_host_pattern *out, char **why, char **hint)
{
	char *slash = strchr(s, '/');
	*slash = '\0';
	unbracket(s);
	const char *pfx = slash + 1;
	if (!parse_ip(s, &out->family, out->addr))
		return fail(why, hint, NULL,
			    cr_asprintf("'%s' is not a CIDR block: '%s' is not an IP address", in, s));
	unsigned bits = out->family == AF_INET ? 32 : 128;
	if (!*pfx || strspn(pfx, "0123456789") != strlen(pfx) || strlen(pfx) > 3 ||
	    (unsigned)strtoul(pfx, NULL, 10) > bits)
		return fail(why, hint, NULL,
			    cr_asprintf("'%s' has an invalid prefix length (0-%u)", in, bits));
	out->prefix = (unsigned)strtoul(pfx, NULL, 10);
	if (!host_bits_clear(out->family, out->addr, out->prefix)) {
		clear_host_bits(out->family, out->addr, out->prefix);
		cleanup_free char *net = ip_text(out->family, out->addr);
		cleanup_free char *h = cr_asprintf("did you mean %s/%u?", net, out->prefix);
		return fail(why, hint, h, cr_asprintf("CIDR block '%s' has host bits set", in));
	}
	out->kind = out->prefix == bits ? CR_HOST_IP : CR_HOST_CIDR;
	cleanup_free char *net = ip_text(out->family, out->addr);
	out->text = out->kind == CR_HOST_IP ? steal_pointer(&net) : cr_asprintf("%s/%u", net, out->prefix);
	return 0;
}

static bool label_ok(const char *l, size_t n)
{
	if (n == 0 || n > MAX_LABEL || l[0] == '-' || l[n - 1] == '-')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!(islower((unsigned char)l[i]) || isdigit((unsigned char)l[i]) || l[i] == '-' ||
		      l[i] == '_'))
			return false;
	return true;
}

/* Checks an ASCII (already punycoded, lowercase) name label by label. */
static int check_name(const char *in, const char *name, char **why, char **hint)
{
	if (strlen(name) > MAX_NAME)
		return fail(why, hint, NULL,
			    cr_asprintf("host '%s' is longer than %d characters", in, MAX_NAME));
	const char *p = name, *last = name;
	for (;;) {
		const char *dot = strchr(p, '.');
		size_t n = dot ? (size_t)(dot - p) : strlen(p);
		if (!label_ok(p, n))
			return fail(why, hint,
				    "labels are 1-63 letters, digits, '-' or '_', not starting or ending "
				    "with '-'",
				    cr_asprintf("'%s' is not a valid host name", in));
		last = p;
		if (!dot)
			break;
		p = dot + 1;
	}
	if (strspn(last, "0123456789") == strlen(last))
		return fail(
			why, hint, NULL,
			cr_asprintf("'%s' is neither an IP address nor a host name (numeric top-level label)",
				    in));
	return 0;
}

static bool is_ascii(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s >= 0x80)
			return false;
	return true;
}

/* Lowercases and converts a name to punycode; returns an owned string. */
static int to_ascii(const char *in, const char *name, char **out, char **why, char **hint)
{
	if (is_ascii(name)) {
		char *s = cr_xstrdup(name);
		for (char *c = s; *c; c++)
			*c = (char)tolower((unsigned char)*c);
		*out = s;
		return 0;
	}
	char *res = NULL;
	int rc = idn2_to_ascii_8z(name, &res, IDN2_NONTRANSITIONAL | IDN2_NFC_INPUT);
	if (rc != IDN2_OK)
		return fail(why, hint, NULL,
			    cr_asprintf("'%s' is not a valid internationalised host name: %s", in,
					idn2_strerror(rc)));
	*out = cr_xstrdup(res);
	idn2_free(res);
	for (char *c = *out; *c; c++)
		*c = (char)tolower((unsigned char)*c);
	return 0;
}

static int parse_name(const char *in, char *s, unsigned flags, cr_host_pattern *out, char **why, char **hint)
{
	size_t n = strlen(s);
	if (n > 1 && s[n - 1] == '.')
		s[--n] = '\0';
	bool wild = strncmp(s, "*.", 2) == 0;
	const char *base = wild ? s + 2 : s;
	if (strchr(base, '*'))
		return fail(why, hint, "a wildcard is one left-most label: \"*.example.com\"",
			    cr_asprintf("'%s' has a '*' that is not the whole left-most label", in));
	if (wild && !(flags & CR_HOST_ALLOW_WILDCARD))
		return fail(why, hint, "list the exact host name",
			    cr_asprintf("'%s': a wildcard is not allowed here", in));
	cleanup_free char *ascii = NULL;
	if (to_ascii(in, base, &ascii, why, hint) < 0 || check_name(in, ascii, why, hint) < 0)
		return -1;
	if (wild) {
		int fam;
		unsigned char a[16];
		if (parse_ip(ascii, &fam, a))
			return fail(why, hint, "use a CIDR block for address ranges",
				    cr_asprintf("'%s': a wildcard cannot cover an IP address", in));
	}
	out->kind = wild ? CR_HOST_WILDCARD : CR_HOST_NAME;
	out->text = wild ? cr_asprintf("*.%s", ascii) : steal_pointer(&ascii);
	return 0;
}

static int not_a_host(const char *in, char **why, char **hint)
{
	return fail(why, hint,
		    "write only the host name, e.g. registry.npm.example (no scheme, port, path or spaces)",
		    cr_asprintf("'%s' is not a host name", in));
}

int cr_host_pattern_parse(const char *in, unsigned flags, cr_host_pattern *out, char **why, char **hint)
{
	*out = (cr_host_pattern){0};
	if (hint)
		*hint = NULL;
	size_t n = strlen(in);
	if (n == 0)
		return fail(why, hint, NULL, cr_xstrdup("host is empty"));
	if (n > MAX_INPUT)
		return fail(why, hint, NULL, cr_asprintf("host is longer than %d characters", MAX_INPUT));
	cleanup_free char *s = cr_xstrdup(in);
	if (strchr(s, '/')) {
		if (!(flags & CR_HOST_ALLOW_CIDR) || strstr(s, "://"))
			return not_a_host(in, why, hint);
		return parse_cidr(in, s, out, why, hint);
	}
	unbracket(s);
	if (parse_ip(s, &out->family, out->addr)) {
		if (!(flags & CR_HOST_ALLOW_IP))
			return fail(why, hint, NULL,
				    cr_asprintf("'%s': an IP address is not allowed here", in));
		out->kind = CR_HOST_IP;
		out->prefix = out->family == AF_INET ? 32 : 128;
		out->text = ip_text(out->family, out->addr);
		return 0;
	}
	if (strpbrk(s, ":/@?#[] \t\r\n"))
		return not_a_host(in, why, hint);
	return parse_name(in, s, flags, out, why, hint);
}

int cr_host_dest_parse(const char *in, cr_host_pattern *out, char **why)
{
	char *hint = NULL;
	int r = cr_host_pattern_parse(in, CR_HOST_ALLOW_IP, out, why, &hint);
	free(hint);
	return r;
}

static bool in_cidr(const cr_host_pattern *net, const cr_host_pattern *ip)
{
	if (net->family != ip->family)
		return false;
	for (unsigned i = 0; i < net->prefix; i++) {
		unsigned char m = (unsigned char)(0x80 >> (i % 8));
		if ((net->addr[i / 8] & m) != (ip->addr[i / 8] & m))
			return false;
	}
	return true;
}

bool cr_host_matches(const cr_host_pattern *pat, const cr_host_pattern *dest)
{
	switch (pat->kind) {
	case CR_HOST_NAME: return dest->kind == CR_HOST_NAME && strcmp(pat->text, dest->text) == 0;
	case CR_HOST_WILDCARD: {
		if (dest->kind != CR_HOST_NAME)
			return false;
		const char *suffix = pat->text + 1; /* ".example.com" */
		size_t sl = strlen(suffix), dl = strlen(dest->text);
		return dl > sl && strcmp(dest->text + dl - sl, suffix) == 0;
	}
	case CR_HOST_IP:
		return dest->kind == CR_HOST_IP && dest->family == pat->family &&
		       memcmp(dest->addr, pat->addr, pat->family == AF_INET ? 4 : 16) == 0;
	case CR_HOST_CIDR: return dest->kind == CR_HOST_IP && in_cidr(pat, dest);
	}
	return false;
}

static const char *const kind_names[] = {"name", "wildcard", "ip", "cidr"};

const char *cr_host_kind_name(cr_host_kind k)
{
	return (unsigned)k < 4 ? kind_names[k] : "name";
}

int cr_host_kind_from_name(const char *s)
{
	for (int i = 0; i < 4; i++)
		if (strcmp(s, kind_names[i]) == 0)
			return i;
	return -1;
}

cr_host_pattern cr_host_pattern_copy(const cr_host_pattern *p)
{
	cr_host_pattern c = *p;
	c.text = p->text ? cr_xstrdup(p->text) : NULL;
	return c;
}

void cr_host_pattern_clear(cr_host_pattern *p)
{
	free(p->text);
	*p = (cr_host_pattern){0};
}
