/*
 * knn.h — exact k-nearest-neighbour oracle for tests: brute force through
 * the scalar reference kernels, so graph tests compare against the truth
 * rather than against another approximation.
 */
#ifndef DANN_TEST_KNN_H
#define DANN_TEST_KNN_H

#include <stdint.h>

#include "../../engine/dann.h"

/* For each of nq float32 queries, the ids of its k nearest among n rows of
 * dtype at base (metric as in dann.h), ascending, into gt (nq * k). */
int knn_exact(enum dann_metric metric, enum dann_dtype dtype, uint32_t dim, const void *base,
	      uint64_t n, const float *queries, uint32_t nq, uint32_t k, uint32_t *gt);

/* Fraction of the k true ids (gt row) found among got[0..found). */
double knn_recall(const uint32_t *gt, uint32_t k, const uint32_t *got, uint32_t found);

#endif
