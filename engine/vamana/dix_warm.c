/*
 * dix_warm.c — which nodes a visit-count cache holds (dix_warm.h): the
 * nodes that searches for a sample of the indexed points read most often,
 * as DiskANN's generate_cache_list_from_sample_queries does with a query
 * sample.
 *
 * The sample is every (n / count)-th point, read from the index itself, so
 * no query file is needed and the choice is the same on every open. The
 * warm-up searches run before the cache is filled (every read counts),
 * with entry seeds as real searches use them.
 */
#include "dix_warm.h"

#include <stdlib.h>
#include <string.h>

#include "../aligned.h"
#include "../error.h"
#include "dix_search.h"

/* Reads the sample points' vectors as floats. */
static int sample_queries(const struct dix_index *ix, uint32_t nq, float *q)
{
	uint32_t dim = ix->h.dim;
	char *buf = dann_aligned_alloc(ix->read_bytes), *rec = malloc(ix->h.node_bytes);
	int rc = 0;

	if (!buf || !rec) {
		rc = dann_fail(DANN_ENOMEM, "%s: no memory for the cache's sample", ix->dir);
		goto out;
	}
	for (uint32_t i = 0; i < nq && rc == 0; i++) {
		uint32_t id = (uint32_t)((uint64_t)i * ix->h.n / nq);
		float *row = q + (size_t)i * dim;

		if ((rc = dix_read_node(ix, id, buf, rec)) < 0)
			break;
		for (uint32_t j = 0; j < dim; j++)
			row[j] = ix->h.dtype == DANN_DTYPE_U8	? (float)((const uint8_t *)rec)[j]
				 : ix->h.dtype == DANN_DTYPE_I8 ? (float)((const int8_t *)rec)[j]
								: ((const float *)rec)[j];
	}
out:
	free(rec);
	dann_aligned_free(buf);
	return rc;
}

struct ranked {
	uint32_t visits, id;
};

static int by_visits(const void *a, const void *b)
{
	const struct ranked *x = a, *y = b;

	if (x->visits != y->visits)
		return x->visits > y->visits ? -1 : 1;
	return x->id < y->id ? -1 : x->id > y->id;
}

int dix_warm_visits(const struct dix_index *ix, uint64_t want, uint32_t *ids, uint64_t *count)
{
	uint32_t nq = ix->h.n < DIX_WARM_QUERIES ? (uint32_t)ix->h.n : DIX_WARM_QUERIES;
	struct dix_searcher_params sp = { .inflight = DIX_WARM_INFLIGHT };
	struct dix_search_params p;
	uint32_t *visits = calloc(ix->h.n, sizeof *visits);
	float *q = malloc((size_t)nq * ix->h.dim * sizeof *q), *dists = NULL;
	uint32_t *rids = NULL, *found = NULL;
	struct ranked *r = NULL;
	uint64_t nr = 0;
	int rc;

	dix_search_params_default(&p);
	p.L = DIX_WARM_L;
	p.k = p.L < 10 ? p.L : 10;
	p.visits = visits;
	rids = malloc(sizeof *rids * nq * p.k);
	dists = malloc(sizeof *dists * nq * p.k);
	found = malloc(sizeof *found * nq);
	if (!visits || !q || !rids || !dists || !found) {
		rc = dann_fail(DANN_ENOMEM, "%s: no memory for the cache's warm-up of %u queries",
			       ix->dir, nq);
		goto out;
	}
	if ((rc = sample_queries(ix, nq, q)) < 0 ||
	    (rc = dix_search_batch(ix, q, nq, &p, &sp, 1, rids, dists, found, NULL, NULL, 0)) < 0)
		goto out;
	for (uint64_t i = 0; i < ix->h.n; i++)
		nr += visits[i] > 0;
	if (!(r = malloc(sizeof *r * (nr ? nr : 1)))) {
		rc = dann_fail(DANN_ENOMEM, "%s: no memory to rank %llu visited nodes", ix->dir,
			       (unsigned long long)nr);
		goto out;
	}
	nr = 0;
	for (uint32_t i = 0; i < ix->h.n; i++)
		if (visits[i])
			r[nr++] = (struct ranked){ visits[i], i };
	qsort(r, nr, sizeof *r, by_visits);
	*count = nr < want ? nr : want;
	for (uint64_t i = 0; i < *count; i++)
		ids[i] = r[i].id;
out:
	free(visits);
	free(q);
	free(rids);
	free(dists);
	free(found);
	free(r);
	return rc ? dann_fail_wrap(rc, "%s: node cache warm-up", ix->dir) : 0;
}
