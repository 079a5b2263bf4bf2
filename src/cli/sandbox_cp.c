/* SPDX-License-Identifier: Apache-2.0 */
/* sandbox_cp.c -- `cleanroom sandbox cp`: one file out of a sandbox's
 * workspace (DownloadSandboxFile; "-" writes it to stdout), or a local file
 * or directory into it (UploadSandboxFiles, as a tar made here with
 * libarchive; the server's extraction refuses unsafe entries). Paths inside
 * the sandbox are relative to /workspace; a leading "/workspace/" is
 * accepted and dropped. */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanroom/v1/sandbox.pb-c.h"
#include "cli/cli.h"
#include "cli/remote.h"
#include "cli/sandbox_cp.h"
#include "util/cleanup.h"
#include "util/fileio.h"
#include "util/xalloc.h"

#define CMD   "cleanroom sandbox cp"
#define USAGE CMD " ID:PATH LOCAL|-  |  " CMD " LOCAL ID:DIR  [--host ENDPOINT] [--json]"

/* The part of a path after its last '/' ("" for "/" and "a/"). */
static const char *last_component(const char *path)
{
	const char *slash = strrchr(path, '/');
	return slash ? slash + 1 : path;
}

/* ---- the archive ---- */

static la_ssize_t append_cb(struct archive *a, void *ctx, const void *data, size_t len)
{
	if (cr_buf_append(ctx, data, len) < 0) {
		archive_set_error(a, E2BIG, "the archive exceeds %zu bytes", ((cr_buf *)ctx)->limit);
		return -1;
	}
	return (la_ssize_t)len;
}

static int la_fail(struct archive *a, const char *what, const char *local, cr_error **err)
{
	int e = archive_errno(a);
	return cr_error_make(err, 0, e == E2BIG ? CR_REASON_USAGE_INVALID : CR_REASON_INTERNAL, "%s '%s': %s",
			     what, local,
			     archive_error_string(a) ? archive_error_string(a) : "libarchive error");
}

static int copy_data(struct archive *disk, struct archive *w, const char *local, cr_error **err)
{
	const void *block;
	size_t size;
	la_int64_t offset;
	int r;
	while ((r = archive_read_data_block(disk, &block, &size, &offset)) == ARCHIVE_OK)
		if (archive_write_data(w, block, size) < 0)
			return la_fail(w, "archive", local, err);
	return r == ARCHIVE_EOF ? 0 : la_fail(disk, "read", local, err);
}

/* Renames one entry from its path on disk ("<root>/a/b") to "<base>/a/b". */
static void rename_entry(struct archive_entry *e, const char *root, const char *base)
{
	const char *p = archive_entry_pathname(e);
	size_t rl = strlen(root);
	const char *rest = p && strncmp(p, root, rl) == 0 ? p + rl : "";
	cleanup_free char *name = cr_asprintf("%s%s", base, rest);
	archive_entry_copy_pathname(e, name);
	archive_entry_set_uid(e, 0);
	archive_entry_set_gid(e, 0);
	archive_entry_set_uname(e, NULL);
	archive_entry_set_gname(e, NULL);
}

static int walk(struct archive *disk, struct archive *w, const char *root, const char *base, size_t *skipped,
		cr_error **err)
{
	struct archive_entry *e = archive_entry_new();
	int r, rc = 0;
	while (rc == 0 && (r = archive_read_next_header2(disk, e)) != ARCHIVE_EOF) {
		if (r < ARCHIVE_WARN) {
			rc = la_fail(disk, "read", root, err);
			break;
		}
		mode_t type = archive_entry_filetype(e);
		if (type == AE_IFDIR)
			archive_read_disk_descend(disk);
		if (type != AE_IFDIR && type != AE_IFREG && type != AE_IFLNK) {
			fprintf(stderr, "%s: skipping '%s': not a file, directory or symbolic link\n", CMD,
				archive_entry_pathname(e));
			(*skipped)++;
			continue;
		}
		rename_entry(e, root, base);
		if (archive_write_header(w, e) < ARCHIVE_WARN)
			rc = la_fail(w, "archive", root, err);
		else if (type == AE_IFREG && archive_entry_size(e) > 0)
			rc = copy_data(disk, w, root, err);
	}
	archive_entry_free(e);
	return rc;
}

