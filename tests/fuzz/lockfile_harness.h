/* SPDX-License-Identifier: Apache-2.0 */
/* lockfile_harness.h -- the body shared by the lockfile fuzz targets: parse
 * the input with one parser, normalise, and require that every artifact
 * written as JSON reads back (what we compile must load on the server). */
#pragma once

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lockfile/lockfile.h"

static inline void check_round_trip(const cr_artifact_list *list)
{
	for (size_t i = 0; i < list->n; i++) {
		json_t *j = cr_artifact_to_json(&list->items[i]);
		cr_artifact back = {0};
		char *why = NULL;
		if (cr_artifact_from_json(j, list->items[i].manager, &back, &why) < 0) {
			fprintf(stderr, "artifact does not read back: %s\n", why);
			abort();
		}
		cr_artifact_clear(&back);
		free(why);
		json_decref(j);
	}
}

static inline int fuzz_lockfile(cr_lockfile_parse_fn parse, const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	if (!text)
		return 0;
	if (size)
		memcpy(text, data, size);
	text[size] = '\0';
	cr_artifact_list list = {0};
	cr_diags diags = {0};
	parse("fuzz.lock", text, size, &list, &diags);
	cr_artifact_list_normalize(&list);
	check_round_trip(&list);
	json_decref(cr_diags_to_json(&diags));
	cr_artifact_list_free(&list);
	cr_diags_clear(&diags);
	free(text);
	return 0;
}
