/* SPDX-License-Identifier: Apache-2.0 */
/* internal.h -- what the files of the Connect module share and nobody else
 * uses: the GET query parser that request classification calls. */
#pragma once

#include "connect/connect.h"

/* What a GET request's query says. */
typedef struct cr_connect_get {
	cr_connect_codec codec;
	unsigned char *message; /* owned, NUL-terminated */
	size_t message_len;
} cr_connect_get;

/* Parses the query of a GET request (n bytes, without the '?'):
 * connect=v1, encoding=json|proto, message=<percent-encoded>, base64=1,
 * compression=identity, in any order, unknown parameters ignored. Returns 0
 * with *out filled (the caller frees out->message), or -1 with *err and *code
 * (invalid_argument, or unimplemented for a compression other than identity). */
int cr_connect_get_parse(const char *query, size_t n, cr_connect_get *out, cr_connect_code *code,
			 cr_error **err);