int cr_cp_archive(const char *local, cr_buf *out, size_t *skipped, cr_error **err)
{
	cleanup_free char *root = cr_xstrdup(local);
	for (size_t l = strlen(root); l > 1 && root[l - 1] == '/'; l--)
		root[l - 1] = '\0';
	cleanup_free char *resolved = realpath(root, NULL);
	if (!resolved)
		return cr_error_make(err, errno, CR_REASON_USAGE_INVALID, "'%s'", local);
	/* the link's own name for a symbolic link; the real name for "." or ".." */
	cleanup_free char *base = cr_xstrdup(last_component(root));
	if (strcmp(base, ".") == 0 || strcmp(base, "..") == 0 || !*base) {
		free(base);
		base = cr_xstrdup(last_component(resolved));
	}
	if (!*base)
		return cr_error_make(err, 0, CR_REASON_USAGE_INVALID,
				     "'%s': refusing to copy the root directory", local);
	*skipped = 0;
	struct archive *w = archive_write_new();
	struct archive *disk = archive_read_disk_new();
	archive_write_set_format_pax_restricted(w);
	archive_write_set_bytes_in_last_block(w, 1);
	archive_read_disk_set_symlink_physical(disk);
	archive_read_disk_set_behavior(disk, ARCHIVE_READDISK_NO_XATTR | ARCHIVE_READDISK_NO_ACL |
						     ARCHIVE_READDISK_NO_FFLAGS);
	int rc;
	if (archive_write_open2(w, out, NULL, append_cb, NULL, NULL) != ARCHIVE_OK)
		rc = la_fail(w, "archive", local, err);
	else if (archive_read_disk_open(disk, root) != ARCHIVE_OK)
		rc = la_fail(disk, "open", local, err);
	else
		rc = walk(disk, w, root, base, skipped, err);
	if (archive_write_close(w) != ARCHIVE_OK && rc == 0)
		rc = la_fail(w, "archive", local, err);
	archive_read_free(disk);
	archive_write_free(w);
	return rc;
}

/* ---- arguments ---- */

/* "ID:PATH" -> id, path (owned), when the part before the first ':' looks
 * like a sandbox id ([a-z0-9-]{1,64}); otherwise a local path. */
static bool split_remote(const char *arg, char **id, char **path)
{
	const char *colon = strchr(arg, ':');
	if (!colon || colon == arg || colon - arg > 64 ||
	    strspn(arg, "abcdefghijklmnopqrstuvwxyz0123456789-") != (size_t)(colon - arg))
		return false;
	const char *p = colon + 1;
	if (strcmp(p, "/workspace") == 0)
		p = "";
	else if (strncmp(p, "/workspace/", 11) == 0)
		p += 11;
	*id = cr_xstrndup(arg, (size_t)(colon - arg));
	*path = cr_xstrdup(p);
	return true;
}

/* ---- download ---- */

