/*
 * seg_pk.c — the primary-key hash table (see seg_pk.h). Load factor kept
 * at most 1/2, so a probe sequence ends within a few slots; deletion
 * shifts the following run back instead of leaving tombstones, so a table
 * that sees many upserts does not fill with dead slots.
 */
#include <stdlib.h>
#include <string.h>

#include "../error.h"
#include "seg_pk.h"

#define PK_MIN_CAP 1024u

static uint64_t pk_hash(int64_t key)
{
	uint64_t x = (uint64_t)key;

	/* splitmix64's finaliser: sequential keys spread over the table */
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	x ^= x >> 31;
	return x;
}

int seg_pk_init(struct seg_pk *pk)
{
	pk->cap = PK_MIN_CAP;
	pk->n = 0;
	pk->t = calloc(pk->cap, sizeof *pk->t);
	if (!pk->t)
		return dann_fail(DANN_ENOMEM, "primary-key index: %llu slots",
				 (unsigned long long)pk->cap);
	return 0;
}

void seg_pk_destroy(struct seg_pk *pk)
{
	free(pk->t);
	memset(pk, 0, sizeof *pk);
}

static void put_slot(struct seg_pk_slot *t, uint64_t cap, int64_t key, uint64_t seg, uint64_t row)
{
	uint64_t i = pk_hash(key) & (cap - 1);

	while (t[i].seg && t[i].key != key)
		i = (i + 1) & (cap - 1);
	t[i].key = key;
	t[i].seg = seg;
	t[i].row = row;
}

static int rehash(struct seg_pk *pk, uint64_t cap)
{
	struct seg_pk_slot *t = calloc(cap, sizeof *t);

	if (!t)
		return dann_fail(DANN_ENOMEM, "primary-key index: %llu slots",
				 (unsigned long long)cap);
	for (uint64_t i = 0; i < pk->cap; i++)
		if (pk->t[i].seg)
			put_slot(t, cap, pk->t[i].key, pk->t[i].seg, pk->t[i].row);
	free(pk->t);
	pk->t = t;
	pk->cap = cap;
	return 0;
}

int seg_pk_reserve(struct seg_pk *pk, uint64_t more)
{
	uint64_t cap = pk->cap;

	while ((pk->n + more) * 2 > cap)
		cap *= 2;
	return cap == pk->cap ? 0 : rehash(pk, cap);
}

int seg_pk_put(struct seg_pk *pk, int64_t key, uint64_t seg, uint64_t row)
{
	uint64_t i;
	int rc;

	if ((rc = seg_pk_reserve(pk, 1)) < 0)
		return rc;
	i = pk_hash(key) & (pk->cap - 1);
	while (pk->t[i].seg && pk->t[i].key != key)
		i = (i + 1) & (pk->cap - 1);
	if (!pk->t[i].seg)
		pk->n++;
	pk->t[i].key = key;
	pk->t[i].seg = seg;
	pk->t[i].row = row;
	return 0;
}

static int64_t find(const struct seg_pk *pk, int64_t key)
{
	uint64_t i = pk_hash(key) & (pk->cap - 1);

	while (pk->t[i].seg) {
		if (pk->t[i].key == key)
			return (int64_t)i;
		i = (i + 1) & (pk->cap - 1);
	}
	return -1;
}

bool seg_pk_get(const struct seg_pk *pk, int64_t key, uint64_t *seg, uint64_t *row)
{
	int64_t i = find(pk, key);

	if (i < 0)
		return false;
	if (seg)
		*seg = pk->t[i].seg;
	if (row)
		*row = pk->t[i].row;
	return true;
}

bool seg_pk_del(struct seg_pk *pk, int64_t key)
{
	uint64_t mask = pk->cap - 1, i, j;
	int64_t at = find(pk, key);

	if (at < 0)
		return false;
	i = (uint64_t)at;
	/* Backward shift: move later members of the run into the hole when
	 * their home slot does not lie cyclically in (hole, their slot]. */
	for (j = (i + 1) & mask; pk->t[j].seg; j = (j + 1) & mask) {
		uint64_t home = pk_hash(pk->t[j].key) & mask;
		bool stays = (i <= j) ? (i < home && home <= j) : (i < home || home <= j);
		if (stays)
			continue;
		pk->t[i] = pk->t[j];
		i = j;
	}
	pk->t[i].seg = 0;
	pk->n--;
	return true;
}
