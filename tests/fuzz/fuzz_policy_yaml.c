/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz_policy_yaml.c -- libFuzzer target for the cleanroom.yaml reader.
 *
 * Feeds arbitrary bytes to cr_policy_from_yaml(). Whenever a policy is
 * accepted it must also compile, and the compiled text must read back through
 * cr_policy_from_compiled() with the same policy_hash: the server re-validates
 * exactly what the client produced (spec §5.5, §6.1.1), so a policy the YAML
 * reader accepts but the compiled reader rejects would block every run that
 * uses it. Any broken round trip aborts, which libFuzzer reports as a crash.
 * Lockfiles are not read here (there is no repository); each enforced one is
 * given a format and a digest as if it had been read and held no artifacts. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Stands in for cr_policy_load_lockfiles(), which a compiled policy needs. */
static void stand_in_lockfiles(cr_policy *p)
{
	for (size_t i = 0; i < p->n_registries; i++) {
		cr_registry *r = &p->registries[i];
		for (size_t j = 0; r->enabled && r->lock_enabled && j < r->n_lockfiles; j++) {
			cr_lockfile_input *in = &r->lockfiles[j];
			const cr_lockfile_format *f = cr_lockfile_format_for(r->manager, in->path);
			if (!f)
				abort(); /* the schema reader must have refused it */
			free(in->format);
			in->format = strdup(f->name);
			if (!in->format)
				abort();
			cr_sha256_hex(in->path, strlen(in->path), in->sha256);
		}
	}
}

static void round_trip(cr_policy *p)
{
	cr_error *err = NULL;
	size_t len = 0;
	stand_in_lockfiles(p);
	char *text = cr_policy_compile(p, &len, &err);
	if (!text) {
		fprintf(stderr, "accepted policy does not compile: %s\n", err ? err->msg : "(no error)");
		abort();
	}
	cr_diags diags = {0};
	cr_policy *back = NULL;
	if (cr_policy_from_compiled(text, len, &back, &diags) < 0) {
		fprintf(stderr, "compiled policy does not read back:\n%.*s\n", (int)len, text);
		cr_diags_print(&diags, stderr);
		abort();
	}
	if (strcmp(back->policy_hash, p->policy_hash) != 0) {
		fprintf(stderr, "policy_hash changed on read-back: %s != %s\n", back->policy_hash,
			p->policy_hash);
		abort();
	}
	cr_policy_free(back);
	cr_diags_clear(&diags);
	free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	cr_diags diags = {0};
	cr_policy *p = NULL;
	/* The buffer is not NUL-terminated: the reader must honour `size`. */
	if (cr_policy_from_yaml((const char *)data, size, "cleanroom.yaml", &p, &diags) == 0)
		round_trip(p);
	cr_policy_free(p);
	cr_diags_clear(&diags);
	return 0;
}
