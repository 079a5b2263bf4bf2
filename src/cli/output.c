/* SPDX-License-Identifier: Apache-2.0 */
/* output.c -- options, tables, times, enum names, JSON and error lines
 * shared by the inspection and administration commands (see output.h). */
#include <ctype.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "cli/cli.h"
#include "cli/output.h"
#include "pbjson/pbjson.h"
#include "util/buf.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/xalloc.h"

#define MAX_EXTRA_OPTS 12

/* ---- options ---- */

static size_t build_longopts(struct option *longopts, char *shortopts, size_t shortcap,
			     const cr_cli_opt *extra)
{
	static const struct option common[] = {{"host", required_argument, NULL, 'H'},
					       {"json", no_argument, NULL, 'j'},
					       {"help", no_argument, NULL, 'h'}};
	size_t n = 0;
	for (; n < sizeof(common) / sizeof(common[0]); n++)
		longopts[n] = common[n];
	size_t sl = strlen(shortopts);
	for (const cr_cli_opt *e = extra; e && e->name && n < 3 + MAX_EXTRA_OPTS; e++, n++) {
		longopts[n] =
			(struct option){e->name, e->has_arg ? required_argument : no_argument, NULL, e->val};
		if (e->val < 256 && sl + 3 < shortcap) {
			shortopts[sl++] = (char)e->val;
			if (e->has_arg)
				shortopts[sl++] = ':';
			shortopts[sl] = '\0';
		}
	}
	longopts[n] = (struct option){0};
	return n;
}

int cr_cli_parse_opts(int argc, char **argv, const char *cmd, const char *usage, cr_cli_opts *o,
		      const cr_cli_opt *extra, cr_cli_opt_fn on_opt, void *ctx)
{
	struct option longopts[4 + MAX_EXTRA_OPTS];
	char shortopts[3 * MAX_EXTRA_OPTS + 8] = "h";
	build_longopts(longopts, shortopts, sizeof(shortopts), extra);
	int c;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
		if (c == 'H')
			o->host = optarg;
		else if (c == 'j')
			o->json = true;
		else if (c == 'h')
			return printf("Usage: %s\n", usage), -2;
		else if (c == '?' || c == ':')
			return cr_cli_usage_error(cmd, "unknown or incomplete option '%s'", argv[optind - 1]),
			       -1;
		else if (!on_opt || on_opt(ctx, c, optarg) < 0)
			return -1;
	}
	return optind;
}

int cr_cli_parse_exit(int parsed)
{
	return parsed == -2 ? CR_EXIT_OK : CR_EXIT_USAGE;
}

/* ---- tables ---- */

