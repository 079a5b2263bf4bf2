/* SPDX-License-Identifier: Apache-2.0 */
/* compiled.h -- section readers of the compiled-policy reader (internal). */
#pragma once

#include "policy/jsonread.h"
#include "policy/policy.h"

bool cr_compiled_read_registries(struct cr_jread *r, const json_t *j, cr_policy *p);
bool cr_compiled_read_secrets(struct cr_jread *r, const json_t *j, cr_policy *p);
bool cr_compiled_read_sandbox(struct cr_jread *r, const json_t *j, cr_policy *p);
