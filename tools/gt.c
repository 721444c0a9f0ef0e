/*
 * gt.c — exact ground truth by blocked sgemm plus exact re-scoring (see
 * gt.h for the contract).
 *
 * Why the filter is safe: for a query q and base row b, the sgemm score
 * d~ = |b|^2 - 2 q.b + |q|^2 (L2), -q.b (IP) or 1 - q^.b^ (cosine) differs
 * from the exact distance d by at most c * (|q|^2 + |b|^2), where
 * c = GT_ERR_SLACK * (3 dim + 16) * 2^-24 covers the float rounding of any
 * summation order in the dot product and the norms, the few operations
 * after it, and the rounding of the re-scoring kernel itself (Higham's
 * gamma_n bound, with a factor of slack). So a pair can only enter a
 * query's heap, whose largest distance is `bound`, if d~ <= bound + that
 * margin; only those pairs pay for an exact kernel call, and the heap never
 * sees an approximate distance.
 */
#include "gt.h"

#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "blas_scope.h"
#include "dist.h"
#include "error.h"
#include "topk.h"
#include "vf.h"

/* Queries per sgemm tile and base rows per sub-block: a 256 x 1024 float
 * score tile (1 MiB) stays in one core's L2 while it is filtered. */
#define GT_QUERY_TILE 256
#define GT_BASE_TILE 1024
/* GT_PAR_BLAS: one multi-threaded sgemm per 4096 x 1024 tile (16 MiB), as
 * faiss does, then the threads split the tile's queries to filter. */
#define GT_BLAS_QUERY_TILE 4096
#define GT_BLAS_BASE_TILE 1024
/* A block of float base rows stays under this many bytes. */
#define GT_BLOCK_MAX_BYTES (256u << 20)
/* Multiplies the proven rounding bound (see the file comment). */
#define GT_ERR_SLACK 2.0

/* A NaN or infinity would make every comparison false and the answer
 * meaningless; values so large that their squares overflow, likewise. */
#define NONFINITE_MSG "%s row %llu holds a NaN, an infinity or a value too large to square in float32"

/* One base block, in the forms the two passes need. */
struct block {
	uint64_t first, n;
	void *raw;      /* n rows in the base dtype: what the kernel re-scores */
	float *f;       /* n rows as float, normalised for cosine: sgemm input */
	float *nbp;     /* per row: the row's share of the filter score */
};

/* Everything the per-tile work reads, fixed for the whole run. */
struct run {
	const struct gt_base *base;
	uint32_t dim, k;
	enum dann_metric metric;
	uint64_t nq;
	const void *qx;       /* queries as the exact kernel takes them */
	size_t qx_row_bytes;
	const float *qf;      /* queries as float (normalised for cosine) */
	float *tq;            /* per query: its share of the filter threshold */
	float score_mul;      /* -2 for L2, -1 for IP and cosine */
	float c;              /* relative rounding margin */
	dist_fn exact;
	struct topk *heaps;
};

static int check_args(const struct gt_base *base, enum dann_dtype qtype, uint64_t nq,
		      const struct gt_params *p)
{
	if (p->k < 1 || p->k > GT_MAX_K)
		return dann_fail(DANN_EINVAL, "gt: k = %u, expected 1..%d", p->k, GT_MAX_K);
	if (p->k > base->count)
		return dann_fail(DANN_EINVAL, "gt: k = %u is more than the %llu base rows", p->k,
				 (unsigned long long)base->count);
	if (p->metric != DANN_METRIC_L2 && p->metric != DANN_METRIC_IP &&
	    p->metric != DANN_METRIC_COSINE)
		return dann_fail(DANN_EINVAL, "gt: unknown metric %d", (int)p->metric);
	if (base->dtype != DANN_DTYPE_F32 && base->dtype != DANN_DTYPE_U8 &&
	    base->dtype != DANN_DTYPE_I8)
		return dann_fail(DANN_EINVAL, "gt: base elements are %s, expected float32, uint8 or int8",
				 dann_dtype_name(base->dtype));
	if (qtype != DANN_DTYPE_F32 && qtype != DANN_DTYPE_U8 && qtype != DANN_DTYPE_I8)
		return dann_fail(DANN_EINVAL, "gt: query elements are %s, expected float32, uint8 or int8",
				 dann_dtype_name(qtype));
	if (base->dim < 1 || base->dim > VF_MAX_DIM)
		return dann_fail(DANN_EINVAL, "gt: dim %u, expected 1..%d", base->dim, VF_MAX_DIM);
	if (nq > UINT32_MAX || base->count > UINT32_MAX)
		return dann_fail(DANN_EINVAL, "gt: %llu queries x %llu base rows, ids must fit 32 bits",
				 (unsigned long long)nq, (unsigned long long)base->count);
	return 0;
}

