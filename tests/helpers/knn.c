/*
 * knn.c — brute-force ground truth for tests (see knn.h).
 */
#include "knn.h"

#include <stdlib.h>
#include <string.h>

#include "../../engine/dist.h"
#include "../../engine/error.h"
#include "../../engine/topk.h"

int knn_exact(enum dann_metric metric, enum dann_dtype dtype, uint32_t dim, const void *base,
	      uint64_t n, const float *queries, uint32_t nq, uint32_t k, uint32_t *gt)
{
	dist_fn f = dist_kernel_at(DIST_SCALAR, metric, DANN_DTYPE_F32, dtype);
	size_t rb = dim * dann_dtype_size(dtype);
	int err = 0;

	if (!f)
		return dann_fail(DANN_EINVAL, "knn: no kernel for %s", dann_dtype_name(dtype));
#pragma omp parallel for schedule(dynamic, 4)
	for (uint32_t q = 0; q < nq; q++) {
		struct topk t;
		if (topk_init(&t, k) < 0) {
			err = DANN_ENOMEM;
			continue;
		}
		for (uint64_t i = 0; i < n; i++)
			topk_push(&t, (uint32_t)i, f(queries + (size_t)q * dim, (const uint8_t *)base + i * rb, dim));
		topk_sort(&t);
		memset(gt + (size_t)q * k, 0xff, sizeof *gt * k);
		memcpy(gt + (size_t)q * k, t.id, sizeof *t.id * t.n);
		topk_destroy(&t);
	}
	return err ? dann_fail(err, "knn: no memory") : 0;
}

double knn_recall(const uint32_t *gt, uint32_t k, const uint32_t *got, uint32_t found)
{
	uint32_t hit = 0;

	for (uint32_t i = 0; i < found; i++)
		for (uint32_t j = 0; j < k; j++)
			hit += got[i] == gt[j];
	return (double)hit / k;
}
