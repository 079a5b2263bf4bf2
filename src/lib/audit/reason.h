/* SPDX-License-Identifier: Apache-2.0 */
/* reason.h -- the canonical reason-code enum (spec §9.1).
 *
 * One enum, rendered identically in CLI output, API errors and audit events.
 * The list lives in reason.def. */
#pragma once

#include <stddef.h>

typedef enum cr_reason {
	CR_REASON_NONE = 0,
#define CR_REASON(id, name, meaning) CR_REASON_##id,
#include "audit/reason.def"
#undef CR_REASON
	CR_REASON__COUNT
} cr_reason;

/* The stable wire name ("policy_invalid"); "none" for CR_REASON_NONE and
 * "internal" for out-of-range values. Never NULL. */
const char *cr_reason_name(cr_reason r);

/* One-sentence meaning of a code; "" for CR_REASON_NONE. */
const char *cr_reason_meaning(cr_reason r);

/* Looks a wire name up; returns CR_REASON_NONE when unknown. */
cr_reason cr_reason_from_name(const char *name);
