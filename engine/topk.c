/*
 * topk.c — bounded heap and sorted candidate list (see topk.h).
 */
#include "topk.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"

int topk_init(struct topk *t, uint32_t k)
{
	memset(t, 0, sizeof *t);
	if (k == 0)
		return dann_fail(DANN_EINVAL, "top-k: k must be at least 1");
	t->dist = malloc(sizeof *t->dist * k);
	t->id = malloc(sizeof *t->id * k);
	if (!t->dist || !t->id) {
		topk_destroy(t);
		return dann_fail(DANN_ENOMEM, "top-k: no memory for k = %u", k);
	}
	t->k = k;
	return 0;
}

void topk_destroy(struct topk *t)
{
	free(t->dist);
	free(t->id);
	memset(t, 0, sizeof *t);
}

float topk_bound(const struct topk *t)
{
	return t->n < t->k ? INFINITY : t->dist[0];
}

/* Max-heap order on (dist, id) so that ties resolve to the smaller id
 * staying, which makes results independent of push order. */
static inline int heap_less(float da, uint32_t ia, float db, uint32_t ib)
{
	return da < db || (da == db && ia < ib);
}

static void sift_down(struct topk *t, uint32_t i)
{
	float d = t->dist[i];
	uint32_t id = t->id[i];

	for (;;) {
		uint32_t l = 2 * i + 1, r = l + 1, m = l;
		if (l >= t->n)
			break;
		if (r < t->n && heap_less(t->dist[l], t->id[l], t->dist[r], t->id[r]))
			m = r;
		if (!heap_less(d, id, t->dist[m], t->id[m]))
			break;
		t->dist[i] = t->dist[m];
		t->id[i] = t->id[m];
		i = m;
	}
	t->dist[i] = d;
	t->id[i] = id;
}

void topk_push(struct topk *t, uint32_t id, float dist)
{
	if (t->n < t->k) {
		uint32_t i = t->n++;
		while (i > 0) {
			uint32_t p = (i - 1) / 2;
			if (!heap_less(t->dist[p], t->id[p], dist, id))
				break;
			t->dist[i] = t->dist[p];
			t->id[i] = t->id[p];
			i = p;
		}
		t->dist[i] = dist;
		t->id[i] = id;
		return;
	}
	if (!heap_less(dist, id, t->dist[0], t->id[0]))
		return;
	t->dist[0] = dist;
	t->id[0] = id;
	sift_down(t, 0);
}

void topk_push_unique(struct topk *t, uint32_t id, float dist)
{
	if (t->n == t->k && !heap_less(dist, id, t->dist[0], t->id[0]))
		return;
	for (uint32_t i = 0; i < t->n; i++)
		if (t->id[i] == id)
			return;
	topk_push(t, id, dist);
}

uint32_t topk_sort(struct topk *t)
{
	uint32_t n = t->n;

	/* Heap sort: repeatedly move the max to the end. */
	while (t->n > 1) {
		uint32_t last = t->n - 1;
		float d = t->dist[0];
		uint32_t id = t->id[0];
		t->dist[0] = t->dist[last];
		t->id[0] = t->id[last];
		t->dist[last] = d;
		t->id[last] = id;
		t->n = last;
		sift_down(t, 0);
	}
	t->n = n;
	return n;
}

int cand_init(struct cand_list *cl, uint32_t L)
{
	memset(cl, 0, sizeof *cl);
	if (L == 0)
		return dann_fail(DANN_EINVAL, "candidate list: L must be at least 1");
	if (!(cl->c = malloc(sizeof *cl->c * ((size_t)L + 1))))
		return dann_fail(DANN_ENOMEM, "candidate list: no memory for L = %u", L);
	cl->cap = L;
	return 0;
}

void cand_destroy(struct cand_list *cl)
{
	free(cl->c);
	memset(cl, 0, sizeof *cl);
}

int cand_insert(struct cand_list *cl, uint32_t id, float dist)
{
	uint32_t lo = 0, hi = cl->size;

	if (cl->size == cl->cap) {
		struct cand *w = &cl->c[cl->size - 1];
		if (dist > w->dist || (dist == w->dist && id >= w->id))
			return -1;
	}
	/* Binary search for the first entry ordered after (dist, id). */
	while (lo < hi) {
		uint32_t mid = (lo + hi) / 2;
		struct cand *m = &cl->c[mid];
		if (m->dist < dist || (m->dist == dist && m->id < id))
			lo = mid + 1;
		else
			hi = mid;
	}
	memmove(&cl->c[lo + 1], &cl->c[lo], sizeof *cl->c * (cl->size - lo));
	cl->c[lo] = (struct cand){ .id = id, .dist = dist, .visited = 0 };
	if (cl->size < cl->cap)
		cl->size++;
	if (lo < cl->cursor)
		cl->cursor = lo;
	return (int)lo;
}

int cand_next_unvisited(struct cand_list *cl)
{
	while (cl->cursor < cl->size && cl->c[cl->cursor].visited)
		cl->cursor++;
	return cl->cursor < cl->size ? (int)cl->cursor : -1;
}
