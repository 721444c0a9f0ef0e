/*
 * kmeans.h — k-means clustering of float vectors: train k centroids on a
 * sample, assign points to their n nearest centroids.
 *
 * Used by PQ training (256 centroids per sub-space) and by builds larger
 * than RAM, which partition the data by assigning every point to its two
 * nearest of k centroids trained on a sample.
 *
 * Training: k-means++ seeding (D^2 sampling, on a sub-sample of at most
 * KM_SEED_POINTS_PER_CENTROID * k points, which costs little and seeds as
 * well), then Lloyd iterations until the objective improves by less than
 * a relative tolerance or the iteration budget runs out. A cluster left
 * empty by an iteration is repaired by splitting a large cluster in two
 * (chosen with probability proportional to its size), as faiss does.
 *
 * The heavy step, distances from a block of points to all centroids, is one
 * matrix product (OpenBLAS sgemm) using ||x||^2 - 2 x.c + ||c||^2; the
 * argmin over each row and the centroid sums run on every core with
 * OpenMP on the threads the caller gives: each OpenMP thread runs sgemm on
 * its own block, with OpenBLAS held to one thread for the duration of a
 * pass (its pthread pool would fight OpenMP for the cores, and would use
 * every core whatever the caller asked). OpenBLAS's count is process-wide:
 * the first pass to start saves it, the last to end restores it, so
 * passes on several threads at once share one scoped change. Results are
 * deterministic for a given seed and thread count.
 *
 * Every distance here is squared L2.
 */
#ifndef DANN_KMEANS_H
#define DANN_KMEANS_H

#include <stddef.h>
#include <stdint.h>

#include "dann.h"
#include "stop.h"

/* The seeding sub-sample size per centroid (k-means++ costs O(n k dim)). */
#define KM_SEED_POINTS_PER_CENTROID 64u

struct km_params {
	uint32_t k;           /* centroids to train, >= 1 */
	uint32_t iters;       /* Lloyd iterations at most, >= 1 (default 25) */
	uint64_t max_sample;  /* train on at most this many of the n points,
	                         drawn at random; 0 = all (default 0) */
	double tol;           /* stop when the objective improves by less than
	                         this fraction (default 1e-5) */
	uint64_t seed;        /* random seed (default 1234) */
	uint32_t threads;     /* OpenMP threads (default 0 = every core) */
	const struct stop *stop; /* checked every Lloyd iteration (NULL: never) */
	int warm;             /* 1: the centroids passed in are the start (no
	                         seeding), as OPQ's alternation restarts each
	                         chunk's k-means where the last round left it
	                         (default 0) */
};

/* Fills p with the defaults above and the given k. */
void km_params_default(struct km_params *p, uint32_t k);

/* What a training run did. */
struct km_stats {
	uint32_t iters;        /* Lloyd iterations run */
	uint32_t splits;       /* empty clusters repaired, summed over iterations */
	uint64_t points;       /* points trained on (after sampling) */
	double objective;      /* sum of squared distances to the nearest
	                          centroid over the training points, at the end */
};

/*
 * Trains p->k centroids on n row-major float vectors x of `dim` elements
 * (or on a random sample of p->max_sample of them), writing k * dim floats
 * to centroids (caller-owned). stats may be NULL.
 * Errors: DANN_EINVAL for n < k, k == 0, dim == 0, iters == 0, or a
 * non-finite value in x (naming the row); DANN_ENOMEM; DANN_ECANCELED /
 * DANN_ETIMEDOUT from p->stop.
 */
int km_train(const float *x, uint64_t n, uint32_t dim, const struct km_params *p,
	     float *centroids, struct km_stats *stats);

/*
 * For each of n points x (row-major, `dim` floats), writes the indices of
 * its nn nearest of the k centroids, nearest first, to ids[i * nn ...] and,
 * if dists is not NULL, their squared L2 distances to dists[i * nn ...].
 * Ties go to the lower centroid index. Runs on `threads` OpenMP threads
 * (0 = every core). Errors: DANN_EINVAL for nn == 0 or nn > k, k == 0,
 * dim == 0; DANN_ENOMEM.
 */
int km_assign(const float *centroids, uint32_t k, uint32_t dim, const float *x, uint64_t n,
	      uint32_t nn, uint32_t *ids, float *dists, uint32_t threads);

/* km_assign for points whose rows are ld >= dim floats apart (a column slice
 * of a wider matrix, as PQ encoding uses). */
int km_assign_strided(const float *centroids, uint32_t k, uint32_t dim, const float *x, size_t ld,
		      uint64_t n, uint32_t nn, uint32_t *ids, float *dists, uint32_t threads);

/* The OpenMP team size for a threads setting (0 = every core). */
int km_threads(uint32_t threads);

/*
 * Chooses `count` distinct row numbers out of [0, n) uniformly at random,
 * written to rows in ascending order (so a file is read front to back).
 * count > n is DANN_EINVAL. Deterministic for a given seed.
 */
int km_sample_rows(uint64_t n, uint64_t count, uint64_t seed, uint64_t *rows);

#endif
