/* SPDX-License-Identifier: Apache-2.0 */
/* git.c -- the git smart-HTTP front (front.h, docs/internals/git-front.md).
 * First version: not wired to the upstream yet, every request is answered
 * 503 so that nothing pretends to work. */
#include "gateway/front/front.h"

void cr_front_git(cr_front_call *c)
{
	cr_front_refuse(c, 503, CR_REASON_NONE, "git front not ready");
}
