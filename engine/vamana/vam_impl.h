/*
 * vam_impl.h — the inside of struct vam, shared by the files of engine/vamana.
 *
 * Invariants:
 *   - n <= cap; ids >= n never appear in a neighbour list;
 *   - a node's degree and slots change only under its lock (lock[i]);
 *   - the arrays move only under the grow lock held for writing; every
 *     reader of the arrays (search, insert, delete, consolidate) holds it
 *     for reading;
 *   - a point's vector and extra coordinate are written before any edge to
 *     it is published (edges are written under a lock, which orders them).
 */
#ifndef DANN_VAM_IMPL_H
#define DANN_VAM_IMPL_H

#include <pthread.h>
#include <stdatomic.h>

#include "dist.h"
#include "topk.h"
#include "vamana.h"

/* DiskANN's cap on RobustPrune's candidate pool (its "maxc"): beyond this
 * many candidates the far ones never survive occlusion anyway. */
#define VAM_MAX_POOL 750u

struct vam_scratch {
	struct vam_scratch *next;
	uint32_t *stamp;         /* visited set: stamp[i] == gen means seen */
	uint64_t stamp_cap;
	uint32_t gen;
	struct cand_list cl;
	struct cand *exp;        /* expanded nodes with their distances */
	uint32_t nexp, exp_cap;
	uint32_t *nbr;           /* copy of one neighbour list (R + 1) */
	struct cand *pool;       /* RobustPrune candidates */
	uint32_t npool, pool_cap;
	float *occl;             /* occlusion factors, pool_cap */
	uint32_t *out;           /* pruned list, R */
	float *qbuf;             /* normalised query / vector, dim floats */
	struct topk tk;
};

/* What distances are measured to: a stored point (build) or a query. */
struct vam_target {
	const void *vec;
	dist_fn fn;
	float ext;  /* IP build: the target's extra coordinate */
	bool aug;   /* add (ext - ext[j])^2 (IP build distances) */
};

struct vam {
	enum dann_metric metric;
	enum dann_dtype dtype;
	uint32_t dim;
	size_t row_bytes;
	struct vam_params p;
	uint64_t cap;
	_Atomic uint64_t n;
	uint8_t *vecs;            /* cap rows */
	float *ext;               /* IP: sqrt(M^2 - |x|^2) per point, else NULL */
	float ip_M2;
	uint32_t *slots;          /* cap * R */
	uint32_t *deg;            /* cap */
	atomic_uchar *lock;       /* cap spinlocks */
	atomic_uchar *del;        /* cap deletion marks */
	uint32_t medoid;
	dist_fn dd;               /* data-data kernel */
	dist_fn qd;               /* query(f32)-data kernel */
	float off;                /* added to every kernel value */
	bool normalise;           /* cosine over f32: unit vectors, IP kernel */
	pthread_rwlock_t grow;
	pthread_rwlock_t maint;   /* read: inserts; write: consolidate */
	pthread_mutex_t alloc;    /* id allocation and growth */
	pthread_mutex_t pool_mu;
	struct vam_scratch *spool;
};

static inline const void *vam_row(const struct vam *v, uint64_t i)
{
	return v->vecs + i * v->row_bytes;
}

static inline void vam_lock(struct vam *v, uint32_t i)
{
	unsigned spins = 0;

	while (atomic_exchange_explicit(&v->lock[i], 1, memory_order_acquire)) {
		while (atomic_load_explicit(&v->lock[i], memory_order_relaxed)) {
			if (++spins > 1024) {
				/* The holder may be descheduled (shared cores):
				 * give it the CPU rather than burn ours. */
				sched_yield();
				spins = 0;
			} else {
				__builtin_ia32_pause();
			}
		}
	}
}

static inline void vam_unlock(struct vam *v, uint32_t i)
{
	atomic_store_explicit(&v->lock[i], 0, memory_order_release);
}

static inline bool vam_deleted(const struct vam *v, uint32_t i)
{
	return atomic_load_explicit(&v->del[i], memory_order_relaxed) != 0;
}

/* Distance from target t to stored point j. */
static inline float vam_tdist(const struct vam *v, const struct vam_target *t, uint32_t j)
{
	float d = t->fn(t->vec, vam_row(v, j), v->dim) + v->off;

	if (t->aug) {
		float e = t->ext - v->ext[j];
		d += e * e;
	}
	return d;
}

/* The target "stored point i" for build-time distances. */
static inline struct vam_target vam_point_target(const struct vam *v, uint32_t i)
{
	return (struct vam_target){ .vec = vam_row(v, i), .fn = v->dd,
				    .ext = v->ext ? v->ext[i] : 0, .aug = v->ext != NULL };
}

/* Scratch space for one thread's search or insert; the caller holds the
 * grow lock for reading (the visited set is sized to the capacity). */
int vam_scratch_get(struct vam *v, uint32_t L, struct vam_scratch **out);
void vam_scratch_put(struct vam *v, struct vam_scratch *s);

/* Copies node i's neighbours into buf (R + 1 slots); returns the degree. */
uint32_t vam_copy_nbrs(struct vam *v, uint32_t i, uint32_t *buf);

/* RobustPrune of s->pool (s->npool candidates with distances to p) to at
 * most R neighbours into s->out; returns how many. Sorts, de-duplicates
 * and drops p from the pool first. */
uint32_t vam_robust_prune(struct vam *v, struct vam_scratch *s, uint32_t p, float alpha);

/* Appends a candidate to s->pool, growing it. */
int vam_pool_push(struct vam_scratch *s, uint32_t id, float dist);

/* Creates an empty index with room for cap points (no vectors). */
int vam_create(enum dann_metric metric, enum dann_dtype dtype, uint32_t dim, uint64_t cap,
	       const struct vam_params *p, struct vam **out);
/* Copies n rows into ids [first, first+n), normalising / computing the
 * extra coordinate as the metric needs. M^2 must be set for IP. */
void vam_store_rows(struct vam *v, uint64_t first, const void *rows, uint64_t n);
/* Breadth-first walk from the medoid over ids < n: seen[i] = 1 for each
 * node reached (queue: n slots of work space). */
void vam_reach(const struct vam *v, uint64_t n, uint32_t *seen, uint32_t *queue);

/* Gives every live point unreachable from the medoid an in-edge from a
 * reachable node (rounds until none is left). The caller excludes other
 * writers; searches may run. */
int vam_connect_unreachable(struct vam *v, uint64_t n);

/* Large zero-filled arrays that go back to the OS when freed (see
 * vam_mem.c). vam_big_realloc(NULL, 0, n) allocates; NULL on failure,
 * leaving p as it was. The caller keeps the byte counts. */
void *vam_big_realloc(void *p, size_t old_bytes, size_t new_bytes);
void vam_big_free(void *p, size_t bytes);

/* Frees the scratch spaces pooled in v. */
void vam_scratch_pool_free(struct vam *v);
/* GreedySearch for stored point p from the entry point with the build's
 * L; the expanded nodes and their distances land in s->exp. */
int vam_greedy_collect(struct vam *v, struct vam_scratch *s, uint32_t p);
/* Builds the graph over the n raw rows already in v->vecs (medoid,
 * random order, linking on the index's threads, reconnection). A preset
 * v->ip_M2 is kept if larger than the rows' own largest squared norm. */
int vam_build_adopt(struct vam *v, uint64_t n);

/* Number of threads the params ask for. */
int vam_threads(const struct vam *v);

#endif
