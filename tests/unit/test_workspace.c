/* SPDX-License-Identifier: Apache-2.0 */
/* test_workspace.c -- the workspace round trip (archive a repository, extract
 * it elsewhere, compare), the file set git decides, limits on both sides,
 * hostile archives built here with libarchive's writer (zip-slip names,
 * symlink tricks, hard links, devices, fifos), and reading files back out. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "workspace/workspace.h"

/* ---- helpers ---- */

static char *tmpdir(void)
{
	char *t = strdup("/tmp/cr-ws-test-XXXXXX");
	assert_non_null(t);
	assert_non_null(mkdtemp(t));
	return t;
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (flag == FTW_DP)
		chmod(p, 0700);
	return remove(p) < 0 && errno != ENOENT ? -1 : 0;
}

/* Makes every directory writable first: extraction may apply 0555. */
static int chmod_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)ftw;
	if (flag == FTW_D || (flag == FTW_DNR && S_ISDIR(st->st_mode)))
		chmod(p, 0700);
	return 0;
}

static void rmtree(char *dir)
{
	nftw(dir, chmod_one, 16, FTW_PHYS);
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(dir);
}

static void put(const char *dir, const char *rel, const char *content, mode_t mode)
{
	char p[4096];
	snprintf(p, sizeof(p), "%s/%s", dir, rel);
	for (char *s = strchr(p + strlen(dir) + 1, '/'); s; s = strchr(s + 1, '/')) {
		*s = '\0';
		mkdir(p, 0755);
		*s = '/';
	}
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, content, strlen(content)), (ssize_t)strlen(content));
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

/* Reads a small file; NULL when it cannot be opened. */
static char *slurp(const char *dir, const char *rel)
{
	char p[4096];
	snprintf(p, sizeof(p), "%s/%s", dir, rel);
	int fd = open(p, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return NULL;
	char *b = calloc(1, 65536);
	assert_true(read(fd, b, 65535) >= 0);
	close(fd);
	return b;
}

static void assert_content(const char *dir, const char *rel, const char *want)
{
	char *got = slurp(dir, rel);
	if (!got)
		fail_msg("%s/%s cannot be read", dir, rel);
	assert_string_equal(got, want);
	free(got);
}

static int exists(const char *dir, const char *rel)
{
	char p[4096];
	struct stat st;
	snprintf(p, sizeof(p), "%s/%s", dir, rel);
	return lstat(p, &st) == 0;
}

static mode_t mode_of(const char *dir, const char *rel)
{
	char p[4096];
	struct stat st;
	snprintf(p, sizeof(p), "%s/%s", dir, rel);
	assert_int_equal(lstat(p, &st), 0);
	return st.st_mode;
}

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
	char cmd[8192];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return system(cmd);
}

static int have_git(void)
{
	return sh("git --version >/dev/null 2>&1") == 0;
}

#define GIT                                                                             \
	"git -c user.email=t@example.org -c user.name=t -c init.defaultBranch=main -c " \
	"advice.detachedHead=false"

static int memfd(void)
{
	int fd = memfd_create("ws", MFD_CLOEXEC);
	assert_true(fd >= 0);
	return fd;
}

/* Archives dir into a memfd (rewound). Returns the fd, or -1 with *err. */
static int archive_dir(const char *dir, const cr_workspace_limits *lim, cr_workspace_stats *st,
		       cr_error **err)
{
	int fd = memfd();
	if (cr_workspace_archive(dir, fd, lim, st, err) < 0) {
		close(fd);
		return -1;
	}
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	return fd;
}

static int extract_into(int in_fd, const char *dir, const cr_workspace_limits *lim, cr_workspace_stats *st,
			cr_error **err)
{
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(dfd >= 0);
	int rc = cr_workspace_extract(in_fd, dfd, lim, st, err);
	close(dfd);
	return rc;
}

/* ---- hostile archives ---- */

typedef struct tent {
	const char *name;
	mode_t type;      /* AE_IF* */
	const char *data; /* file content, or symlink / hard link target */
	int hard;
} tent;

