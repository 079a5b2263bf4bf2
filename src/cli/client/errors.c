/* SPDX-License-Identifier: Apache-2.0 */
/* errors.c -- reading Connect errors back: the JSON error object
 * {"code","message","details":[{"type":"cleanroom.v1.ErrorInfo","value":
 * "<base64 ErrorInfo>"}]} becomes a cr_error carrying the server's reason
 * code and message, so the CLI prints exactly what the server decided. */
#include <string.h>

#include "cli/client/internal.h"
#include "util/buf.h"
#include "util/cleanup.h"

/* The reason code and message of the first ErrorInfo detail, if any. */
static void error_info(const json_t *details, cr_reason *reason, char **message)
{
	size_t i;
	const json_t *d;
	json_array_foreach (details, i, d) {
		const char *type = json_string_value(json_object_get(d, "type"));
		const char *value = json_string_value(json_object_get(d, "value"));
		if (!type || !value || strcmp(type, CR_CONNECT_ERROR_INFO_TYPE) != 0)
			continue;
		cleanup_buf cr_buf raw;
		cr_buf_init(&raw, CR_CLIENT_MAX_ERROR_BODY);
		cr_error *e = NULL;
		if (cr_connect_base64_decode(&raw, value, strlen(value), false, &e) < 0) {
			cr_error_free(e);
			continue;
		}
		cleanup_free char *code = NULL;
		if (cr_connect_error_info_decode(raw.data ? raw.data : "", raw.len, &code, message, &e) < 0) {
			cr_error_free(e);
			continue;
		}
		*reason = cr_reason_from_name(code);
		return;
	}
}

int cr_client_error_from_json(const json_t *obj, cr_connect_code fallback, cr_connect_code *code,
			      cr_error **err)
{
	const char *name = json_string_value(json_object_get(obj, "code"));
	cr_connect_code c = name ? cr_connect_code_from_name(name) : CR_CONNECT_OK;
	*code = c != CR_CONNECT_OK ? c : fallback;
	cr_reason reason = CR_REASON_NONE;
	cleanup_free char *info_message = NULL;
	error_info(json_object_get(obj, "details"), &reason, &info_message);
	if (reason == CR_REASON_NONE)
		reason = CR_REASON_INTERNAL;
	const char *message = json_string_value(json_object_get(obj, "message"));
	if (!message || !*message)
		message = info_message && *info_message ? info_message : NULL;
	if (message)
		return cr_error_make(err, 0, reason, "%s", message);
	return cr_error_make(err, 0, reason, "the server answered '%s' without a message",
			     cr_connect_code_name(*code) ? cr_connect_code_name(*code) : "unknown");
}

int cr_client_error_from_body(const char *body, size_t len, long http_status, const char *endpoint,
			      cr_connect_code *code, cr_error **err)
{
	cr_connect_code fallback = cr_connect_code_from_http_status((int)http_status);
	json_t *obj = len ? json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL) : NULL;
	if (json_is_object(obj) && json_object_get(obj, "code")) {
		cr_client_error_from_json(obj, fallback, code, err);
		json_decref(obj);
		return -1;
	}
	json_decref(obj);
	*code = fallback;
	return cr_error_make(err, 0, CR_REASON_INTERNAL, "%s answered HTTP %ld (%s) without a Connect error",
			     endpoint, http_status, cr_connect_code_name(fallback));
}
