/* SPDX-License-Identifier: Apache-2.0 */
/* schema_resources.c -- reading sandbox.resources: cpus, memory, pids, disk.
 * Sizes take IEC units (KiB, MiB, GiB, TiB, or Ki/Mi/Gi/Ti) or plain bytes;
 * cpus may be fractional and are kept as millicpus so that the compiled
 * policy stays integers-only. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "policy/schema.h"

/* Parses "1.5" into 1500 (at most three decimals). Returns -1 if malformed. */
static long long parse_milli(const char *s)
{
	const char *dot = strchr(s, '.');
	size_t ilen = dot ? (size_t)(dot - s) : strlen(s);
	if (ilen == 0 || ilen > 6 || strspn(s, "0123456789") != ilen)
		return -1;
	long long v = strtoll(s, NULL, 10) * 1000;
	if (!dot)
		return v;
	const char *frac = dot + 1;
	size_t flen = strlen(frac);
	if (flen == 0 || flen > 3 || strspn(frac, "0123456789") != flen)
		return -1;
	long long f = strtoll(frac, NULL, 10);
	for (size_t i = flen; i < 3; i++)
		f *= 10;
	return v + f;
}

static void read_cpus(struct cr_walk *w, const cr_ynode *v, void *obj)
{
	cr_policy *p = obj;
	long long m = v->type == CR_Y_SCALAR && !v->quoted ? parse_milli(v->value) : -1;
	if (m < 1 || m > 1024000) {
		cr_walk_error(w, v, CR_REASON_POLICY_INVALID, "write a number of CPUs such as 2 or 0.5",
			      "cpus must be a number from 0.001 to 1024");
		return;
	}
	p->resources.millicpus = m;
}

static const struct {
	const char *suffix;
	int shift;
} units[] = {
	{"KiB", 10}, {"MiB", 20}, {"GiB", 30}, {"TiB", 40}, {"Ki", 10},
	{"Mi", 20},  {"Gi", 30},  {"Ti", 40},  {"B", 0},    {"", 0},
};

/* Returns the size in bytes, or -1 when malformed or above 2^50. */
static long long parse_size(const char *s)
{
	size_t digits = strspn(s, "0123456789");
	if (digits == 0 || digits > 15)
		return -1;
	const char *unit = s + digits;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(unit, units[i].suffix) != 0)
			continue;
		errno = 0;
		long long n = strtoll(s, NULL, 10);
		if (errno || n > (1LL << 50) >> units[i].shift)
			return -1;
		return n << units[i].shift;
	}
	return -1;
}

static void read_size(struct cr_walk *w, const cr_ynode *v, long long min, long long *out)
{
	long long n = v->type == CR_Y_SCALAR ? parse_size(v->value) : -1;
	if (n < 0) {
		cr_walk_error(w, v, CR_REASON_POLICY_INVALID,
			      "write bytes or an IEC size such as 512MiB or 4GiB",
			      "expected a size, found %s",
			      v->type == CR_Y_SCALAR ? v->value : cr_walk_type_name(v));
		return;
	}
	if (n < min) {
		cr_walk_error(w, v, CR_REASON_POLICY_INVALID, NULL, "%s is below the minimum of %lld bytes",
			      v->value, min);
		return;
	}
	*out = n;
}

static void read_memory(struct cr_walk *w, const cr_ynode *v, void *obj)
{
	read_size(w, v, 4LL << 20, &((cr_policy *)obj)->resources.memory_bytes);
}

static void read_disk(struct cr_walk *w, const cr_ynode *v, void *obj)
{
	read_size(w, v, 1LL << 20, &((cr_policy *)obj)->resources.disk_bytes);
}

static void read_pids(struct cr_walk *w, const cr_ynode *v, void *obj)
{
	cr_walk_int(w, v, 1, 4194304, &((cr_policy *)obj)->resources.pids);
}

static const struct cr_walk_field resource_fields[] = {
	{"cpus", read_cpus, false}, {"memory", read_memory, false},
	{"pids", read_pids, false}, {"disk", read_disk, false},
	{NULL, NULL, false},
};

void cr_schema_read_resources(struct cr_walk *w, const cr_ynode *v, void *obj)
{
	cr_walk_map(w, v, resource_fields, obj);
}
