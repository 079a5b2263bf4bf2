/* SPDX-License-Identifier: Apache-2.0 */
/* yamltree.c -- libyaml events to a positioned node tree (see yamltree.h). */
#include "policy/yamltree.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "util/cleanup.h"
#include "util/xalloc.h"

struct builder {
	const char *file;
	cr_diags *diags;
	cr_ynode *stack[CR_YAML_MAX_DEPTH + 1];
	size_t depth;
	size_t nodes;
	size_t documents;
	cr_ynode *root;
	bool failed;
	size_t wildcard_at, wildcard_len; /* an unquoted wildcard stopped the parse here */
};

static void fail_at(struct builder *b, yaml_mark_t m, const char *hint, const char *msg)
{
	cr_diags_add(b->diags, CR_DIAG_ERROR, CR_REASON_POLICY_INVALID,
		     (cr_diag_loc){b->file, (unsigned)m.line + 1, (unsigned)m.column + 1, NULL}, hint, "%s",
		     msg);
	b->failed = true;
}

static cr_ynode *new_node(cr_ytype t, yaml_mark_t m)
{
	cr_ynode *n = cr_xcalloc(1, sizeof(*n));
	n->type = t;
	n->line = (unsigned)m.line + 1;
	n->col = (unsigned)m.column + 1;
	return n;
}

void cr_ynode_free(cr_ynode *n)
{
	if (!n)
		return;
	for (size_t i = 0; i < n->n; i++)
		cr_ynode_free(n->items[i]);
	free(n->items);
	free(n->value);
	free(n);
}

static void append_child(cr_ynode *parent, cr_ynode *child)
{
	parent->items = cr_xgrow(parent->items, &parent->cap, parent->n + 1, sizeof(*parent->items));
	parent->items[parent->n++] = child;
}

/* Attaches a finished node to the open collection, or makes it the root. */
static void attach(struct builder *b, cr_ynode *n)
{
	if (b->depth == 0) {
		if (b->root)
			cr_ynode_free(b->root);
		b->root = n;
		return;
	}
	append_child(b->stack[b->depth - 1], n);
}

static bool check_props(struct builder *b, const yaml_event_t *ev, yaml_char_t *anchor, yaml_char_t *tag,
			bool implicit_tag)
{
	if (anchor) {
		fail_at(b, ev->start_mark,
			"remove the anchor; cleanroom.yaml does not use anchors or aliases",
			"YAML anchors are not supported");
		return false;
	}
	if (tag && !implicit_tag) {
		fail_at(b, ev->start_mark, "remove the tag (e.g. !!str); quote a value to make it a string",
			"YAML tags are not supported");
		return false;
	}
	return true;
}

static bool count_node(struct builder *b, const yaml_event_t *ev)
{
	if (++b->nodes <= CR_YAML_MAX_NODES)
		return true;
	fail_at(b, ev->start_mark, NULL, "document has too many nodes (limit 100000)");
	return false;
}

static void on_scalar(struct builder *b, const yaml_event_t *ev)
{
	const __typeof__(ev->data.scalar) *s = &ev->data.scalar;
	if (!count_node(b, ev) ||
	    !check_props(b, ev, s->anchor, s->tag, s->plain_implicit || s->quoted_implicit))
		return;
	cr_ynode *n = new_node(CR_Y_SCALAR, ev->start_mark);
	n->value = cr_xstrndup((const char *)s->value, s->length);
	n->len = s->length;
	n->quoted = s->style != YAML_PLAIN_SCALAR_STYLE;
	if (memchr(s->value, '\0', s->length)) {
		fail_at(b, ev->start_mark, NULL, "scalar contains a NUL character");
		cr_ynode_free(n);
		return;
	}
	attach(b, n);
}

static void on_start(struct builder *b, const yaml_event_t *ev, cr_ytype t)
{
	yaml_char_t *anchor = t == CR_Y_MAP ? ev->data.mapping_start.anchor : ev->data.sequence_start.anchor;
	yaml_char_t *tag = t == CR_Y_MAP ? ev->data.mapping_start.tag : ev->data.sequence_start.tag;
	int implicit = t == CR_Y_MAP ? ev->data.mapping_start.implicit : ev->data.sequence_start.implicit;
	if (!count_node(b, ev) || !check_props(b, ev, anchor, tag, implicit))
		return;
	if (b->depth >= CR_YAML_MAX_DEPTH) {
		fail_at(b, ev->start_mark, NULL, "document nests deeper than 32 levels");
		return;
	}
	b->stack[b->depth++] = new_node(t, ev->start_mark);
}