static int build_tar(const tent *ents, size_t n, int gzip)
{
	int fd = memfd();
	struct archive *a = archive_write_new();
	archive_write_set_format_pax_restricted(a);
	if (gzip)
		archive_write_add_filter_gzip(a);
	assert_int_equal(archive_write_open_fd(a, fd), ARCHIVE_OK);
	for (size_t i = 0; i < n; i++) {
		struct archive_entry *e = archive_entry_new();
		archive_entry_set_pathname(e, ents[i].name);
		archive_entry_set_filetype(e, ents[i].type);
		archive_entry_set_perm(e, ents[i].type == AE_IFDIR ? 0755 : 0644);
		archive_entry_set_mtime(e, 1700000000, 0);
		if (ents[i].hard) {
			archive_entry_set_hardlink(e, ents[i].data);
		} else if (ents[i].type == AE_IFLNK) {
			archive_entry_set_symlink(e, ents[i].data);
		} else if (ents[i].type == AE_IFREG && ents[i].data) {
			archive_entry_set_size(e, (la_int64_t)strlen(ents[i].data));
		} else if (ents[i].type == AE_IFCHR) {
			archive_entry_set_rdev(e, makedev(1, 3));
		}
		assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
		if (ents[i].type == AE_IFREG && ents[i].data && !ents[i].hard)
			archive_write_data(a, ents[i].data, strlen(ents[i].data));
		archive_entry_free(e);
	}
	archive_write_close(a);
	archive_write_free(a);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	return fd;
}

/* Extracts a built archive into a fresh directory and expects failure with
 * a message containing `needle`. */
static void expect_refused(const tent *ents, size_t n, const char *needle)
{
	char *dir = tmpdir();
	int fd = build_tar(ents, n, 0);
	cr_error *err = NULL;
	assert_int_equal(extract_into(fd, dir, NULL, NULL, &err), -1);
	assert_non_null(err);
	if (!strstr(err->msg, needle))
		fail_msg("message '%s' does not contain '%s'", err->msg, needle);
	cr_error_free(err);
	close(fd);
	rmtree(dir);
}

/* ---- round trips ---- */

static void make_git_repo(const char *repo)
{
	put(repo, "README", "readme\n", 0644);
	put(repo, "tracked", "v1\n", 0644);
	put(repo, "deleted", "gone soon\n", 0644);
	put(repo, "bin/run.sh", "#!/bin/sh\n", 0755);
	put(repo, "src/a/b/c.txt", "deep\n", 0600);
	put(repo, ".gitignore", "*.log\nbuild/\n", 0644);
	char p[4096];
	snprintf(p, sizeof(p), "%s/link", repo);
	assert_int_equal(symlink("src/a/b/c.txt", p), 0);
	assert_int_equal(sh("cd %s && " GIT " init -q . && " GIT " add -A && " GIT " commit -qm init", repo),
			 0);
	/* Uncommitted state: a modification, a new file, an ignored file and a
	 * deleted tracked file. */
	put(repo, "tracked", "v2 modified\n", 0644);
	put(repo, "new/untracked.txt", "new\n", 0644);
	put(repo, "debug.log", "ignored\n", 0644);
	put(repo, "build/out.o", "ignored\n", 0644);
	snprintf(p, sizeof(p), "%s/deleted", repo);
	assert_int_equal(unlink(p), 0);
}

