/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz_workspace_extract.c -- libFuzzer target for cr_workspace_extract, the
 * tar reader that runs on untrusted input inside a sandbox.
 *
 * Each input is extracted from a memfd into a fresh directory
 * (/tmp/cr-fuzz-ws-XXXXXX/root) under small limits, then the whole temporary
 * tree is removed. Besides crashes and leaks the target checks the one
 * property that matters most: nothing is ever created next to `root`, the
 * first place a "../" escape would land. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "workspace/workspace.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void remove_tree_at(int parent, const char *name);

/* Empties the directory fd (which it closes). Directories are made
 * accessible first: an archive may have made them 0000. */
static void empty_dir(int fd)
{
	DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return;
	}
	struct dirent *de;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			remove_tree_at(dirfd(d), de->d_name);
	closedir(d);
}

static void remove_tree_at(int parent, const char *name)
{
	struct stat st;
	if (fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return;
	if (S_ISDIR(st.st_mode)) {
		fchmodat(parent, name, 0700, 0);
		int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd >= 0)
			empty_dir(fd);
		unlinkat(parent, name, AT_REMOVEDIR);
	} else {
		unlinkat(parent, name, 0);
	}
}

/* Aborts when the directory holds anything but `root`. */
static void check_only_root(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		abort();
	struct dirent *de;
	while ((de = readdir(d))) {
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") && strcmp(de->d_name, "root")) {
			fprintf(stderr, "extraction wrote '%s' outside its directory\n", de->d_name);
			abort();
		}
	}
	closedir(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char dir[] = "/tmp/cr-fuzz-ws-XXXXXX";
	if (!mkdtemp(dir))
		return 0;
	int in = memfd_create("fuzz", MFD_CLOEXEC);
	int outer = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int root = -1;
	if (in >= 0 && outer >= 0 && mkdirat(outer, "root", 0700) == 0)
		root = openat(outer, "root", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (root >= 0 && (size == 0 || write(in, data, size) == (ssize_t)size) &&
	    lseek(in, 0, SEEK_SET) == 0) {
		cr_workspace_limits lim = {
			.max_bytes = 1 << 20, .max_entries = 64, .max_file_bytes = 256 << 10};
		cr_workspace_stats st = {0};
		cr_error *err = NULL;
		if (cr_workspace_extract(in, root, &lim, &st, &err) < 0 && (!err || !err->msg))
			abort(); /* a failure always says why */
		cr_error_free(err);
		check_only_root(dir);
	}
	if (root >= 0)
		close(root);
	if (in >= 0)
		close(in);
	if (outer >= 0) {
		remove_tree_at(outer, "root");
		close(outer);
	}
	rmdir(dir);
	return 0;
}
