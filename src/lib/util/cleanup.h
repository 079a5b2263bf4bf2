/* SPDX-License-Identifier: Apache-2.0 */
/* cleanup.h -- scope-bound ownership for memory, fds and FILE streams.
 *
 * A variable declared with one of these attributes is released when it goes
 * out of scope; ownership leaves a function only through steal_pointer() or
 * steal_fd(), so every early return is leak-free without goto ladders. */
#pragma once

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static inline void cr_freep(void *p)
{
	free(*(void **)p);
}

static inline void cr_closep(int *fd)
{
	if (*fd >= 0) {
		int saved = errno;
		close(*fd);
		errno = saved;
	}
}

static inline void cr_fclosep(FILE **f)
{
	if (*f)
		fclose(*f);
}

#define cleanup_free   __attribute__((cleanup(cr_freep)))
#define cleanup_close  __attribute__((cleanup(cr_closep)))
#define cleanup_fclose __attribute__((cleanup(cr_fclosep)))

/* Declares a cleanup helper for a type with its own free function. */
#define CR_DEFINE_CLEANUP(type, fn)        \
	static inline void fn##p(type **p) \
	{                                  \
		fn(*p);                    \
	}

static inline void *cr_steal_pointer(void *pp)
{
	void **p = (void **)pp;
	void *v = *p;
	*p = NULL;
	return v;
}

static inline int cr_steal_fd(int *fd)
{
	int v = *fd;
	*fd = -1;
	return v;
}

#define steal_pointer(pp) ((__typeof__(*(pp)))cr_steal_pointer(pp))
