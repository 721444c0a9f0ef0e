/*
 * pq_opq.c — OPQ: the learned rotation before PQ (see pq.h).
 *
 * Non-parametric OPQ (Ge et al. 2013, section 3.2, as faiss's OPQMatrix
 * does it), started from the parametric solution (section 4, "eigenvalue
 * allocation"): the principal directions of the sample, dealt to the
 * chunks so that the products of their variances are balanced (each
 * chunk gets a share of the signal instead of some chunks all of it and
 * others only noise). From there, alternate
 *   1. Y = X R^T, train each chunk's 256 centroids on Y (warm-started from
 *      the previous round, a few Lloyd steps), replace Y by its decoding Ŷ;
 *   2. R = argmin over orthonormal R of ||X R^T - Ŷ||^2, the Procrustes
 *      solution R = U V^T from the SVD Ŷ^T X = U S V^T (LAPACK dgesvd from
 *      the OpenBLAS the build already links).
 * X is a strided subsample of the training rows, centred, sized so that a
 * round costs about the same whatever the dimension.
 */
#include "pq_impl.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "kmeans.h"

/* Rows x dims of OPQ's sample: at most 65536 rows (faiss's 256 x 256) and
 * about 8 M floats, but never fewer than 40 rows per centroid. */
#define OPQ_SAMPLE_FLOATS (1u << 23)
#define OPQ_MAX_ROWS 65536u
#define OPQ_MIN_ROWS (40u * PQ_CENTROIDS)
#define OPQ_FIRST_ITERS 10u  /* Lloyd steps of round one (from k-means++) */
#define OPQ_ROUND_ITERS 4u   /* Lloyd steps of later rounds (warm start) */
#define ROT_BLOCK_ROWS 1024u /* rows rotated per sgemm in pq_rotate_rows */

/* LAPACK's SVD (Fortran calling convention; the trailing lengths are the
 * hidden character-argument lengths gfortran expects). */
extern void dsyev_(const char *jobz, const char *uplo, const int *n, double *a, const int *lda,
		   double *w, double *work, const int *lwork, int *info, size_t lj, size_t lu);
extern void dgesvd_(const char *jobu, const char *jobvt, const int *m, const int *n, double *a,
		    const int *lda, double *s, double *u, const int *ldu, double *vt,
		    const int *ldvt, double *work, const int *lwork, int *info, size_t lu,
		    size_t lvt);

const float *pq_rotation(const struct pq *pq) { return pq->rot; }

int pq_rotate_rows(const struct pq *pq, float *x, uint64_t n)
{
	uint32_t d = pq->dim;
	uint64_t bn = n < ROT_BLOCK_ROWS ? n : ROT_BLOCK_ROWS;
	float *t;

	if (!pq->rot || n == 0)
		return 0;
	if (!(t = malloc(bn * d * sizeof *t)))
		return dann_fail(DANN_ENOMEM, "pq: rotating a block of %llu x %u",
				 (unsigned long long)bn, d);
	for (uint64_t i0 = 0; i0 < n; i0 += bn) {
		uint64_t m = n - i0 < bn ? n - i0 : bn;
		float *xb = x + i0 * d;

		/* T = X R^T: row i of T is R x_i. */
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, (int)d, (int)d, 1.0f, xb,
			    (int)d, pq->rot, (int)d, 0.0f, t, (int)d);
		memcpy(xb, t, m * d * sizeof *t);
	}
	free(t);
	return 0;
}

int pq_rotate_queries(const struct pq *pq, const float *q, uint64_t n, float *out)
{
	memcpy(out, q, n * pq->dim * sizeof *out);
	return pq_rotate_rows(pq, out, n);
}

/* R = U V^T for the SVD of the row-major d x d matrix c (= Ŷ^T X).
 * LAPACK reads c as column-major, i.e. c^T = V S U^T: its left factor is
 * V and its right factor U^T, and their column-major product V U^T = R^T
 * is R when read back row-major. */
