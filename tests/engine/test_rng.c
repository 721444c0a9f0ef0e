/*
 * test_rng.c — the library's one generator is splitmix64 as published:
 * the reference sequence from state 0, and the state is the caller's.
 */
#include <criterion/criterion.h>

#include "rng.h"

Test(rng, splitmix64_gives_the_reference_sequence_from_zero)
{
	uint64_t s = 0;

	cr_assert_eq(rng_splitmix64(&s), 0xe220a8397b1dcdafull);
	cr_assert_eq(rng_splitmix64(&s), 0x6e789e6aa1b965f4ull);
	cr_assert_eq(rng_splitmix64(&s), 0x06c45d188009454full);
}

Test(rng, two_states_with_one_seed_draw_the_same_numbers)
{
	uint64_t a = 42, b = 42;

	for (int i = 0; i < 100; i++)
		cr_assert_eq(rng_splitmix64(&a), rng_splitmix64(&b));
	cr_assert_eq(a, b);
}
