/* SPDX-License-Identifier: Apache-2.0 */
/* schema.h -- the section readers of the cleanroom.yaml schema.
 *
 * Internal to the policy module: schema.c reads the document root and the
 * sandbox section and delegates to these readers, each of which takes the
 * cr_policy being built as its `obj`. */
#pragma once

#include "policy/policy.h"
#include "policy/walk.h"

void cr_schema_read_network(struct cr_walk *w, const cr_ynode *v, void *policy);
void cr_schema_read_registries(struct cr_walk *w, const cr_ynode *v, void *policy);
void cr_schema_read_secrets(struct cr_walk *w, const cr_ynode *v, void *policy);
void cr_schema_read_resources(struct cr_walk *w, const cr_ynode *v, void *policy);

/* Reads a list of hosts (names and, with the flags, wildcards, IPs, CIDRs)
 * into a new array. Invalid entries are reported and skipped. */
void cr_schema_read_hosts(struct cr_walk *w, const cr_ynode *v, unsigned flags, cr_host_pattern **out,
			  size_t *n);
