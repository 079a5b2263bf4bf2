/* SPDX-License-Identifier: Apache-2.0 */
/* pktline.h -- git's pkt-line framing and the upload-pack requests the git
 * front forwards (docs/internals/git-front.md, gitprotocol-common(5),
 * gitprotocol-v2(5), gitprotocol-http(5)).
 *
 * A pkt-line is four hex digits giving its length (the four digits
 * included) followed by that many bytes less four; "0000" is a flush-pkt,
 * "0001" a delim-pkt and "0002" a response-end-pkt (protocol v2); "0003" is
 * invalid and no line is longer than CR_PKT_MAX. The reader is pure: it
 * never allocates, never reads past its input, and its packets point into
 * the caller's buffer.
 *
 * The classifier reads the body of a POST to .../git-upload-pack and says
 * what it asks: a protocol v2 command (`command=ls-refs`, `command=fetch`,
 * others) with its capability lines and arguments, or a protocol v0/v1
 * negotiation (want / shallow / deepen / filter lines, a flush, have lines,
 * done). The front uses it to choose between an immutable cached answer
 * (a fetch whose wants are object ids) and an always-revalidated one. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"
#include "util/error.h"

#define CR_PKT_MAX         65520u            /* longest pkt-line, length digits included (LARGE_PACKET_MAX) */
#define CR_PKT_DATA_MAX    (CR_PKT_MAX - 4u) /* longest payload */
#define CR_GIT_RPC_MAX     (16u << 20)       /* longest (decoded) upload-pack request body */
#define CR_GIT_COMMAND_MAX 64                /* longest v2 command name */

typedef enum cr_pkt_kind {
	CR_PKT_DATA,         /* a line with a payload (possibly empty: "0004") */
	CR_PKT_FLUSH,        /* 0000 */
	CR_PKT_DELIM,        /* 0001 (v2: capabilities | arguments) */
	CR_PKT_RESPONSE_END, /* 0002 (v2, stateless connections) */
} cr_pkt_kind;

typedef struct cr_pkt {
	cr_pkt_kind kind;
	const uint8_t *data; /* DATA: the payload, inside the reader's buffer; else NULL */
	size_t len;          /* DATA: payload bytes; else 0 */
} cr_pkt;

typedef struct cr_pkt_reader {
	const uint8_t *buf;
	size_t len, off; /* off: bytes consumed */
} cr_pkt_reader;

void cr_pkt_reader_init(cr_pkt_reader *r, const void *buf, size_t len);
/* Reads the next packet. Returns 1 with *out filled, 0 at the end of the
 * input (nothing left), -1 when the bytes at r->off are not a pkt-line: a
 * length that is not four hex digits, "0003", a length over CR_PKT_MAX, or a
 * line cut short by the end of the input. *why (may be NULL) then gets a
 * static message; r->off is unchanged on errors. */
int cr_pkt_next(cr_pkt_reader *r, cr_pkt *out, const char **why);

/* True when s[0..n) is an object name: 40 (SHA-1) or 64 (SHA-256) lower-case
 * hex digits. */
bool cr_git_is_oid(const char *s, size_t n);
/* A DATA payload as a text line: its length without one trailing LF. */
size_t cr_pkt_text_len(const cr_pkt *p);

/* ---- upload-pack requests ---- */

typedef enum cr_git_rpc_kind {
	CR_GIT_RPC_LS_REFS,  /* v2 command=ls-refs */
	CR_GIT_RPC_FETCH,    /* v2 command=fetch */
	CR_GIT_RPC_OTHER,    /* another v2 command (object-info, bundle-uri, ...) */
	CR_GIT_RPC_V0_FETCH, /* v0/v1 want/have negotiation */
} cr_git_rpc_kind;

typedef struct cr_git_rpc {
	cr_git_rpc_kind kind;
	int protocol;                         /* 2, or 0 for v0 and v1 (same request syntax) */
	char command[CR_GIT_COMMAND_MAX + 1]; /* v2: the command; v0: "fetch" */
	size_t capabilities;                  /* v2 capability lines; v0: capabilities on the first want */
	size_t args;                          /* v2 argument lines; v0 lines */
	size_t wants, want_refs, haves, shallows;
	bool done;       /* the client said done: the answer carries a pack */
	bool deepen;     /* deepen, deepen-relative, deepen-since, deepen-not */
	bool deepen_not; /* deepen-not <ref>: the answer follows a ref */
	bool filter;     /* a partial-clone filter */
	bool unknown;    /* a line the classifier does not know (passed on, but not cached forever) */
	bool side_band;  /* the pack comes multiplexed in pkt-lines (v2 always; v0 side-band[-64k]) */
	/* true when the answer depends only on objects named by id (a fetch
	 * without want-ref or deepen-not and without lines the classifier does
	 * not know), so the same request always gets an equivalent answer and
	 * it may be cached forever */
	bool immutable;
} cr_git_rpc;

/* Classifies an upload-pack request body (already decoded, at most
 * CR_GIT_RPC_MAX bytes). v2: "command=<name>" first, capability lines, an
 * optional delim-pkt and arguments, one flush-pkt, nothing after it. v0/v1:
 * at least one "want <oid>" line first, then shallow/deepen/filter lines, a
 * flush-pkt, then have lines, each round ended by a flush-pkt, and optionally
 * "done" last. Object ids are 40 or 64 lower-case hex digits. Returns 0 with
 * *out filled, or -1 with *err (reason CR_REASON_NONE) naming what is wrong
 * and at which line. */
int cr_git_rpc_classify(const void *body, size_t len, cr_git_rpc *out, cr_error **err);
/* A short description for audit details: "v2 fetch: 3 wants, 10 haves, done". */
void cr_git_rpc_describe(const cr_git_rpc *r, char *out, size_t cap);

/* Decodes a gzip body (Content-Encoding: gzip; git sends large negotiations
 * so) into out, which must be initialised; more than `max` decoded bytes, or a
 * body that is not gzip or is cut short, is an error. libarchive's
 * built-in gzip filter does the work (never an external program). Returns 0,
 * or -1 with *err (reason CR_REASON_NONE). */
int cr_git_gunzip(const void *in, size_t len, size_t max, cr_buf *out, cr_error **err);

/* ---- upload-pack answers ---- */

/* Checks an upload-pack answer stored in fd (size bytes, read with pread)
 * before it is kept in the cache for good: it must be a complete sequence of
 * pkt-lines with no "ERR " line and no side-band error packet (channel 3),
 * ending in a flush-pkt when the request said done (its pack follows). An
 * answer that is not pkt-lines throughout (v0 without side-band: the pack
 * follows raw) cannot be judged and passes when req->side_band is false; a
 * v2 answer always ends in a flush-pkt (or response-end-pkt). Returns
 * 0 when the answer may be kept, -1 with *err (reason CR_REASON_NONE) saying
 * what is wrong with it (an I/O error reads as a bad answer). */
int cr_git_answer_check(int fd, uint64_t size, const cr_git_rpc *req, cr_error **err);
