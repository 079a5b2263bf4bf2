/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz_pypi_index.c -- libFuzzer target for the PyPI front's index code
 * (src/gateway/pypi/pypi_index.h). The first byte chooses what the rest is:
 *   0  an HTML simple page, 1  a JSON simple page, 2  any body with a
 *   sniffed type: parsed, then rendered as HTML and JSON with a host filter
 *   and (by a bit of the first byte) a version filter; the rendered pages
 *   must parse back into exactly the links that were rendered;
 *   3  a distribution file name, a project name and an Accept header. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/pypi/pypi_index.h"
#include "util/cleanup.h"
#include "util/xalloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define PAGE_URL "https://pypi.registry.test/simple/demo/"
#define BASE     "http://10.213.0.1"

static bool host_filter(void *ud, const char *host)
{
	(void)ud;
	return strstr(host, "denied") == NULL;
}

/* Renders p in format f and checks that the result parses back into the
 * number of links rendered. */
static void render_check(const cr_pypi_page *p, cr_pypi_format f, const char *const *versions)
{
	cr_pypi_render_opts o = {.format = f,
				 .base_url = BASE,
				 .project = "demo",
				 .host_allowed = host_filter,
				 .versions = versions};
	cleanup_free char *out = NULL;
	size_t len = 0, kept = 0;
	cr_error *err = NULL;
	if (cr_pypi_render(p, &o, &out, &len, &kept, &err) < 0) {
		cr_error_free(err);
		return;
	}
	if (strlen(out) != len)
		__builtin_trap();
	cr_pypi_page back = {0};
	int rc = f == CR_PYPI_JSON ? cr_pypi_parse_json(out, len, BASE "/pypi/simple/demo/", &back, &err)
				   : cr_pypi_parse_html(out, len, BASE "/pypi/simple/demo/", &back, &err);
	if (rc < 0 || back.n_links != kept || back.skipped != 0)
		__builtin_trap();
	for (size_t i = 0; i < back.n_links; i++)
		if (strcmp(back.links[i].host, "10.213.0.1") != 0 || back.links[i].had_metadata)
			__builtin_trap();
	cr_pypi_page_clear(&back);
}

static void page(uint8_t mode, const char *text, size_t len)
{
	cr_pypi_page p = {0};
	cr_error *err = NULL;
	int rc = (mode & 3) == 0   ? cr_pypi_parse_html(text, len, PAGE_URL, &p, &err)
		 : (mode & 3) == 1 ? cr_pypi_parse_json(text, len, PAGE_URL, &p, &err)
				   : cr_pypi_parse(text, len, NULL, PAGE_URL, &p, &err);
	if (rc < 0) {
		cr_error_free(err);
		return;
	}
	for (size_t i = 0; i < p.n_links; i++) {
		const cr_pypi_link *l = &p.links[i];
		if (cr_pypi_page_find(&p, l->filename) == NULL || !l->host[0] || !l->filename[0])
			__builtin_trap();
	}
	static const char *const versions[] = {"1.0", "2.0b1", NULL};
	const char *const *filter = (mode & 4) ? versions : NULL;
	render_check(&p, CR_PYPI_HTML, filter);
	render_check(&p, CR_PYPI_JSON, filter);
	cr_pypi_page_clear(&p);
}

static void names(const char *text)
{
	char *name = NULL, *version = NULL;
	if (cr_pypi_filename_parse(text, &name, &version) == 0) {
		if (!cr_pypi_name_is_normalized(name) || !version[0])
			__builtin_trap();
		free(name);
		free(version);
	}
	cleanup_free char *norm = cr_pypi_normalize(text, strlen(text));
	if (cr_pypi_name_valid(text, strlen(text)) && !cr_pypi_name_is_normalized(norm))
		__builtin_trap();
	(void)cr_pypi_format_for_accept(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	uint8_t mode = data[0];
	cleanup_free char *text = cr_xstrndup((const char *)data + 1, size - 1);
	size_t len = strlen(text);
	if ((mode & 8) && (mode & 3) != 3)
		len = size - 1; /* with any NUL bytes in it */
	if ((mode & 3) == 3)
		names(text);
	else
		page(mode, (mode & 8) ? (const char *)data + 1 : text, len);
	return 0;
}
