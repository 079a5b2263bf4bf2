/* SPDX-License-Identifier: Apache-2.0 */
/* archive.c -- the repository as a tar stream for a sandbox's /workspace.
 *
 * Decides which files make up the workspace (git's view of the work tree:
 * tracked files as they are on disk plus untracked files .gitignore does not
 * exclude; outside git, a plain walk), reads their metadata once, checks every
 * limit before the first byte is written, then writes a deterministic pax tar
 * (sorted names, parents before children, owners zeroed) with libarchive.
 * Everything is opened relative to the repository's directory fd with
 * RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS, so a file list naming a path under a
 * symlinked directory can never make us read outside the repository. */
#include "workspace/workspace.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/buf.h"
#include "util/cleanup.h"
#include "util/proc.h"
#include "util/syscalls.h"
#include "util/xalloc.h"
#include "workspace/internal.h"

#define LS_FILES_CAP   ((size_t)256 << 20) /* output of one `git ls-files -z` */
#define MAX_NESTED_GIT 8                   /* submodules / nested repositories followed */
#define MAX_WALK_DEPTH 256                 /* directory levels outside git (one fd each) */

/* A path list while the file set is being collected. */
typedef struct name_list {
	char **v;
	size_t n, cap, limit;
} name_list;

/* One archive member, with the metadata read before writing starts. */
typedef struct ws_item {
	char *path; /* relative, no leading "./", no trailing '/' */
	mode_t mode;
	uint64_t size;
	struct timespec mtime;
	dev_t dev;
	ino_t ino;
	char *target; /* symlink target, as stored on disk */
} ws_item;

typedef struct item_list {
	ws_item *v;
	size_t n, cap;
} item_list;

/* The repository being archived. */
typedef struct repo {
	const char *dir; /* as given, for messages and `git -C` */
	int dirfd;
	const cr_workspace_limits *lim;
} repo;

static void name_list_free(name_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	*l = (name_list){0};
}

static void item_list_free(item_list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->v[i].path);
		free(l->v[i].target);
	}
	free(l->v);
	*l = (item_list){0};
}

#define cleanup_names __attribute__((cleanup(name_list_free)))
#define cleanup_items __attribute__((cleanup(item_list_free)))

/* Takes ownership of `path`. The list is capped so that a huge tree fails
 * while it is being listed, not after it has filled memory. */
static int name_add(name_list *l, char *path, const repo *r, cr_error **err)
{
	if (l->n >= l->limit) {
		free(path);
		return cr_error_make(err, E2BIG, CR_REASON_NONE, "archive '%s': more than %llu entries",
				     r->dir, (unsigned long long)r->lim->max_entries);
	}
	l->v = cr_xgrow(l->v, &l->cap, l->n + 1, sizeof(*l->v));
	l->v[l->n++] = path;
	return 0;
}

static char *join(const char *prefix, const char *name, size_t name_len)
{
	return *prefix ? cr_asprintf("%s/%.*s", prefix, (int)name_len, name) : cr_xstrndup(name, name_len);
}

/* Opens `path` beneath the repository without following any symlink; a final
 * symlink is opened itself when flags hold O_PATH|O_NOFOLLOW. */
static int open_beneath(const repo *r, const char *path, int flags)
{
	struct open_how how = {.flags = (unsigned long long)(flags | O_CLOEXEC | O_NOFOLLOW),
			       .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS};
	return cr_openat2(r->dirfd, *path ? path : ".", &how);
}

/* ---- outside git: a walk of the tree ---- */