static void to_float(enum dann_dtype t, const void *src, size_t n, float *dst)
{
	if (t == DANN_DTYPE_F32)
		memcpy(dst, src, n * sizeof *dst);
	else if (t == DANN_DTYPE_U8)
		for (size_t i = 0; i < n; i++)
			dst[i] = ((const uint8_t *)src)[i];
	else
		for (size_t i = 0; i < n; i++)
			dst[i] = ((const int8_t *)src)[i];
}

/* Row i of raw (dtype t) to float in dst; returns its squared norm, and
 * scales dst to unit length when normalise is set (zero rows stay zero). */
static float row_prepare(enum dann_dtype t, const void *raw, uint32_t dim, float *dst,
			 int normalise)
{
	to_float(t, raw, dim, dst);
	float n2 = dist_norm2_f32(dst, dim);
	if (normalise && n2 > 0) {
		float inv = 1.0f / sqrtf(n2);
		for (uint32_t i = 0; i < dim; i++)
			dst[i] *= inv;
	}
	return n2;
}

/* Per-metric shares of the filter (see the file comment): a pair passes
 * when nbp[j] + score_mul * ip <= bound + tq[i]. */
static float base_share(enum dann_metric m, float n2, float c)
{
	if (m == DANN_METRIC_L2)
		return (1.0f - c) * n2;
	if (m == DANN_METRIC_IP)
		return -c * n2;
	return 0.0f;
}

static float query_share(enum dann_metric m, float n2, float c)
{
	if (m == DANN_METRIC_L2)
		return -(1.0f - c) * n2;
	if (m == DANN_METRIC_IP)
		return c * n2;
	return -1.0f + 2.0f * c;
}

/* Filters one score tile (m queries from q0 x n rows from j0 of the block)
 * and re-scores the pairs that might enter a heap. */
static void filter_tile(const struct run *r, const struct block *b, uint64_t q0, uint32_t m,
			uint64_t j0, uint32_t n, const float *ip)
{
	size_t b_row_bytes = (size_t)r->dim * dann_dtype_size(r->base->dtype);

	for (uint32_t i = 0; i < m; i++) {
		struct topk *h = &r->heaps[q0 + i];
		const float *s = ip + (size_t)i * n;
		const void *qx = (const char *)r->qx + (q0 + i) * r->qx_row_bytes;
		float tq = r->tq[q0 + i], thr = topk_bound(h) + tq;

		for (uint32_t j = 0; j < n; j++) {
			if (b->nbp[j0 + j] + r->score_mul * s[j] > thr)
				continue;
			uint64_t row = j0 + j;
			float d = r->exact(qx, (const char *)b->raw + row * b_row_bytes, r->dim);
			topk_push(h, (uint32_t)(b->first + row), d);
			thr = topk_bound(h) + tq;
		}
	}
}

/* All queries against one block: OpenMP threads take query tiles; within a
 * tile, sub-blocks of base rows go through sgemm and the filter. */
static int run_block(const struct run *r, const struct block *b, int threads,
		     const struct gt_params *p)
{
	uint64_t qtile = GT_QUERY_TILE;
	int rc = 0;

	/* Few queries: smaller tiles so every thread gets one. */
	if (r->nq < qtile * (uint64_t)threads)
		qtile = (r->nq + (uint64_t)threads - 1) / (uint64_t)threads;
	if (qtile == 0)
		qtile = 1;
	long ntiles = (long)((r->nq + qtile - 1) / qtile);
	long tiles_done = 0;

#pragma omp parallel num_threads(threads)
	{
		float *ip = malloc(sizeof *ip * qtile * GT_BASE_TILE);
		if (!ip) {
#pragma omp atomic write
			rc = DANN_ENOMEM;
		}
#pragma omp for schedule(dynamic, 1)
		for (long t = 0; t < ntiles; t++) {
			if (!ip)
				continue;
			uint64_t q0 = (uint64_t)t * qtile;
			uint32_t m = (uint32_t)(r->nq - q0 < qtile ? r->nq - q0 : qtile);
			for (uint64_t j0 = 0; j0 < b->n; j0 += GT_BASE_TILE) {
				uint32_t n = (uint32_t)(b->n - j0 < GT_BASE_TILE ? b->n - j0 : GT_BASE_TILE);
				cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, (int)n,
					    (int)r->dim, 1.0f, r->qf + q0 * r->dim, (int)r->dim,
					    b->f + j0 * r->dim, (int)r->dim, 0.0f, ip, (int)n);
				filter_tile(r, b, q0, m, j0, n, ip);
			}
			long done;
#pragma omp atomic capture
			done = ++tiles_done;
			if (p->progress && omp_get_thread_num() == 0)
				p->progress(p->progress_arg, "ground truth",
					    b->first + b->n * (uint64_t)done / (uint64_t)ntiles,
					    r->base->count);
		}
		free(ip);
	}
	if (rc < 0)
		return dann_fail(rc, "gt: no memory for score tiles of %llu x %d floats",
				 (unsigned long long)qtile, GT_BASE_TILE);
	return 0;
}

