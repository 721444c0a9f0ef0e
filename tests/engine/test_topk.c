/*
 * test_topk.c — the bounded heap and the candidate list against sorting.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>

#include "error.h"
#include "topk.h"

static int cmp_pair(const void *a, const void *b)
{
	const float *x = a, *y = b;
	if (x[0] != y[0])
		return x[0] < y[0] ? -1 : 1;
	return x[1] < y[1] ? -1 : x[1] > y[1];
}

Test(topk, keeps_the_k_smallest_in_order_for_random_input)
{
	enum { N = 5000, K = 37 };
	static float pairs[N][2];
	struct topk t;
	unsigned seed = 7;

	cr_assert_eq(topk_init(&t, K), 0);
	for (int i = 0; i < N; i++) {
		/* Few distinct values: ties must resolve by id. */
		pairs[i][0] = (float)(rand_r(&seed) % 200);
		pairs[i][1] = (float)i;
		topk_push(&t, (uint32_t)i, pairs[i][0]);
	}
	qsort(pairs, N, sizeof pairs[0], cmp_pair);
	cr_assert_eq(topk_sort(&t), K);
	for (int i = 0; i < K; i++) {
		cr_assert_eq(t.dist[i], pairs[i][0], "rank %d", i);
		cr_assert_eq(t.id[i], (uint32_t)pairs[i][1], "rank %d", i);
	}
	topk_destroy(&t);
}

Test(topk, holds_fewer_than_k_and_reports_infinite_bound)
{
	struct topk t;

	cr_assert_eq(topk_init(&t, 10), 0);
	topk_push(&t, 3, 2.0f);
	topk_push(&t, 1, 1.0f);
	cr_assert(isinf(topk_bound(&t)));
	cr_assert_eq(topk_sort(&t), 2);
	cr_assert_eq(t.id[0], 1);
	cr_assert_eq(t.id[1], 3);
	topk_destroy(&t);
}

Test(topk, rejects_k_zero_with_a_message)
{
	struct topk t;

	cr_assert_eq(topk_init(&t, 0), DANN_EINVAL);
	cr_assert_str_not_empty(dann_errmsg());
}

Test(cand, keeps_l_best_sorted_and_finds_next_unvisited)
{
	struct cand_list cl;
	unsigned seed = 3;

	cr_assert_eq(cand_init(&cl, 8), 0);
	for (uint32_t i = 0; i < 100; i++)
		cand_insert(&cl, i, (float)(rand_r(&seed) % 1000) / 10.0f);
	cr_assert_eq(cl.size, 8);
	for (uint32_t i = 1; i < cl.size; i++)
		cr_assert(cl.c[i - 1].dist <= cl.c[i].dist);

	int first = cand_next_unvisited(&cl);
	cr_assert_eq(first, 0);
	cand_mark(&cl, first);
	cr_assert_eq(cand_next_unvisited(&cl), 1);
	/* A closer newcomer moves the cursor back to it. */
	cr_assert_eq(cand_insert(&cl, 1000, -1.0f), 0);
	cr_assert_eq(cand_next_unvisited(&cl), 0);
	cr_assert_eq(cl.c[0].id, 1000);
	for (uint32_t i = 0; i < cl.size; i++)
		cand_mark(&cl, (int)i);
	cr_assert(cand_done(&cl));
	/* Worse than everything in a full list: rejected. */
	cr_assert_eq(cand_insert(&cl, 2000, 1e9f), -1);
	cand_destroy(&cl);
}
