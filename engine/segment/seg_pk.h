/*
 * seg_pk.h — the primary-key index of a collection: int64 key -> (segment
 * id, row). Open addressing with linear probing and backward-shift
 * deletion, so lookups stay short without tombstones. Not thread-safe: the
 * collection's mutex guards it. The same table, with row unused, counts the
 * keys of writes in flight (seg_write.c).
 */
#ifndef DANN_SEG_PK_H
#define DANN_SEG_PK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct seg_pk_slot {
	int64_t key;
	uint64_t seg;            /* segment id; 0 marks an empty slot */
	uint64_t row;
};

struct seg_pk {
	struct seg_pk_slot *t;
	uint64_t cap;            /* power of two */
	uint64_t n;
};

int seg_pk_init(struct seg_pk *pk);
void seg_pk_destroy(struct seg_pk *pk);
/* Room for n more keys without a rehash (so a later put cannot fail). */
int seg_pk_reserve(struct seg_pk *pk, uint64_t more);
/* Inserts or replaces key. seg must be nonzero. DANN_ENOMEM only when the
 * table had to grow. */
int seg_pk_put(struct seg_pk *pk, int64_t key, uint64_t seg, uint64_t row);
/* true and the location if key is present. */
bool seg_pk_get(const struct seg_pk *pk, int64_t key, uint64_t *seg, uint64_t *row);
/* Removes key; true if it was present. */
bool seg_pk_del(struct seg_pk *pk, int64_t key);

#endif
