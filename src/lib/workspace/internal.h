/* SPDX-License-Identifier: Apache-2.0 */
/* internal.h -- what archive.c and extract.c share: the charset in which
 * libarchive sees names.
 *
 * pax headers carry names as UTF-8, and libarchive converts them to and from
 * the locale's charset. Under LANG=C (the agent, most CLIs that never call
 * setlocale) every non-ASCII name would fail that conversion. Both sides
 * therefore run libarchive under a thread-local C.UTF-8 LC_CTYPE: valid
 * UTF-8 names pass unchanged, and names that are not UTF-8 are stored raw
 * with a per-entry "hdrcharset=BINARY" and read back byte for byte. */
#pragma once

#include <locale.h>

typedef struct ws_locale {
	locale_t utf8; /* (locale_t)0 when C.UTF-8 is unavailable: keep the caller's */
	locale_t prev;
} ws_locale;

static inline ws_locale ws_locale_enter(void)
{
	ws_locale l = {.utf8 = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0)};
	if (l.utf8)
		l.prev = uselocale(l.utf8);
	return l;
}

static inline void ws_locale_leave(ws_locale *l)
{
	if (!l->utf8)
		return;
	uselocale(l->prev);
	freelocale(l->utf8);
	l->utf8 = (locale_t)0;
}

#define cleanup_ws_locale __attribute__((cleanup(ws_locale_leave), unused))
