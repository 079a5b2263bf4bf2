/* SPDX-License-Identifier: Apache-2.0 */
/* keypath.c -- key paths for document diagnostics (see keypath.h). */
#include "util/keypath.h"

#include <stdio.h>
#include <string.h>

static void append(cr_keypath *p, const char *s)
{
	size_t n = strlen(s);
	if (p->len + n >= CR_KEYPATH_MAX)
		n = CR_KEYPATH_MAX - 1 - p->len;
	memcpy(p->text + p->len, s, n);
	p->len += n;
	p->text[p->len] = '\0';
}

size_t cr_keypath_push_key(cr_keypath *p, const char *key)
{
	size_t mark = p->len;
	if (p->len)
		append(p, ".");
	append(p, key);
	return mark;
}

size_t cr_keypath_push_index(cr_keypath *p, size_t i)
{
	size_t mark = p->len;
	char buf[32];
	snprintf(buf, sizeof(buf), "[%zu]", i);
	append(p, buf);
	return mark;
}

void cr_keypath_pop(cr_keypath *p, size_t mark)
{
	p->len = mark;
	p->text[mark] = '\0';
}
