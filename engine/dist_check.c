/*
 * dist_check.c — refusing queries that have no nearest neighbours (see
 * dist.h): a NaN or an infinity in a query makes every distance NaN or
 * infinite, so a search would walk the graph at random and return
 * "results" at NaN distance. Checked once per query, before any read.
 */
#include <math.h>

#include "dist.h"
#include "error.h"

int dist_check_queries(const char *who, const float *q, uint64_t nq, uint32_t dim)
{
	for (uint64_t i = 0; i < nq; i++)
		for (uint32_t j = 0; j < dim; j++) {
			float x = q[i * dim + j];
			if (isfinite(x))
				continue;
			if (nq == 1)
				return dann_fail(DANN_EINVAL, "%s: query component %u is %s; queries "
						 "must be finite", who, j, isnan(x) ? "NaN" : "infinite");
			return dann_fail(DANN_EINVAL, "%s: query %llu, component %u is %s; queries "
					 "must be finite", who, (unsigned long long)i, j,
					 isnan(x) ? "NaN" : "infinite");
		}
	return 0;
}