static int walk_dir(const repo *r, int fd, const char *prefix, unsigned depth, name_list *out, cr_error **err)
{
	if (depth > MAX_WALK_DEPTH)
		return cr_error_make(err, 0, CR_REASON_NONE, "archive '%s': '%s' is nested too deeply",
				     r->dir, prefix);
	int dup_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (dup_fd < 0)
		return cr_error_make(err, errno, CR_REASON_INTERNAL, "archive '%s': dup", r->dir);
	DIR *d = fdopendir(dup_fd);
	if (!d) {
		close(dup_fd);
		return cr_error_make(err, errno, CR_REASON_INTERNAL, "archive '%s': read directory '%s'",
				     r->dir, prefix);
	}
	int rc = 0;
	struct dirent *de;
	while (rc == 0 && (errno = 0, de = readdir(d))) {
		const char *nm = de->d_name;
		if (!strcmp(nm, ".") || !strcmp(nm, "..") || !strcmp(nm, ".git"))
			continue;
		char *path = join(prefix, nm, strlen(nm));
		rc = name_add(out, cr_xstrdup(path), r, err);
		if (rc == 0 && (de->d_type == DT_DIR || de->d_type == DT_UNKNOWN)) {
			cleanup_close int sub =
				openat(fd, nm, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (sub >= 0)
				rc = walk_dir(r, sub, path, depth + 1, out, err);
			else if (errno != ENOTDIR && errno != ELOOP && errno != ENOENT)
				rc = cr_error_make(err, errno, CR_REASON_INTERNAL, "archive '%s': open '%s'",
						   r->dir, path);
		}
		free(path);
	}
	if (rc == 0 && errno != 0)
		rc = cr_error_make(err, errno, CR_REASON_INTERNAL, "archive '%s': read directory '%s'",
				   r->dir, prefix);
	closedir(d);
	return rc;
}

/* ---- inside git ---- */

/* Runs `git -C dir ls-files -z ...` and returns its NUL-separated output
 * (capped) in *b. */
static int git_ls_files(const char *dir, cr_buf *b, cr_error **err)
{
	char *argv[] = {"git",      "-C",       (char *)dir,          "ls-files", "-z",
			"--cached", "--others", "--exclude-standard", NULL};
	int status = cr_proc_run(argv, b, err);
	if (status < 0)
		return cr_error_wrap(err, "list the files of '%s'", dir);
	if (status != 0)
		return cr_error_make(err, 0, CR_REASON_NONE, "git ls-files failed in '%s'", dir);
	return 0;
}

/* 1 when `path` (relative to the repository) is a directory holding a `.git`
 * entry: a submodule or a nested repository, listed by its own git. */
static int is_nested_repo(const repo *r, const char *path)
{
	cleanup_close int fd = open_beneath(r, path, O_PATH | O_DIRECTORY);
	struct stat st;
	return fd >= 0 && fstatat(fd, ".git", &st, AT_SYMLINK_NOFOLLOW) == 0;
}

static int git_collect(const repo *r, const char *prefix, unsigned depth, name_list *out, cr_error **err);

/* One name printed by ls-files: nested repositories (which git prints as a
 * directory, "nested/" or a submodule's gitlink "sub") are listed recursively
 * by their own git, so their .gitignore applies inside them. */
static int git_add_name(const repo *r, const char *prefix, unsigned depth, const char *nm, size_t len,
			name_list *out, cr_error **err)
{
	while (len > 0 && nm[len - 1] == '/')
		len--;
	if (len == 0)
		return 0;
	cleanup_free char *path = join(prefix, nm, len);
	if (name_add(out, cr_xstrdup(path), r, err) < 0)
		return -1;
	if (depth < MAX_NESTED_GIT && is_nested_repo(r, path))
		return git_collect(r, path, depth + 1, out, err);
	return 0;
}

static int git_collect(const repo *r, const char *prefix, unsigned depth, name_list *out, cr_error **err)
{
	cleanup_free char *where = *prefix ? cr_asprintf("%s/%s", r->dir, prefix) : cr_xstrdup(r->dir);
	cleanup_buf cr_buf b;
	cr_buf_init(&b, LS_FILES_CAP);
	if (git_ls_files(where, &b, err) < 0)
		return -1;
	for (size_t off = 0; off < b.len;) {
		const char *nm = b.data + off;
		size_t len = strnlen(nm, b.len - off);
		if (git_add_name(r, prefix, depth, nm, len, out, err) < 0)
			return -1;
		off += len + 1;
	}
	return 0;
}

/* 1 inside a git work tree, 0 outside any. A directory that has a `.git`
 * above it but that git cannot read (git missing, "dubious ownership", run
 * inside .git) is an error rather than a plain walk: the walk would pick up
 * the ignored files (.env, keys, build output) git would have left out. */
static int in_git(const repo *r, cr_error **err)
{
	char *argv[] = {"git", "-C", (char *)r->dir, "rev-parse", "--show-toplevel", NULL};
	cleanup_free char *top = NULL;
	cleanup_error cr_error *ignored = NULL;
	if (cr_proc_capture(argv, PATH_MAX * 2, &top, &ignored) == 0)
		return 1;
	cleanup_free char *real = realpath(r->dir, NULL);
	if (!real)
		return cr_error_make(err, errno, CR_REASON_NONE, "archive '%s'", r->dir);
	for (size_t len = strlen(real); len > 0;) {
		cleanup_free char *probe = cr_asprintf("%.*s/.git", (int)len, real);
		struct stat st;
		if (lstat(probe, &st) == 0)
			return cr_error_make(err, 0, CR_REASON_NONE,
					     "archive '%s': '%s' exists but git cannot list the work tree "
					     "(is git installed, and does `git -C %s status` work?)",
					     r->dir, probe, r->dir);
		while (len > 0 && real[len - 1] != '/')
			len--;
		while (len > 0 && real[len - 1] == '/')
			len--;
	}
	struct stat st;
	if (lstat("/.git", &st) == 0)
		return cr_error_make(err, 0, CR_REASON_NONE,
				     "archive '%s': git cannot list the work tree at '/'", r->dir);
	return 0;
}

/* ---- metadata ---- */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int cmp_item(const void *a, const void *b)
{
	return strcmp(((const ws_item *)a)->path, ((const ws_item *)b)->path);
}

/* Sorts and removes duplicates (git lists a conflicted path once per stage).
 * Byte order puts every directory before what it contains. */
static void sort_unique(name_list *l)
{
	if (l->n == 0)
		return;
	qsort(l->v, l->n, sizeof(*l->v), cmp_str);
	size_t w = 1;
	for (size_t i = 1; i < l->n; i++) {
		if (strcmp(l->v[i], l->v[w - 1]) == 0)
			free(l->v[i]);
		else
			l->v[w++] = l->v[i];
	}
	l->n = w;
}

static int read_target(const repo *r, int fd, ws_item *it, cr_error **err)
{
	char buf[PATH_MAX];
	ssize_t n = readlinkat(fd, "", buf, sizeof(buf));
	if (n < 0)
		return cr_error_make(err, errno, CR_REASON_INTERNAL, "archive '%s': read symlink '%s'",
				     r->dir, it->path);
	if ((size_t)n >= sizeof(buf))
		return cr_error_make(err, ENAMETOOLONG, CR_REASON_NONE, "archive '%s': symlink '%s'", r->dir,
				     it->path);
	it->target = cr_xstrndup(buf, (size_t)n);
	return 0;
}

/* Reads the metadata of `path`. Returns 1 when it was added, 0 when it is
 * skipped (gone from disk, e.g. a deleted tracked file, or a type a
 * workspace does not carry: fifo, socket, device), -1 on error. */
static int stat_item(const repo *r, const char *path, item_list *out, cr_error **err)
{
	cleanup_close int fd = open_beneath(r, path, O_PATH);
	if (fd < 0 && (errno == ENOENT || errno == ENOTDIR || errno == ELOOP))
		return 0;
	if (fd < 0 && errno == EXDEV)
		return cr_error_make(err, 0, CR_REASON_NONE, "archive '%s': '%s' is not beneath it", r->dir,
				     path);
	if (fd < 0)
		return cr_error_make(err, errno, CR_REASON_INTERNAL, "archive '%s': open '%s'", r->dir, path);
	struct stat st;
	if (fstat(fd, &st) < 0)
		return cr_error_make(err, errno, CR_REASON_INTERNAL, "archive '%s': stat '%s'", r->dir, path);
	if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode) && !S_ISLNK(st.st_mode))
		return 0;
	ws_item it = {.path = cr_xstrdup(path),
		      .mode = st.st_mode,
		      .size = S_ISREG(st.st_mode) ? (uint64_t)st.st_size : 0,
		      .mtime = st.st_mtim,
		      .dev = st.st_dev,
		      .ino = st.st_ino};
	if (S_ISLNK(st.st_mode) && read_target(r, fd, &it, err) < 0) {
		free(it.path);
		return -1;
	}
	out->v = cr_xgrow(out->v, &out->cap, out->n + 1, sizeof(*out->v));
	out->v[out->n++] = it;
	return 1;
}