/* The GT_PAR_BLAS form of run_block: sgemm on the calling thread with
 * OpenBLAS's threads, the filter over the tile's queries with OpenMP's. */
static int run_block_blas(const struct run *r, const struct block *b, int threads,
			  const struct gt_params *p)
{
	float *ip = malloc(sizeof *ip * GT_BLAS_QUERY_TILE * GT_BLAS_BASE_TILE);

	if (!ip)
		return dann_fail(DANN_ENOMEM, "gt: no memory for a %d x %d score tile",
				 GT_BLAS_QUERY_TILE, GT_BLAS_BASE_TILE);
	for (uint64_t q0 = 0; q0 < r->nq; q0 += GT_BLAS_QUERY_TILE) {
		uint32_t m = (uint32_t)(r->nq - q0 < GT_BLAS_QUERY_TILE ? r->nq - q0 : GT_BLAS_QUERY_TILE);
		for (uint64_t j0 = 0; j0 < b->n; j0 += GT_BLAS_BASE_TILE) {
			uint32_t n = (uint32_t)(b->n - j0 < GT_BLAS_BASE_TILE ? b->n - j0 : GT_BLAS_BASE_TILE);
			cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, (int)n, (int)r->dim,
				    1.0f, r->qf + q0 * r->dim, (int)r->dim, b->f + j0 * r->dim,
				    (int)r->dim, 0.0f, ip, (int)n);
			/* Rows of 16 queries per task: enough to balance. */
#pragma omp parallel for schedule(dynamic, 16) num_threads(threads)
			for (uint32_t i = 0; i < m; i++)
				filter_tile(r, b, q0 + i, 1, j0, n, ip + (size_t)i * n);
		}
		if (p->progress)
			p->progress(p->progress_arg, "ground truth",
				    b->first + b->n * (q0 + m) / r->nq, r->base->count);
	}
	free(ip);
	return 0;
}

/* Reads block rows [first, first+n) and prepares their float form. */
static int load_block(const struct run *r, struct block *b, uint64_t first, uint64_t n)
{
	const struct gt_base *base = r->base;
	size_t row_bytes = (size_t)r->dim * dann_dtype_size(base->dtype);
	int rc;

	b->first = first;
	b->n = n;
	if ((rc = base->read(base->ctx, first, n, b->raw)) < 0)
		return rc;
	uint64_t bad = UINT64_MAX;
#pragma omp parallel for schedule(static) reduction(min : bad)
	for (uint64_t i = 0; i < n; i++) {
		float n2 = row_prepare(base->dtype, (const char *)b->raw + i * row_bytes, r->dim,
				       b->f + i * r->dim, r->metric == DANN_METRIC_COSINE);
		b->nbp[i] = base_share(r->metric, n2, r->c);
		if (!isfinite(n2) && i < bad)
			bad = i;
	}
	if (bad != UINT64_MAX)
		return dann_fail(DANN_EINVAL, NONFINITE_MSG, "base", (unsigned long long)(first + bad));
	return 0;
}

/* Queries in the forms the run needs; *qf_out and *qx_owned are freed by
 * the caller. */
