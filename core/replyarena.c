/* replyarena: see replyarena.h. The object functions link each object into
 * its parent's element vector exactly as hiredis's own do. */
#include "replyarena.h"

#include <stdalign.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK_BYTES 65536
#define ALIGN       alignof(max_align_t)

/* Under AddressSanitizer every chunk is freed on release, so a reply used
 * after its release is reported instead of reading recycled bytes. */
#ifdef __SANITIZE_ADDRESS__
#define KEEP_A_CHUNK 0
#else
#define KEEP_A_CHUNK 1
#endif

struct chunk {
	struct chunk *next; /* older chunks */
	size_t size, used;
	alignas(max_align_t) unsigned char mem[];
};

struct arena {
	struct chunk *head; /* the chunk being filled */
};

static void *arena_alloc(struct arena *a, size_t n)
{
	if (n > SIZE_MAX - ALIGN)
		return NULL;
	n = (n + ALIGN - 1) / ALIGN * ALIGN;
	struct chunk *c = a->head;
	if (!c || c->size - c->used < n) {
		size_t size = n > CHUNK_BYTES ? n : CHUNK_BYTES;
		if (size > SIZE_MAX - sizeof(*c))
			return NULL;
		c = malloc(sizeof(*c) + size);
		if (!c)
			return NULL;
		c->next = a->head;
		c->size = size;
		c->used = 0;
		a->head = c;
	}
	void *p = c->mem + c->used;
	c->used += n;
	return p;
}

/* A zeroed reply of this type, linked into its parent array if any. */
static redisReply *new_reply(const redisReadTask *task, int type)
{
	redisReply *r = arena_alloc(task->privdata, sizeof(*r));
	if (!r)
		return NULL;
	memset(r, 0, sizeof(*r));
	r->type = type;
	if (task->parent) {
		redisReply *parent = task->parent->obj;
		parent->element[task->idx] = r;
	}
	return r;
}

static void *create_string(const redisReadTask *task, char *str, size_t len)
{
	char *buf = len < SIZE_MAX ? arena_alloc(task->privdata, len + 1) : NULL;
	redisReply *r = buf ? new_reply(task, task->type) : NULL;
	if (!r)
		return NULL;
	memcpy(buf, str, len);
	buf[len] = '\0';
	r->str = buf;
	r->len = len;
	return r;
}

static void *create_array(const redisReadTask *task, int elements)
{
	redisReply **element = NULL;
	if (elements > 0) {
		size_t bytes = (size_t)elements * sizeof(*element);
		element = arena_alloc(task->privdata, bytes);
		if (!element)
			return NULL;
		memset(element, 0, bytes);
	}
	redisReply *r = new_reply(task, REDIS_REPLY_ARRAY);
	if (!r)
		return NULL;
	r->element = element;
	r->elements = elements > 0 ? (size_t)elements : 0;
	return r;
}

static void *create_integer(const redisReadTask *task, long long value)
{
	redisReply *r = new_reply(task, REDIS_REPLY_INTEGER);
	if (r)
		r->integer = value;
	return r;
}

static void *create_nil(const redisReadTask *task)
{
	return new_reply(task, REDIS_REPLY_NIL);
}

/* The reader frees a reply it abandons (a protocol error, the reader's own
 * end): its objects are the arena's, released with it. */
static void free_object(void *reply)
{
	(void)reply;
}

static redisReplyObjectFunctions arena_functions = {
	create_string, create_array, create_integer, create_nil, free_object,
};

redisReader *replyarena_reader(void)
{
	struct arena *a = calloc(1, sizeof(*a));
	redisReader *r = a ? redisReaderCreateWithFunctions(&arena_functions) : NULL;
	if (!r) {
		free(a);
		return NULL;
	}
	r->privdata = a;
	return r;
}

/* Frees the chunks; keep_one keeps one standard chunk, emptied, for the
 * next reply (a large reply's chunks never stay). */
static void release(struct arena *a, bool keep_one)
{
	struct chunk *keep = NULL;
	for (struct chunk *c = a->head, *older; c; c = older) {
		older = c->next;
		if (keep_one && !keep && c->size == CHUNK_BYTES)
			keep = c;
		else
			free(c);
	}
	if (keep) {
		keep->next = NULL;
		keep->used = 0;
	}
	a->head = keep;
}

void replyarena_release(redisReader *r)
{
	release(r->privdata, KEEP_A_CHUNK);
}

void replyarena_free(redisReader *r)
{
	if (!r)
		return;
	struct arena *a = r->privdata;
	redisReaderFree(r);
	release(a, false);
	free(a);
}
