/* SPDX-License-Identifier: Apache-2.0 */
/* helpers.h -- shared scaffolding for the lockfile parser tests.
 *
 * Runs a parser over an inline string or a fixture file and keeps the
 * artifacts, diagnostics and return code together so that each test can ask
 * "is there an artifact named X" or "is there an error on line N saying Y"
 * in one line. Included by each test_*.c; everything is static. */
#pragma once

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "lockfile/lockfile.h"
#include "util/fileio.h"

typedef struct parsed {
	cr_artifact_list l;
	cr_diags d;
	int rc;
} parsed;

static inline parsed *parse_text(cr_lockfile_parse_fn fn, const char *path, const char *text)
{
	parsed *p = calloc(1, sizeof(*p));
	if (!p)
		abort();
	p->rc = fn(path, text, strlen(text), &p->l, &p->d);
	return p;
}

static inline char *read_fixture(const char *path, size_t *len)
{
	char *text = NULL;
	cr_error *err = NULL;
	if (cr_read_file(path, CR_LOCKFILE_MAX_BYTES, &text, len, &err) < 0)
		fail_msg("cannot read fixture %s: %s", path, err->msg);
	return text;
}

static inline parsed *parse_fixture(cr_lockfile_parse_fn fn, const char *path)
{
	size_t len;
	char *text = read_fixture(path, &len);
	parsed *p = calloc(1, sizeof(*p));
	if (!p)
		abort();
	p->rc = fn(path, text, len, &p->l, &p->d);
	free(text);
	return p;
}

static inline void parsed_free(parsed *p)
{
	if (!p)
		return;
	cr_artifact_list_free(&p->l);
	cr_diags_clear(&p->d);
	free(p);
}

/* The artifact with this name and version (version NULL: any). */
static inline const cr_artifact *find_art(const parsed *p, const char *name, const char *version)
{
	for (size_t i = 0; i < p->l.n; i++) {
		const cr_artifact *a = &p->l.items[i];
		if (strcmp(a->name, name) == 0 && (!version || strcmp(a->version, version) == 0))
			return a;
	}
	return NULL;
}

static inline const cr_artifact *must_find(const parsed *p, const char *name, const char *version)
{
	const cr_artifact *a = find_art(p, name, version);
	if (!a) {
		fail_msg("no artifact %s@%s", name, version ? version : "*");
		abort(); /* not reached; tells the compiler a is not NULL below */
	}
	return a;
}

/* A diagnostic of `sev` whose message contains `needle` and, when line is
 * non-zero, on that line. */
static inline const cr_diag *find_diag(const parsed *p, cr_diag_severity sev, unsigned line,
				       const char *needle)
{
	for (size_t i = 0; i < p->d.n; i++) {
		const cr_diag *g = &p->d.items[i];
		if (g->severity == sev && (!line || g->line == line) && strstr(g->message, needle))
			return g;
	}
	return NULL;
}

static inline void dump_diags(const parsed *p)
{
	cr_diags_print(&p->d, stderr);
}

static inline void expect_error(const parsed *p, unsigned line, const char *needle)
{
	if (!find_diag(p, CR_DIAG_ERROR, line, needle)) {
		dump_diags(p);
		fail_msg("expected error on line %u containing '%s'", line, needle);
	}
	assert_int_equal(p->rc, -1);
}

static inline void expect_warning(const parsed *p, unsigned line, const char *needle)
{
	if (!find_diag(p, CR_DIAG_WARNING, line, needle)) {
		dump_diags(p);
		fail_msg("expected warning on line %u containing '%s'", line, needle);
	}
}

static inline void expect_clean(const parsed *p)
{
	if (p->d.n_errors || p->d.n_warnings) {
		dump_diags(p);
		fail_msg("expected no diagnostics");
	}
	assert_int_equal(p->rc, 0);
}
