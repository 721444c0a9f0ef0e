/*
 * test_seg_pk.c — the primary-key hash table against a plain array over a
 * small key space: random puts, replaces and deletes (backward-shift
 * deletion must keep every other key reachable), across rehashes.
 */
#include <criterion/criterion.h>
#include <stdlib.h>

#include "dann.h"
#include "segment/seg_pk.h"

#define KEYS 5000

Test(seg_pk, random_puts_and_deletes_match_a_reference)
{
	static uint64_t ref[KEYS]; /* 0: absent, else row + 1 */
	struct seg_pk pk;
	uint64_t x = 42, live = 0;

	cr_assert_eq(seg_pk_init(&pk), 0);
	for (int step = 0; step < 200000; step++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		int64_t key = (int64_t)(x % KEYS) - KEYS / 2; /* negative keys too */
		uint64_t slot = (uint64_t)(key + KEYS / 2);
		if ((x >> 20) % 3) {
			live += ref[slot] == 0;
			ref[slot] = (x >> 32) + 1;
			cr_assert_eq(seg_pk_put(&pk, key, 7, ref[slot] - 1), 0);
		} else {
			bool had = ref[slot] != 0;
			live -= had;
			ref[slot] = 0;
			cr_assert_eq(seg_pk_del(&pk, key), had, "delete of %lld", (long long)key);
		}
		if (step % 9973 == 0)
			for (int k = 0; k < KEYS; k++) {
				uint64_t seg, row;
				bool in = seg_pk_get(&pk, k - KEYS / 2, &seg, &row);
				cr_assert_eq(in, ref[k] != 0, "key %d presence", k - KEYS / 2);
				if (in)
					cr_assert_eq(row, ref[k] - 1, "key %d row", k - KEYS / 2);
			}
	}
	cr_assert_eq(pk.n, live);
	seg_pk_destroy(&pk);
}

Test(seg_pk, reserve_means_puts_do_not_grow)
{
	struct seg_pk pk;

	cr_assert_eq(seg_pk_init(&pk), 0);
	cr_assert_eq(seg_pk_reserve(&pk, 100000), 0);
	uint64_t cap = pk.cap;
	for (int64_t k = 0; k < 100000; k++)
		cr_assert_eq(seg_pk_put(&pk, k * 1000003, 1, (uint64_t)k), 0);
	cr_assert_eq(pk.cap, cap, "reserved room was enough");
	seg_pk_destroy(&pk);
}
