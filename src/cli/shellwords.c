/* SPDX-License-Identifier: Apache-2.0 */
/* shellwords.c -- quoting argv words for /bin/sh -lc (see shellwords.h).
 * Single quotes are the one POSIX quoting form in which nothing is special,
 * so a word is either left alone (only bytes that are never special, and not
 * a reserved word that would change the grammar) or single-quoted. Words
 * containing '=' are quoted too: an unquoted NAME=value in command position
 * would be an assignment, not the command argv[0] names. */
#include "cli/shellwords.h"

#include <stdbool.h>
#include <string.h>

#include "util/buf.h"
#include "util/xalloc.h"

static const char *const reserved_words[] = {
	"case", "do", "done",   "elif", "else", "esac",  "fi",    "for", "function",
	"if",   "in", "select", "then", "time", "until", "while", NULL,
};

static bool is_plain(const char *word)
{
	if (!*word)
		return false;
	for (const char *p = word; *p; p++) {
		char ch = *p;
		bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
			  strchr("_@%+:,./-", ch);
		if (!ok)
			return false;
	}
	for (const char *const *r = reserved_words; *r; r++)
		if (strcmp(*r, word) == 0)
			return false;
	return true;
}

/* Appends the quoted form of word to b (unbounded: argv is already in
 * memory and bounded by the kernel's ARG_MAX). */
static void append_quoted(cr_buf *b, const char *word)
{
	if (is_plain(word)) {
		cr_buf_puts(b, word);
		return;
	}
	cr_buf_putc(b, '\'');
	for (const char *p = word; *p; p++) {
		if (*p == '\'')
			cr_buf_puts(b, "'\\''");
		else
			cr_buf_putc(b, *p);
	}
	cr_buf_putc(b, '\'');
}

char *cr_shell_quote(const char *word)
{
	cr_buf b;
	cr_buf_init(&b, (size_t)-1 / 2);
	append_quoted(&b, word);
	return cr_buf_steal(&b, NULL);
}

char *cr_shell_script(char *const *words, size_t n)
{
	if (n == 1)
		return cr_xstrdup(words[0]);
	cr_buf b;
	cr_buf_init(&b, (size_t)-1 / 2);
	for (size_t i = 0; i < n; i++) {
		if (i)
			cr_buf_putc(&b, ' ');
		append_quoted(&b, words[i]);
	}
	return cr_buf_steal(&b, NULL);
}
