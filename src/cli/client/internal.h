/* SPDX-License-Identifier: Apache-2.0 */
/* internal.h -- what the files of the CLI's Connect client share: turning a
 * Connect error object (a unary error body, or the "error" member of an
 * end-of-stream message) into a cr_error. */
#pragma once

#include <curl/curl.h>
#include <jansson.h>
#include <stddef.h>

#include "connect/connect.h"
#include "util/error.h"

/* Caps on what the client accepts from a server. */
#define CR_CLIENT_MAX_UNARY_RESPONSE (96u << 20) /* a DownloadSandboxFile answer fits */
#define CR_CLIENT_MAX_ERROR_BODY     (64u << 10)
#define CR_CLIENT_MAX_STREAM_MESSAGE (16u << 20)

/* Fills *err from a Connect error object: reason from its ErrorInfo detail
 * (CR_REASON_INTERNAL when it has none or an unknown one), message from
 * "message" (or the detail's). *code receives the Connect code ("code", or
 * fallback when absent or unknown). Always returns -1. */
int cr_client_error_from_json(const json_t *obj, cr_connect_code fallback, cr_connect_code *code,
			      cr_error **err);

/* The same for a unary error body of len bytes answered with HTTP status
 * http_status (not necessarily JSON: then the status alone says what
 * happened). endpoint names the server in messages. Returns -1. */
int cr_client_error_from_body(const char *body, size_t len, long http_status, const char *endpoint,
			      cr_connect_code *code, cr_error **err);

/* The TLS trust of an https:// endpoint: the system's store, or only the CA
 * bundle named by $CLEANROOM_CACERT (a private CA). Returns non-zero when
 * libcurl refuses the option. Unary calls and attach share it. */
int cr_client_tls_trust(CURL *easy);
