/* SPDX-License-Identifier: Apache-2.0 */
/* policy.h -- the policy model and its life cycle (spec §5).
 *
 * One typed model serves every stage: cr_policy_from_yaml() reads a
 * repository's cleanroom.yaml (strict schema, every problem reported with
 * file:line:column), cr_policy_load_lockfiles() adds the artifact allowlist
 * of §6.6, cr_policy_compile() produces the canonical CompiledPolicy JSON of
 * §5.5 with its policy_hash, and cr_policy_from_compiled() reads that JSON
 * back, re-validating every field and verifying the hash. Matching
 * (match.h) works on the same model, so the client's `policy explain` and
 * the gateway decide identically. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lockfile/lockfile.h"
#include "policy/host.h"
#include "util/diag.h"
#include "util/error.h"
#include "util/sha256.h"

#define CR_POLICY_VERSION             1
#define CR_POLICY_DEFAULT_TTL_MINUTES 60
#define CR_SECRET_DEFAULT_TTL_SECONDS 900
/* Compiled policies can carry large artifact allowlists. */
#define CR_COMPILED_POLICY_MAX_BYTES (128u << 20)

typedef enum cr_action { CR_ACTION_DENY = 0, CR_ACTION_ALLOW = 1 } cr_action;

typedef struct cr_net_rule {
	cr_host_pattern host;
	uint16_t *ports; /* sorted, unique; n_ports == 0 means every port (deny rules only) */
	size_t n_ports;
	char *reason;       /* "" when none */
	char *origin;       /* where it was written: "sandbox.network.allow[2]" or "network.allow_rules[0]" */
	unsigned line, col; /* source position, 0 when read from a compiled policy */
	/* allow rules only: git push (receive-pack) to this host through the
	 * gateway's git front is permitted (cr_policy_check_git_push holds) */
	bool git_push;
} cr_net_rule;

typedef enum cr_lock_mode { CR_LOCK_DENY_UNKNOWN, CR_LOCK_WARN, CR_LOCK_OFF } cr_lock_mode;

typedef struct cr_lockfile_input {
	char *path;                         /* repository-relative */
	char *format;                       /* cr_lockfile_format.name, "" until loaded */
	char sha256[CR_SHA256_HEX_LEN + 1]; /* digest of the file as read, "" until loaded */
} cr_lockfile_input;

typedef struct cr_registry {
	char *manager; /* "npm", "pip" */
	bool enabled;
	cr_host_pattern *allowed_hosts;
	size_t n_allowed_hosts;
	char *cache_ref;
	cr_action fallback;
	bool lock_enabled;
	cr_lock_mode lock_mode;
	cr_lockfile_input *lockfiles;
	size_t n_lockfiles;
	cr_artifact_list artifacts; /* the artifact_allowlist */
	unsigned line;
} cr_registry;

typedef struct cr_secret_binding {
	char *secret_id;
	char *target; /* "secret-proxy" or "content-cache" */
	cr_host_pattern *allowed_hosts;
	size_t n_allowed_hosts;
	long long ttl_seconds;
	bool single_use;
	unsigned line;
} cr_secret_binding;

typedef struct cr_resources {
	long long millicpus, memory_bytes, pids, disk_bytes; /* 0 = no limit set */
} cr_resources;

typedef struct cr_policy {
	int version;
	struct {
		char *repository, *commit_sha, *policy_path; /* "" when unknown */
	} source;
	char *project_name; /* "" when unset */
	long long ttl_minutes;
	struct {
		bool enabled, auto_bootstrap;
		char **config_files;
		size_t n_config_files;
	} mise;
	char *image_ref; /* "" = the host's read-only system image */
	cr_resources resources;
	struct {
		cr_action default_action;
		cr_net_rule *allow, *deny;
		size_t n_allow, n_deny;
	} network;
	cr_registry *registries; /* sorted by manager */
	size_t n_registries;
	cr_secret_binding *secrets; /* sorted by secret_id */
	size_t n_secrets;
	json_t *metadata;                        /* an object, never NULL */
	char policy_hash[CR_SHA256_HEX_LEN + 1]; /* "" until compiled */
} cr_policy;

