/* SPDX-License-Identifier: Apache-2.0 */
/* memo.c -- what one process keeps of the cache in memory, so that a warm
 * hit costs no SQLite statement, no path lookup and no mmap/munmap:
 *
 *   entries  immutable entries (ttl_s 0: verified artifacts) by key, as
 *            cr_cache_get last read them from the index;
 *   maps     blobs mapped read-only (cr_cache_blob_map), by name.
 *
 * Both are bounded LRU tables (CR_CACHE_MEMO_*). Nothing here can serve
 * wrong bytes: blobs are named by their SHA-256 and never change, and an
 * immutable entry only ever names a blob verified for it (a caller still
 * checks its own integrity against the entry). A mapping stays valid after
 * another process's gc removes the file (the kernel keeps the inode while it
 * is mapped), so a memoized map is served even then; a memoized entry whose
 * blob is neither mapped nor on disk is dropped and read again. This
 * process's own writes (put, touch, remove) drop the key; gc and verify
 * drop every memoized entry. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cache/cache_internal.h"
#include "util/xalloc.h"

#define MEMO_BUCKETS 1024 /* per table, a power of two */

typedef struct memo_node {
	struct memo_node *hnext;       /* bucket chain */
	struct memo_node *prev, *next; /* LRU list, most recent first */
	const char *key;
	uint32_t hash;
} memo_node;

typedef struct memo_table {
	memo_node *bucket[MEMO_BUCKETS];
	memo_node *head, *tail;
	size_t n;
} memo_table;

struct cr_blob_map {
	memo_node node; /* key = sha256 */
	unsigned refs;
	const void *data; /* NULL when size is 0 */
	uint64_t size;
	int64_t used_at; /* when the index last heard of its use */
	char sha256[CR_SHA256_HEX_LEN + 1];
};

typedef struct memo_entry {
	memo_node node; /* key = e.key */
	cr_cache_entry e;
} memo_entry;

struct cr_cache_memo {
	memo_table entries, maps;
	uint64_t map_bytes;
};

#define NODE_OF(type, p) ((type *)(void *)((char *)(p)-offsetof(type, node)))

/* ---- one LRU hash table ---- */

