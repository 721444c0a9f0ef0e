/*
 * vam_update.c — deletes and their consolidation (FreshDiskANN,
 * Singh et al. 2021, Algorithm 4).
 *
 * A delete only sets a mark: the point keeps routing searches (its edges
 * are often the only way into its neighbourhood) but never appears in a
 * result. Consolidation then repairs every live node p that points at a
 * deleted node d: its candidate set is N(p) ∪ N(d) minus deleted nodes,
 * RobustPruned back to R, so the paths that went through d survive. Only
 * afterwards do deleted nodes lose their own edges. The entry point keeps
 * routing even when deleted (it is repaired like a live node), so the
 * graph always has an entry. Last, points that inserts or repairs left
 * unreachable from the entry point get an in-edge again.
 */
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "vam_impl.h"

int vam_delete(struct vam *v, uint32_t id)
{
	int rc = 0;

	pthread_rwlock_rdlock(&v->grow);
	if (id >= atomic_load(&v->n))
		rc = dann_fail(DANN_ENOTFOUND, "vamana: delete of id %u, the index holds %llu points", id,
			       (unsigned long long)atomic_load(&v->n));
	else
		atomic_store_explicit(&v->del[id], 1, memory_order_relaxed);
	pthread_rwlock_unlock(&v->grow);
	return rc;
}

/* Repairs p if it points at a deleted node; returns 1 if its list changed. */
static int repair(struct vam *v, struct vam_scratch *s, uint32_t p, uint32_t *dnb)
{
	struct vam_target t = vam_point_target(v, p);
	uint32_t deg = vam_copy_nbrs(v, p, s->nbr), m, R = v->p.R;
	bool any = false;
	int rc;

	for (uint32_t i = 0; i < deg && !any; i++)
		any = vam_deleted(v, s->nbr[i]);
	if (!any)
		return 0;
	s->npool = 0;
	/* s->nbr is reused for each deleted neighbour's list: keep p's. */
	uint32_t own[deg];
	memcpy(own, s->nbr, sizeof *own * deg);
	for (uint32_t i = 0; i < deg; i++) {
		uint32_t q = own[i];
		if (!vam_deleted(v, q)) {
			if ((rc = vam_pool_push(s, q, vam_tdist(v, &t, q))) < 0)
				return rc;
			continue;
		}
		uint32_t dd = vam_copy_nbrs(v, q, dnb);
		for (uint32_t j = 0; j < dd; j++)
			if (dnb[j] != p && !vam_deleted(v, dnb[j]) &&
			    (rc = vam_pool_push(s, dnb[j], vam_tdist(v, &t, dnb[j]))) < 0)
				return rc;
	}
	m = vam_robust_prune(v, s, p, v->p.alpha);
	vam_lock(v, p);
	memcpy(v->slots + (size_t)p * R, s->out, sizeof *s->out * m);
	v->deg[p] = m;
	vam_unlock(v, p);
	return 1;
}

int vam_consolidate(struct vam *v, uint64_t *repaired)
{
	_Atomic uint64_t count = 0;
	struct dann_first_err first = { 0 };
	uint64_t n;
	int err;

	pthread_rwlock_wrlock(&v->maint);
	pthread_rwlock_rdlock(&v->grow);
	n = atomic_load(&v->n);
#pragma omp parallel num_threads(vam_threads(v))
	{
		struct vam_scratch *s = NULL;
		uint32_t *dnb = malloc(sizeof *dnb * (v->p.R + 1));
		int rc = dann_first_err_set(&first, dnb ? vam_scratch_get(v, 1, &s)
						       : dann_fail(DANN_ENOMEM, "vamana consolidate: no memory"));
#pragma omp for schedule(dynamic, 256)
		for (uint64_t i = 0; i < n; i++) {
			uint32_t p = (uint32_t)i;
			if (rc < 0 || (vam_deleted(v, p) && p != v->medoid))
				continue;
			int r = repair(v, s, p, dnb);
			if (r < 0)
				rc = dann_first_err_set(&first, r);
			else if (r)
				atomic_fetch_add(&count, 1);
		}
		if (s)
			vam_scratch_put(v, s);
		free(dnb);
	}
	err = dann_first_err_raise(&first);
	if (err == 0) {
		for (uint64_t i = 0; i < n; i++)
			if (vam_deleted(v, (uint32_t)i) && i != v->medoid) {
				vam_lock(v, (uint32_t)i);
				v->deg[i] = 0;
				vam_unlock(v, (uint32_t)i);
			}
		err = vam_connect_unreachable(v, n);
	}
	pthread_rwlock_unlock(&v->grow);
	pthread_rwlock_unlock(&v->maint);
	if (repaired)
		*repaired = atomic_load(&count);
	return err;
}
