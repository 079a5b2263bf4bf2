/* SPDX-License-Identifier: Apache-2.0 */
/* extract.c -- unpacking an untrusted tar stream into a directory, safely.
 *
 * libarchive only parses (tar formats, gzip/zstd/none filters); every
 * filesystem write is ours and fd-relative: each entry name is normalised
 * and rejected when absolute or holding "..", its parents are created and
 * opened one component at a time with O_NOFOLLOW|O_DIRECTORY, files are
 * created O_CREAT|O_EXCL|O_NOFOLLOW after unlinking whatever non-directory
 * was there (so a planted symlink is replaced, never written through), and
 * only regular files, directories and symlinks are accepted. Directory modes
 * and mtimes are applied at the end, deepest first, so that a read-only
 * directory in the archive does not stop its own contents from being created.
 * Limits on entries, total bytes and per-file bytes are checked against both
 * the headers and the bytes actually written. On error extraction stops
 * where it is: what was already created stays (the sandbox is disposable). */
#include "workspace/workspace.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/buf.h"
#include "util/cleanup.h"
#include "util/fileio.h"
#include "util/syscalls.h"
#include "util/xalloc.h"
#include "workspace/internal.h"

#define READ_BLOCK 65536

/* A directory whose mode and mtime are applied once everything is in. */
typedef struct pending_dir {
	char *path;
	mode_t mode;
	struct timespec mtime;
} pending_dir;

typedef struct extractor {
	struct archive *a;
	int dirfd;
	const cr_workspace_limits *lim;
	cr_workspace_stats st;
	uint64_t entries;
	pending_dir *dirs;
	size_t ndirs, dirs_cap;
	const char *name; /* entry being extracted, printable */
} extractor;

/* The entry name as it goes into messages: control and non-ASCII bytes
 * escaped, capped, so that a hostile name cannot forge terminal output. */
static char *printable(const char *raw)
{
	cr_buf b;
	cr_buf_init(&b, 512);
	for (const unsigned char *p = (const unsigned char *)raw; *p; p++) {
		int rc = (*p >= 0x20 && *p < 0x7f && *p != '\\') ? cr_buf_putc(&b, (char)*p)
								 : cr_buf_printf(&b, "\\x%02x", *p);
		if (rc < 0) {
			cr_buf_puts(&b, "...");
			break;
		}
	}
	return cr_buf_steal(&b, NULL);
}

