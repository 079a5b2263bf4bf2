/* SPDX-License-Identifier: Apache-2.0 */
/* pypi_names.c -- project names (PEP 503 normalisation, PEP 508 validity),
 * distribution file names (wheel and sdist) and the Accept header of a
 * simple-index request (PEP 691), for the PyPI front (pypi_index.h). */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "gateway/pypi/pypi_index.h"
#include "util/cleanup.h"
#include "util/xalloc.h"

char *cr_pypi_normalize(const char *name, size_t n)
{
	char *out = cr_xmalloc(n + 1);
	size_t w = 0;
	for (size_t i = 0; i < n; i++) {
		if (name[i] == '-' || name[i] == '_' || name[i] == '.') {
			if (w == 0 || out[w - 1] != '-')
				out[w++] = '-';
		} else {
			out[w++] = (char)tolower((unsigned char)name[i]);
		}
	}
	out[w] = '\0';
	return out;
}

bool cr_pypi_name_valid(const char *name, size_t n)
{
	if (n == 0 || n > CR_PYPI_NAME_MAX || !isalnum((unsigned char)name[0]) ||
	    !isalnum((unsigned char)name[n - 1]))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)name[i]) && name[i] != '-' && name[i] != '_' && name[i] != '.')
			return false;
	return true;
}

bool cr_pypi_name_is_normalized(const char *name)
{
	size_t n = strlen(name);
	if (!cr_pypi_name_valid(name, n))
		return false;
	cleanup_free char *norm = cr_pypi_normalize(name, n);
	return strcmp(norm, name) == 0;
}

/* PEP 440 public and local version characters as they appear in file names. */
static bool version_valid(const char *v, size_t n)
{
	if (n == 0 || n > CR_PYPI_VERSION_MAX || !isalnum((unsigned char)v[0]))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)v[i]) && !strchr(".!+_", v[i]))
			return false;
	return true;
}

static int name_version(const char *name, size_t name_len, const char *version, size_t version_len,
			char **name_out, char **version_out)
{
	if (!cr_pypi_name_valid(name, name_len) || !version_valid(version, version_len))
		return -1;
	*name_out = cr_pypi_normalize(name, name_len);
	*version_out = cr_xstrndup(version, version_len);
	return 0;
}

/* {name}-{ver}(-{build})?-{py}-{abi}-{plat}.whl: five or six non-empty parts. */
static int wheel(const char *stem, size_t n, char **name, char **version)
{
	const char *part[7];
	size_t len[7], k = 0;
	for (size_t i = 0, start = 0; i <= n; i++) {
		if (i < n && stem[i] != '-')
			continue;
		if (k == 7 || i == start)
			return -1;
		part[k] = stem + start;
		len[k++] = i - start;
		start = i + 1;
	}
	if (k != 5 && k != 6)
		return -1;
	return name_version(part[0], len[0], part[1], len[1], name, version);
}

static const char *const sdist_suffixes[] = {".tar.gz", ".zip", ".tar.bz2"};

int cr_pypi_filename_parse(const char *filename, char **name, char **version)
{
	size_t n = strlen(filename);
	if (n > 4 && strcmp(filename + n - 4, ".whl") == 0)
		return wheel(filename, n - 4, name, version);
	for (size_t i = 0; i < sizeof(sdist_suffixes) / sizeof(sdist_suffixes[0]); i++) {
		size_t sl = strlen(sdist_suffixes[i]);
		if (n <= sl || strcmp(filename + n - sl, sdist_suffixes[i]) != 0)
			continue;
		size_t stem = n - sl;
		const char *dash = NULL;
		for (size_t k = 0; k < stem; k++)
			if (filename[k] == '-')
				dash = filename + k;
		if (!dash)
			return -1;
		size_t name_len = (size_t)(dash - filename);
		return name_version(filename, name_len, dash + 1, stem - name_len - 1, name, version);
	}
	return -1;
}

/* ---- Accept ---- */

/* "q=0.5" -> 500 (thousandths); absent = 1000; malformed = 0. */
static int quality(const char *params, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (params[i] != ';')
			continue;
		size_t j = i + 1;
		while (j < n && params[j] == ' ')
			j++;
		if (j + 2 > n || tolower((unsigned char)params[j]) != 'q' || params[j + 1] != '=')
			continue;
		j += 2;
		int q = 0, scale = 1000;
		if (j < n && (params[j] == '0' || params[j] == '1'))
			q = (params[j++] - '0') * 1000;
		else
			return 0;
		if (j < n && params[j] == '.')
			for (j++; j < n && isdigit((unsigned char)params[j]) && scale > 1; j++) {
				scale /= 10;
				q += (params[j] - '0') * scale;
			}
		return q > 1000 ? 1000 : q;
	}
	return 1000;
}

static bool type_is(const char *s, size_t n, const char *type)
{
	return n == strlen(type) && strncasecmp(s, type, n) == 0;
}

cr_pypi_format cr_pypi_format_for_accept(const char *accept)
{
	int q_json = 0, q_html = 0;
	size_t total = accept ? strnlen(accept, 4096) : 0;
	for (size_t i = 0; i < total;) {
		size_t item = i;
		while (i < total && accept[i] != ',')
			i++;
		size_t end = i++;
		while (item < end && accept[item] == ' ')
			item++;
		size_t tn = item;
		while (tn < end && accept[tn] != ';' && accept[tn] != ' ')
			tn++;
		int q = quality(accept + tn, end - tn);
		const char *t = accept + item;
		size_t n = tn - item;
		if (type_is(t, n, CR_PYPI_JSON_TYPE) ||
		    type_is(t, n, "application/vnd.pypi.simple.latest+json"))
			q_json = q > q_json ? q : q_json;
		else if (type_is(t, n, "text/html") || type_is(t, n, "application/vnd.pypi.simple.v1+html") ||
			 type_is(t, n, "application/vnd.pypi.simple.latest+html") || type_is(t, n, "*/*"))
			q_html = q > q_html ? q : q_html;
	}
	return q_json > 0 && q_json >= q_html ? CR_PYPI_JSON : CR_PYPI_HTML;
}