static int procrustes(const float *c, uint32_t d, float *rot)
{
	int n = (int)d, lwork = -1, info = 0;
	double *a = malloc((size_t)d * d * sizeof *a), *u = malloc((size_t)d * d * sizeof *u);
	double *vt = malloc((size_t)d * d * sizeof *vt), *p = malloc((size_t)d * d * sizeof *p);
	double *s = malloc(d * sizeof *s), *work = NULL, q;
	int rc = 0;

	if (!a || !u || !vt || !p || !s) {
		rc = dann_fail(DANN_ENOMEM, "opq: SVD of %u x %u", d, d);
		goto out;
	}
	for (size_t i = 0; i < (size_t)d * d; i++)
		a[i] = c[i];
	dgesvd_("A", "A", &n, &n, a, &n, s, u, &n, vt, &n, &q, &lwork, &info, 1, 1);
	lwork = info == 0 ? (int)q : 0;
	if (lwork <= 0 || !(work = malloc((size_t)lwork * sizeof *work))) {
		rc = info ? dann_fail(DANN_EIO, "opq: dgesvd workspace query failed (info %d)", info)
			  : dann_fail(DANN_ENOMEM, "opq: SVD workspace of %d doubles", lwork);
		goto out;
	}
	dgesvd_("A", "A", &n, &n, a, &n, s, u, &n, vt, &n, work, &lwork, &info, 1, 1);
	if (info != 0) {
		rc = dann_fail(DANN_EIO, "opq: dgesvd of %u x %u did not converge (info %d)", d, d, info);
		goto out;
	}
	cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0, u, n, vt, n, 0.0, p, n);
	for (size_t i = 0; i < (size_t)d * d; i++)
		rot[i] = (float)p[i];
out:
	free(a);
	free(u);
	free(vt);
	free(p);
	free(s);
	free(work);
	return rc;
}

/* Eigenvalue allocation: rot's rows are the eigenvectors of the sample's
 * covariance, the largest first, each given to the chunk with room whose
 * product of variances (sum of logs) is smallest so far. */
static int eigen_allocation(const struct pq *pq, const float *xs, uint64_t nt, float *rot)
{
	uint32_t d = pq->dim;
	int n = (int)d, lwork = -1, info = 0;
	float *cf = malloc((size_t)d * d * sizeof *cf);
	double *a = malloc((size_t)d * d * sizeof *a), *w = malloc(d * sizeof *w);
	double *logv = calloc(pq->M, sizeof *logv), *work = NULL, q, floor_v;
	uint32_t *fill = calloc(pq->M, sizeof *fill);
	int rc = 0;

	if (!cf || !a || !w || !logv || !fill) {
		rc = dann_fail(DANN_ENOMEM, "opq: covariance of %u dims", d);
		goto out;
	}
	cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, n, n, (int)nt, 1.0f / (float)nt, xs, n,
		    xs, n, 0.0f, cf, n);
	for (size_t i = 0; i < (size_t)d * d; i++)
		a[i] = cf[i];
	dsyev_("V", "U", &n, a, &n, w, &q, &lwork, &info, 1, 1);
	lwork = info == 0 ? (int)q : 0;
	if (lwork <= 0 || !(work = malloc((size_t)lwork * sizeof *work))) {
		rc = info ? dann_fail(DANN_EIO, "opq: dsyev workspace query failed (info %d)", info)
			  : dann_fail(DANN_ENOMEM, "opq: eigen workspace of %d doubles", lwork);
		goto out;
	}
	dsyev_("V", "U", &n, a, &n, w, work, &lwork, &info, 1, 1);
	if (info != 0) {
		rc = dann_fail(DANN_EIO, "opq: dsyev of %u x %u did not converge (info %d)", d, d, info);
		goto out;
	}
	/* A zero variance would make its chunk's product zero whatever else it
	 * holds: count it as a small fraction of the largest. */
	floor_v = (w[d - 1] > 0 ? w[d - 1] : 1) * 1e-9;
	for (int j = n - 1; j >= 0; j--) {
		uint32_t best = UINT32_MAX;
		for (uint32_t m = 0; m < pq->M; m++)
			if (fill[m] < pq->off[m + 1] - pq->off[m] &&
			    (best == UINT32_MAX || logv[m] < logv[best]))
				best = m;
		logv[best] += log(w[j] > floor_v ? w[j] : floor_v);
		/* Column j of a (column-major) is eigenvector j: row of rot. */
		for (uint32_t i = 0; i < d; i++)
			rot[(size_t)(pq->off[best] + fill[best]) * d + i] = (float)a[(size_t)j * d + i];
		fill[best]++;
	}
out:
	free(cf);
	free(a);
	free(w);
	free(logv);
	free(work);
	free(fill);
	return rc;
}

/* Copies a strided subsample of the ns rows of x into a new nt x d array,
 * centred on its own mean. */
static float *opq_sample(const float *x, uint64_t ns, uint32_t d, uint64_t nt)
{
	float *s = malloc(nt * d * sizeof *s);
	double *mean = calloc(d, sizeof *mean);

	if (!s || !mean) {
		free(s);
		free(mean);
		return NULL;
	}
	for (uint64_t i = 0; i < nt; i++) {
		const float *r = x + (i * ns / nt) * d;
		memcpy(s + i * d, r, d * sizeof *s);
		for (uint32_t j = 0; j < d; j++)
			mean[j] += r[j];
	}
	for (uint64_t i = 0; i < nt; i++)
		for (uint32_t j = 0; j < d; j++)
			s[i * d + j] -= (float)(mean[j] / (double)nt);
	free(mean);
	return s;
}