static int prepare_queries(struct run *r, const void *queries, enum dann_dtype qtype,
			   float **qf_out, float **qx_owned)
{
	enum dann_dtype btype = r->base->dtype;
	size_t q_row_bytes = (size_t)r->dim * dann_dtype_size(qtype);
	float *qf = malloc(sizeof *qf * r->nq * r->dim);
	float *qx = NULL;

	*qf_out = qf;
	*qx_owned = NULL;
	r->tq = malloc(sizeof *r->tq * (r->nq ? r->nq : 1));
	if (!qf || !r->tq)
		return dann_fail(DANN_ENOMEM, "gt: no memory for %llu queries",
				 (unsigned long long)r->nq);
	/* Same element types: the kernel takes the queries as they are.
	 * Otherwise the float-query kernel against the base type. */
	if (qtype == btype) {
		r->qx = queries;
		r->qx_row_bytes = q_row_bytes;
		r->exact = dist_kernel(r->metric, qtype, btype);
	} else {
		if (!(qx = malloc(sizeof *qx * r->nq * r->dim)))
			return dann_fail(DANN_ENOMEM, "gt: no memory for %llu queries",
					 (unsigned long long)r->nq);
		to_float(qtype, queries, r->nq * r->dim, qx);
		*qx_owned = qx;
		r->qx = qx;
		r->qx_row_bytes = sizeof *qx * r->dim;
		r->exact = dist_kernel(r->metric, DANN_DTYPE_F32, btype);
	}
	uint64_t bad = UINT64_MAX;
#pragma omp parallel for schedule(static) reduction(min : bad)
	for (uint64_t i = 0; i < r->nq; i++) {
		float n2 = row_prepare(qtype, (const char *)queries + i * q_row_bytes, r->dim,
				       qf + i * r->dim, r->metric == DANN_METRIC_COSINE);
		r->tq[i] = query_share(r->metric, n2, r->c);
		if (!isfinite(n2) && i < bad)
			bad = i;
	}
	r->qf = qf;
	if (bad != UINT64_MAX)
		return dann_fail(DANN_EINVAL, NONFINITE_MSG, "query", (unsigned long long)bad);
	return 0;
}

static uint64_t block_rows_for(const struct gt_base *base, const struct gt_params *p)
{
	uint64_t rows = p->block_rows ? p->block_rows : GT_DEFAULT_BLOCK_ROWS;
	uint64_t cap = GT_BLOCK_MAX_BYTES / ((uint64_t)base->dim * sizeof(float));

	if (!p->block_rows && rows > cap)
		rows = cap;
	if (rows < 1)
		rows = 1;
	return rows > base->count ? base->count : rows;
}

static int run_all_blocks(struct run *r, const struct gt_params *p, int threads)
{
	const struct gt_base *base = r->base;
	uint64_t rows = block_rows_for(base, p);
	size_t row_bytes = (size_t)r->dim * dann_dtype_size(base->dtype);
	struct block b = { 0 };
	int rc = 0;

	b.raw = malloc(rows * row_bytes);
	b.f = malloc(sizeof *b.f * rows * r->dim);
	b.nbp = malloc(sizeof *b.nbp * rows);
	if (!b.raw || !b.f || !b.nbp) {
		rc = dann_fail(DANN_ENOMEM, "gt: no memory for a block of %llu base rows",
			       (unsigned long long)rows);
		goto out;
	}
	for (uint64_t first = 0; first < base->count; first += rows) {
		uint64_t n = base->count - first < rows ? base->count - first : rows;
		if ((rc = load_block(r, &b, first, n)) < 0)
			goto out;
		rc = p->parallel == GT_PAR_BLAS ? run_block_blas(r, &b, threads, p)
						: run_block(r, &b, threads, p);
		if (rc < 0)
			goto out;
		if (base->release)
			base->release(base->ctx, first, n);
		if (p->progress)
			p->progress(p->progress_arg, "ground truth", first + n, base->count);
	}
out:
	free(b.raw);
	free(b.f);
	free(b.nbp);
	return rc;
}

int gt_compute(const struct gt_base *base, const void *queries, enum dann_dtype qtype,
	       uint64_t nq, const struct gt_params *p, uint32_t *ids, float *dists)
{
	struct run r = { 0 };
	float *qf = NULL, *qx = NULL;
	int threads = p->threads > 0 ? p->threads : omp_get_max_threads();
	uint64_t made = 0;
	int rc;

	if ((rc = check_args(base, qtype, nq, p)) < 0)
		return rc;
	if (nq == 0)
		return 0;
	r.base = base;
	r.dim = base->dim;
	r.k = p->k;
	r.metric = p->metric;
	r.nq = nq;
	r.score_mul = p->metric == DANN_METRIC_L2 ? -2.0f : -1.0f;
	r.c = (float)(GT_ERR_SLACK * (3.0 * base->dim + 16.0) * ldexp(1.0, -24));
	if ((rc = prepare_queries(&r, queries, qtype, &qf, &qx)) < 0)
		goto out;
	if (!(r.heaps = calloc(nq ? nq : 1, sizeof *r.heaps))) {
		rc = dann_fail(DANN_ENOMEM, "gt: no memory for %llu heaps", (unsigned long long)nq);
		goto out;
	}
	for (; made < nq; made++)
		if ((rc = topk_init(&r.heaps[made], p->k)) < 0)
			goto out;
	/* Either OpenMP threads each run their own sgemm and BLAS must not fan
	 * out too, or BLAS alone runs threads during sgemm. */
	blas_scope_enter(p->parallel == GT_PAR_BLAS ? threads : 1);
	rc = run_all_blocks(&r, p, threads);
	blas_scope_leave();
	if (rc < 0)
		goto out;
	for (uint64_t i = 0; i < nq; i++) {
		struct topk *h = &r.heaps[i];
		topk_sort(h);
		memcpy(ids + i * p->k, h->id, sizeof *ids * p->k);
		memcpy(dists + i * p->k, h->dist, sizeof *dists * p->k);
	}
out:
	for (uint64_t i = 0; i < made; i++)
		topk_destroy(&r.heaps[i]);
	free(r.heaps);
	free(r.tq);
	free(qf);
	free(qx);
	return rc;
}