/* Allocates an empty policy with the defaults of docs/policy.md. */
cr_policy *cr_policy_new(void);
void cr_policy_free(cr_policy *p);
static inline void cr_policy_freep(cr_policy **p)
{
	cr_policy_free(*p);
}
#define cleanup_policy __attribute__((cleanup(cr_policy_freep)))

/* Parses and validates policy YAML. Every problem is added to diags; returns
 * 0 with *out set when there was no error (warnings allowed), else -1. The
 * result is normalised (cr_policy_normalize) but has no lockfile data yet. */
int cr_policy_from_yaml(const char *text, size_t len, const char *file, cr_policy **out, cr_diags *diags);

/* Sorts and de-duplicates rules, hosts and bindings, merges rules for the same
 * host (ports united) and reports contradictions (policy_conflict) to diags.
 * `file` is used for positions. Returns -1 when a conflict was found. */
int cr_policy_normalize(cr_policy *p, const char *file, cr_diags *diags);

/* Reads and parses, relative to repo_dirfd, every lockfile of every registry
 * whose lockfile enforcement is enabled, filling lockfiles[].sha256/format and
 * the artifact allowlist. Missing, oversized or unparseable lockfiles are
 * errors (policy_invalid) naming file and line. Returns -1 on any error. */
int cr_policy_load_lockfiles(cr_policy *p, int repo_dirfd, const char *policy_file, cr_diags *diags);

/* Returns the CompiledPolicy as a new JSON object (policy_hash as stored). */
json_t *cr_policy_to_json(const cr_policy *p);

/* Computes policy_hash (SHA-256 of the canonical encoding with policy_hash
 * set to "") and stores it in p; returns the canonical encoding including the
 * hash as a new string (length in *len). NULL with *err on failure. */
char *cr_policy_compile(cr_policy *p, size_t *len, cr_error **err);

/* Reads a CompiledPolicy (JSON text), re-validating every field with the same
 * rules as the YAML loader and verifying policy_hash. Problems go to diags
 * (path = the JSON key path); returns 0 with *out set, or -1. */
int cr_policy_from_compiled(const char *text, size_t len, cr_policy **out, cr_diags *diags);

const char *cr_action_name(cr_action a);
const char *cr_lock_mode_name(cr_lock_mode m);
/* Returns 0 and sets *out for "deny_unknown" | "warn" | "off", else -1. */
int cr_lock_mode_from_name(const char *s, cr_lock_mode *out);

/* The managers this build understands, NULL-terminated ("npm", "pip"). */
extern const char *const cr_policy_managers[];
bool cr_policy_manager_known(const char *manager);
/* Secret targets accepted in policies, NULL-terminated. */
extern const char *const cr_secret_targets[];

/* Shared field validators, used by the YAML and the compiled-policy readers. */
/* A repository-relative path: non-empty, not absolute, no ".." component, no
 * NUL or backslash, at most 4096 bytes. Returns NULL or an owned message. */
char *cr_policy_check_relpath(const char *path);
/* An OCI reference pinned by digest: [registry/]name[:tag]@sha256:<64 hex>. */
char *cr_policy_check_image_ref(const char *ref, char **hint);
/* A secret id: 1-128 of [A-Za-z0-9_.-]. */
char *cr_policy_check_secret_id(const char *id);
/* An allow rule with git_push: its host must be an exact name (git's upstream
 * is https://<name>/, and a push permission names one host) and its ports must
 * include 443. NULL when r is fine (or has no git_push), else an owned message;
 * *hint gets an owned fix hint or NULL. */
char *cr_policy_check_git_push(const cr_net_rule *r, char **hint);
