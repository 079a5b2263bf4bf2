/* SPDX-License-Identifier: Apache-2.0 */
/* schema.c -- the cleanroom.yaml schema: document root, project, sandbox and
 * metadata, and cr_policy_from_yaml() which runs the whole read. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "policy/schema.h"
#include "util/cleanup.h"
#include "util/xalloc.h"

static void read_version(struct cr_walk *w, const cr_ynode *v, void *obj)
{
	cr_policy *p = obj;
	long long ver;
	if (v->type == CR_Y_SCALAR && cr_yscalar_int(v, 1, 1, &ver) < 0) {
		cr_walk_error(w, v, CR_REASON_POLICY_INVALID, "this cleanroom reads version: 1",
			      "unsupported policy version %s", v->value);
		return;
	}
	if (cr_walk_int(w, v, 1, 1, &ver))
		p->version = (int)ver;
}

static void read_project_name(struct cr_walk *w, const cr_ynode *v, void *obj)
{
	cr_policy *p = obj;
	const char *s;
	if (!cr_walk_string(w, v, &s))
		return;
	if (strlen(s) > 200) {
		cr_walk_error(w, v, CR_REASON_POLICY_INVALID, NULL,
			      "project name is longer than 200 characters");
		return;
	}
	free(p->project_name);
	p->project_name = cr_xstrdup(s);
}

static const struct cr_walk_field project_fields[] = {
	{"name", read_project_name, false},
	{NULL, NULL, false},
};

static void read_project(struct cr_walk *w, const cr_ynode *v, void *obj)
{
	cr_walk_map(w, v, project_fields, obj);
}

static void read_ttl(struct cr_walk *w, const cr_ynode *v, void *obj)
{
	cr_policy *p = obj;
	cr_walk_int(w, v, 1, 10080, &p->ttl_minutes);
}

static void read_mise_enabled(struct cr_walk *w, const cr_ynode *v, void *obj)
{
	cr_walk_bool(w, v, &((cr_policy *)obj)->mise.enabled);
}

static void read_mise_bootstrap(struct cr_walk *w, const cr_ynode *v, void *obj)
{
	cr_walk_bool(w, v, &((cr_policy *)obj)->mise.auto_bootstrap);
}

static void read_mise_file(struct cr_walk *w, const cr_ynode *v, size_t i, void *obj)
{
	(void)i;
	cr_policy *p = obj;
	const char *s;
	if (!cr_walk_string(w, v, &s))
		return;
	cleanup_free char *why = cr_policy_check_relpath(s);
	if (why) {
		cr_walk_error(w, v, CR_REASON_POLICY_INVALID, NULL, "%s", why);
		return;
	}
	p->mise.config_files =
		cr_xrealloc(p->mise.config_files, (p->mise.n_config_files + 1) * sizeof(char *));
	p->mise.config_files[p->mise.n_config_files++] = cr_xstrdup(s);
}

static void read_mise_files(struct cr_walk *w, const cr_ynode *v, void *obj)
{
	cr_walk_seq(w, v, read_mise_file, obj);
}

static const struct cr_walk_field mise_fields[] = {
	{"enabled", read_mise_enabled, false},
	{"auto_bootstrap", read_mise_bootstrap, false},
	{"config_files", read_mise_files, false},
	{NULL, NULL, false},
};

static void read_mise(struct cr_walk *w, const cr_ynode *v, void *obj)
{
	cr_walk_map(w, v, mise_fields, obj);
}

static void read_image_ref(struct cr_walk *w, const cr_ynode *v, void *obj)
{
	cr_policy *p = obj;
	const char *s;
	if (!cr_walk_string(w, v, &s))
		return;
	cleanup_free char *hint = NULL;
	cleanup_free char *why = cr_policy_check_image_ref(s, &hint);
	if (why) {
		cr_walk_error(w, v, CR_REASON_POLICY_INVALID, hint, "%s", why);
		return;
	}
	free(p->image_ref);
	p->image_ref = cr_xstrdup(s);
}

static const struct cr_walk_field image_fields[] = {
	{"ref", read_image_ref, true},
	{NULL, NULL, false},
};

static void read_image(struct cr_walk *w, const cr_ynode *v, void *obj)
{
	cr_walk_map(w, v, image_fields, obj);
}

static void read_network(struct cr_walk *w, const cr_ynode *v, void *obj)
{
	cr_schema_read_network(w, v, obj);
}

static const struct cr_walk_field sandbox_fields[] = {
	{"ttl_minutes", read_ttl, false},
	{"mise", read_mise, false},
	{"network", read_network, true},
	{"image", read_image, false},
	{"resources", cr_schema_read_resources, false},
	{NULL, NULL, false},
};

static void read_sandbox(struct cr_walk *w, const cr_ynode *v, void *obj)
{
	cr_walk_map(w, v, sandbox_fields, obj);
}

/* metadata is free-form; plain scalars are typed by the YAML core schema
 * (integers, booleans, null), everything else is a string. */
