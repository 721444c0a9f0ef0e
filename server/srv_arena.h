/*
 * srv_arena.h — a per-call bump allocator.
 *
 * Every allocation a call makes — the decoded request, the response message
 * tree, scratch buffers — comes from the call's arena and goes away with it
 * in one srv_arena_free, so handlers never track what to free, and
 * protobuf-c's unpack and our hand-built responses share one lifetime.
 */
#ifndef SRV_ARENA_H
#define SRV_ARENA_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>

struct srv_arena;

struct srv_arena *srv_arena_new(void);
/* Frees every block of the arena and the arena. NULL: no-op. */
void srv_arena_free(struct srv_arena *a);
/* size bytes, zeroed, 16-byte aligned; NULL when memory is exhausted. */
void *srv_arena_alloc(struct srv_arena *a, size_t size);
/* A NUL-terminated copy of s (or of its first n bytes). */
char *srv_arena_strdup(struct srv_arena *a, const char *s);
char *srv_arena_strndup(struct srv_arena *a, const char *s, size_t n);
/* printf into the arena. */
char *srv_arena_printf(struct srv_arena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A protobuf-c allocator drawing from the arena (free is a no-op). */
ProtobufCAllocator *srv_arena_allocator(struct srv_arena *a);
/* A message of descriptor d, initialised, in the arena. */
void *srv_arena_msg(struct srv_arena *a, const ProtobufCMessageDescriptor *d);

#endif