static void test_git_round_trip(void **state)
{
	(void)state;
	if (!have_git())
		skip();
	char *repo = tmpdir(), *out = tmpdir();
	make_git_repo(repo);
	cr_error *err = NULL;
	cr_workspace_stats st = {0}, xst = {0};
	int fd = archive_dir(repo, NULL, &st, &err);
	if (fd < 0)
		fail_msg("%s", err->msg);
	assert_int_equal(st.files, 6); /* README tracked run.sh c.txt .gitignore untracked.txt */
	assert_int_equal(st.symlinks, 1);
	assert_int_equal(st.dirs, 5); /* bin src src/a src/a/b new */
	if (extract_into(fd, out, NULL, &xst, &err) < 0)
		fail_msg("%s", err->msg);
	close(fd);
	assert_memory_equal(&st, &xst, sizeof(st));
	assert_content(out, "README", "readme\n");
	assert_content(out, "tracked", "v2 modified\n");
	assert_content(out, "new/untracked.txt", "new\n");
	assert_content(out, "src/a/b/c.txt", "deep\n");
	assert_false(exists(out, "deleted"));
	assert_false(exists(out, "debug.log"));
	assert_false(exists(out, "build"));
	assert_false(exists(out, ".git"));
	assert_int_equal(mode_of(out, "bin/run.sh") & 07777, 0755);
	assert_int_equal(mode_of(out, "src/a/b/c.txt") & 07777, 0600);
	assert_true(S_ISLNK(mode_of(out, "link")));
	char target[256] = {0}, p[4096];
	snprintf(p, sizeof(p), "%s/link", out);
	assert_true(readlink(p, target, sizeof(target) - 1) > 0);
	assert_string_equal(target, "src/a/b/c.txt");
	/* The mtime survives. */
	struct stat a, b;
	snprintf(p, sizeof(p), "%s/tracked", repo);
	assert_int_equal(stat(p, &a), 0);
	snprintf(p, sizeof(p), "%s/tracked", out);
	assert_int_equal(stat(p, &b), 0);
	assert_int_equal(a.st_mtim.tv_sec, b.st_mtim.tv_sec);
	rmtree(repo);
	rmtree(out);
}