static uint32_t hash_of(const char *s)
{
	uint32_t h = 2166136261u; /* FNV-1a */
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

static void list_unlink(memo_table *t, memo_node *n)
{
	if (n->prev)
		n->prev->next = n->next;
	else
		t->head = n->next;
	if (n->next)
		n->next->prev = n->prev;
	else
		t->tail = n->prev;
	n->prev = n->next = NULL;
}

static void list_push_front(memo_table *t, memo_node *n)
{
	n->prev = NULL;
	n->next = t->head;
	if (t->head)
		t->head->prev = n;
	t->head = n;
	if (!t->tail)
		t->tail = n;
}

/* The node for key, made the most recent; NULL when absent. */
static memo_node *table_find(memo_table *t, const char *key)
{
	uint32_t h = hash_of(key);
	for (memo_node *n = t->bucket[h & (MEMO_BUCKETS - 1)]; n; n = n->hnext)
		if (n->hash == h && strcmp(n->key, key) == 0) {
			list_unlink(t, n);
			list_push_front(t, n);
			return n;
		}
	return NULL;
}

static void table_add(memo_table *t, memo_node *n)
{
	n->hash = hash_of(n->key);
	memo_node **b = &t->bucket[n->hash & (MEMO_BUCKETS - 1)];
	n->hnext = *b;
	*b = n;
	list_push_front(t, n);
	t->n++;
}

static void table_del(memo_table *t, memo_node *n)
{
	for (memo_node **p = &t->bucket[n->hash & (MEMO_BUCKETS - 1)]; *p; p = &(*p)->hnext)
		if (*p == n) {
			*p = n->hnext;
			break;
		}
	list_unlink(t, n);
	t->n--;
}

/* ---- blob maps ---- */

const void *cr_blob_map_data(const cr_blob_map *m)
{
	return m->data ? m->data : "";
}

uint64_t cr_blob_map_size(const cr_blob_map *m)
{
	return m->size;
}

static cr_blob_map *map_ref(cr_blob_map *m)
{
	m->refs++;
	return m;
}

void cr_blob_map_unref(cr_blob_map *m)
{
	if (!m || --m->refs > 0)
		return;
	if (m->data)
		munmap((void *)m->data, (size_t)m->size);
	free(m);
}

static void memo_drop_map(cr_cache_memo *memo, cr_blob_map *m)
{
	table_del(&memo->maps, &m->node);
	memo->map_bytes -= m->size;
	cr_blob_map_unref(m);
}

/* Keeps m (one reference of the memo's own), evicting the least recently
 * used maps past the bounds. */
static void memo_keep_map(cr_cache_memo *memo, cr_blob_map *m)
{
	if (m->size > CR_CACHE_MEMO_MAP_ONE_MAX)
		return;
	while (memo->maps.tail && (memo->maps.n >= CR_CACHE_MEMO_MAPS_MAX ||
				   memo->map_bytes + m->size > CR_CACHE_MEMO_MAP_BYTES))
		memo_drop_map(memo, NODE_OF(cr_blob_map, memo->maps.tail));
	m->node.key = m->sha256;
	table_add(&memo->maps, &m->node);
	memo->map_bytes += m->size;
	map_ref(m);
}

static cr_blob_map *map_new(int fd, uint64_t size, const char *sha256, const char *dir, cr_error **err)
{
	const void *data = NULL;
	if (size > 0) {
		data = mmap(NULL, (size_t)size, PROT_READ, MAP_SHARED, fd, 0);
		if (data == MAP_FAILED) {
			cr_error_make(err, errno, CR_REASON_INTERNAL,
				      "map cache blob '%s/blobs/sha256/%.2s/%s'", dir, sha256, sha256);
			return NULL;
		}
	}
	cr_blob_map *m = cr_xcalloc(1, sizeof(*m));
	m->refs = 1;
	m->data = data;
	m->size = size;
	m->used_at = cr_cache_now();
	snprintf(m->sha256, sizeof(m->sha256), "%s", sha256);
	return m;
}

int cr_cache_blob_map(cr_cache *c, const char *sha256, cr_blob_map **out, cr_error **err)
{
	*out = NULL;
	memo_node *n = sha256 ? table_find(&c->memo->maps, sha256) : NULL;
	if (n) {
		cr_blob_map *m = NODE_OF(cr_blob_map, n);
		int64_t now = cr_cache_now();
		if (now - m->used_at >= CR_CACHE_TOUCH_EVERY_S) {
			cr_cache_blob_used(c, sha256);
			m->used_at = now;
		}
		*out = map_ref(m);
		return 0;
	}
	uint64_t size = 0;
	int fd = cr_cache_blob_open(c, sha256, &size, err); /* records the use */
	if (fd < 0)
		return -1;
	cr_blob_map *m = map_new(fd, size, sha256, c->dir, err);
	close(fd);
	if (!m)
		return -1;
	memo_keep_map(c->memo, m);
	*out = m;
	return 0;
}

bool cr_cache_memo_has_map(cr_cache_memo *memo, const char *sha256)
{
	return table_find(&memo->maps, sha256) != NULL;
}

/* ---- entries ---- */

static void memo_drop_entry(cr_cache_memo *memo, memo_entry *me)
{
	table_del(&memo->entries, &me->node);
	cr_cache_entry_clear(&me->e);
	free(me);
}

cr_cache_entry *cr_cache_memo_entry(cr_cache_memo *memo, const char *key)
{
	memo_node *n = table_find(&memo->entries, key);
	return n ? &NODE_OF(memo_entry, n)->e : NULL;
}

void cr_cache_memo_keep_entry(cr_cache_memo *memo, const cr_cache_entry *e)
{
	if (e->ttl_s != 0 || cr_cache_memo_entry(memo, e->key))
		return;
	while (memo->entries.tail && memo->entries.n >= CR_CACHE_MEMO_ENTRIES_MAX)
		memo_drop_entry(memo, NODE_OF(memo_entry, memo->entries.tail));
	memo_entry *me = cr_xcalloc(1, sizeof(*me));
	cr_cache_entry_copy(&me->e, e);
	me->node.key = me->e.key;
	table_add(&memo->entries, &me->node);
}

void cr_cache_memo_forget(cr_cache_memo *memo, const char *key)
{
	memo_node *n = key ? table_find(&memo->entries, key) : NULL;
	if (n)
		memo_drop_entry(memo, NODE_OF(memo_entry, n));
}

void cr_cache_memo_forget_entries(cr_cache_memo *memo)
{
	while (memo->entries.head)
		memo_drop_entry(memo, NODE_OF(memo_entry, memo->entries.head));
}

/* ---- the memo ---- */

cr_cache_memo *cr_cache_memo_new(void)
{
	return cr_xcalloc(1, sizeof(cr_cache_memo));
}

void cr_cache_memo_free(cr_cache_memo *memo)
{
	if (!memo)
		return;
	cr_cache_memo_forget_entries(memo);
	while (memo->maps.head) /* maps still referenced elsewhere live on */
		memo_drop_map(memo, NODE_OF(cr_blob_map, memo->maps.head));
	free(memo);
}