static int find_item(const item_list *l, const char *path)
{
	ws_item key = {.path = (char *)path};
	return l->n && bsearch(&key, l->v, l->n, sizeof(*l->v), cmp_item) != NULL;
}

/* Adds a directory entry for every parent of a listed path that is not
 * listed itself, so that extraction recreates their modes and mtimes and
 * every directory precedes its contents. */
static int add_parents(const repo *r, item_list *items, cr_error **err)
{
	cleanup_names name_list parents = {.limit = SIZE_MAX};
	for (size_t i = 0; i < items->n; i++) {
		const char *p = items->v[i].path;
		for (const char *s = strchr(p, '/'); s; s = strchr(s + 1, '/')) {
			char *parent = cr_xstrndup(p, (size_t)(s - p));
			if (find_item(items, parent))
				free(parent);
			else if (name_add(&parents, parent, r, err) < 0)
				return -1;
		}
	}
	sort_unique(&parents);
	size_t listed = items->n;
	for (size_t i = 0; i < parents.n; i++) {
		int rc = stat_item(r, parents.v[i], items, err);
		if (rc < 0)
			return -1;
		if (rc == 0 || !S_ISDIR(items->v[items->n - 1].mode))
			return cr_error_make(err, 0, CR_REASON_NONE,
					     "archive '%s': '%s' changed while it was being listed", r->dir,
					     parents.v[i]);
	}
	if (items->n > listed)
		qsort(items->v, items->n, sizeof(*items->v), cmp_item);
	return 0;
}