static int write_local(const char *local, const char *remote_path, const ProtobufCBinaryData *data)
{
	if (strcmp(local, "-") == 0) {
		if (cr_write_all(STDOUT_FILENO, data->data, data->len) < 0)
			return fprintf(stderr, "%s: error[internal]: write stdout: %s\n", CMD,
				       strerror(errno)),
			       -1;
		return 0;
	}
	struct stat st;
	cleanup_free char *target = stat(local, &st) == 0 && S_ISDIR(st.st_mode)
					    ? cr_asprintf("%s/%s", local, last_component(remote_path))
					    : cr_xstrdup(local);
	int fd = open(target, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
	int bad = fd < 0 || cr_write_all(fd, data->data, data->len) < 0;
	bad |= fd >= 0 && close(fd) < 0;
	if (bad) {
		cleanup_free char *msg = cr_asprintf("write '%s': %s", target, strerror(errno));
		cr_cli_print_error(CMD, "internal", msg, NULL);
		return -1;
	}
	return 0;
}

static int download(cr_remote *r, const char *id, const char *path, const char *local)
{
	Cleanroom__V1__DownloadSandboxFileRequest req = CLEANROOM__V1__DOWNLOAD_SANDBOX_FILE_REQUEST__INIT;
	req.sandbox_id = (char *)id;
	req.path = (char *)path;
	ProtobufCMessage *resp = NULL;
	if (cr_remote_unary(r, CR_SANDBOX_SERVICE, "DownloadSandboxFile", &req.base,
			    &cleanroom__v1__download_sandbox_file_response__descriptor, &resp) < 0)
		return CR_EXIT_FAIL;
	Cleanroom__V1__DownloadSandboxFileResponse *d = (void *)resp;
	int rc = write_local(local, path, &d->data) == 0 ? CR_EXIT_OK : CR_EXIT_FAIL;
	if (rc == CR_EXIT_OK && r->opts.json) {
		/* the summary, not the content again */
		free(d->data.data);
		d->data = (ProtobufCBinaryData){0};
		rc = cr_cli_print_json(CMD, resp) == 0 ? CR_EXIT_OK : CR_EXIT_FAIL;
	} else if (rc == CR_EXIT_OK && strcmp(local, "-") != 0) {
		char size[32];
		cr_fmt_bytes(size, sizeof(size), d->data.len);
		printf("copied %s:%s to %s (%s)\n", id, path, local, size);
	}
	protobuf_c_message_free_unpacked(resp, NULL);
	return rc;
}

/* ---- upload ---- */

static int upload(cr_remote *r, const char *local, const char *id, const char *dest)
{
	cleanup_buf cr_buf tar;
	cr_buf_init(&tar, CR_CP_MAX_ARCHIVE);
	cleanup_error cr_error *err = NULL;
	size_t skipped = 0;
	if (cr_cp_archive(local, &tar, &skipped, &err) < 0) {
		cr_cli_print_error(CMD, cr_reason_name(err->reason), err->msg,
				   err->reason == CR_REASON_USAGE_INVALID && strstr(err->msg, "exceeds")
					   ? "copy fewer files at a time, or pack and copy an archive"
					   : NULL);
		return CR_EXIT_FAIL;
	}
	Cleanroom__V1__UploadSandboxFilesRequest req = CLEANROOM__V1__UPLOAD_SANDBOX_FILES_REQUEST__INIT;
	req.sandbox_id = (char *)id;
	req.dest_path = (char *)dest;
	req.archive = (ProtobufCBinaryData){.data = (uint8_t *)tar.data, .len = tar.len};
	ProtobufCMessage *resp = NULL;
	if (cr_remote_unary(r, CR_SANDBOX_SERVICE, "UploadSandboxFiles", &req.base,
			    &cleanroom__v1__upload_sandbox_files_response__descriptor, &resp) < 0)
		return CR_EXIT_FAIL;
	const Cleanroom__V1__UploadSandboxFilesResponse *u = (const void *)resp;
	int rc = CR_EXIT_OK;
	if (r->opts.json) {
		rc = cr_cli_print_json(CMD, resp) == 0 ? CR_EXIT_OK : CR_EXIT_FAIL;
	} else {
		char size[32];
		cr_fmt_bytes(size, sizeof(size), u->bytes_written);
		printf("copied %s to %s:/workspace/%s (%llu entries, %s)\n", local, id, dest,
		       (unsigned long long)u->files_written, size);
	}
	protobuf_c_message_free_unpacked(resp, NULL);
	return rc;
}

int cmd_sandbox_cp(int argc, char **argv)
{
	cr_cli_opts o = {0};
	int first = cr_cli_parse_opts(argc, argv, CMD, USAGE, &o, NULL, NULL, NULL);
	if (first < 0)
		return cr_cli_parse_exit(first);
	if (argc - first != 2)
		return cr_cli_usage_error(CMD, "expected a source and a destination");
	cleanup_free char *src_id = NULL, *src_path = NULL, *dst_id = NULL, *dst_path = NULL;
	bool src_remote = split_remote(argv[first], &src_id, &src_path);
	bool dst_remote = split_remote(argv[first + 1], &dst_id, &dst_path);
	if (src_remote == dst_remote)
		return cr_cli_usage_error(CMD, "exactly one of source and destination must be ID:PATH");
	if (src_remote && o.json && strcmp(argv[first + 1], "-") == 0)
		return cr_cli_usage_error(CMD,
					  "--json cannot be combined with '-' (the file goes to stdout)");
	cr_remote r;
	if (cr_remote_open(&r, CMD, &o) < 0)
		return CR_EXIT_FAIL;
	r.not_found_hint = "`cleanroom sandbox ls` lists the sandboxes; paths are relative to /workspace";
	int rc = src_remote ? download(&r, src_id, src_path, argv[first + 1])
			    : upload(&r, argv[first], dst_id, dst_path);
	cr_remote_close(&r);
	return rc;
}
