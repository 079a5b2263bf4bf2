/* SPDX-License-Identifier: Apache-2.0 */
/* backend.c -- the table of built-in backends, capability look-up and the
 * doctor check list shared by all backends. */
#include "backend/backend.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "util/clock.h"
#include "util/xalloc.h"

const struct cr_backend *const cr_backends[] = {&cr_backend_netns, NULL};

const struct cr_backend *cr_backend_find(const char *name)
{
	for (size_t i = 0; cr_backends[i]; i++)
		if (strcmp(cr_backends[i]->name, name) == 0)
			return cr_backends[i];
	return NULL;
}

bool cr_backend_caps_get(const cr_backend_caps *c, const char *key)
{
	for (size_t i = 0; i < c->n_capabilities; i++)
		if (strcmp(c->capabilities[i].key, key) == 0)
			return c->capabilities[i].value;
	return false;
}

void cr_checks_add(cr_checks *c, const char *name, cr_check_status st, const char *fix, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *detail = cr_vasprintf(fmt, ap);
	va_end(ap);
	c->items = cr_xgrow(c->items, &c->cap, c->n + 1, sizeof(*c->items));
	c->items[c->n++] = (cr_check){.name = cr_xstrdup(name),
				      .status = st,
				      .detail = detail,
				      .fix = fix && st != CR_CHECK_PASS ? cr_xstrdup(fix) : NULL};
}

void cr_checks_clear(cr_checks *c)
{
	for (size_t i = 0; i < c->n; i++) {
		free(c->items[i].name);
		free(c->items[i].detail);
		free(c->items[i].fix);
	}
	free(c->items);
	*c = (cr_checks){0};
}

int cr_backend_provision(const struct cr_backend *be, const cr_sandbox_spec *spec, int timeout_ms,
			 cr_sandbox **out, cr_error **err)
{
	cr_sandbox *sb = NULL;
	if (be->provision_start(spec, &sb, err) < 0)
		return -1;
	int64_t deadline = cr_monotonic_ms() + timeout_ms;
	for (;;) {
		int r = be->provision_step(sb, err);
		if (r == 1) {
			*out = sb;
			return 0;
		}
		int64_t left = deadline - cr_monotonic_ms();
		if (r == 0 && left <= 0)
			r = cr_error_make(err, ETIMEDOUT, CR_REASON_RUNTIME_LAUNCH_FAILED,
					  "the sandbox was not ready after %d ms", timeout_ms);
		if (r < 0) {
			be->terminate(sb, NULL);
			return -1;
		}
		struct pollfd p = {.fd = be->event_fd(sb), .events = POLLIN};
		if (poll(&p, 1, (int)left) < 0 && errno != EINTR) {
			cr_error_make(err, errno, CR_REASON_INTERNAL, "poll the sandbox");
			be->terminate(sb, NULL);
			return -1;
		}
	}
}