static int check_limits(const repo *r, const item_list *items, cr_workspace_stats *st, cr_error **err)
{
	const cr_workspace_limits *lim = r->lim;
	if (items->n > lim->max_entries)
		return cr_error_make(err, E2BIG, CR_REASON_NONE, "archive '%s': %zu entries, more than %llu",
				     r->dir, items->n, (unsigned long long)lim->max_entries);
	*st = (cr_workspace_stats){0};
	for (size_t i = 0; i < items->n; i++) {
		const ws_item *it = &items->v[i];
		if (it->size > lim->max_file_bytes)
			return cr_error_make(err, E2BIG, CR_REASON_NONE,
					     "archive '%s': '%s' has %llu bytes, more than %llu", r->dir,
					     it->path, (unsigned long long)it->size,
					     (unsigned long long)lim->max_file_bytes);
		st->bytes += it->size;
		st->files += S_ISREG(it->mode);
		st->dirs += S_ISDIR(it->mode);
		st->symlinks += S_ISLNK(it->mode);
	}
	if (st->bytes > lim->max_bytes)
		return cr_error_make(err, E2BIG, CR_REASON_NONE,
				     "archive '%s': %llu bytes of files, more than %llu", r->dir,
				     (unsigned long long)st->bytes, (unsigned long long)lim->max_bytes);
	return 0;
}

/* ---- writing ---- */

static int archive_failed(struct archive *a, const repo *r, const char *path, cr_error **err)
{
	int e = archive_errno(a);
	return cr_error_make(err, e > 0 ? e : 0, CR_REASON_INTERNAL, "archive '%s': write '%s': %s", r->dir,
			     path, archive_error_string(a) ? archive_error_string(a) : "libarchive error");
}

/* Copies exactly it->size bytes of the file, which must still be the one
 * whose metadata went into the header. */
static int write_file_data(struct archive *a, const repo *r, const ws_item *it, cr_error **err)
{
	cleanup_close int fd = open_beneath(r, it->path, O_RDONLY | O_NONBLOCK | O_NOCTTY);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0)
		return cr_error_make(err, errno, CR_REASON_NONE, "archive '%s': open '%s'", r->dir, it->path);
	if (!S_ISREG(st.st_mode) || st.st_dev != it->dev || st.st_ino != it->ino)
		return cr_error_make(err, 0, CR_REASON_NONE,
				     "archive '%s': '%s' changed while being archived", r->dir, it->path);
	char chunk[65536];
	for (uint64_t left = it->size; left > 0;) {
		ssize_t n = read(fd, chunk, left < sizeof(chunk) ? (size_t)left : sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return cr_error_make(err, errno, CR_REASON_INTERNAL, "archive '%s': read '%s'",
					     r->dir, it->path);
		if (n == 0)
			return cr_error_make(err, 0, CR_REASON_NONE,
					     "archive '%s': '%s' shrank while being archived", r->dir,
					     it->path);
		if (archive_write_data(a, chunk, (size_t)n) != n)
			return archive_failed(a, r, it->path, err);
		left -= (uint64_t)n;
	}
	return 0;
}

