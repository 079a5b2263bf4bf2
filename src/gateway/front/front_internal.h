/* SPDX-License-Identifier: Apache-2.0 */
/* front_internal.h -- what front.c, registry.c and credentials.c share: the
 * front's state (gw->front). */
#pragma once

#include "gateway/front/front.h"
#include "gateway/upstream/fetch.h"

struct evhttp;
typedef struct front_call front_call;
typedef struct front_versions front_versions; /* registry.c: allowed versions by package */

struct cr_front {
	cr_gateway *gw;
	struct evhttp *http;
	int listen_fd; /* until evhttp takes it */
	cr_cache *cache;
	cr_fetcher *fetcher;
	cr_upstream *upstream;
	char base_url[32]; /* "http://<gateway address>" */
	front_call *calls;
	size_t n_calls;
	cr_front_cred *creds; /* credentials.c; strings owned */
	size_t n_creds;
	front_versions *versions; /* registry.c; built on first use */
};

cr_front *cr_front_of(const cr_gateway *gw);

/* credentials.c: reads the JSON document {"git": [{"host", "prefix",
 * "username", "password"}]} from fd to EOF (fd -1: none) and closes it.
 * Problems never quote a value. */
int cr_front_credentials_load(cr_front *f, int fd, cr_error **err);
void cr_front_credentials_free(cr_front *f);

/* registry.c */
void cr_front_registry_free(cr_front *f);
