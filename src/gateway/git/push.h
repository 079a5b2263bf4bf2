/* SPDX-License-Identifier: Apache-2.0 */
/* push.h -- git push (receive-pack) through the git front, for hosts whose
 * allow rule says git_push: true (spec §6.4, docs/internals/git-front.md).
 *
 * git.c decides: the host must be allowed on 443 and have a push permission
 * (cr_policy_git_push_rule); everything else is refused there with
 * git_push_not_allowed. This module relays what is then allowed, untouched
 * and never cached: `GET info/refs?service=git-receive-pack` and `POST
 * git-receive-pack` go to https://<host>/<repo>/... with the gateway's
 * credentials, and upstream's status, content type and body come back. */
#pragma once

#include "gateway/front/front.h"
#include "gateway/git/route.h"

/* Relays call c, whose route (copied) is CR_GIT_REFS_RECEIVE or
 * CR_GIT_RECEIVE_PACK, under the permission of allow rule `rule` (which
 * lives as long as the gateway's policy). Ends the call: answers exactly
 * once (now or later from the loop) or, when the client goes away first,
 * cancels the upstream request. Every call is one registry_decision event. */
void cr_git_push_relay(cr_front_call *c, const cr_git_route *route, const cr_net_rule *rule);

/* Describes a git-receive-pack request body for the audit trail: reads the
 * ref-update commands before the first flush-pkt and writes "receive-pack:
 * N ref updates: <ref> (create|update|delete), ..." into what (cap bytes;
 * refs shown shortened, control bytes as '?'). Returns N, or -1 (*why set)
 * when the body does not start with pkt-lines ended by a flush-pkt. Pure:
 * the fuzz target calls it. */
long cr_git_push_describe(const void *body, size_t len, char *what, size_t cap, const char **why);