/* Modify inside the "sandbox", archive it again, and bring it back. */
static void test_round_trip_modify_download(void **state)
{
	(void)state;
	if (!have_git())
		skip();
	char *repo = tmpdir(), *box = tmpdir(), *back = tmpdir();
	make_git_repo(repo);
	cr_error *err = NULL;
	int fd = archive_dir(repo, NULL, NULL, &err);
	assert_true(fd >= 0);
	assert_int_equal(extract_into(fd, box, NULL, NULL, &err), 0);
	close(fd);
	put(box, "tracked", "changed in the sandbox\n", 0644);
	put(box, "result/report.txt", "ok\n", 0644);
	int dfd = open(box, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int mfd = memfd();
	assert_int_equal(cr_workspace_read_file(dfd, "result/report.txt", 1024, mfd, &err), 0);
	char buf[64] = {0};
	assert_int_equal(pread(mfd, buf, sizeof(buf) - 1, 0), 3);
	assert_string_equal(buf, "ok\n");
	close(mfd);
	close(dfd);
	/* The whole tree back (a plain walk: the sandbox copy has no .git). */
	fd = archive_dir(box, NULL, NULL, &err);
	if (fd < 0)
		fail_msg("%s", err->msg);
	assert_int_equal(extract_into(fd, back, NULL, NULL, &err), 0);
	close(fd);
	assert_content(back, "tracked", "changed in the sandbox\n");
	assert_content(back, "result/report.txt", "ok\n");
	rmtree(repo);
	rmtree(box);
	rmtree(back);
}

static void test_git_subdirectory_and_nested(void **state)
{
	(void)state;
	if (!have_git())
		skip();
	char *repo = tmpdir(), *out = tmpdir(), *out2 = tmpdir();
	make_git_repo(repo);
	put(repo, "nested/.gitignore", "secret\n", 0644);
	put(repo, "nested/code.c", "int x;\n", 0644);
	put(repo, "nested/secret", "key\n", 0600);
	assert_int_equal(sh("cd %s/nested && " GIT " init -q .", repo), 0);
	cr_error *err = NULL;
	/* A nested repository is listed by its own git and its own .gitignore. */
	int fd = archive_dir(repo, NULL, NULL, &err);
	if (fd < 0)
		fail_msg("%s", err->msg);
	assert_int_equal(extract_into(fd, out, NULL, NULL, &err), 0);
	close(fd);
	assert_content(out, "nested/code.c", "int x;\n");
	assert_false(exists(out, "nested/secret"));
	assert_false(exists(out, "nested/.git"));
	/* A subdirectory: its files only, relative to it. */
	char sub[4096];
	snprintf(sub, sizeof(sub), "%s/src", repo);
	fd = archive_dir(sub, NULL, NULL, &err);
	if (fd < 0)
		fail_msg("%s", err->msg);
	assert_int_equal(extract_into(fd, out2, NULL, NULL, &err), 0);
	close(fd);
	assert_content(out2, "a/b/c.txt", "deep\n");
	assert_false(exists(out2, "README"));
	assert_false(exists(out2, "src"));
	rmtree(repo);
	rmtree(out);
	rmtree(out2);
}

static void test_deterministic(void **state)
{
	(void)state;
	char *dir = tmpdir();
	put(dir, "z", "last\n", 0644);
	put(dir, "a-b", "dash\n", 0644);
	put(dir, "a/b", "slash\n", 0644);
	put(dir, "caf\xc3\xa9/\xff\x01name", "bytes\n", 0644);
	cr_error *err = NULL;
	int f1 = archive_dir(dir, NULL, NULL, &err), f2 = archive_dir(dir, NULL, NULL, &err);
	assert_true(f1 >= 0 && f2 >= 0);
	struct stat s1, s2;
	assert_int_equal(fstat(f1, &s1), 0);
	assert_int_equal(fstat(f2, &s2), 0);
	assert_int_equal(s1.st_size, s2.st_size);
	char *b1 = malloc((size_t)s1.st_size), *b2 = malloc((size_t)s2.st_size);
	assert_int_equal(read(f1, b1, (size_t)s1.st_size), s1.st_size);
	assert_int_equal(read(f2, b2, (size_t)s2.st_size), s2.st_size);
	assert_memory_equal(b1, b2, (size_t)s1.st_size);
	free(b1);
	free(b2);
	/* Non-UTF-8 names come through byte for byte. */
	char *out = tmpdir();
	assert_int_equal(lseek(f1, 0, SEEK_SET), 0);
	if (extract_into(f1, out, NULL, NULL, &err) < 0)
		fail_msg("%s", err->msg);
	assert_content(out, "caf\xc3\xa9/\xff\x01name", "bytes\n");
	close(f1);
	close(f2);
	rmtree(dir);
	rmtree(out);
}

/* A pax archive from GNU tar, UTF-8 names, extracted whatever the locale. */
static void test_gnu_tar_utf8(void **state)
{
	(void)state;
	if (sh("tar --version >/dev/null 2>&1") != 0)
		skip();
	char *src = tmpdir(), *out = tmpdir();
	put(src, "caf\xc3\xa9/\xe6\x97\xa5\xe6\x9c\xac.txt", "utf8\n", 0644);
	char tarpath[4200];
	snprintf(tarpath, sizeof(tarpath), "%s.tar", src);
	assert_int_equal(sh("tar --format=posix -C %s -czf %s .", src, tarpath), 0);
	int fd = open(tarpath, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	cr_error *err = NULL;
	if (extract_into(fd, out, NULL, NULL, &err) < 0)
		fail_msg("%s", err->msg);
	close(fd);
	unlink(tarpath);
	assert_content(out, "caf\xc3\xa9/\xe6\x97\xa5\xe6\x9c\xac.txt", "utf8\n");
	rmtree(src);
	rmtree(out);
}

static void test_plain_dir(void **state)
{
	(void)state;
	char *dir = tmpdir(), *out = tmpdir();
	put(dir, "file", "f\n", 0640);
	put(dir, ".git/config", "not a repo really\n", 0644);
	put(dir, "sub/.git/HEAD", "x\n", 0644);
	put(dir, "sub/kept", "k\n", 0644);
	char p[4096];
	snprintf(p, sizeof(p), "%s/empty", dir);
	assert_int_equal(mkdir(p, 0750), 0);
	snprintf(p, sizeof(p), "%s/fifo", dir);
	assert_int_equal(mkfifo(p, 0600), 0);
	snprintf(p, sizeof(p), "%s/ro", dir);
	assert_int_equal(mkdir(p, 0755), 0);
	put(dir, "ro/inside", "i\n", 0444);
	assert_int_equal(chmod(p, 0555), 0);
	/* A .git that is not a repository: git fails, but it is not a work
	 * tree either... except that the walk refuses a dir with .git above it
	 * only when git works. Here `git rev-parse` fails and .git exists, so
	 * archiving must refuse rather than walk. */
	cr_error *err = NULL;
	int fd = archive_dir(dir, NULL, NULL, &err);
	assert_int_equal(fd, -1);
	assert_non_null(strstr(err->msg, "git cannot list"));
	cr_error_free(err);
	err = NULL;
	snprintf(p, sizeof(p), "rm -rf %s/.git %s/sub/.git", dir, dir);
	assert_int_equal(sh("%s", p), 0);
	cr_workspace_stats st = {0};
	fd = archive_dir(dir, NULL, &st, &err);
	if (fd < 0)
		fail_msg("%s", err->msg);
	assert_int_equal(st.files, 3);
	assert_int_equal(st.dirs, 3); /* empty sub ro */
	if (extract_into(fd, out, NULL, NULL, &err) < 0)
		fail_msg("%s", err->msg);
	close(fd);
	assert_content(out, "file", "f\n");
	assert_content(out, "ro/inside", "i\n");
	assert_int_equal(mode_of(out, "ro") & 07777, 0555);
	assert_int_equal(mode_of(out, "empty") & 07777, 0750);
	assert_int_equal(mode_of(out, "file") & 07777, 0640);
	assert_false(exists(out, "fifo"));
	rmtree(dir);
	rmtree(out);
}

/* Git present but refusing the repository ("dubious ownership"): an error,
 * never a walk that would pick up ignored files. */
static void test_git_refuses(void **state)
{
	(void)state;
	if (!have_git() || geteuid() != 0)
		skip();
	char *repo = tmpdir();
	make_git_repo(repo);
	assert_int_equal(sh("chown -R 12345:12345 %s", repo), 0);
	setenv("GIT_CONFIG_GLOBAL", "/dev/null", 1);
	setenv("GIT_CONFIG_NOSYSTEM", "1", 1);
	cr_error *err = NULL;
	int fd = archive_dir(repo, NULL, NULL, &err);
	unsetenv("GIT_CONFIG_GLOBAL");
	unsetenv("GIT_CONFIG_NOSYSTEM");
	assert_int_equal(fd, -1);
	assert_non_null(strstr(err->msg, "git cannot list"));
	cr_error_free(err);
	rmtree(repo);
}

/* ---- limits ---- */

static void test_archive_limits(void **state)
{
	(void)state;
	char *dir = tmpdir();
	put(dir, "a", "0123456789", 0644);
	put(dir, "b", "0123456789", 0644);
	put(dir, "c/d", "x", 0644);
	cr_error *err = NULL;
	cr_workspace_limits lim = {.max_bytes = 100, .max_entries = 3, .max_file_bytes = 100};
	assert_int_equal(archive_dir(dir, &lim, NULL, &err), -1);
	assert_non_null(strstr(err->msg, "entries"));
	assert_int_equal(err->status, E2BIG);
	cr_error_free(err);
	err = NULL;
	lim = (cr_workspace_limits){.max_bytes = 20, .max_entries = 10, .max_file_bytes = 100};
	assert_int_equal(archive_dir(dir, &lim, NULL, &err), -1);
	assert_non_null(strstr(err->msg, "bytes"));
	cr_error_free(err);
	err = NULL;
	lim = (cr_workspace_limits){.max_bytes = 100, .max_entries = 10, .max_file_bytes = 9};
	assert_int_equal(archive_dir(dir, &lim, NULL, &err), -1);
	assert_non_null(strstr(err->msg, "'a'"));
	cr_error_free(err);
	err = NULL;
	lim = (cr_workspace_limits){.max_bytes = 21, .max_entries = 4, .max_file_bytes = 10};
	int fd = archive_dir(dir, &lim, NULL, &err);
	assert_true(fd >= 0);
	close(fd);
	rmtree(dir);
}

static void test_extract_limits(void **state)
{
	(void)state;
	const tent ents[] = {{"a", AE_IFREG, "0123456789", 0},
			     {"b", AE_IFREG, "0123456789", 0},
			     {"c/d", AE_IFREG, "x", 0}};
	const cr_workspace_limits cases[] = {{100, 2, 100}, {20, 10, 100}, {100, 10, 9}};
	const char *needles[] = {"'c/d': more than 2 entries", "'c/d': total size", "'a': 10 bytes"};
	for (size_t i = 0; i < 3; i++) {
		char *dir = tmpdir();
		int fd = build_tar(ents, 3, 0);
		cr_error *err = NULL;
		assert_int_equal(extract_into(fd, dir, &cases[i], NULL, &err), -1);
		if (!strstr(err->msg, needles[i]))
			fail_msg("'%s' lacks '%s'", err->msg, needles[i]);
		assert_int_equal(err->status, E2BIG);
		cr_error_free(err);
		close(fd);
		rmtree(dir);
	}
	char *dir = tmpdir();
	int fd = build_tar(ents, 3, 1); /* gzip, exactly at the limits */
	cr_workspace_limits lim = {21, 3, 10};
	cr_error *err = NULL;
	if (extract_into(fd, dir, &lim, NULL, &err) < 0)
		fail_msg("%s", err->msg);
	assert_content(dir, "c/d", "x");
	close(fd);
	rmtree(dir);
}

/* ---- hostile archives ---- */

static void test_hostile_names(void **state)
{
	(void)state;
	const tent abs[] = {{"/tmp/cr-ws-abs-evil", AE_IFREG, "x", 0}};
	expect_refused(abs, 1, "'/tmp/cr-ws-abs-evil': absolute name");
	const tent dotdot[] = {{"../cr-ws-evil", AE_IFREG, "x", 0}};
	expect_refused(dotdot, 1, "'../cr-ws-evil': '..' component");
	const tent inner[] = {{"a/", AE_IFDIR, NULL, 0}, {"a/../../cr-ws-evil", AE_IFREG, "x", 0}};
	expect_refused(inner, 2, "'a/../../cr-ws-evil': '..' component");
	const tent ctl[] = {{"bad\x1b[31m/..", AE_IFDIR, NULL, 0}};
	expect_refused(ctl, 1, "'bad\\x1b[31m/../': '..'");
	assert_false(access("/tmp/cr-ws-abs-evil", F_OK) == 0);
	assert_false(access("/tmp/cr-ws-evil", F_OK) == 0);
}

static void test_hostile_types(void **state)
{
	(void)state;
	const tent hard[] = {{"f", AE_IFREG, "x", 0}, {"h", AE_IFREG, "f", 1}};
	expect_refused(hard, 2, "'h': hard links are not allowed");
	const tent chr[] = {{"null", AE_IFCHR, NULL, 0}};
	expect_refused(chr, 1, "'null': character device not allowed");
	const tent fifo[] = {{"p", AE_IFIFO, NULL, 0}};
	expect_refused(fifo, 1, "'p': fifo not allowed");
	const tent blk[] = {{"d/b", AE_IFBLK, NULL, 0}};
	expect_refused(blk, 1, "'d/b': block device not allowed");
	const tent dirfile[] = {{"x/", AE_IFDIR, NULL, 0}, {"x", AE_IFREG, "y", 0}};
	expect_refused(dirfile, 2, "'x': a directory of that name exists");
	const tent filedir[] = {{"x", AE_IFREG, "y", 0}, {"x/", AE_IFDIR, NULL, 0}};
	expect_refused(filedir, 2, "'x/': exists and is not a directory");
}

/* link -> outside, then link/evil: the parent is a symlink, refused, and
 * nothing appears outside. */
static void test_symlink_parent(void **state)
{
	(void)state;
	char *outside = tmpdir(), *dir = tmpdir();
	const tent ents[] = {{"link", AE_IFLNK, outside, 0}, {"link/evil", AE_IFREG, "x", 0}};
	int fd = build_tar(ents, 2, 0);
	cr_error *err = NULL;
	assert_int_equal(extract_into(fd, dir, NULL, NULL, &err), -1);
	if (!strstr(err->msg, "'link/evil': parent 'link' is not a directory"))
		fail_msg("%s", err->msg);
	cr_error_free(err);
	close(fd);
	assert_false(exists(outside, "evil"));
	const tent tmp[] = {{"t", AE_IFLNK, "/tmp", 0}, {"t/cr-ws-evil2", AE_IFREG, "x", 0}};
	expect_refused(tmp, 2, "'t/cr-ws-evil2': parent 't' is not a directory");
	assert_false(access("/tmp/cr-ws-evil2", F_OK) == 0);
	/* Deeper: a directory, then a symlink inside it used as a parent. */
	const tent deep[] = {
		{"d/", AE_IFDIR, NULL, 0}, {"d/l", AE_IFLNK, outside, 0}, {"d/l/x/y", AE_IFREG, "x", 0}};
	expect_refused(deep, 3, "parent 'd/l' is not a directory");
	assert_false(exists(outside, "x"));
	rmtree(outside);
	rmtree(dir);
}

/* A symlink, then a regular file of the same name: the symlink is replaced,
 * its target untouched. */
static void test_symlink_replaced(void **state)
{
	(void)state;
	char *outside = tmpdir(), *dir = tmpdir();
	put(outside, "target", "original\n", 0644);
	char target[4096];
	snprintf(target, sizeof(target), "%s/target", outside);
	const tent ents[] = {{"f", AE_IFLNK, target, 0},
			     {"f", AE_IFREG, "mine\n", 0},
			     {"g", AE_IFREG, "1", 0},
			     {"g", AE_IFLNK, target, 0}};
	int fd = build_tar(ents, 4, 0);
	cr_error *err = NULL;
	if (extract_into(fd, dir, NULL, NULL, &err) < 0)
		fail_msg("%s", err->msg);
	close(fd);
	assert_content(outside, "target", "original\n");
	assert_true(S_ISREG(mode_of(dir, "f")));
	assert_content(dir, "f", "mine\n");
	assert_true(S_ISLNK(mode_of(dir, "g")));
	rmtree(outside);
	rmtree(dir);
}

static void test_root_and_dot_names(void **state)
{
	(void)state;
	char *dir = tmpdir();
	const tent ents[] = {
		{"./", AE_IFDIR, NULL, 0}, {"./a//b/./c", AE_IFREG, "c", 0}, {"a/", AE_IFDIR, NULL, 0}};
	int fd = build_tar(ents, 3, 0);
	cr_error *err = NULL;
	if (extract_into(fd, dir, NULL, NULL, &err) < 0)
		fail_msg("%s", err->msg);
	close(fd);
	assert_content(dir, "a/b/c", "c");
	rmtree(dir);
	const tent empty[] = {{".", AE_IFREG, "x", 0}};
	expect_refused(empty, 1, "empty name");
	/* Not a tar at all. */
	dir = tmpdir();
	fd = memfd();
	assert_int_equal(write(fd, "hello world", 11), 11);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	assert_int_equal(extract_into(fd, dir, NULL, NULL, &err), -1);
	cr_error_free(err);
	close(fd);
	rmtree(dir);
}

/* ---- reading files back ---- */

static void test_read_file(void **state)
{
	(void)state;
	char *dir = tmpdir(), *outside = tmpdir();
	put(dir, "f", "hello", 0644);
	put(dir, "sub/g", "inner", 0644);
	put(outside, "secret", "no", 0644);
	char p[4096], t[4096];
	snprintf(p, sizeof(p), "%s/esc", dir);
	snprintf(t, sizeof(t), "%s/secret", outside);
	assert_int_equal(symlink(t, p), 0);
	snprintf(p, sizeof(p), "%s/rel-esc", dir);
	assert_int_equal(symlink("../../../../../../etc/passwd", p), 0);
	snprintf(p, sizeof(p), "%s/in", dir);
	assert_int_equal(symlink("sub/g", p), 0);
	snprintf(p, sizeof(p), "%s/fifo", dir);
	assert_int_equal(mkfifo(p, 0600), 0);
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int out = memfd();
	cr_error *err = NULL;
	assert_int_equal(cr_workspace_read_file(dfd, "f", 5, out, &err), 0);
	assert_int_equal(cr_workspace_read_file(dfd, "in", 5, out, &err), 0);
	char buf[16] = {0};
	assert_int_equal(pread(out, buf, sizeof(buf) - 1, 0), 10);
	assert_string_equal(buf, "helloinner");
	struct {
		const char *path;
		int status;
		const char *needle;
	} bad[] = {{"f", E2BIG, "more than 4"},      {"esc", EXDEV, "outside"},
		   {"rel-esc", EXDEV, "outside"},    {"../x", EXDEV, "outside"},
		   {"sub", 0, "not a regular file"}, {"fifo", 0, "not a regular file"},
		   {"missing", ENOENT, "'missing'"}};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(cr_workspace_read_file(dfd, bad[i].path, 4, out, &err), -1);
		if (err->status != bad[i].status || !strstr(err->msg, bad[i].needle))
			fail_msg("%s: %d %s", bad[i].path, err->status, err->msg);
		cr_error_free(err);
		err = NULL;
	}
	close(out);
	close(dfd);
	rmtree(dir);
	rmtree(outside);
}

/* The hidden commands, with stdin / stdout redirected. */
static void test_commands(void **state)
{
	(void)state;
	char *dir = tmpdir();
	const tent ents[] = {{"x/y", AE_IFREG, "payload", 0}};
	int in = build_tar(ents, 1, 1);
	int saved_in = dup(0);
	assert_int_equal(dup2(in, 0), 0);
	char *argv[] = {"__extract", dir, NULL};
	int rc = cmd_extract(2, argv);
	assert_int_equal(dup2(saved_in, 0), 0);
	close(saved_in);
	close(in);
	assert_int_equal(rc, 0);
	assert_content(dir, "x/y", "payload");

	char path[4096];
	snprintf(path, sizeof(path), "%s/x/y", dir);
	int out = memfd();
	fflush(stdout);
	int saved_out = dup(1);
	assert_int_equal(dup2(out, 1), 1);
	char *rargv[] = {"__read-file", path, "7", NULL};
	rc = cmd_read_file(3, rargv);
	char *big[] = {"__read-file", path, "6", NULL};
	int rc_big = cmd_read_file(3, big);
	char *usage[] = {"__read-file", "relative", "7", NULL};
	int rc_usage = cmd_read_file(3, usage);
	char *neg[] = {"__read-file", path, "-1", NULL};
	int rc_neg = cmd_read_file(3, neg);
	assert_int_equal(dup2(saved_out, 1), 1);
	close(saved_out);
	assert_int_equal(rc, 0);
	assert_int_equal(rc_big, 1);
	assert_int_equal(rc_usage, 1);
	assert_int_equal(rc_neg, 1);
	char buf[16] = {0};
	assert_int_equal(pread(out, buf, sizeof(buf) - 1, 0), 7);
	assert_string_equal(buf, "payload");
	close(out);
	char *bad[] = {"__extract", "/nonexistent/cr-ws", NULL};
	assert_int_equal(cmd_extract(2, bad), 1);
	rmtree(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_git_round_trip),
		cmocka_unit_test(test_round_trip_modify_download),
		cmocka_unit_test(test_git_subdirectory_and_nested),
		cmocka_unit_test(test_deterministic),
		cmocka_unit_test(test_gnu_tar_utf8),
		cmocka_unit_test(test_plain_dir),
		cmocka_unit_test(test_git_refuses),
		cmocka_unit_test(test_archive_limits),
		cmocka_unit_test(test_extract_limits),
		cmocka_unit_test(test_hostile_names),
		cmocka_unit_test(test_hostile_types),
		cmocka_unit_test(test_symlink_parent),
		cmocka_unit_test(test_symlink_replaced),
		cmocka_unit_test(test_root_and_dot_names),
		cmocka_unit_test(test_read_file),
		cmocka_unit_test(test_commands),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
