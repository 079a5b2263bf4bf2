/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz_yarn_lock.c -- libFuzzer target for the yarn v1 yarn.lock parser. */
#include "lockfile_harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_lockfile(cr_lockfile_parse_yarn, data, size);
}
