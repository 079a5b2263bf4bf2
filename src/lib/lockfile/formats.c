/* SPDX-License-Identifier: Apache-2.0 */
/* formats.c -- the table of supported lockfile formats.
 *
 * The policy compiler names lockfiles by repository-relative path under a
 * package manager; the format is chosen by the file's base name (npm, yarn)
 * or extension (pip requirements files have no fixed name). Adding a format
 * is adding a row here and a parser function. */
#include "lockfile/lockfile.h"

#include <string.h>

static const cr_lockfile_format formats[] = {
	{"package-lock.json", "npm", cr_lockfile_parse_npm},
	{"npm-shrinkwrap.json", "npm", cr_lockfile_parse_npm},
	{"yarn.lock", "npm", cr_lockfile_parse_yarn},
	{"requirements.txt", "pip", cr_lockfile_parse_pip},
};

#define N_FORMATS (sizeof(formats) / sizeof(formats[0]))

static const struct {
	const char *manager;
	const char *hint;
} hints[] = {
	{"npm", "package-lock.json, npm-shrinkwrap.json or yarn.lock"},
	{"pip", "a pip requirements file (*.txt) with pinned versions and hashes"},
};

static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');
	return slash ? slash + 1 : path;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n > m && memcmp(s + n - m, suffix, m) == 0;
}

const cr_lockfile_format *cr_lockfile_format_for(const char *manager, const char *path)
{
	if (!manager || !path)
		return NULL;
	const char *base = base_name(path);
	for (size_t i = 0; i < N_FORMATS; i++) {
		if (strcmp(formats[i].manager, manager) != 0)
			continue;
		if (strcmp(formats[i].name, base) == 0)
			return &formats[i];
		/* any requirements file name: requirements-dev.txt, constraints/prod.txt */
		if (strcmp(manager, "pip") == 0 && ends_with(base, ".txt"))
			return &formats[i];
	}
	return NULL;
}

const char *cr_lockfile_formats_hint(const char *manager)
{
	for (size_t i = 0; manager && i < sizeof(hints) / sizeof(hints[0]); i++)
		if (strcmp(hints[i].manager, manager) == 0)
			return hints[i].hint;
	return "no lockfile format is supported for this package manager";
}