static void on_end(struct builder *b)
{
	cr_ynode *n = b->stack[--b->depth];
	attach(b, n);
}

static void on_alias(struct builder *b, const yaml_event_t *ev)
{
	const char *anchor = (const char *)ev->data.alias.anchor;
	if (anchor[0] == '.') {
		char *hint = cr_asprintf("quote wildcard hosts: \"*%s\"", anchor);
		fail_at(b, ev->start_mark, hint,
			"unquoted '*' starts a YAML alias; a wildcard host must be quoted");
		free(hint);
		return;
	}
	fail_at(b, ev->start_mark, "write the value out in full; cleanroom.yaml does not use aliases",
		"YAML aliases are not supported");
}

static void on_event(struct builder *b, const yaml_event_t *ev)
{
	switch (ev->type) {
	case YAML_DOCUMENT_START_EVENT:
		if (++b->documents > 1)
			fail_at(b, ev->start_mark, "keep one document per policy file",
				"more than one YAML document");
		break;
	case YAML_SCALAR_EVENT: on_scalar(b, ev); break;
	case YAML_SEQUENCE_START_EVENT: on_start(b, ev, CR_Y_SEQ); break;
	case YAML_MAPPING_START_EVENT: on_start(b, ev, CR_Y_MAP); break;
	case YAML_SEQUENCE_END_EVENT:
	case YAML_MAPPING_END_EVENT: on_end(b); break;
	case YAML_ALIAS_EVENT: on_alias(b, ev); break;
	default: break;
	}
}

/* libyaml rejects `*.example.org` while scanning it as an alias (anchor
 * names cannot contain '.'), so the unquoted wildcard is recognised here. */
static bool report_unquoted_wildcard(struct builder *b, const yaml_parser_t *p, const char *text, size_t len)
{
	size_t at = p->context_mark.index;
	if (!p->context || strcmp(p->context, "while scanning an alias") != 0 || at + 1 >= len ||
	    text[at] != '*' || text[at + 1] != '.')
		return false;
	size_t n = 0; /* text is not NUL-terminated: the scan stops at len */
	while (at + n < len && !strchr(" \t\r\n,]}#", text[at + n]))
		n++;
	char *word = cr_xstrndup(text + at, n > 256 ? 256 : n);
	char *hint = cr_asprintf("quote wildcard hosts: \"%s\"", word);
	fail_at(b, p->context_mark, hint, "unquoted '*' starts a YAML alias; a wildcard host must be quoted");
	free(hint);
	free(word);
	b->wildcard_at = at;
	b->wildcard_len = n;
	return true;
}

static void report_parser_error(struct builder *b, const yaml_parser_t *p, const char *text, size_t len)
{
	if (report_unquoted_wildcard(b, p, text, len))
		return;
	yaml_mark_t m = p->problem_mark;
	const char *problem = p->problem ? p->problem : "syntax error";
	char *msg = p->context ? cr_asprintf("YAML syntax error: %s %s", problem, p->context)
			       : cr_asprintf("YAML syntax error: %s", problem);
	fail_at(b, m, NULL, msg);
	free(msg);
}

static void unwind(struct builder *b)
{
	while (b->depth > 0)
		cr_ynode_free(b->stack[--b->depth]);
}

/* One pass of libyaml over text; the tree (if any) is left in b->root. */
static void parse_once(struct builder *b, const char *text, size_t len)
{
	yaml_parser_t p;
	yaml_parser_initialize(&p);
	yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
	bool done = false;
	while (!done && !b->failed) {
		yaml_event_t ev;
		if (!yaml_parser_parse(&p, &ev)) {
			report_parser_error(b, &p, text, len);
			break;
		}
		on_event(b, &ev);
		done = ev.type == YAML_STREAM_END_EVENT;
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&p);
	unwind(b);
}

