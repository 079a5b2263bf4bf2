/* SPDX-License-Identifier: Apache-2.0 */
/* xalloc.h -- allocation that aborts on exhaustion.
 *
 * Out-of-memory is not a recoverable condition for a policy compiler or a
 * CLI; inputs from outside are bounded by caps long before memory runs out,
 * so allocation failure means the process is already lost. */
#pragma once

#include <stdarg.h>
#include <stddef.h>

void *cr_xmalloc(size_t n);
void *cr_xcalloc(size_t nmemb, size_t size);
void *cr_xrealloc(void *p, size_t n);
/* Grows an array of nmemb elements of size `size` to at least `need` elements;
 * returns the (possibly moved) array and updates *cap. */
void *cr_xgrow(void *p, size_t *cap, size_t need, size_t size);
char *cr_xstrdup(const char *s);
/* Appends s (taken over) to the NULL-terminated array *v of *n entries,
 * growing it; *v may start NULL. */
void cr_strv_push(char ***v, size_t *n, char *s);
char *cr_xstrndup(const char *s, size_t n);
char *cr_asprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *cr_vasprintf(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));
