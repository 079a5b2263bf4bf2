/* SPDX-License-Identifier: Apache-2.0 */
/* walk.h -- typed, table-driven reading of a YAML tree against a schema.
 *
 * A walk keeps the key path of the node being read (for messages such as
 * `sandbox.network.allow[2].host`) and reports every problem to a diags list
 * with the node's position. Mappings are read through tables of fields, so an
 * unknown key is always an error (with a "did you mean" hint) and a missing
 * required key is reported once at the mapping. */
#pragma once

#include <stdbool.h>

#include "policy/yamltree.h"
#include "util/keypath.h"

struct cr_walk {
	const char *file;
	cr_diags *diags;
	cr_keypath path;
};

typedef void (*cr_walk_field_fn)(struct cr_walk *w, const cr_ynode *value, void *obj);

struct cr_walk_field {
	const char *key;
	cr_walk_field_fn read;
	bool required;
};

void cr_walk_error(struct cr_walk *w, const cr_ynode *at, cr_reason reason, const char *hint, const char *fmt,
		   ...) __attribute__((format(printf, 5, 6)));
void cr_walk_warn(struct cr_walk *w, const cr_ynode *at, const char *hint, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Path stack: push returns the previous length to give to pop. */
size_t cr_walk_push_key(struct cr_walk *w, const char *key);
size_t cr_walk_push_index(struct cr_walk *w, size_t i);
void cr_walk_pop(struct cr_walk *w, size_t mark);

/* Reads mapping `map` through `fields` (terminated by a NULL key). A null
 * node counts as an empty mapping. Returns false when map is not a mapping. */
bool cr_walk_map(struct cr_walk *w, const cr_ynode *map, const struct cr_walk_field *fields, void *obj);

/* Calls item(w, node, index, obj) for each element of a sequence (null =
 * empty). Returns false when seq is not a sequence. */
bool cr_walk_seq(struct cr_walk *w, const cr_ynode *seq,
		 void (*item)(struct cr_walk *w, const cr_ynode *n, size_t i, void *obj), void *obj);

/* Scalar readers: each reports its own error and returns false on failure. */
bool cr_walk_string(struct cr_walk *w, const cr_ynode *n, const char **out);
bool cr_walk_bool(struct cr_walk *w, const cr_ynode *n, bool *out);
bool cr_walk_int(struct cr_walk *w, const cr_ynode *n, long long min, long long max, long long *out);
/* A string that must be one of `choices` (NULL-terminated). Returns the index or -1. */
int cr_walk_enum(struct cr_walk *w, const cr_ynode *n, const char *const *choices);

/* A short English name of a node's type for messages ("a mapping"). */
const char *cr_walk_type_name(const cr_ynode *n);
