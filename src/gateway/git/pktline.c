/* SPDX-License-Identifier: Apache-2.0 */
/* pktline.c -- the pkt-line reader and the upload-pack request classifier
 * (pktline.h). Both are pure and bounded by their input: a request is never
 * copied, its lines are compared in place. */
#include "gateway/git/pktline.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

void cr_pkt_reader_init(cr_pkt_reader *r, const void *buf, size_t len)
{
	*r = (cr_pkt_reader){.buf = buf, .len = len};
}

static int hex_value(uint8_t c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int fail(const char **why, const char *msg)
{
	if (why)
		*why = msg;
	return -1;
}

/* The four hex digits of a pkt-line length; -1 when they are not. */
static int parse_len(const uint8_t *p, size_t *len)
{
	size_t n = 0;
	for (int i = 0; i < 4; i++) {
		int v = hex_value(p[i]);
		if (v < 0)
			return -1;
		n = n * 16 + (size_t)v;
	}
	*len = n;
	return 0;
}

int cr_pkt_next(cr_pkt_reader *r, cr_pkt *out, const char **why)
{
	size_t left = r->len - r->off;
	if (left == 0)
		return 0;
	if (left < 4)
		return fail(why, "pkt-line length cut short");
	const uint8_t *p = r->buf + r->off;
	size_t n = 0;
	if (parse_len(p, &n) < 0)
		return fail(why, "pkt-line length is not four hex digits");
	static const cr_pkt_kind special[] = {CR_PKT_FLUSH, CR_PKT_DELIM, CR_PKT_RESPONSE_END};
	if (n < 3) {
		*out = (cr_pkt){.kind = special[n]};
		r->off += 4;
		return 1;
	}
	if (n == 3)
		return fail(why, "pkt-line length 0003 is invalid");
	if (n > CR_PKT_MAX)
		return fail(why, "pkt-line longer than 65520 bytes");
	if (n > left)
		return fail(why, "pkt-line cut short by the end of the body");
	*out = (cr_pkt){.kind = CR_PKT_DATA, .data = p + 4, .len = n - 4};
	r->off += n;
	return 1;
}

size_t cr_pkt_text_len(const cr_pkt *p)
{
	if (p->kind != CR_PKT_DATA)
		return 0;
	return p->len > 0 && p->data[p->len - 1] == '\n' ? p->len - 1 : p->len;
}

/* ---- the classifier ---- */

/* One text line: payload without its LF. */
typedef struct line {
	const char *s;
	size_t n;
} line;

typedef enum arg_value { VAL_NONE, VAL_OID, VAL_ANY } arg_value;
typedef enum arg_effect {
	ARG_PLAIN,
	ARG_WANT,
	ARG_WANT_REF,
	ARG_HAVE,
	ARG_SHALLOW,
	ARG_DONE,
	ARG_DEEPEN,
	ARG_DEEPEN_NOT, /* names a ref: the answer follows the ref */
	ARG_FILTER,
} arg_effect;

typedef struct arg_spec {
	const char *name;
	arg_value value;
	arg_effect effect;
} arg_spec;

/* gitprotocol-v2(5), "fetch" arguments. */
static const arg_spec v2_fetch_args[] = {
	{"want", VAL_OID, ARG_WANT},
	{"want-ref", VAL_ANY, ARG_WANT_REF},
	{"have", VAL_OID, ARG_HAVE},
	{"done", VAL_NONE, ARG_DONE},
	{"thin-pack", VAL_NONE, ARG_PLAIN},
	{"no-progress", VAL_NONE, ARG_PLAIN},
	{"include-tag", VAL_NONE, ARG_PLAIN},
	{"ofs-delta", VAL_NONE, ARG_PLAIN},
	{"shallow", VAL_OID, ARG_SHALLOW},
	{"deepen", VAL_ANY, ARG_DEEPEN},
	{"deepen-relative", VAL_NONE, ARG_DEEPEN},
	{"deepen-since", VAL_ANY, ARG_DEEPEN},
	{"deepen-not", VAL_ANY, ARG_DEEPEN_NOT},
	{"filter", VAL_ANY, ARG_FILTER},
	{"packfile-uris", VAL_ANY, ARG_PLAIN},
	{"wait-for-done", VAL_NONE, ARG_PLAIN},
	{"sideband-all", VAL_NONE, ARG_PLAIN},
};

/* gitprotocol-pack(5), upload-request lines before the first flush (the
 * first want also carries the capabilities). */
static const arg_spec v0_want_lines[] = {
	{"want", VAL_OID, ARG_WANT},
	{"shallow", VAL_OID, ARG_SHALLOW},
	{"deepen", VAL_ANY, ARG_DEEPEN},
	{"deepen-since", VAL_ANY, ARG_DEEPEN},
	{"deepen-not", VAL_ANY, ARG_DEEPEN_NOT},
	{"filter", VAL_ANY, ARG_FILTER},
};

/* ... and the negotiation after it. */
static const arg_spec v0_have_lines[] = {
	{"have", VAL_OID, ARG_HAVE},
	{"done", VAL_NONE, ARG_DONE},
};

#define N_ITEMS(a) (sizeof(a) / sizeof((a)[0]))

typedef struct classifier {
	cr_pkt_reader rd;
	cr_git_rpc *out;
	size_t lineno; /* packets read, for messages */
	bool first_want_seen;
} classifier;

bool cr_git_is_oid(const char *s, size_t n)
{
	if (n != 40 && n != 64)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

static bool printable(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return false;
	return true;
}

static int bad(classifier *k, cr_error **err, const char *what)
{
	return cr_error_make(err, 0, CR_REASON_NONE, "upload-pack request: %s at pkt-line %zu", what,
			     k->lineno);
}

/* Reads the next packet; end of input is an error here ("where"). */
static int next(classifier *k, cr_pkt *p, const char *where, cr_error **err)
{
	const char *why = NULL;
	int rc = cr_pkt_next(&k->rd, p, &why);
	k->lineno++;
	if (rc < 0)
		return bad(k, err, why);
	if (rc == 0)
		return bad(k, err, where);
	return 0;
}

static line text(const cr_pkt *p)
{
	return (line){.s = (const char *)p->data, .n = cr_pkt_text_len(p)};
}

static const arg_spec *find_arg(const arg_spec *specs, size_t n_specs, line l, line *value)
{
	for (size_t i = 0; i < n_specs; i++) {
		size_t k = strlen(specs[i].name);
		if (l.n < k || memcmp(l.s, specs[i].name, k) != 0)
			continue;
		if (l.n == k) {
			*value = (line){.s = l.s + k, .n = 0};
			return &specs[i];
		}
		if (l.s[k] == ' ') {
			*value = (line){.s = l.s + k + 1, .n = l.n - k - 1};
			return &specs[i];
		}
	}
	return NULL;
}

static bool value_ok(arg_value kind, line v)
{
	switch (kind) {
	case VAL_NONE: return v.n == 0 && v.s[-1] != ' ';
	case VAL_OID: return cr_git_is_oid(v.s, v.n);
	case VAL_ANY: return v.n > 0;
	}
	return false;
}

static void apply(cr_git_rpc *r, arg_effect e)
{
	switch (e) {
	case ARG_WANT: r->wants++; break;
	case ARG_WANT_REF: r->want_refs++; break;
	case ARG_HAVE: r->haves++; break;
	case ARG_SHALLOW: r->shallows++; break;
	case ARG_DONE: r->done = true; break;
	case ARG_DEEPEN: r->deepen = true; break;
	case ARG_DEEPEN_NOT:
		r->deepen = true;
		r->deepen_not = true;
		break;
	case ARG_FILTER: r->filter = true; break;
	case ARG_PLAIN: break;
	}
}

/* One argument line of a known set; unknown keywords are counted, known
 * ones must have the value their keyword takes. */
static int take_arg(classifier *k, const arg_spec *specs, size_t n_specs, line l, cr_error **err)
{
	if (l.n == 0 || !printable(l.s, l.n))
		return bad(k, err, "empty line or control character");
	k->out->args++;
	line v;
	const arg_spec *a = find_arg(specs, n_specs, l, &v);
	if (!a) {
		if (n_specs > 0)
			k->out->unknown = true;
		return 0;
	}
	if (!value_ok(a->value, v))
		return cr_error_make(err, 0, CR_REASON_NONE,
				     "upload-pack request: bad %s line at pkt-line %zu", a->name, k->lineno);
	apply(k->out, a->effect);
	return 0;
}

/* ---- protocol v2 ---- */

static int v2_command(classifier *k, line l, cr_error **err)
{
	static const char prefix[] = "command=";
	size_t n = l.n - (sizeof(prefix) - 1);
	const char *name = l.s + sizeof(prefix) - 1;
	if (n == 0 || n > CR_GIT_COMMAND_MAX)
		return bad(k, err, "bad command name");
	for (size_t i = 0; i < n; i++)
		if (!((name[i] >= 'a' && name[i] <= 'z') || (name[i] >= '0' && name[i] <= '9') ||
		      name[i] == '-' || name[i] == '_'))
			return bad(k, err, "bad command name");
	memcpy(k->out->command, name, n);
	k->out->command[n] = '\0';
	static const struct {
		const char *name;
		cr_git_rpc_kind kind;
	} commands[] = {{"ls-refs", CR_GIT_RPC_LS_REFS}, {"fetch", CR_GIT_RPC_FETCH}};
	k->out->kind = CR_GIT_RPC_OTHER;
	for (size_t i = 0; i < N_ITEMS(commands); i++)
		if (strcmp(k->out->command, commands[i].name) == 0)
			k->out->kind = commands[i].kind;
	return 0;
}

static int v2_args(classifier *k, cr_error **err)
{
	bool is_fetch = k->out->kind == CR_GIT_RPC_FETCH;
	for (;;) {
		cr_pkt p;
		if (next(k, &p, "request ends before its flush-pkt", err) < 0)
			return -1;
		if (p.kind == CR_PKT_FLUSH)
			return 0;
		if (p.kind != CR_PKT_DATA)
			return bad(k, err, "delim-pkt or response-end-pkt among the arguments");
		/* the keywords of other commands (ls-refs: symrefs, peel,
		 * ref-prefix) are the server's business: counted only */
		if (take_arg(k, v2_fetch_args, is_fetch ? N_ITEMS(v2_fetch_args) : 0, text(&p), err) < 0)
			return -1;
	}
}

static int classify_v2(classifier *k, line first, cr_error **err)
{
	k->out->protocol = 2;
	k->out->side_band = true; /* v2 multiplexes every packfile section */
	if (v2_command(k, first, err) < 0)
		return -1;
	for (;;) {
		cr_pkt p;
		if (next(k, &p, "request ends before its flush-pkt", err) < 0)
			return -1;
		if (p.kind == CR_PKT_FLUSH)
			break;
		if (p.kind == CR_PKT_DELIM) {
			if (v2_args(k, err) < 0)
				return -1;
			break;
		}
		if (p.kind != CR_PKT_DATA)
			return bad(k, err, "response-end-pkt in a request");
		line l = text(&p);
		if (l.n == 0 || !printable(l.s, l.n))
			return bad(k, err, "empty capability or control character");
		k->out->capabilities++;
	}
	if (k->rd.off != k->rd.len)
		return bad(k, err, "data after the request's flush-pkt");
	return 0;
}

/* ---- protocol v0/v1 ---- */

static bool is_side_band(const char *cap, size_t n)
{
	return (n == 9 && memcmp(cap, "side-band", 9) == 0) ||
	       (n == 13 && memcmp(cap, "side-band-64k", 13) == 0);
}

/* "want <oid>[ <capabilities>]" on the first line. */
static int v0_first_want(classifier *k, line l, cr_error **err)
{
	static const char prefix[] = "want ";
	const char *oid = l.s + sizeof(prefix) - 1;
	size_t n = l.n - (sizeof(prefix) - 1);
	size_t oid_len = 0;
	while (oid_len < n && oid[oid_len] != ' ')
		oid_len++;
	if (!cr_git_is_oid(oid, oid_len) || !printable(l.s, l.n))
		return bad(k, err, "bad first want line");
	for (size_t i = oid_len; i < n;) {
		while (i < n && oid[i] == ' ')
			i++;
		size_t start = i;
		while (i < n && oid[i] != ' ')
			i++;
		if (i == start)
			break;
		k->out->capabilities++;
		if (is_side_band(oid + start, i - start))
			k->out->side_band = true;
	}
	k->out->wants++;
	k->out->args++;
	return 0;
}

static int v0_haves(classifier *k, cr_error **err)
{
	for (;;) {
		cr_pkt p;
		const char *why = NULL;
		int rc = cr_pkt_next(&k->rd, &p, &why);
		k->lineno++;
		if (rc == 0)
			return 0; /* a negotiation round without done */
		if (rc < 0)
			return bad(k, err, why);
		if (k->out->done)
			return bad(k, err, "data after done");
		if (p.kind == CR_PKT_FLUSH)
			continue; /* end of a round of haves */
		if (p.kind != CR_PKT_DATA)
			return bad(k, err, "delim-pkt or response-end-pkt in a v0 request");
		line l = text(&p);
		line v;
		const arg_spec *a = find_arg(v0_have_lines, N_ITEMS(v0_have_lines), l, &v);
		if (!a || !value_ok(a->value, v))
			return bad(k, err, "expected have or done");
		k->out->args++;
		apply(k->out, a->effect);
	}
}

static int classify_v0(classifier *k, line first, cr_error **err)
{
	k->out->protocol = 0;
	snprintf(k->out->command, sizeof(k->out->command), "fetch");
	k->out->kind = CR_GIT_RPC_V0_FETCH;
	if (v0_first_want(k, first, err) < 0)
		return -1;
	for (;;) {
		cr_pkt p;
		if (next(k, &p, "request ends before the flush-pkt after the wants", err) < 0)
			return -1;
		if (p.kind == CR_PKT_FLUSH)
			break;
		if (p.kind != CR_PKT_DATA)
			return bad(k, err, "delim-pkt or response-end-pkt in a v0 request");
		if (take_arg(k, v0_want_lines, N_ITEMS(v0_want_lines), text(&p), err) < 0)
			return -1;
	}
	return v0_haves(k, err);
}

static bool starts_with(line l, const char *prefix)
{
	size_t n = strlen(prefix);
	return l.n >= n && memcmp(l.s, prefix, n) == 0;
}

int cr_git_rpc_classify(const void *body, size_t len, cr_git_rpc *out, cr_error **err)
{
	*out = (cr_git_rpc){0};
	if (len > CR_GIT_RPC_MAX)
		return cr_error_make(err, 0, CR_REASON_NONE,
				     "upload-pack request: %zu bytes, over the %u byte cap", len,
				     CR_GIT_RPC_MAX);
	classifier k = {.out = out};
	cr_pkt_reader_init(&k.rd, body, len);
	cr_pkt p;
	if (next(&k, &p, "empty request", err) < 0)
		return -1;
	if (p.kind != CR_PKT_DATA)
		return bad(&k, err, "request starts with a special packet");
	line first = text(&p);
	int rc;
	if (starts_with(first, "command="))
		rc = classify_v2(&k, first, err);
	else if (starts_with(first, "want "))
		rc = classify_v0(&k, first, err);
	else
		return bad(&k, err, "neither a v2 command nor a want line");
	if (rc < 0)
		return -1;
	bool fetch = out->kind == CR_GIT_RPC_FETCH || out->kind == CR_GIT_RPC_V0_FETCH;
	out->immutable = fetch && out->wants > 0 && out->want_refs == 0 && !out->deepen_not && !out->unknown;
	return 0;
}

void cr_git_rpc_describe(const cr_git_rpc *r, char *out, size_t cap)
{
	if (r->kind != CR_GIT_RPC_FETCH && r->kind != CR_GIT_RPC_V0_FETCH) {
		snprintf(out, cap, "v%d %s", r->protocol, r->command);
		return;
	}
	char refs[48] = "";
	if (r->want_refs)
		snprintf(refs, sizeof(refs), ", %zu want-refs", r->want_refs);
	snprintf(out, cap, "v%d fetch: %zu wants%s, %zu haves%s%s%s", r->protocol, r->wants, refs, r->haves,
		 r->done ? ", done" : "", r->deepen ? ", shallow" : "", r->filter ? ", filtered" : "");
}

/* ---- answers ---- */

static int answer_bad(cr_error **err, uint64_t off, const char *what)
{
	return cr_error_make(err, 0, CR_REASON_NONE, "upload-pack answer: %s at byte %llu", what,
			     (unsigned long long)off);
}

/* Reads up to cap bytes at off; the count, or -1. */
static ssize_t read_at(int fd, void *buf, size_t cap, uint64_t off)
{
	for (;;) {
		ssize_t n = pread(fd, buf, cap, (off_t)off);
		if (n >= 0 || errno != EINTR)
			return n;
	}
}

/* The ERR line's text, printable, for the message. */
static int answer_err_line(int fd, uint64_t off, size_t len, cr_error **err)
{
	char text[128];
	size_t want = len < sizeof(text) - 1 ? len : sizeof(text) - 1;
	ssize_t n = read_at(fd, text, want, off);
	size_t got = n > 0 ? (size_t)n : 0;
	for (size_t i = 0; i < got; i++)
		if ((unsigned char)text[i] < 0x20 || (unsigned char)text[i] >= 0x7f)
			text[i] = ' ';
	text[got] = '\0';
	return cr_error_make(err, 0, CR_REASON_NONE, "upload-pack answer: upstream said \"%s\"", text);
}

int cr_git_answer_check(int fd, uint64_t size, const cr_git_rpc *req, cr_error **err)
{
	uint64_t off = 0;
	cr_pkt_kind last = CR_PKT_DATA;
	while (off < size) {
		uint8_t head[5]; /* the length and the first payload byte */
		size_t want = size - off < sizeof(head) ? (size_t)(size - off) : sizeof(head);
		ssize_t n = read_at(fd, head, want, off);
		if (n < 0)
			return cr_error_make(err, errno, CR_REASON_NONE, "upload-pack answer: read");
		size_t len = 0;
		if (n < 4 || parse_len(head, &len) < 0 || len == 3 || len > CR_PKT_MAX ||
		    (len > 3 && len > size - off))
			return req->side_band ? answer_bad(err, off, "not a complete pkt-line") : 0;
		if (len < 3) {
			static const cr_pkt_kind special[] = {CR_PKT_FLUSH, CR_PKT_DELIM,
							      CR_PKT_RESPONSE_END};
			last = special[len];
			off += 4;
			continue;
		}
		char tag[4];
		if (len >= 8 && read_at(fd, tag, 4, off + 4) == 4 && memcmp(tag, "ERR ", 4) == 0)
			return answer_err_line(fd, off + 8, len - 8, err);
		if (req->side_band && len >= 5 && n == 5 && head[4] == 3)
			return answer_bad(err, off, "side-band error packet");
		last = CR_PKT_DATA;
		off += len;
	}
	if (size == 0)
		return answer_bad(err, off, "empty");
	if ((req->done || req->protocol == 2) && last != CR_PKT_FLUSH && last != CR_PKT_RESPONSE_END)
		return answer_bad(err, off, "ends before its final flush-pkt");
	return 0;
}
