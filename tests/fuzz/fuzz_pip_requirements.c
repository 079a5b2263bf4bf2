/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz_pip_requirements.c -- libFuzzer target for the pip requirements parser. */
#include "lockfile_harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_lockfile(cr_lockfile_parse_pip, data, size);
}
