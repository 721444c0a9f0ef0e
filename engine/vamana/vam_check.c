/*
 * vam_check.c — the graph invariants tests and `dann info` report: degree
 * bounds, no self-loops, no duplicate or out-of-range edges, and every live
 * point reachable from the entry point (a breadth-first walk over all
 * edges, deleted nodes included, since searches traverse them too).
 */
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "vam_impl.h"

void vam_reach(const struct vam *v, uint64_t n, uint32_t *seen, uint32_t *queue)
{
	uint64_t head = 0, tail = 0;

	memset(seen, 0, sizeof *seen * n);
	queue[tail++] = v->medoid;
	seen[v->medoid] = 1;
	while (head < tail) {
		uint32_t u = queue[head++];
		const uint32_t *l = v->slots + (size_t)u * v->p.R;
		for (uint32_t j = 0; j < v->deg[u]; j++)
			if (l[j] < n && !seen[l[j]]) {
				seen[l[j]] = 1;
				queue[tail++] = l[j];
			}
	}
}

int vam_check(const struct vam *v, struct vam_stats *st)
{
	uint64_t n = vam_count(v), live = 0, sum = 0;
	uint32_t R = v->p.R, *queue = NULL, *seen = NULL;

	memset(st, 0, sizeof *st);
	st->n = n;
	st->R = R;
	st->medoid = v->medoid;
	st->min_degree = n ? UINT32_MAX : 0;
	if (n == 0)
		return 0;
	queue = malloc(sizeof *queue * n);
	seen = calloc(n, sizeof *seen); /* stamp of the last source that listed it */
	if (!queue || !seen) {
		free(queue);
		free(seen);
		return dann_fail(DANN_ENOMEM, "vamana check: no memory for %llu points",
				 (unsigned long long)n);
	}
	for (uint64_t i = 0; i < n; i++) {
		const uint32_t *l = v->slots + i * R;
		uint32_t d = v->deg[i];
		bool del = vam_deleted(v, (uint32_t)i);

		if (del) {
			st->deleted++;
		} else {
			live++;
			sum += d;
			if (d < st->min_degree)
				st->min_degree = d;
		}
		if (d > st->max_degree)
			st->max_degree = d;
		for (uint32_t j = 0; j < d; j++) {
			if (l[j] >= n) {
				st->bad_ids++;
				continue;
			}
			if (l[j] == i)
				st->self_loops++;
			if (seen[l[j]] == i + 1)
				st->duplicate_edges++;
			seen[l[j]] = (uint32_t)(i + 1);
			if (vam_deleted(v, l[j]))
				st->edges_to_deleted++;
		}
	}
	if (live == 0)
		st->min_degree = 0;
	st->mean_degree = live ? (double)sum / (double)live : 0;
	vam_reach(v, n, seen, queue);
	for (uint64_t i = 0; i < n; i++)
		if (!seen[i] && !vam_deleted(v, (uint32_t)i))
			st->unreachable++;
	free(queue);
	free(seen);
	return 0;
}
