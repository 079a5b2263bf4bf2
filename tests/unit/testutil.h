/* SPDX-License-Identifier: Apache-2.0 */
/* testutil.h -- helpers shared by the policy unit tests. */
#pragma once

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "policy/policy.h"

/* Parses YAML; returns the policy (or NULL) and leaves diagnostics in *d. */
static inline cr_policy *parse_yaml(const char *yaml, cr_diags *d)
{
	cr_policy *p = NULL;
	*d = (cr_diags){0};
	if (cr_policy_from_yaml(yaml, strlen(yaml), "cleanroom.yaml", &p, d) < 0)
		return NULL;
	return p;
}

/* Prints diagnostics, for failing tests. */
static inline void dump_diags(const cr_diags *d)
{
	cr_diags_print(d, stderr);
}

/* Finds the first diagnostic whose message contains `needle`. */
static inline const cr_diag *find_diag(const cr_diags *d, const char *needle)
{
	for (size_t i = 0; i < d->n; i++)
		if (strstr(d->items[i].message, needle))
			return &d->items[i];
	return NULL;
}

#define POLICY_HEAD "version: 1\nsandbox:\n  network:\n    default: deny\n"
