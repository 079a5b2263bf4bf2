/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz_compiled_policy.c -- libFuzzer target for the CompiledPolicy reader.
 *
 * cr_policy_from_compiled() is what the server and the gateway run on a
 * payload a client sent (spec §5.5, §6.1.1), so it sees attacker-controlled
 * JSON: it must reject anything malformed with diagnostics, never crash,
 * leak or read outside the buffer. An accepted payload must also re-compile
 * to the policy_hash it was verified against. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	cr_diags diags = {0};
	cr_policy *p = NULL;
	/* The buffer is not NUL-terminated: the reader must honour `size`. */
	if (cr_policy_from_compiled((const char *)data, size, &p, &diags) == 0) {
		char hash[sizeof(p->policy_hash)];
		memcpy(hash, p->policy_hash, sizeof(hash));
		cr_error *err = NULL;
		char *text = cr_policy_compile(p, NULL, &err);
		if (!text || strcmp(hash, p->policy_hash) != 0) {
			fprintf(stderr, "accepted compiled policy does not re-compile to %s: %s\n", hash,
				err ? err->msg : p->policy_hash);
			abort();
		}
		free(text);
		cr_error_free(err);
	}
	cr_policy_free(p);
	cr_diags_clear(&diags);
	return 0;
}
