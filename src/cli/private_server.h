/* SPDX-License-Identifier: Apache-2.0 */
/* private_server.h -- starting `cleanroom serve` on demand for a CLI that
 * found nobody answering at the default socket. */
#pragma once

#include <stdbool.h>

#include "util/error.h"

#define CR_PRIVATE_SERVER_IDLE_SECONDS 60
#define CR_PRIVATE_SERVER_WAIT_MS      10000

/* Makes sure a server answers at socket_path (the default socket): when
 * nothing does, starts `cleanroom serve --socket socket_path --state-dir DIR
 * --idle-exit 60` from /proc/self/exe as a detached daemon (own session,
 * stdin /dev/null, stdout and stderr appended to DIR/serve.log, where DIR is
 * serve's default state directory) and waits up to 10 s for it to answer
 * GetServerStatus. Concurrent callers are serialised by a lock on
 * DIR/autostart.lock, so only one of them starts a server. When announce is
 * set, the one that starts it prints one line on stderr. Returns 1 when this
 * call started the server, 0 when one already answered, -1 with *err. */
int cr_private_server_ensure(const char *socket_path, bool announce, cr_error **err);