static int write_item(struct archive *a, struct archive_entry *e, const repo *r, const ws_item *it,
		      cr_error **err)
{
	archive_entry_clear(e);
	archive_entry_copy_pathname(e, it->path);
	archive_entry_set_filetype(e, it->mode & S_IFMT);
	/* setuid/setgid bits mean nothing for files owned by the workload user. */
	archive_entry_set_perm(e, it->mode & 01777);
	archive_entry_set_uid(e, 0);
	archive_entry_set_gid(e, 0);
	archive_entry_set_mtime(e, it->mtime.tv_sec, 0);
	archive_entry_set_size(e, (la_int64_t)it->size);
	if (it->target)
		archive_entry_copy_symlink(e, it->target);
	/* ARCHIVE_WARN: a name that is not UTF-8 (internal.h) was written raw,
	 * with a per-entry pax "hdrcharset=BINARY": Linux names are bytes. */
	int rc = archive_write_header(a, e);
	if (rc != ARCHIVE_OK && rc != ARCHIVE_WARN)
		return archive_failed(a, r, it->path, err);
	if (S_ISREG(it->mode) && write_file_data(a, r, it, err) < 0)
		return -1;
	return 0;
}

static void archive_freep(struct archive **a)
{
	if (*a)
		archive_write_free(*a);
}

static void entry_freep(struct archive_entry **e)
{
	if (*e)
		archive_entry_free(*e);
}

static int write_archive(const repo *r, const item_list *items, int out_fd, cr_error **err)
{
	__attribute__((cleanup(archive_freep))) struct archive *a = archive_write_new();
	__attribute__((cleanup(entry_freep))) struct archive_entry *e = archive_entry_new();
	if (!a || !e)
		return cr_error_make(err, ENOMEM, CR_REASON_INTERNAL, "archive '%s'", r->dir);
	if (archive_write_set_format_pax_restricted(a) != ARCHIVE_OK ||
	    archive_write_open_fd(a, out_fd) != ARCHIVE_OK)
		return archive_failed(a, r, "", err);
	for (size_t i = 0; i < items->n; i++) {
		if (write_item(a, e, r, &items->v[i], err) < 0) {
			/* No end-of-archive marker: the reader must see a truncated
			 * archive, never a valid one missing the rest. */
			archive_write_fail(a);
			return -1;
		}
	}
	if (archive_write_close(a) != ARCHIVE_OK)
		return archive_failed(a, r, "end of archive", err);
	return 0;
}

static int collect(const repo *r, item_list *items, cr_error **err)
{
	/* Deleted tracked files are listed but skipped: allow for some slack. */
	uint64_t limit = r->lim->max_entries > SIZE_MAX / 4 ? SIZE_MAX / 2 : r->lim->max_entries * 2 + 16;
	cleanup_names name_list names = {.limit = (size_t)limit};
	int git = in_git(r, err);
	if (git < 0)
		return -1;
	if ((git ? git_collect(r, "", 0, &names, err) : walk_dir(r, r->dirfd, "", 0, &names, err)) < 0)
		return -1;
	sort_unique(&names);
	for (size_t i = 0; i < names.n; i++)
		if (stat_item(r, names.v[i], items, err) < 0)
			return -1;
	return add_parents(r, items, err);
}

int cr_workspace_archive(const char *dir, int out_fd, const cr_workspace_limits *lim,
			 cr_workspace_stats *stats, cr_error **err)
{
	cr_workspace_limits defaults = CR_WORKSPACE_DEFAULT_LIMITS;
	cleanup_close int dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		return cr_error_make(err, errno, CR_REASON_NONE, "archive '%s'", dir);
	repo r = {.dir = dir, .dirfd = dirfd, .lim = lim ? lim : &defaults};
	cleanup_items item_list items = {0};
	cr_workspace_stats st;
	if (collect(&r, &items, err) < 0 || check_limits(&r, &items, &st, err) < 0)
		return -1;
	cleanup_ws_locale ws_locale loc = ws_locale_enter();
	if (write_archive(&r, &items, out_fd, err) < 0)
		return -1;
	if (stats)
		*stats = st;
	return 0;
}
