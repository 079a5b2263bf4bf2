/* SPDX-License-Identifier: Apache-2.0 */
/* owner.c -- becoming the cache directory's owner (cache.h): what a root
 * process does before it opens the index, so that SQLite never creates
 * root-owned index.db-wal / -shm files the gateways' user cannot open. */
#include <errno.h>
#include <grp.h>
#include <unistd.h>

#include "cache/cache.h"

int cr_cache_become_owner(const char *path, const struct stat *sb, cr_error **err)
{
	if (geteuid() != 0 || sb->st_uid == 0)
		return 0;
	if (setgroups(0, NULL) < 0 || setresgid(sb->st_gid, sb->st_gid, sb->st_gid) < 0 ||
	    setresuid(sb->st_uid, sb->st_uid, sb->st_uid) < 0)
		return cr_error_make(err, errno, CR_REASON_INTERNAL,
				     "become uid %u gid %u, the owner of '%s'", (unsigned)sb->st_uid,
				     (unsigned)sb->st_gid, path);
	return 1;
}
