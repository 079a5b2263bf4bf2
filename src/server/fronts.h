/* SPDX-License-Identifier: Apache-2.0 */
/* fronts.h -- the server's side of the registry and git fronts (DESIGN.md
 * §7, issue 7): the content cache directory the gateways share, offline
 * mode, the CA bundle upstream TLS is verified against, the git credentials
 * template, and what a sandbox's executions are told (npm, pip and git
 * pointed at their gateway). */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "net/pool.h"
#include "policy/policy.h"
#include "util/error.h"

struct cr_server;

typedef struct cr_fronts_options {
	const char *cache_dir;       /* NULL = <state-dir>/cache */
	uint64_t cache_max_bytes;    /* 0 = the cache's default */
	bool offline;                /* --offline */
	const char *upstream_cacert; /* PEM file, NULL = the system store */
	const char *credentials;     /* --git-credentials FILE (JSON template), or NULL */
} cr_fronts_options;

/* One credentials template entry: values come from the server's environment
 * or a file when a gateway starts, never from the template itself. */
typedef struct cr_fronts_cred {
	char *host, *prefix, *username;
	char *password_env; /* or */
	char *password_file;
} cr_fronts_cred;

typedef struct cr_fronts {
	char *cache_dir; /* absolute; owned by the gateways' user, mode 0700 */
	uint64_t cache_max_bytes;
	bool offline;
	char *upstream_cacert; /* absolute path, or NULL */
	cr_fronts_cred *creds;
	size_t n_creds;
} cr_fronts;

/* Validates the options, creates the cache directory (owned by uid:gid,
 * mode 0700; an existing one is chowned) and reads the credentials template.
 * Returns 0, or -1 with *err (usage_invalid for bad options, naming the file
 * and entry). */
int cr_fronts_init(cr_fronts *f, const cr_fronts_options *o, const char *state_dir, uid_t uid, gid_t gid,
		   cr_error **err);
void cr_fronts_free(cr_fronts *f);

/* Resolves the credentials template now and returns a sealed memfd holding
 * the JSON the gateway reads (front/credentials.c), positioned at 0; -2 when
 * there are no credentials. An entry whose variable or file is missing is
 * left out with a warning on stderr (naming the variable or file, never a
 * value). -1 with *err on failure. */
int cr_fronts_credentials_fd(const cr_fronts *f, cr_error **err);

/* The environment a sandbox's executions get for the fronts (npm, yarn, pip,
 * git), appended to *env (NULL-terminated, grown with realloc; entries
 * owned by the caller): gateway = the sandbox's gateway address. */
void cr_fronts_env(const cr_policy *p, struct in_addr gateway, char ***env, size_t *n);
