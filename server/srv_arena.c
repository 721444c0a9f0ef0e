/*
 * srv_arena.c — the per-call bump allocator (see srv_arena.h).
 *
 * Blocks grow geometrically from 4 KiB; an allocation larger than half a
 * block gets a block of its own so a big vector column does not waste the
 * rest of a chunk. Nothing is freed before the arena.
 */
#include "srv_arena.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARENA_FIRST_BYTES 4096
#define ARENA_MAX_BLOCK_BYTES (1u << 20)
#define ARENA_ALIGN 16

struct arena_block {
	struct arena_block *next;
	size_t cap, used;
	_Alignas(ARENA_ALIGN) unsigned char data[];
};

struct srv_arena {
	struct arena_block *head;
	size_t next_cap;
	ProtobufCAllocator pa;
};

static void *pa_alloc(void *ctx, size_t size)
{
	return srv_arena_alloc(ctx, size);
}

static void pa_free(void *ctx, void *p)
{
	(void)ctx;
	(void)p;
}

struct srv_arena *srv_arena_new(void)
{
	struct srv_arena *a = calloc(1, sizeof *a);

	if (!a)
		return NULL;
	a->next_cap = ARENA_FIRST_BYTES;
	a->pa.alloc = pa_alloc;
	a->pa.free = pa_free;
	a->pa.allocator_data = a;
	return a;
}

void srv_arena_free(struct srv_arena *a)
{
	if (!a)
		return;
	while (a->head) {
		struct arena_block *b = a->head;
		a->head = b->next;
		free(b);
	}
	free(a);
}

static struct arena_block *block_new(size_t cap)
{
	struct arena_block *b = malloc(sizeof *b + cap);

	if (!b)
		return NULL;
	b->cap = cap;
	b->used = 0;
	return b;
}

void *srv_arena_alloc(struct srv_arena *a, size_t size)
{
	struct arena_block *b = a->head;
	size_t need = (size + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
	void *p;

	if (need < size)
		return NULL;
	if (!need)
		need = ARENA_ALIGN;
	if (!b || b->cap - b->used < need) {
		if (need > a->next_cap / 2) {
			/* Own block, linked behind the head so the head keeps its room. */
			struct arena_block *big = block_new(need);
			if (!big)
				return NULL;
			big->used = need;
			if (b) {
				big->next = b->next;
				b->next = big;
			} else {
				big->next = NULL;
				a->head = big;
			}
			memset(big->data, 0, need);
			return big->data;
		}
		if (!(b = block_new(a->next_cap)))
			return NULL;
		if (a->next_cap < ARENA_MAX_BLOCK_BYTES)
			a->next_cap *= 2;
		b->next = a->head;
		a->head = b;
	}
	p = b->data + b->used;
	b->used += need;
	memset(p, 0, need);
	return p;
}

char *srv_arena_strndup(struct srv_arena *a, const char *s, size_t n)
{
	char *p = srv_arena_alloc(a, n + 1);

	if (p)
		memcpy(p, s, n);
	return p;
}

char *srv_arena_strdup(struct srv_arena *a, const char *s)
{
	return srv_arena_strndup(a, s, strlen(s));
}

char *srv_arena_printf(struct srv_arena *a, const char *fmt, ...)
{
	va_list ap;
	int n;
	char *p;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || !(p = srv_arena_alloc(a, (size_t)n + 1)))
		return NULL;
	va_start(ap, fmt);
	vsnprintf(p, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return p;
}

ProtobufCAllocator *srv_arena_allocator(struct srv_arena *a)
{
	return &a->pa;
}

void *srv_arena_msg(struct srv_arena *a, const ProtobufCMessageDescriptor *d)
{
	ProtobufCMessage *m = srv_arena_alloc(a, d->sizeof_message);

	if (m)
		d->message_init(m);
	return m;
}