/* Fails the extraction with a message naming the current entry. */
static int entry_error(const extractor *x, int status, cr_error **err, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int entry_error(const extractor *x, int status, cr_error **err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	cleanup_free char *detail = cr_vasprintf(fmt, ap);
	va_end(ap);
	return cr_error_make(err, status, status && status != E2BIG ? CR_REASON_INTERNAL : CR_REASON_NONE,
			     "extract '%s': %s", x->name, detail);
}

/* Splits `raw` into a canonical relative path in out[PATH_MAX]: "./" prefixes,
 * repeated and trailing slashes and "." components dropped. Returns 0, or
 * -1 with a reason in *why. An empty result (the archive root "./") is
 * valid; the caller decides what it may be. */
static int normalise(const char *raw, char *out, const char **why)
{
	size_t len = strlen(raw);
	if (len == 0)
		return *why = "empty name", -1;
	if (len >= PATH_MAX)
		return *why = "name longer than PATH_MAX", -1;
	if (raw[0] == '/')
		return *why = "absolute name", -1;
	size_t w = 0;
	for (const char *p = raw; *p;) {
		const char *end = strchrnul(p, '/');
		size_t n = (size_t)(end - p);
		if (n == 2 && p[0] == '.' && p[1] == '.')
			return *why = "'..' component", -1;
		if (n > 0 && !(n == 1 && p[0] == '.')) {
			if (w > 0)
				out[w++] = '/';
			memcpy(out + w, p, n);
			w += n;
		}
		p = *end ? end + 1 : end;
	}
	out[w] = '\0';
	return 0;
}

/* Opens the directory holding `path` (canonical, relative), creating missing
 * components, and points *leaf at the last component. Every component is
 * opened with O_NOFOLLOW|O_DIRECTORY: a symlink or a file where a directory
 * should be stops the extraction instead of being traversed. */
static int open_parent(const extractor *x, char *path, const char **leaf, cr_error **err)
{
	cleanup_close int cur = -1;
	char *comp = path;
	for (char *slash; (slash = strchr(comp, '/')); comp = slash + 1) {
		*slash = '\0';
		int at = cur >= 0 ? cur : x->dirfd;
		int next = -1;
		if (mkdirat(at, comp, 0755) == 0 || errno == EEXIST)
			next = openat(at, comp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		int saved = errno;
		*slash = '/';
		if (next < 0 && (saved == ENOTDIR || saved == ELOOP))
			return entry_error(x, 0, err,
					   "parent '%.*s' is not a directory (a symlink or a file)",
					   (int)(slash - path), path);
		if (next < 0)
			return entry_error(x, saved, err, "create parent '%.*s'", (int)(slash - path), path);
		if (cur >= 0)
			close(cur);
		cur = next;
	}
	*leaf = comp;
	return cur >= 0 ? cr_steal_fd(&cur) : fcntl(x->dirfd, F_DUPFD_CLOEXEC, 0);
}

/* Removes a non-directory at pfd/leaf so that it can be created afresh:
 * an existing path is never opened for writing, and a symlink planted by an
 * earlier entry is replaced rather than followed. */
static int make_room(const extractor *x, int pfd, const char *leaf, cr_error **err)
{
	struct stat st;
	if (fstatat(pfd, leaf, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : entry_error(x, errno, err, "stat");
	if (S_ISDIR(st.st_mode))
		return entry_error(x, 0, err, "a directory of that name exists");
	if (unlinkat(pfd, leaf, 0) < 0)
		return entry_error(x, errno, err, "replace the existing file");
	return 0;
}

static struct timespec entry_mtime(struct archive_entry *e)
{
	if (!archive_entry_mtime_is_set(e))
		return (struct timespec){.tv_nsec = UTIME_OMIT};
	return (struct timespec){.tv_sec = archive_entry_mtime(e), .tv_nsec = archive_entry_mtime_nsec(e)};
}

static int make_dir(extractor *x, int pfd, const char *leaf, const char *path, struct archive_entry *e,
		    cr_error **err)
{
	if (mkdirat(pfd, leaf, 0700) < 0) {
		struct stat st;
		if (errno != EEXIST)
			return entry_error(x, errno, err, "create directory");
		if (fstatat(pfd, leaf, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode))
			return entry_error(x, 0, err, "exists and is not a directory");
	}
	x->dirs = cr_xgrow(x->dirs, &x->dirs_cap, x->ndirs + 1, sizeof(*x->dirs));
	x->dirs[x->ndirs++] = (pending_dir){
		.path = cr_xstrdup(path), .mode = archive_entry_perm(e) & 01777, .mtime = entry_mtime(e)};
	x->st.dirs++;
	return 0;
}

/* Copies the entry's data, counting what is really written: a header can
 * understate what follows (sparse maps, a lying filter), the caps cannot. */
static int copy_data(extractor *x, int fd, cr_error **err)
{
	char buf[READ_BLOCK];
	uint64_t written = 0;
	for (;;) {
		la_ssize_t n = archive_read_data(x->a, buf, sizeof(buf));
		if (n == 0)
			return 0;
		if (n < 0)
			return entry_error(x, 0, err, "read data: %s", archive_error_string(x->a));
		written += (uint64_t)n;
		x->st.bytes += (uint64_t)n;
		if (written > x->lim->max_file_bytes || x->st.bytes > x->lim->max_bytes)
			return entry_error(x, E2BIG, err, "more data than the limits allow");
		if (cr_write_all(fd, buf, (size_t)n) < 0)
			return entry_error(x, errno, err, "write");
	}
}

static int make_file(extractor *x, int pfd, const char *leaf, struct archive_entry *e, cr_error **err)
{
	la_int64_t size = archive_entry_size_is_set(e) ? archive_entry_size(e) : 0;
	if (size < 0 || (uint64_t)size > x->lim->max_file_bytes)
		return entry_error(x, E2BIG, err, "%lld bytes, more than %llu allowed for one file",
				   (long long)size, (unsigned long long)x->lim->max_file_bytes);
	if ((uint64_t)size > x->lim->max_bytes - x->st.bytes)
		return entry_error(x, E2BIG, err, "total size would pass %llu bytes",
				   (unsigned long long)x->lim->max_bytes);
	if (make_room(x, pfd, leaf, err) < 0)
		return -1;
	cleanup_close int fd = openat(pfd, leaf, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return entry_error(x, errno, err, "create");
	if (copy_data(x, fd, err) < 0)
		return -1;
	struct timespec ts[2] = {entry_mtime(e), entry_mtime(e)};
	if (fchmod(fd, archive_entry_perm(e) & 0777) < 0 || futimens(fd, ts) < 0)
		return entry_error(x, errno, err, "set mode and time");
	x->st.files++;
	return 0;
}

static int make_symlink(extractor *x, int pfd, const char *leaf, struct archive_entry *e, cr_error **err)
{
	/* The target is stored as it is: nothing is ever opened through it
	 * during extraction, and inside the sandbox it can only point at the
	 * sandbox's own files. */
	const char *target = archive_entry_symlink(e);
	if (!target || !*target)
		return entry_error(x, 0, err, "symlink without a target");
	if (strlen(target) >= PATH_MAX)
		return entry_error(x, ENAMETOOLONG, err, "symlink target");
	if (make_room(x, pfd, leaf, err) < 0)
		return -1;
	if (symlinkat(target, pfd, leaf) < 0)
		return entry_error(x, errno, err, "create symlink");
	struct timespec ts[2] = {entry_mtime(e), entry_mtime(e)};
	if (utimensat(pfd, leaf, ts, AT_SYMLINK_NOFOLLOW) < 0)
		return entry_error(x, errno, err, "set symlink time");
	x->st.symlinks++;
	return 0;
}

static const char *type_name(mode_t type)
{
	switch (type) {
	case AE_IFCHR: return "character device";
	case AE_IFBLK: return "block device";
	case AE_IFIFO: return "fifo";
	case AE_IFSOCK: return "socket";
	default: return "unknown entry type";
	}
}

static int extract_entry(extractor *x, struct archive_entry *e, cr_error **err)
{
	if (++x->entries > x->lim->max_entries)
		return entry_error(x, E2BIG, err, "more than %llu entries",
				   (unsigned long long)x->lim->max_entries);
	const char *raw = archive_entry_pathname(e);
	if (!raw)
		return entry_error(x, 0, err, "name cannot be decoded");
	char path[PATH_MAX];
	const char *why = NULL;
	if (normalise(raw, path, &why) < 0)
		return entry_error(x, 0, err, "%s not allowed", why);
	mode_t type = archive_entry_filetype(e);
	if (archive_entry_hardlink(e))
		return entry_error(x, 0, err, "hard links are not allowed");
	if (type != AE_IFREG && type != AE_IFDIR && type != AE_IFLNK)
		return entry_error(x, 0, err, "%s not allowed", type_name(type));
	if (!*path) /* the archive's root, "./": the target directory itself */
		return type == AE_IFDIR ? 0 : entry_error(x, 0, err, "empty name not allowed");
	const char *leaf = NULL;
	cleanup_close int pfd = open_parent(x, path, &leaf, err);
	if (pfd < 0)
		return -1;
	if (type == AE_IFDIR)
		return make_dir(x, pfd, leaf, path, e, err);
	if (type == AE_IFREG)
		return make_file(x, pfd, leaf, e, err);
	return make_symlink(x, pfd, leaf, e, err);
}

static int cmp_dir_desc(const void *a, const void *b)
{
	return strcmp(((const pending_dir *)b)->path, ((const pending_dir *)a)->path);
}

/* Opens an extracted directory again, still refusing symlinks anywhere. */
static int open_dir(const extractor *x, const char *path)
{
	struct open_how how = {.flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC,
			       .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS};
	return cr_openat2(x->dirfd, path, &how);
}

/* Deepest first (reverse byte order puts "a/b" before "a"), so that a
 * directory made read-only or unsearchable no longer needs to be entered. */
static int apply_dirs(extractor *x, cr_error **err)
{
	if (x->ndirs > 1)
		qsort(x->dirs, x->ndirs, sizeof(*x->dirs), cmp_dir_desc);
	for (size_t i = 0; i < x->ndirs; i++) {
		const pending_dir *d = &x->dirs[i];
		cleanup_free char *shown = printable(d->path);
		x->name = shown;
		cleanup_close int fd = open_dir(x, d->path);
		struct timespec ts[2] = {d->mtime, d->mtime};
		if (fd < 0 || fchmod(fd, d->mode) < 0 || futimens(fd, ts) < 0)
			return entry_error(x, errno, err, "set directory mode and time");
	}
	return 0;
}

static int open_reader(extractor *x, int in_fd, cr_error **err)
{
	x->a = archive_read_new();
	if (!x->a)
		return cr_error_make(err, ENOMEM, CR_REASON_INTERNAL, "extract: libarchive");
	/* Tar only, and only filters libarchive has built in: ARCHIVE_WARN
	 * would mean it falls back to running an external program. */
	if (archive_read_support_format_tar(x->a) != ARCHIVE_OK ||
	    archive_read_support_filter_gzip(x->a) != ARCHIVE_OK ||
	    archive_read_support_filter_zstd(x->a) != ARCHIVE_OK ||
	    archive_read_open_fd(x->a, in_fd, READ_BLOCK) != ARCHIVE_OK)
		return cr_error_make(err, 0, CR_REASON_NONE, "extract: %s",
				     archive_error_string(x->a) ? archive_error_string(x->a)
								: "libarchive setup");
	return 0;
}

static void extractor_clear(extractor *x)
{
	if (x->a)
		archive_read_free(x->a);
	for (size_t i = 0; i < x->ndirs; i++)
		free(x->dirs[i].path);
	free(x->dirs);
}

static int extract_all(extractor *x, cr_error **err)
{
	for (;;) {
		struct archive_entry *e = NULL;
		int rc = archive_read_next_header(x->a, &e);
		if (rc == ARCHIVE_EOF)
			return apply_dirs(x, err);
		const char *raw = e ? archive_entry_pathname(e) : NULL;
		cleanup_free char *shown = printable(raw ? raw : "");
		x->name = shown;
		/* Warnings too: a pathname that cannot be decoded, a bad pax record. */
		if (rc != ARCHIVE_OK)
			return cr_error_make(err, 0, CR_REASON_NONE,
					     "extract: bad archive after %llu entries%s%s: %s",
					     (unsigned long long)x->entries, *shown ? " at " : "", shown,
					     archive_error_string(x->a) ? archive_error_string(x->a) : "?");
		if (extract_entry(x, e, err) < 0)
			return -1;
	}
}

int cr_workspace_extract(int in_fd, int dirfd, const cr_workspace_limits *lim, cr_workspace_stats *stats,
			 cr_error **err)
{
	cr_workspace_limits defaults = CR_WORKSPACE_DEFAULT_LIMITS;
	cleanup_ws_locale ws_locale loc = ws_locale_enter();
	__attribute__((cleanup(extractor_clear)))
	extractor x = {.dirfd = dirfd, .lim = lim ? lim : &defaults};
	if (open_reader(&x, in_fd, err) < 0 || extract_all(&x, err) < 0)
		return -1;
	if (stats)
		*stats = x.st;
	return 0;
}
