/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz_tls_sni.c -- libFuzzer target for the ClientHello SNI parser
 * (src/lib/sniff/tls_sni.c): any bytes give one of the five answers without
 * reading past the input; a name it returns is a valid lower-case DNS name;
 * and the answer for a prefix of the input is NEED_MORE or the same answer
 * (a decision never changes when more bytes arrive). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sniff/sniff.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_name(const char *name)
{
	size_t n = strlen(name);
	if (n == 0 || n > CR_SNIFF_NAME_MAX || name[0] == '.' || name[n - 1] == '.')
		abort();
	for (size_t i = 0; i < n; i++)
		if (!((name[i] >= 'a' && name[i] <= 'z') || (name[i] >= '0' && name[i] <= '9') ||
		      name[i] == '-' || name[i] == '_' || name[i] == '.'))
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char name[CR_SNIFF_NAME_MAX + 1], again[CR_SNIFF_NAME_MAX + 1];
	cr_sniff_result r = cr_sniff_tls_sni(data, size, name);
	if ((unsigned)r > CR_SNIFF_MALFORMED)
		abort();
	if (r == CR_SNIFF_FOUND)
		check_name(name);
	else if (name[0])
		abort();
	/* the answer for a prefix is "need more" or the same answer */
	cr_sniff_result p = cr_sniff_tls_sni(data, size / 2, again);
	if (p != CR_SNIFF_NEED_MORE && (p != r || strcmp(name, again) != 0))
		abort();
	return 0;
}
