/* SPDX-License-Identifier: Apache-2.0 */
/* yamltree.h -- a YAML document as a small tree with source positions.
 *
 * libyaml's event parser feeds a tree of scalars, sequences and mappings, each
 * node carrying its 1-based line and column, so that schema validation can
 * point at the exact place of every problem. Deliberately narrow: one
 * document, no anchors, aliases or tags (an alias such as `*.example.org`
 * is almost always an unquoted wildcard host, and the error says so), with
 * caps on size, depth and node count. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "util/diag.h"

#define CR_YAML_MAX_BYTES (1u << 20)
#define CR_YAML_MAX_DEPTH 32
#define CR_YAML_MAX_NODES 100000

typedef enum cr_ytype { CR_Y_SCALAR, CR_Y_SEQ, CR_Y_MAP } cr_ytype;

typedef struct cr_ynode {
	cr_ytype type;
	unsigned line, col;      /* 1-based position of the node's start */
	char *value;             /* scalar text (NUL-terminated), NULL for collections */
	size_t len;              /* scalar length in bytes */
	bool quoted;             /* scalar written with quotes or as a block scalar */
	struct cr_ynode **items; /* seq: elements; map: key0, value0, key1, value1, ... */
	size_t n;                /* number of entries in items */
	size_t cap;
} cr_ynode;

/* Parses `len` bytes of YAML. Returns 0 and sets *root when a tree could be
 * built (an empty document yields a NULL root), -1 otherwise. Problems are
 * added to diags (reason policy_invalid, file `file`); an unquoted wildcard
 * host (`- host: *.example.org`) is reported as an error but repaired so that
 * the tree is still built and the rest of the file can be checked: callers
 * must look at diags->n_errors, not only at the return value. */
int cr_yaml_parse(const char *text, size_t len, const char *file, cr_ynode **root, cr_diags *diags);

void cr_ynode_free(cr_ynode *n);

/* Number of key/value pairs of a mapping. */
static inline size_t cr_ymap_size(const cr_ynode *m)
{
	return m->n / 2;
}

/* The value for `key` in mapping m, or NULL. */
const cr_ynode *cr_ymap_get(const cr_ynode *m, const char *key);

/* Plain-scalar classification by the YAML 1.2 core schema. */
bool cr_yscalar_is_null(const cr_ynode *n);
/* Returns 1 and sets *out for true/false (any case style of the core schema),
 * 0 otherwise. */
int cr_yscalar_bool(const cr_ynode *n, bool *out);
/* Returns 1 and sets *out for a plain decimal integer within [min, max],
 * 0 when the scalar is not an integer, -1 when it is out of range. */
int cr_yscalar_int(const cr_ynode *n, long long min, long long max, long long *out);

static inline void cr_ynode_freep(cr_ynode **n)
{
	cr_ynode_free(*n);
}
#define cleanup_ynode __attribute__((cleanup(cr_ynode_freep)))