static uint64_t opq_rows(uint64_t ns, uint32_t d)
{
	uint64_t nt = OPQ_SAMPLE_FLOATS / d;

	if (nt > OPQ_MAX_ROWS)
		nt = OPQ_MAX_ROWS;
	if (nt < OPQ_MIN_ROWS)
		nt = OPQ_MIN_ROWS;
	return nt < ns ? nt : ns;
}

/* One round's step 1: trains every chunk on y (warm after round one) and
 * overwrites y with its decoding. */
static int opq_quantize(struct pq *pq, const struct pq_params *p, float *y, uint64_t nt,
			uint32_t round, float *chunk, uint32_t *a)
{
	uint32_t d = pq->dim;
	int rc;

	for (uint32_t m = 0; m < pq->M; m++) {
		uint32_t off = pq->off[m], ds = pq->off[m + 1] - off;
		float *c = pq->cent + (size_t)off * PQ_CENTROIDS;
		struct km_params kp;

		for (uint64_t i = 0; i < nt; i++)
			memcpy(chunk + i * ds, y + i * d + off, ds * sizeof *chunk);
		km_params_default(&kp, PQ_CENTROIDS);
		kp.iters = round == 0 ? OPQ_FIRST_ITERS : OPQ_ROUND_ITERS;
		kp.seed = p->seed + m;
		kp.threads = p->threads;
		kp.stop = p->stop;
		kp.warm = round > 0;
		if ((rc = km_train(chunk, nt, ds, &kp, c, NULL)) < 0 ||
		    (rc = km_assign(c, PQ_CENTROIDS, ds, chunk, nt, 1, a, NULL, p->threads)) < 0)
			return rc;
		for (uint64_t i = 0; i < nt; i++)
			memcpy(y + i * d + off, c + (size_t)a[i] * ds, ds * sizeof *y);
	}
	return 0;
}

int pq_opq_train(struct pq *pq, const struct pq_params *p, float *x, uint64_t ns)
{
	uint32_t d = pq->dim, maxds = pq->off[1] - pq->off[0];
	uint64_t nt = opq_rows(ns, d);
	float *xs = NULL, *y = NULL, *chunk = NULL, *c = NULL, *rot = NULL;
	uint32_t *a = NULL;
	int rc = 0;

	if (d > PQ_OPQ_MAX_DIM)
		return dann_fail(DANN_EINVAL, "opq: dimension %u: the rotation is kept up to %u dims",
				 d, PQ_OPQ_MAX_DIM);
	if (nt < PQ_CENTROIDS)
		return dann_fail(DANN_EINVAL, "opq: %llu training rows: at least %u are needed",
				 (unsigned long long)nt, PQ_CENTROIDS);
	xs = opq_sample(x, ns, d, nt);
	y = malloc(nt * d * sizeof *y);
	chunk = malloc(nt * maxds * sizeof *chunk);
	c = malloc((size_t)d * d * sizeof *c);
	rot = calloc((size_t)d * d, sizeof *rot);
	a = malloc(nt * sizeof *a);
	if (!xs || !y || !chunk || !c || !rot || !a) {
		rc = dann_fail(DANN_ENOMEM, "opq: %llu x %u sample and a %u x %u rotation",
			       (unsigned long long)nt, d, d, d);
		goto out;
	}
	if ((rc = eigen_allocation(pq, xs, nt, rot)) < 0)
		goto out;
	for (uint32_t r = 0; r < p->opq_iters; r++) {
		if ((rc = stop_check(p->stop, "opq")) < 0)
			goto out;
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)nt, (int)d, (int)d, 1.0f, xs,
			    (int)d, rot, (int)d, 0.0f, y, (int)d);
		if ((rc = opq_quantize(pq, p, y, nt, r, chunk, a)) < 0)
			goto out;
		/* C = Ŷ^T X, then R from its SVD. */
		cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)d, (int)d, (int)nt, 1.0f, y,
			    (int)d, xs, (int)d, 0.0f, c, (int)d);
		if ((rc = procrustes(c, d, rot)) < 0)
			goto out;
	}
	pq->rot = rot;
	rot = NULL;
	rc = pq_rotate_rows(pq, x, ns);
out:
	free(xs);
	free(y);
	free(chunk);
	free(c);
	free(rot);
	free(a);
	return rc;
}
