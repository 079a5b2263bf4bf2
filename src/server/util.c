/* SPDX-License-Identifier: Apache-2.0 */
/* util.c -- what the services share: clock, identifiers, timestamps. */
#include <stdlib.h>
#include <sys/random.h>
#include <time.h>

#include "server/server.h"
#include "server/util.h"
#include "util/xalloc.h"

char *cr_new_id(const char *prefix)
{
	unsigned char r[6] = {0};
	if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r))
		abort(); /* the kernel's CSPRNG does not fail for 6 bytes */
	return cr_asprintf("%s%02x%02x%02x%02x%02x%02x", prefix, r[0], r[1], r[2], r[3], r[4], r[5]);
}

Google__Protobuf__Timestamp *cr_pb_timestamp(int64_t ms)
{
	if (!ms)
		return NULL;
	Google__Protobuf__Timestamp *t = cr_xmalloc(sizeof(*t));
	google__protobuf__timestamp__init(t);
	t->seconds = ms / 1000;
	t->nanos = (int32_t)(ms % 1000) * 1000000;
	return t;
}

const char *cr_sandbox_status_name(int status)
{
	static const char *const names[] = {"unspecified", "provisioning", "ready",
					    "stopping",    "stopped",      "failed"};
	return status >= 0 && status < 6 ? names[status] : "unknown";
}

const char *cr_execution_status_name(int status)
{
	static const char *const names[] = {"unspecified", "queued",   "running",  "succeeded",
					    "failed",      "canceled", "timed_out"};
	return status >= 0 && status < 7 ? names[status] : "unknown";
}
