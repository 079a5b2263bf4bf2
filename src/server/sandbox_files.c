/* SPDX-License-Identifier: Apache-2.0 */
/* sandbox_files.c -- SandboxService.UploadSandboxFiles and
 * DownloadSandboxFile. The archive travels in the request (capped by the
 * HTTP body cap) and is unpacked inside the sandbox by the backend, as the
 * workload user, never parsed on the host; a download is read inside the
 * sandbox too, beneath /workspace, and capped. Both are bounded blocking
 * calls to the sandbox's agent; frames of running executions that arrive
 * meanwhile are queued and the pump is kicked afterwards. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanroom/v1/sandbox.pb-c.h"
#include "server/http.h"
#include "server/server.h"
#include "util/cleanup.h"
#include "util/fileio.h"
#include "util/xalloc.h"

#define DOWNLOAD_DEFAULT_MAX (16u << 20)
#define DOWNLOAD_HARD_MAX    (CR_HTTP_MAX_BODY_BYTES - 4096u)

/* A relative path inside the workspace: no leading '/', no "..", no NUL. */
static int workspace_path(const char *rel, bool allow_empty, char **out, cr_error **err)
{
	rel = rel ? rel : "";
	if (!*rel && !allow_empty)
		return cr_error_make(err, 0, CR_REASON_USAGE_INVALID, "path is empty");
	if (rel[0] == '/')
		return cr_error_make(err, 0, CR_REASON_USAGE_INVALID,
				     "path '%s' must be relative to the workspace", rel);
	for (const char *p = rel; *p;) {
		size_t n = strcspn(p, "/");
		if (n == 2 && p[0] == '.' && p[1] == '.')
			return cr_error_make(err, 0, CR_REASON_USAGE_INVALID,
					     "path '%s' leaves the workspace", rel);
		p += n + (p[n] == '/');
	}
	*out = *rel ? cr_asprintf("/workspace/%s", rel) : cr_xstrdup("/workspace");
	return 0;
}

int cr_sandbox_upload(cr_server *srv, const cr_api_call *call, const ProtobufCMessage *in,
		      ProtobufCMessage **out, cr_error **err)
{
	(void)call;
	const Cleanroom__V1__UploadSandboxFilesRequest *req = (const void *)in;
	cr_live_sandbox *l = NULL;
	cleanup_free char *dest = NULL;
	if (cr_server_running_sandbox(srv, req->sandbox_id, &l, err) < 0 ||
	    workspace_path(req->dest_path, true, &dest, err) < 0)
		return -1;
	cleanup_close int fd = memfd_create("upload", MFD_CLOEXEC);
	if (fd < 0 || cr_write_all(fd, req->archive.data, req->archive.len) < 0 || lseek(fd, 0, SEEK_SET) < 0)
		return cr_error_make(err, errno, CR_REASON_INTERNAL, "stage the archive");
	cr_workspace_stats st = {0};
	int rc = l->backend->upload_archive(l->sb, fd, dest, &st, err);
	cr_pump_kick(l);
	if (rc < 0)
		return -1;
	Cleanroom__V1__UploadSandboxFilesResponse *r = cr_xmalloc(sizeof(*r));
	cleanroom__v1__upload_sandbox_files_response__init(r);
	r->sandbox_id = cr_xstrdup(l->id);
	r->dest_path = cr_xstrdup(dest);
	r->files_written = st.files + st.dirs + st.symlinks;
	r->bytes_written = st.bytes;
	*out = &r->base;
	return 0;
}

static int read_back(int fd, ProtobufCBinaryData *data, cr_error **err)
{
	struct stat sb;
	if (fstat(fd, &sb) < 0)
		return cr_error_make(err, errno, CR_REASON_INTERNAL, "stat the download");
	data->len = (size_t)sb.st_size;
	data->data = cr_xmalloc(data->len ? data->len : 1);
	if (data->len && pread(fd, data->data, data->len, 0) != (ssize_t)data->len)
		return cr_error_make(err, errno, CR_REASON_INTERNAL, "read the download back");
	return 0;
}

int cr_sandbox_download(cr_server *srv, const cr_api_call *call, const ProtobufCMessage *in,
			ProtobufCMessage **out, cr_error **err)
{
	(void)call;
	const Cleanroom__V1__DownloadSandboxFileRequest *req = (const void *)in;
	cr_live_sandbox *l = NULL;
	cleanup_free char *path = NULL;
	if (cr_server_running_sandbox(srv, req->sandbox_id, &l, err) < 0 ||
	    workspace_path(req->path, false, &path, err) < 0)
		return -1;
	uint64_t max = req->max_bytes > 0 ? (uint64_t)req->max_bytes : DOWNLOAD_DEFAULT_MAX;
	if (max > DOWNLOAD_HARD_MAX)
		max = DOWNLOAD_HARD_MAX;
	cleanup_close int fd = memfd_create("download", MFD_CLOEXEC);
	if (fd < 0)
		return cr_error_make(err, errno, CR_REASON_INTERNAL, "stage the download");
	int rc = l->backend->download_file(l->sb, path, max, fd, err);
	cr_pump_kick(l);
	if (rc < 0)
		return -1;
	Cleanroom__V1__DownloadSandboxFileResponse *r = cr_xmalloc(sizeof(*r));
	cleanroom__v1__download_sandbox_file_response__init(r);
	if (read_back(fd, &r->data, err) < 0) {
		protobuf_c_message_free_unpacked(&r->base, NULL);
		return -1;
	}
	r->sandbox_id = cr_xstrdup(l->id);
	r->path = cr_xstrdup(req->path);
	r->size_bytes = (int64_t)r->data.len;
	*out = &r->base;
	return 0;
}