/* Returns a copy of text with the token at [at, at+n) put in quotes. */
static char *quote_token(const char *text, size_t *len, size_t at, size_t n)
{
	char *out = cr_xmalloc(*len + 3);
	memcpy(out, text, at);
	out[at] = '"';
	memcpy(out + at + 1, text + at, n);
	out[at + n + 1] = '"';
	memcpy(out + at + n + 2, text + at + n, *len - at - n);
	*len += 2;
	out[*len] = '\0';
	return out;
}

/* An unquoted wildcard stops libyaml; it is reported, quoted in a working
 * copy, and the parse is repeated so that the rest of the file is still
 * checked (up to 64 such repairs). */
int cr_yaml_parse(const char *text, size_t len, const char *file, cr_ynode **root, cr_diags *diags)
{
	*root = NULL;
	if (len > CR_YAML_MAX_BYTES) {
		cr_diags_add(diags, CR_DIAG_ERROR, CR_REASON_POLICY_INVALID, (cr_diag_loc){file, 0, 0, NULL},
			     NULL, "file is larger than %u bytes", CR_YAML_MAX_BYTES);
		return -1;
	}
	cleanup_free char *work = NULL;
	cr_diags repaired = {0}; /* the unquoted-wildcard errors of earlier passes */
	for (int repairs = 0;; repairs++) {
		cr_diags pass = {0};
		struct builder b = {.file = file, .diags = &pass};
		parse_once(&b, work ? work : text, len);
		bool retry = b.failed && b.wildcard_len && repairs < 64;
		if (retry) {
			/* keep only this pass's last diagnostic: the wildcard error */
			cr_diags last = {.items = &pass.items[pass.n - 1], .n = 1};
			cr_diags_merge(&repaired, &last);
			char *next = quote_token(work ? work : text, &len, b.wildcard_at, b.wildcard_len);
			free(work);
			work = next;
		} else {
			cr_diags_merge(diags, &repaired);
			cr_diags_merge(diags, &pass);
			cr_diags_clear(&repaired);
		}
		cr_diags_clear(&pass);
		if (!retry && b.failed)
			cr_ynode_free(b.root);
		if (!retry)
			return b.failed ? -1 : (*root = b.root, 0);
		cr_ynode_free(b.root);
	}
}

const cr_ynode *cr_ymap_get(const cr_ynode *m, const char *key)
{
	if (!m || m->type != CR_Y_MAP)
		return NULL;
	for (size_t i = 0; i + 1 < m->n; i += 2)
		if (m->items[i]->type == CR_Y_SCALAR && strcmp(m->items[i]->value, key) == 0)
			return m->items[i + 1];
	return NULL;
}

bool cr_yscalar_is_null(const cr_ynode *n)
{
	if (n->type != CR_Y_SCALAR || n->quoted)
		return false;
	static const char *const nulls[] = {"", "~", "null", "Null", "NULL"};
	for (size_t i = 0; i < sizeof(nulls) / sizeof(nulls[0]); i++)
		if (strcmp(n->value, nulls[i]) == 0)
			return true;
	return false;
}

int cr_yscalar_bool(const cr_ynode *n, bool *out)
{
	if (n->type != CR_Y_SCALAR || n->quoted)
		return 0;
	static const char *const t[] = {"true", "True", "TRUE"}, *const f[] = {"false", "False", "FALSE"};
	for (size_t i = 0; i < 3; i++) {
		if (strcmp(n->value, t[i]) == 0)
			return *out = true, 1;
		if (strcmp(n->value, f[i]) == 0)
			return *out = false, 1;
	}
	return 0;
}

int cr_yscalar_int(const cr_ynode *n, long long min, long long max, long long *out)
{
	if (n->type != CR_Y_SCALAR || n->quoted || n->len == 0)
		return 0;
	const char *s = n->value;
	size_t i = (s[0] == '-' || s[0] == '+') ? 1 : 0;
	if (!s[i] || strspn(s + i, "0123456789") != n->len - i)
		return 0;
	errno = 0;
	long long v = strtoll(s, NULL, 10);
	if (errno == ERANGE || v < min || v > max)
		return -1;
	*out = v;
	return 1;
}