/* The vf form of a base: preads rows, asks the kernel to read ahead the
 * next block. */
static int vf_base_read(void *ctx, uint64_t first, uint64_t n, void *dst)
{
	struct vf *f = ctx;
	uint64_t next = first + n;

	if (next < vf_count(f))
		vf_advise_willneed(f, next, vf_count(f) - next < n ? vf_count(f) - next : n);
	return vf_read(f, first, n, dst);
}

static void vf_base_release(void *ctx, uint64_t first, uint64_t n)
{
	vf_advise_dontneed(ctx, first, n);
}

static int open_vectors(const char *path, const char *role, struct vf **out)
{
	enum dann_dtype t;
	int rc;

	if ((rc = vf_open(path, out)) < 0)
		return rc;
	t = vf_dtype(*out);
	if (t != DANN_DTYPE_F32 && t != DANN_DTYPE_U8 && t != DANN_DTYPE_I8) {
		vf_close(*out);
		*out = NULL;
		return dann_fail(DANN_EINVAL, "%s: %s file of %s elements, expected float32, uint8 or int8 vectors",
				 path, role, dann_dtype_name(t));
	}
	return 0;
}

int gt_files(const char *base_path, const char *query_path, const char *out_path,
	     const struct gt_params *p)
{
	struct vf *bf = NULL, *qf = NULL;
	void *queries = NULL;
	uint32_t *ids = NULL;
	float *dists = NULL;
	char dist_path[4096];
	enum vf_format fmt;
	uint64_t nq;
	int rc;

	if ((rc = vf_format_from_path(out_path, &fmt)) < 0)
		return rc;
	if (fmt != VF_IBIN)
		return dann_fail(DANN_EINVAL, "%s: ground truth is written as .ibin, not %s", out_path,
				 vf_format_name(fmt));
	if ((rc = vf_gt_dist_path(out_path, dist_path, sizeof dist_path)) < 0)
		return rc;
	if ((rc = open_vectors(base_path, "base", &bf)) < 0)
		goto out;
	if ((rc = open_vectors(query_path, "query", &qf)) < 0)
		goto out;
	if (vf_dim(bf) != vf_dim(qf)) {
		rc = dann_fail(DANN_EINVAL, "dimension mismatch: base %s has dim %u, queries %s have dim %u",
			       base_path, vf_dim(bf), query_path, vf_dim(qf));
		goto out;
	}
	nq = vf_count(qf);
	queries = malloc(nq * vf_row_bytes(qf) + 1);
	ids = malloc(sizeof *ids * (nq * p->k + 1));
	dists = malloc(sizeof *dists * (nq * p->k + 1));
	if (!queries || !ids || !dists) {
		rc = dann_fail(DANN_ENOMEM, "gt: no memory for %llu queries x k = %u",
			       (unsigned long long)nq, p->k);
		goto out;
	}
	if ((rc = vf_read(qf, 0, nq, queries)) < 0)
		goto out;
	struct gt_base base = {
		.count = vf_count(bf), .dim = vf_dim(bf), .dtype = vf_dtype(bf),
		.read = vf_base_read, .release = vf_base_release, .ctx = bf,
	};
	if ((rc = gt_compute(&base, queries, vf_dtype(qf), nq, p, ids, dists)) < 0) {
		rc = dann_fail_wrap(rc, "%s x %s", query_path, base_path);
		goto out;
	}
	/* Distances first: a reader finding the ids may rely on them. */
	if ((rc = vf_write_file(dist_path, p->k, dists, nq)) < 0)
		goto out;
	rc = vf_write_file(out_path, p->k, ids, nq);
out:
	free(queries);
	free(ids);
	free(dists);
	if (qf)
		vf_close(qf);
	if (bf)
		vf_close(bf);
	return rc;
}