char *cr_fmt_sanitize(const char *s)
{
	char *out = cr_xstrdup(s ? s : "");
	for (unsigned char *p = (unsigned char *)out; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			*p = '?';
	return out;
}

/* Display width: UTF-8 code points (continuation bytes do not count). */
static size_t width(const char *s)
{
	size_t w = 0;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		w += (*p & 0xc0) != 0x80;
	return w;
}

static void add_row(cr_table *t, const char *const *row)
{
	t->cells = cr_xgrow(t->cells, &t->cap, (t->n_rows + 1) * t->n_cols, sizeof(char *));
	for (size_t i = 0; i < t->n_cols; i++)
		t->cells[t->n_rows * t->n_cols + i] = cr_fmt_sanitize(row[i] ? row[i] : "-");
	t->n_rows++;
}

void cr_table_init(cr_table *t, size_t n_cols, const char *const *header)
{
	*t = (cr_table){.n_cols = n_cols};
	add_row(t, header);
}

void cr_table_add(cr_table *t, const char *const *row)
{
	add_row(t, row);
}

void cr_table_print(const cr_table *t, FILE *out)
{
	cleanup_free size_t *w = cr_xcalloc(t->n_cols ? t->n_cols : 1, sizeof(size_t));
	for (size_t r = 0; r < t->n_rows; r++)
		for (size_t c = 0; c < t->n_cols; c++) {
			size_t cw = width(t->cells[r * t->n_cols + c]);
			w[c] = cw > w[c] ? cw : w[c];
		}
	for (size_t r = 0; r < t->n_rows; r++) {
		for (size_t c = 0; c < t->n_cols; c++) {
			const char *cell = t->cells[r * t->n_cols + c];
			fputs(cell, out);
			if (c + 1 < t->n_cols)
				fprintf(out, "%*s", (int)(w[c] - width(cell) + 2), "");
		}
		fputc('\n', out);
	}
}

void cr_table_clear(cr_table *t)
{
	for (size_t i = 0; i < t->n_rows * t->n_cols; i++)
		free(t->cells[i]);
	free(t->cells);
	*t = (cr_table){0};
}

void cr_print_fields(FILE *out, const char *const *kv, size_t n_pairs)
{
	size_t w = 0;
	for (size_t i = 0; i < n_pairs; i++)
		if (kv[2 * i + 1] && strlen(kv[2 * i]) > w)
			w = strlen(kv[2 * i]);
	for (size_t i = 0; i < n_pairs; i++) {
		if (!kv[2 * i + 1])
			continue;
		cleanup_free char *v = cr_fmt_sanitize(kv[2 * i + 1]);
		if (*kv[2 * i])
			fprintf(out, "%s:%*s%s\n", kv[2 * i], (int)(w - strlen(kv[2 * i]) + 1), "", v);
		else /* a continuation line of the previous field */
			fprintf(out, "%*s%s\n", (int)(w + 2), "", v);
	}
}

/* ---- times ---- */

int64_t cr_ts_seconds(const Google__Protobuf__Timestamp *ts)
{
	return ts ? ts->seconds : 0;
}

void cr_fmt_duration(char *buf, size_t n, int64_t s)
{
	static const struct {
		int64_t secs;
		char unit;
	} units[] = {{86400, 'd'}, {3600, 'h'}, {60, 'm'}, {1, 's'}};
	if (s < 0)
		s = 0;
	for (size_t i = 0; i < 4; i++) {
		if (s < units[i].secs && i < 3)
			continue;
		int64_t hi = s / units[i].secs, rest = s % units[i].secs;
		if (i < 3 && rest / units[i + 1].secs > 0)
			snprintf(buf, n, "%" PRId64 "%c%" PRId64 "%c", hi, units[i].unit,
				 rest / units[i + 1].secs, units[i + 1].unit);
		else
			snprintf(buf, n, "%" PRId64 "%c", hi, units[i].unit);
		return;
	}
}

/* One unit, rounded down: "12s", "5m", "3h", "2d". */
static void one_unit(char *buf, size_t n, int64_t s)
{
	if (s < 60)
		snprintf(buf, n, "%" PRId64 "s", s);
	else if (s < 3600)
		snprintf(buf, n, "%" PRId64 "m", s / 60);
	else if (s < 86400)
		snprintf(buf, n, "%" PRId64 "h", s / 3600);
	else
		snprintf(buf, n, "%" PRId64 "d", s / 86400);
}

void cr_fmt_age(char *buf, size_t n, int64_t now, int64_t then)
{
	char u[32];
	if (then == 0) {
		snprintf(buf, n, "-");
	} else if (then <= now) {
		one_unit(u, sizeof(u), now - then);
		snprintf(buf, n, "%s ago", u);
	} else {
		one_unit(u, sizeof(u), then - now);
		snprintf(buf, n, "in %s", u);
	}
}

void cr_fmt_time(char *buf, size_t n, const Google__Protobuf__Timestamp *ts)
{
	time_t t = (time_t)cr_ts_seconds(ts);
	struct tm tm;
	if (t == 0 || !gmtime_r(&t, &tm) || strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, n, "-");
}

/* ---- values ---- */

/* "SandboxStatus" -> "SANDBOX_STATUS_" */
static void enum_prefix(char *buf, size_t n, const char *type_name)
{
	size_t o = 0;
	for (const char *p = type_name; *p && o + 3 < n; p++) {
		if (p != type_name && isupper((unsigned char)*p))
			buf[o++] = '_';
		buf[o++] = (char)toupper((unsigned char)*p);
	}
	buf[o++] = '_';
	buf[o] = '\0';
}

void cr_fmt_enum(char *buf, size_t n, const ProtobufCEnumDescriptor *d, int value)
{
	const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(d, value);
	if (!v) {
		snprintf(buf, n, "unknown(%d)", value);
		return;
	}
	char prefix[128];
	enum_prefix(prefix, sizeof(prefix), d->short_name);
	const char *name = v->name;
	if (strncmp(name, prefix, strlen(prefix)) == 0 && name[strlen(prefix)])
		name += strlen(prefix);
	snprintf(buf, n, "%s", name);
	for (char *p = buf; *p; p++)
		*p = (char)tolower((unsigned char)*p);
}

void cr_fmt_short_hash(char *buf, size_t n, const char *hash)
{
	if (!hash || !*hash) {
		snprintf(buf, n, "-");
		return;
	}
	const char *colon = strchr(hash, ':');
	snprintf(buf, n, "%.12s", colon ? colon + 1 : hash);
}

static bool shell_safe(const char *s)
{
	if (!*s)
		return false;
	for (const char *p = s; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("@%+=:,./-_", *p))
			return false;
	return true;
}

char *cr_fmt_argv(char *const *argv, size_t argc)
{
	cleanup_buf cr_buf b;
	cr_buf_init(&b, SIZE_MAX / 2);
	for (size_t i = 0; i < argc; i++) {
		if (i)
			cr_buf_putc(&b, ' ');
		if (shell_safe(argv[i])) {
			cr_buf_puts(&b, argv[i]);
			continue;
		}
		cr_buf_putc(&b, '\'');
		for (const char *p = argv[i]; *p; p++) {
			if (*p == '\'')
				cr_buf_puts(&b, "'\\''");
			else
				cr_buf_putc(&b, *p);
		}
		cr_buf_putc(&b, '\'');
	}
	return cr_buf_steal(&b, NULL);
}

void cr_fmt_bytes(char *buf, size_t n, uint64_t bytes)
{
	static const char *const units[] = {"KiB", "MiB", "GiB", "TiB"};
	if (bytes < 1024) {
		snprintf(buf, n, "%" PRIu64 " B", bytes);
		return;
	}
	double v = (double)bytes / 1024;
	size_t u = 0;
	while (v >= 1024 && u + 1 < sizeof(units) / sizeof(units[0]))
		v /= 1024, u++;
	snprintf(buf, n, "%.1f %s", v, units[u]);
}

int cr_parse_signal(const char *s)
{
	if (!s || !*s)
		return -1;
	if (isdigit((unsigned char)*s)) {
		char *end;
		long v = strtol(s, &end, 10);
		return *end == '\0' && v > 0 && v < NSIG ? (int)v : -1;
	}
	if (strncasecmp(s, "SIG", 3) == 0)
		s += 3;
	for (int sig = 1; sig < NSIG; sig++) {
		const char *abbrev = sigabbrev_np(sig);
		if (abbrev && strcasecmp(abbrev, s) == 0)
			return sig;
	}
	return -1;
}

/* ---- output ---- */

int cr_cli_print_json(const char *cmd, const ProtobufCMessage *msg)
{
	cleanup_error cr_error *err = NULL;
	size_t len = 0;
	cleanup_free char *text = cr_pbjson_encode_text(msg, &len, &err);
	if (!text) {
		cr_cli_print_error(cmd, cr_reason_name(err->reason), err->msg, NULL);
		return -1;
	}
	fwrite(text, 1, len, stdout);
	fputc('\n', stdout);
	return 0;
}

void cr_cli_print_error(const char *cmd, const char *reason_code, const char *message, const char *hint)
{
	cleanup_free char *m = cr_fmt_sanitize(message);
	fprintf(stderr, "%s: error[%s]: %s\n", cmd, reason_code, m);
	if (hint) {
		cleanup_free char *h = cr_fmt_sanitize(hint);
		fprintf(stderr, "hint: %s\n", h);
	}
}