static json_t *yaml_to_json(const cr_ynode *n)
{
	if (n->type == CR_Y_SEQ) {
		json_t *a = json_array();
		for (size_t i = 0; i < n->n; i++)
			json_array_append_new(a, yaml_to_json(n->items[i]));
		return a;
	}
	if (n->type == CR_Y_MAP) {
		json_t *o = json_object();
		for (size_t i = 0; i + 1 < n->n; i += 2)
			json_object_set_new(o, n->items[i]->value ? n->items[i]->value : "",
					    yaml_to_json(n->items[i + 1]));
		return o;
	}
	bool b;
	long long iv;
	if (cr_yscalar_is_null(n))
		return json_null();
	if (cr_yscalar_bool(n, &b))
		return json_boolean(b);
	if (cr_yscalar_int(n, -(1LL << 53), 1LL << 53, &iv) == 1)
		return json_integer(iv);
	json_t *s = json_stringn(n->value, n->len);
	return s ? s : json_string("");
}

static bool keys_are_strings(struct cr_walk *w, const cr_ynode *n)
{
	if (n->type == CR_Y_SCALAR)
		return true;
	for (size_t i = 0; i < n->n; i++) {
		const cr_ynode *c = n->items[i];
		bool is_key = n->type == CR_Y_MAP && i % 2 == 0;
		if (is_key && (c->type != CR_Y_SCALAR || cr_ymap_get(n, c->value) != n->items[i + 1])) {
			cr_walk_error(w, c, CR_REASON_POLICY_INVALID, NULL,
				      c->type != CR_Y_SCALAR ? "keys must be plain strings"
							     : "duplicate key '%s'",
				      c->value ? c->value : "");
			return false;
		}
		if (!keys_are_strings(w, c))
			return false;
	}
	return true;
}

static void read_metadata(struct cr_walk *w, const cr_ynode *v, void *obj)
{
	cr_policy *p = obj;
	if (cr_yscalar_is_null(v))
		return;
	if (v->type != CR_Y_MAP) {
		cr_walk_error(w, v, CR_REASON_POLICY_INVALID, NULL, "expected a mapping, found %s",
			      cr_walk_type_name(v));
		return;
	}
	if (!keys_are_strings(w, v))
		return;
	json_decref(p->metadata);
	p->metadata = yaml_to_json(v);
}

static const struct cr_walk_field root_fields[] = {
	{"version", read_version, true},
	{"project", read_project, false},
	{"sandbox", read_sandbox, true},
	{"registries", cr_schema_read_registries, false},
	{"secrets", cr_schema_read_secrets, false},
	{"metadata", read_metadata, false},
	{NULL, NULL, false},
};

int cr_policy_from_yaml(const char *text, size_t len, const char *file, cr_policy **out, cr_diags *diags)
{
	cleanup_ynode cr_ynode *root = NULL;
	size_t errors = diags->n_errors;
	if (cr_yaml_parse(text, len, file, &root, diags) < 0)
		return -1;
	if (!root) {
		cr_diags_add(diags, CR_DIAG_ERROR, CR_REASON_POLICY_INVALID, (cr_diag_loc){file, 0, 0, NULL},
			     "start with 'version: 1' and a sandbox.network section",
			     "the policy file is empty");
		return -1;
	}
	cleanup_policy cr_policy *p = cr_policy_new();
	struct cr_walk w = {.file = file, .diags = diags};
	cr_walk_map(&w, root, root_fields, p);
	if (diags->n_errors != errors)
		return -1;
	if (cr_policy_normalize(p, file, diags) < 0)
		return -1;
	*out = steal_pointer(&p);
	return 0;
}
