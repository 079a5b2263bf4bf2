/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz_pip_requirements.c -- libFuzzer target for the pip requirements file parser.
 *
 * Feeds arbitrary bytes, NUL-terminated as the parser contract requires, to
 * cr_lockfile_parse_pip(), then normalises and serialises what it yielded so
 * that those paths see fuzzed artifacts too, and frees everything: a crash, a
 * sanitizer report or a leak is a bug. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lockfile/lockfile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	if (!text)
		return 0;
	if (size)
		memcpy(text, data, size);
	text[size] = '\0';
	cr_artifact_list list = {0};
	cr_diags diags = {0};
	cr_lockfile_parse_pip("fuzz.lock", text, size, &list, &diags);
	cr_artifact_list_normalize(&list);
	for (size_t i = 0; i < list.n; i++) {
		json_t *j = cr_artifact_to_json(&list.items[i]);
		cr_artifact back = {0};
		char *why = NULL;
		if (cr_artifact_from_json(j, list.items[i].manager, &back, &why) < 0) {
			fprintf(stderr, "artifact does not read back: %s\n", why);
			abort(); /* what we wrote must read back */
		}
		cr_artifact_clear(&back);
		free(why);
		json_decref(j);
	}
	json_decref(cr_diags_to_json(&diags));
	cr_artifact_list_free(&list);
	cr_diags_clear(&diags);
	free(text);
	return 0;
}
