/*
 * vam_part.c — building the graph of a vector file, within a RAM budget.
 *
 * When the in-memory build (vectors + graph + visited sets) fits the
 * budget, the file is read in and built in one piece. Otherwise, as in
 * DiskANN's build for large data (Subramanya et al. 2019, section 3.4):
 *   1. k-means (engine/pq/kmeans.h) on a sample gives k centroids, k chosen
 *      so that a shard of 2n/k points fits the budget with slack;
 *   2. one pass over the file puts every point into its 2 nearest shards
 *      that still have room (a cap per shard keeps k-means' uneven clusters
 *      within the budget); shard member ids go to temporary files;
 *   3. each shard in turn is read from the file (only its rows), built as
 *      an ordinary Vamana graph, and written out as (global id, neighbours,
 *      distances), then freed;
 *   4. the merge streams all shard files at once in id order: a point's
 *      lists from its two shards are united and de-duplicated; a union
 *      longer than R is RobustPruned (alpha) back to R, its free slots
 *      then filled with the closest of the rest; the global entry point
 *      (the medoid of the whole file) also links to each shard's entry.
 * The prune needs the vectors of up to 2R neighbours per point, random
 * reads across the file. Points go in chunks sized so that the rows a
 * chunk's prunes could touch fit half the budget; the ids of those rows
 * are sorted, de-duplicated and read with pread (vf_read_ids) into one
 * buffer reused by every chunk. Reading them through the file's mapping
 * instead made most of the file resident (fault-around maps 64 KiB about
 * each row touched): 500 MiB peak under a 256 MiB budget on 1M x 128.
 * Only the unions over R pay for it (the rest are already alpha-pruned
 * lists, and the union of two is kept whole). vam_file_stats.truncated
 * counts unions over R.
 *
 * Memory: shard rows and the k-means sample are read by pread too; the
 * streaming passes (assign, medoid) read chunks of a sixteenth of the
 * budget by pread (vf_read_f32) into one reused buffer.
 */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "error.h"
#include "fsutil.h"
#include "log.h"
#include "pq/kmeans.h"
#include "vam_file.h"
#include "vam_impl.h"
#include "vam_part_impl.h"
#include "vf.h"

#define PART_CHUNK_ROWS 8192u       /* rows per streaming read of the file */
#define PART_MAX_SAMPLE 65536u      /* k-means training points at most */
#define PART_MIN_SAMPLE_PER_SHARD 40u /* k-means sample floor per centroid */
#define PART_NN 8u                  /* nearest centroids looked at per point */
/* Shard capacity over the average 2n/k. k-means clusters are uneven, and
 * a point pushed out of a full nearest shard costs recall: on the test's
 * clustered data, recall@10 at L 15 fell 0.03 below the whole build with
 * 1.1, 0.01 with 1.25, and matched it with 1.5 (2.0: no better). */
#define PART_SLACK 1.50
#define PART_BUDGET_SHARE 0.80      /* budget share for the shard build */
#define PART_IO_BUF (64u << 10)     /* stdio buffer per shard file */

uint64_t vam_build_bytes(uint64_t n, uint32_t dim, enum dann_dtype dtype, enum dann_metric metric,
			 const struct vam_params *p)
{
	uint64_t threads = p->threads ? p->threads : (uint64_t)omp_get_num_procs();
	uint64_t per = (uint64_t)dim * dann_dtype_size(dtype) /* vector */
		       + 4ull * p->R + 4 + 2                  /* slots, degree, lock, mark */
		       + (metric == DANN_METRIC_IP ? 4 : 0)   /* extra coordinate */
		       + 4 * threads                          /* visited stamps */
		       + 4 + 8;                               /* order; reachability pass */
	return n * per;
}

/* Reads rows [first, first+n) of f in chunks, dropping each chunk's pages
 * from this process once copied. */
static int read_range(const struct vf *f, uint64_t first, uint64_t n, void *dst)
{
	size_t rb = vf_row_bytes(f);
	int rc;

	for (uint64_t i = 0; i < n; i += PART_CHUNK_ROWS) {
		uint64_t m = n - i < PART_CHUNK_ROWS ? n - i : PART_CHUNK_ROWS;
		if ((rc = vf_read(f, first + i, m, (uint8_t *)dst + i * rb)) < 0)
			return rc;
		vf_advise_dontneed(f, first + i, m);
	}
	return 0;
}

static int build_whole(const struct vf *f, enum dann_metric metric, const struct vam_params *p,
		       const char *graph_path)
{
	struct vam *v;
	uint64_t n = vf_count(f);
	int rc;

	if ((rc = vam_create(metric, vf_dtype(f), vf_dim(f), n, p, &v)) < 0)
		return rc;
	if ((rc = read_range(f, 0, n, v->vecs)) == 0 && (rc = vam_build_adopt(v, n)) == 0)
		rc = vam_save(v, graph_path);
	vam_free(v);
	return rc;
}

void vam_part_path(const struct part *pt, uint32_t s, const char *kind, char *out)
{
	snprintf(out, PATH_MAX, "%s/shard%u.%s", pt->dir, s, kind);
}

/* A checkpoint's shard file on disk before it is closed, so that the
 * record written after it (state, shard<s>.done) never vouches for data a
 * crash could lose. 0, or -1 with errno. */
static int sync_for_ckpt(const struct part *pt, FILE *f)
{
	return pt->ckpt && (fflush(f) != 0 || fsync(fileno(f)) != 0) ? -1 : 0;
}

static void normalise_rows(float *x, uint64_t n, uint32_t dim)
{
	for (uint64_t i = 0; i < n; i++) {
		float *r = x + i * dim, s = 0;
		for (uint32_t j = 0; j < dim; j++)
			s += r[j] * r[j];
		if (s > 0)
			for (uint32_t j = 0; j < dim; j++)
				r[j] /= sqrtf(s);
	}
}

static int train(struct part *pt, uint64_t budget)
{
	/* The sample takes at most a quarter of the budget, but no fewer than
	 * PART_MIN_SAMPLE_PER_SHARD points per centroid. */
	uint64_t ns = budget / 4 / (sizeof(float) * pt->dim);
	if (ns > PART_MAX_SAMPLE)
		ns = PART_MAX_SAMPLE;
	if (ns < (uint64_t)PART_MIN_SAMPLE_PER_SHARD * pt->k)
		ns = (uint64_t)PART_MIN_SAMPLE_PER_SHARD * pt->k;
	if (ns > pt->n)
		ns = pt->n;
	uint64_t *rows = malloc(sizeof *rows * ns);
	float *x = malloc(sizeof *x * ns * pt->dim);
	struct km_params kp;
	int rc;

	if (!rows || !x || !(pt->centroids = malloc(sizeof *pt->centroids * pt->k * pt->dim))) {
		rc = dann_fail(DANN_ENOMEM, "vamana partition: no memory for a %llu-point sample",
			       (unsigned long long)ns);
		goto out;
	}
	if ((rc = km_sample_rows(pt->n, ns, pt->p.seed, rows)) < 0)
		goto out;
	if ((rc = vf_read_f32_ids(pt->f, rows, ns, x)) < 0)
		goto out;
	if (pt->metric == DANN_METRIC_COSINE)
		normalise_rows(x, ns, pt->dim);
	km_params_default(&kp, pt->k);
	kp.seed = pt->p.seed;
	kp.threads = pt->p.threads;
	kp.stop = pt->p.stop;
	rc = km_train(x, ns, pt->dim, &kp, pt->centroids, NULL);
out:
	free(rows);
	free(x);
	return rc;
}

/* Chooses the two shards of each point of a chunk and appends its id to
 * their files; sums the chunk into the centroid sum. */
static int assign_chunk(struct part *pt, uint64_t first, uint64_t m, const uint32_t *near,
			FILE **out)
{
	for (uint64_t i = 0; i < m; i++) {
		uint32_t pick[2], np = 0, id = (uint32_t)(first + i);
		for (uint32_t j = 0; j < PART_NN && j < pt->k && np < 2; j++) {
			uint32_t s = near[i * (PART_NN < pt->k ? PART_NN : pt->k) + j];
			if (pt->size[s] < pt->cap)
				pick[np++] = s;
		}
		/* All near shards full: the emptiest others (total capacity
		 * exceeds 2n, so some shard has room). */
		while (np < 2) {
			uint32_t best = UINT32_MAX;
			for (uint32_t s = 0; s < pt->k; s++)
				if ((np == 0 || s != pick[0]) && (best == UINT32_MAX || pt->size[s] < pt->size[best]))
					best = s;
			pick[np++] = best;
		}
		for (uint32_t j = 0; j < 2; j++) {
			if (fwrite(&id, sizeof id, 1, out[pick[j]]) != 1)
				return dann_fail_errno(DANN_EIO, errno, "vamana partition: writing shard %u ids",
						       pick[j]);
			pt->size[pick[j]]++;
		}
	}
	return 0;
}

/* One pass: shard membership, the largest norm (IP) and the centroid. */
static int assign(struct part *pt, double *sum)
{
	uint32_t nn = PART_NN < pt->k ? PART_NN : pt->k;
	float *x = malloc(sizeof *x * pt->stream_rows * pt->dim);
	uint32_t *near = malloc(sizeof *near * pt->stream_rows * nn);
	FILE **out = calloc(pt->k, sizeof *out);
	char path[PATH_MAX];
	int rc = 0;

	if (!x || !near || !out) {
		rc = dann_fail(DANN_ENOMEM, "vamana partition: no memory");
		goto out;
	}
	for (uint32_t s = 0; s < pt->k; s++) {
		vam_part_path(pt, s, "ids", path);
		if (!(out[s] = fopen(path, "wb"))) {
			rc = dann_fail_errno(DANN_EIO, errno, "%s: cannot create", path);
			goto out;
		}
	}
	for (uint64_t first = 0; first < pt->n; first += pt->stream_rows) {
		uint64_t m = pt->n - first < pt->stream_rows ? pt->n - first : pt->stream_rows;
		if ((rc = vf_read_f32(pt->f, first, m, x)) < 0)
			goto out;
		vf_advise_dontneed(pt->f, first, m);
		for (uint64_t i = 0; i < m; i++) {
			float n2 = 0;
			for (uint32_t j = 0; j < pt->dim; j++)
				n2 += x[i * pt->dim + j] * x[i * pt->dim + j];
			pt->ip_M2 = fmaxf(pt->ip_M2, n2);
		}
		if (pt->metric == DANN_METRIC_COSINE)
			normalise_rows(x, m, pt->dim);
		for (uint64_t i = 0; i < m; i++)
			for (uint32_t j = 0; j < pt->dim; j++)
				sum[j] += x[i * pt->dim + j];
		if ((rc = km_assign(pt->centroids, pt->k, pt->dim, x, m, nn, near, NULL, pt->p.threads)) < 0 ||
		    (rc = assign_chunk(pt, first, m, near, out)) < 0)
			goto out;
	}
out:
	for (uint32_t s = 0; out && s < pt->k; s++) {
		if (!out[s])
			continue;
		if (rc == 0 && sync_for_ckpt(pt, out[s]) != 0)
			rc = dann_fail_errno(DANN_EIO, errno, "vamana partition: syncing shard %u ids", s);
		if (fclose(out[s]) != 0 && rc == 0)
			rc = dann_fail_errno(DANN_EIO, errno, "vamana partition: closing shard %u ids", s);
	}
	free(out);
	free(x);
	free(near);
	return rc;
}

/* The point nearest the centroid, in a second pass over the file. */
static int find_medoid(struct part *pt, const double *sum)
{
	dist_fn l2 = dist_kernel(DANN_METRIC_L2, DANN_DTYPE_F32, DANN_DTYPE_F32);
	float *c = malloc(sizeof *c * pt->dim), *x = malloc(sizeof *x * pt->stream_rows * pt->dim);
	float best = INFINITY;
	int rc = 0;

	if (!c || !x) {
		rc = dann_fail(DANN_ENOMEM, "vamana partition: no memory");
		goto out;
	}
	for (uint32_t j = 0; j < pt->dim; j++)
		c[j] = (float)(sum[j] / (double)pt->n);
	for (uint64_t first = 0; first < pt->n; first += pt->stream_rows) {
		uint64_t m = pt->n - first < pt->stream_rows ? pt->n - first : pt->stream_rows;
		if ((rc = vf_read_f32(pt->f, first, m, x)) < 0)
			goto out;
		vf_advise_dontneed(pt->f, first, m);
		if (pt->metric == DANN_METRIC_COSINE)
			normalise_rows(x, m, pt->dim);
		for (uint64_t i = 0; i < m; i++) {
			float d = l2(c, x + i * pt->dim, pt->dim);
			if (d < best) {
				best = d;
				pt->medoid = (uint32_t)(first + i);
			}
		}
	}
out:
	free(c);
	free(x);
	return rc;
}

/* Reads shard s's member ids (ascending: the assignment pass wrote them
 * in file order). */
static int read_ids(const struct part *pt, uint32_t s, uint32_t **ids)
{
	char path[PATH_MAX];
	FILE *f;
	uint64_t m = pt->size[s];
	int rc = 0;

	vam_part_path(pt, s, "ids", path);
	if (!(*ids = malloc(sizeof **ids * (m ? m : 1))))
		return dann_fail(DANN_ENOMEM, "vamana partition: no memory for %llu ids", (unsigned long long)m);
	if (!(f = fopen(path, "rb")))
		return dann_fail_errno(DANN_EIO, errno, "%s: cannot open", path);
	if (fread(*ids, sizeof **ids, m, f) != m)
		rc = dann_fail(DANN_EIO, "%s: short read of %llu ids", path, (unsigned long long)m);
	fclose(f);
	return rc;
}

/* Writes the shard graph: per point its global id, degree, and (global
 * neighbour id, distance) pairs. */
static int write_shard_graph(const struct part *pt, uint32_t s, struct vam *v, const uint32_t *ids)
{
	char path[PATH_MAX];
	uint64_t m = pt->size[s];
	FILE *f;
	int rc = 0;

	vam_part_path(pt, s, pt->ckpt ? "graph.tmp" : "graph", path);
	if (!(f = fopen(path, "wb")))
		return dann_fail_errno(DANN_EIO, errno, "%s: cannot create", path);
	setvbuf(f, NULL, _IOFBF, PART_IO_BUF);
	for (uint64_t i = 0; i < m && rc == 0; i++) {
		struct vam_target t = vam_point_target(v, (uint32_t)i);
		const uint32_t *l = v->slots + i * v->p.R;
		uint32_t h[2] = { ids[i], v->deg[i] };
		if (fwrite(h, sizeof h, 1, f) != 1)
			rc = -1;
		for (uint32_t j = 0; j < h[1] && rc == 0; j++) {
			struct cand c = { .id = ids[l[j]], .dist = vam_tdist(v, &t, l[j]) };
			if (fwrite(&c.id, 4, 1, f) != 1 || fwrite(&c.dist, 4, 1, f) != 1)
				rc = -1;
		}
	}
	if (rc == 0 && sync_for_ckpt(pt, f) != 0)
		rc = -1;
	if (fclose(f) != 0 || rc < 0)
		return dann_fail_errno(DANN_EIO, errno, "%s: write failed", path);
	if (pt->ckpt) {
		/* in place only once whole, so a checkpoint never holds a
		 * partial graph under the final name */
		char final[PATH_MAX];
		vam_part_path(pt, s, "graph", final);
		return fsu_rename_replace(path, final);
	}
	return 0;
}

static int build_shard(struct part *pt, uint32_t s)
{
	uint64_t m = pt->size[s];
	uint32_t *ids = NULL;
	struct vam *v = NULL;
	uint64_t t0 = stop_now_ns();
	int rc;

	if ((rc = read_ids(pt, s, &ids)) < 0)
		goto out;
	if ((rc = vam_create(pt->metric, vf_dtype(pt->f), pt->dim, m, &pt->p, &v)) < 0)
		goto out;
	if ((rc = vf_read_ids(pt->f, ids, m, v->vecs)) < 0)
		goto out;
	v->ip_M2 = pt->ip_M2; /* one augmented space for every shard */
	if ((rc = vam_build_adopt(v, m)) < 0)
		goto out;
	pt->shard_medoid[s] = ids[v->medoid];
	if ((rc = write_shard_graph(pt, s, v, ids)) == 0 && pt->ckpt)
		rc = vam_ckpt_shard_done(pt, s, (double)(stop_now_ns() - t0) / 1e9);
out:
	vam_free(v);
	free(ids);
	return rc;
}

struct shard_reader {
	FILE *f;
	uint32_t head[2]; /* global id, degree of the next record */
	bool eof;
};

static int next_head(struct shard_reader *r)
{
	if (fread(r->head, sizeof r->head, 1, r->f) != 1) {
		r->eof = true;
		return ferror(r->f) ? dann_fail(DANN_EIO, "vamana merge: shard read failed") : 0;
	}
	return 0;
}

static int cand_by_id(const void *a, const void *b)
{
	const struct cand *x = a, *y = b;
	return (x->id > y->id) - (x->id < y->id);
}

static int cand_by_dist(const void *a, const void *b)
{
	const struct cand *x = a, *y = b;
	if (x->dist != y->dist)
		return x->dist < y->dist ? -1 : 1;
	return (x->id > y->id) - (x->id < y->id);
}

/* The rows one chunk's prunes need, read by id (vf_read_ids) into a
 * compact buffer: local row j holds global row ids[j]. The struct vam over
 * it is just enough for RobustPrune on local ids (vectors, the IP extra
 * coordinate, the kernel). Cosine uses the cosine kernel on the raw rows,
 * which gives the build's 1 - cos without normalised copies. Only touched
 * pages of the buffer count toward RSS, so a chunk whose prunes need few
 * rows costs few. */
struct rowset {
	struct vam *v;     /* vecs: cap rows; n: rows held */
	uint32_t *ids;     /* ascending global ids of the rows held */
	uint64_t cap;
	dist_fn ip;        /* IP: x.x for the extra coordinate */
};

static int rowset_new(struct part *pt, uint64_t cap, struct rowset *rs)
{
	enum dann_dtype t = vf_dtype(pt->f);
	struct vam *v;

	memset(rs, 0, sizeof *rs);
	if (!(v = rs->v = calloc(1, sizeof *v)))
		return dann_fail(DANN_ENOMEM, "vamana merge: no memory");
	v->metric = pt->metric;
	v->dtype = t;
	v->dim = pt->dim;
	v->row_bytes = vf_row_bytes(pt->f);
	v->p = pt->p;
	v->cap = rs->cap = cap;
	atomic_init(&v->n, 0);
	v->dd = dist_kernel(pt->metric == DANN_METRIC_IP ? DANN_METRIC_L2 : pt->metric, t, t);
	pthread_mutex_init(&v->pool_mu, NULL);
	if (pt->metric == DANN_METRIC_IP)
		rs->ip = dist_kernel(DANN_METRIC_IP, t, t);
	/* malloc'd, not touched: pages become resident only as rows land. */
	v->vecs = malloc(v->row_bytes * cap);
	rs->ids = malloc(sizeof *rs->ids * cap);
	if (pt->metric == DANN_METRIC_IP)
		v->ext = malloc(sizeof *v->ext * cap);
	if (!v->vecs || !rs->ids || (pt->metric == DANN_METRIC_IP && !v->ext))
		return dann_fail(DANN_ENOMEM, "vamana merge: no memory for %llu rows of %zu bytes",
				 (unsigned long long)cap, v->row_bytes);
	return 0;
}

static void rowset_free(struct rowset *rs)
{
	struct vam *v = rs->v;

	if (v) {
		vam_scratch_pool_free(v);
		pthread_mutex_destroy(&v->pool_mu);
		free(v->ext);
		free(v->vecs);
		free(v);
	}
	free(rs->ids);
	memset(rs, 0, sizeof *rs);
}

/* Sorts a[0..n) ascending (LSD radix, a byte a pass; tmp has room for n)
 * and drops repeats; returns the count left. A chunk sorts up to (2R+1)
 * ids per point, where qsort would be the merge's serial bottleneck. */
static uint64_t sort_unique_u32(uint32_t *a, uint32_t *tmp, uint64_t n)
{
	uint64_t count[256];
	uint32_t *src = a, *dst = tmp;
	uint64_t m = 0;

	for (unsigned shift = 0; shift < 32; shift += 8) {
		uint64_t sum = 0;
		memset(count, 0, sizeof count);
		for (uint64_t i = 0; i < n; i++)
			count[(src[i] >> shift) & 0xff]++;
		for (unsigned b = 0; b < 256; b++) {
			uint64_t c = count[b];
			count[b] = sum;
			sum += c;
		}
		for (uint64_t i = 0; i < n; i++)
			dst[count[(src[i] >> shift) & 0xff]++] = src[i];
		uint32_t *t = src;
		src = dst;
		dst = t;
	}
	/* An even number of passes: the sorted ids are back in a. */
	for (uint64_t i = 0; i < n; i++)
		if (m == 0 || a[m - 1] != a[i])
			a[m++] = a[i];
	return m;
}

/* Fills the row set with ids[0..n) (sorted, unique) read from the file. */
static int rowset_load(struct part *pt, struct rowset *rs, uint64_t n)
{
	struct vam *v = rs->v;
	struct dann_first_err err = { 0 };
	const uint64_t block = 4096;

	/* Both cores read: the rows usually come from the page cache, and one
	 * pread per scattered row is syscall-bound. */
#pragma omp parallel for schedule(dynamic, 1) num_threads(pt->p.threads ? (int)pt->p.threads : omp_get_num_procs())
	for (uint64_t b = 0; b < n; b += block) {
		uint64_t m = n - b < block ? n - b : block;
		if (!dann_first_err_seen(&err))
			dann_first_err_set(&err, vf_read_ids(pt->f, rs->ids + b, m,
							     v->vecs + b * v->row_bytes));
		for (uint64_t i = b; rs->ip && i < b + m; i++) {
			float e2 = pt->ip_M2 + rs->ip(vam_row(v, i), vam_row(v, i), v->dim);
			v->ext[i] = e2 > 0 ? sqrtf(e2) : 0;
		}
	}
	if (dann_first_err_seen(&err))
		return dann_fail_wrap(dann_first_err_raise(&err), "vamana merge: reading neighbour rows");
	atomic_store(&v->n, n);
	return 0;
}

/* The local row of global id g (present by construction). */
static uint32_t rowset_find(const struct rowset *rs, uint32_t g)
{
	uint64_t lo = 0, hi = atomic_load(&rs->v->n);

	while (lo < hi) {
		uint64_t mid = lo + (hi - lo) / 2;
		if (rs->ids[mid] < g)
			lo = mid + 1;
		else
			hi = mid;
	}
	return (uint32_t)lo;
}

/* Sorts u[0..cnt) by id and drops repeats and gid itself; returns the
 * count left. */
static uint32_t dedupe(struct cand *u, uint32_t cnt, uint32_t gid)
{
	uint32_t m = 0;

	qsort(u, cnt, sizeof *u, cand_by_id);
	for (uint32_t i = 0; i < cnt; i++)
		if (u[i].id != gid && (m == 0 || u[m - 1].id != u[i].id))
			u[m++] = u[i];
	return m;
}

/* Unites the de-duplicated u[0..m) into at most R neighbours of gid in
 * out; returns the degree. Over R, RobustPrune on the row set (which holds
 * gid and every u[i].id), else all of them, closest first. */
static uint32_t unite(struct rowset *rs, struct vam_scratch *s, struct cand *u, uint32_t m,
		      uint32_t gid, uint32_t R, uint32_t *out)
{
	if (m > R && s) {
		s->npool = 0;
		for (uint32_t i = 0; i < m; i++)
			if (vam_pool_push(s, rowset_find(rs, u[i].id), u[i].dist) < 0)
				goto closest; /* no memory for the pool: fall back */
		uint32_t k = vam_robust_prune(rs->v, s, rowset_find(rs, gid), rs->v->p.alpha);
		for (uint32_t j = 0; j < k; j++)
			out[j] = rs->ids[s->out[j]];
		/* The prune keeps the diverse edges; the slots it leaves go to
		 * the closest of the rest, so a merged node keeps as many
		 * near neighbours as the cut would (DiskANN's "saturate"). */
		qsort(u, m, sizeof *u, cand_by_dist);
		for (uint32_t i = 0; i < m && k < R; i++) {
			bool have = false;
			for (uint32_t j = 0; j < k && !have; j++)
				have = out[j] == u[i].id;
			if (!have)
				out[k++] = u[i].id;
		}
		return k;
	}
closest:
	qsort(u, m, sizeof *u, cand_by_dist);
	if (m > R)
		m = R;
	for (uint32_t i = 0; i < m; i++)
		out[i] = u[i].id;
	return m;
}

/* Reads row gid's lists from every shard that holds it into u (room for
 * 2R: every point is in exactly two shards); returns the count or < 0. */
static int gather(struct part *pt, struct shard_reader *rd, uint32_t gid, struct cand *u)
{
	uint32_t R = pt->p.R, cnt = 0;
	int rc;

	for (uint32_t s = 0; s < pt->k; s++) {
		struct shard_reader *r = &rd[s];
		if (r->eof || r->head[0] != gid)
			continue;
		if (r->head[1] > R || cnt + r->head[1] > 2 * R)
			return dann_fail(DANN_ECORRUPT, "vamana merge: shard %u lists %u neighbours for %u",
					 s, r->head[1], gid);
		for (uint32_t j = 0; j < r->head[1]; j++, cnt++)
			if (fread(&u[cnt].id, 4, 1, r->f) != 1 || fread(&u[cnt].dist, 4, 1, r->f) != 1)
				return dann_fail(DANN_EIO, "vamana merge: shard %u cut short", s);
		if ((rc = next_head(r)) < 0)
			return rc;
	}
	return (int)cnt;
}

/* The entry point's list keeps edges to every shard's own entry point, so
 * a search starts one hop from each shard's region (the shards' graphs
 * know nothing of each other beyond the points they share). They take
 * the last slots, which hold the entry's farthest or least diverse
 * neighbours. */
static void link_shard_entries(const struct part *pt, uint32_t *list, uint32_t *deg)
{
	uint32_t R = pt->p.R;

	for (uint32_t s = 0; s < pt->k; s++) {
		uint32_t e = pt->shard_medoid[s], j;
		if (e == pt->medoid)
			continue;
		for (j = 0; j < *deg && list[j] != e; j++)
			;
		if (j < *deg)
			continue;
		if (*deg < R)
			list[(*deg)++] = e;
		else if (s < R)
			list[R - 1 - s] = e; /* distinct slots from the end */
	}
}

static int merge(struct part *pt, uint64_t budget, const char *graph_path, uint64_t *truncated)
{
	uint32_t R = pt->p.R;
	size_t rb = vf_row_bytes(pt->f);
	struct vam_file_header h = { .R = R, .n = pt->n, .medoid = pt->medoid, .metric = pt->metric,
				     .dtype = vf_dtype(pt->f), .dim = pt->dim };
	/* Points per chunk: the rows a chunk's prunes may need (each point
	 * and its up to 2R candidates) fit half the budget, with their ids
	 * (twice, for the sort) and extra coordinate. */
	uint64_t mc = budget / 2 / ((2ull * R + 1) * (rb + 12));
	mc = mc < 64 ? 64 : mc > PART_CHUNK_ROWS ? PART_CHUNK_ROWS : mc;
	uint64_t rcap = mc * (2ull * R + 1);
	struct shard_reader *rd = calloc(pt->k, sizeof *rd);
	struct cand *u = malloc(sizeof *u * mc * 2 * R);
	uint32_t *cnt = malloc(sizeof *cnt * mc), *deg = malloc(sizeof *deg * mc);
	uint32_t *slots = calloc(mc * R, sizeof *slots), *tmp = malloc(sizeof *tmp * rcap);
	struct rowset rs = { 0 };
	struct vam_gw *w = NULL;
	char path[PATH_MAX];
	uint64_t cuts = 0;
	int rc = 0;

	if (!rd || !u || !cnt || !deg || !slots || !tmp) {
		rc = dann_fail(DANN_ENOMEM, "vamana merge: no memory");
		goto out;
	}
	for (uint32_t s = 0; s < pt->k; s++) {
		vam_part_path(pt, s, "graph", path);
		if (!(rd[s].f = fopen(path, "rb"))) {
			rc = dann_fail_errno(DANN_EIO, errno, "%s: cannot open", path);
			goto out;
		}
		setvbuf(rd[s].f, NULL, _IOFBF, PART_IO_BUF);
		if ((rc = next_head(&rd[s])) < 0)
			goto out;
	}
	if ((rc = rowset_new(pt, rcap, &rs)) < 0 || (rc = vam_gw_create(graph_path, &h, &w)) < 0)
		goto out;
	for (uint64_t first = 0; first < pt->n; first += mc) {
		uint64_t m = pt->n - first < mc ? pt->n - first : mc, nids = 0;
		for (uint64_t i = 0; i < m; i++) {
			int c = gather(pt, rd, (uint32_t)(first + i), u + i * 2 * R);
			if (c < 0) {
				rc = c;
				goto out;
			}
			cnt[i] = dedupe(u + i * 2 * R, (uint32_t)c, (uint32_t)(first + i));
		}
		/* Only unions over R are pruned; they need their rows. */
		for (uint64_t i = 0; i < m; i++) {
			if (cnt[i] <= R)
				continue;
			cuts++;
			rs.ids[nids++] = (uint32_t)(first + i);
			for (uint32_t j = 0; j < cnt[i]; j++)
				rs.ids[nids++] = u[i * 2 * R + j].id;
		}
		nids = sort_unique_u32(rs.ids, tmp, nids);
		if ((rc = rowset_load(pt, &rs, nids)) < 0)
			goto out;
		memset(slots, 0, sizeof *slots * m * R);
#pragma omp parallel num_threads(pt->p.threads ? (int)pt->p.threads : omp_get_num_procs())
		{
			struct vam_scratch *s = NULL;
			if (vam_scratch_get(rs.v, 1, &s) < 0)
				s = NULL; /* unite() cuts by distance without one */
#pragma omp for schedule(dynamic, 64)
			for (uint64_t i = 0; i < m; i++)
				deg[i] = unite(&rs, s, u + i * 2 * R, cnt[i], (uint32_t)(first + i), R,
					       slots + i * R);
			if (s)
				vam_scratch_put(rs.v, s);
		}
		if (pt->medoid >= first && pt->medoid < first + m)
			link_shard_entries(pt, slots + (pt->medoid - first) * R, &deg[pt->medoid - first]);
		if ((rc = vam_gw_put(w, first, m, deg, slots)) < 0)
			goto out;
	}
	rc = vam_gw_close(w);
	w = NULL;
out:
	*truncated = cuts;
	vam_gw_abort(w);
	rowset_free(&rs);
	for (uint32_t s = 0; rd && s < pt->k; s++)
		if (rd[s].f)
			fclose(rd[s].f);
	free(rd);
	free(u);
	free(cnt);
	free(deg);
	free(slots);
	free(tmp);
	return rc;
}

/* The shard files, and the directory unless it is a checkpoint that must
 * outlive a failed build (then only a partial graph goes). */
static void remove_temp(struct part *pt, int rc)
{
	char path[PATH_MAX];

	if (!pt->dir[0])
		return;
	for (uint32_t s = 0; s < pt->k; s++) {
		vam_part_path(pt, s, "graph.tmp", path);
		unlink(path);
		if (pt->ckpt && rc != 0)
			continue;
		vam_part_path(pt, s, "ids", path);
		unlink(path);
		vam_part_path(pt, s, "graph", path);
		unlink(path);
	}
	if (pt->ckpt && rc != 0)
		return;
	if (pt->ckpt)
		vam_ckpt_remove(pt);
	rmdir(pt->dir);
}

static int build_partitioned(struct part *pt, uint64_t budget, const char *tmpdir,
			     const char *graph_path, struct vam_file_stats *st)
{
	uint64_t per = vam_build_bytes(1, pt->dim, vf_dtype(pt->f), pt->metric, &pt->p);
	double *sum = NULL;
	bool resumed = false;
	int rc;

	pt->budget = budget;
	pt->cap = (uint64_t)(budget * PART_BUDGET_SHARE) / per;
	if (pt->cap < 2)
		return dann_fail(DANN_EINVAL, "vamana: build RAM budget %llu bytes is too small: a shard "
				 "needs %llu bytes per point", (unsigned long long)budget,
				 (unsigned long long)per);
	{
		uint64_t k = (uint64_t)ceil(2.0 * (double)pt->n * PART_SLACK / (double)pt->cap);
		if (k < 3)
			k = 3;
		if (k > pt->n / 2)
			return dann_fail(DANN_EINVAL, "vamana: build RAM budget %llu bytes is too small: it "
					 "would need %llu shards for %llu points", (unsigned long long)budget,
					 (unsigned long long)k, (unsigned long long)pt->n);
		pt->k = (uint32_t)k;
	}
	/* A pass over the file sizes a chunk for its rows twice (raw, and as float):
	 * a sixteenth of the budget, so large rows under a small budget still
	 * fit beside the k-means and BLAS buffers. */
	pt->stream_rows = budget / 16 / (pt->dim * sizeof(float) + vf_row_bytes(pt->f));
	pt->stream_rows = pt->stream_rows < 256 ? 256
			  : pt->stream_rows > PART_CHUNK_ROWS ? PART_CHUNK_ROWS : pt->stream_rows;
	if (!(pt->size = calloc(pt->k, sizeof *pt->size)) || !(sum = calloc(pt->dim, sizeof *sum)) ||
	    !(pt->shard_medoid = calloc(pt->k, sizeof *pt->shard_medoid)) ||
	    !(pt->built = calloc(pt->k, sizeof *pt->built))) {
		rc = dann_fail(DANN_ENOMEM, "vamana partition: no memory");
		goto out;
	}
	/* Until pt->dir names a directory of this build's, remove_temp
	 * below leaves the file system alone. */
	if (pt->p.checkpoint_dir) {
		if ((rc = vam_ckpt_open(pt, &resumed, &st->resumed_seconds)) < 0) {
			pt->dir[0] = 0; /* not ours to clean: left as it is */
			goto out;
		}
	} else if (strlen(tmpdir) + sizeof "/vampart.XXXXXX" > sizeof pt->dir) {
		rc = dann_fail(DANN_EINVAL, "%s: temporary directory path too long", tmpdir);
		goto out;
	} else {
		snprintf(pt->dir, sizeof pt->dir, "%s/vampart.XXXXXX", tmpdir);
		if (!mkdtemp(pt->dir)) {
			rc = dann_fail_errno(DANN_EIO, errno, "%s: cannot create a temporary directory", pt->dir);
			pt->dir[0] = 0;
			goto out;
		}
	}
	if (resumed) {
		for (uint32_t s = 0; s < pt->k; s++)
			st->resumed_shards += pt->built[s];
		dann_log(DANN_LOG_INFO, "vamana", "resuming from checkpoint %s: %u of %u shards built "
			 "earlier, in %.0f s", pt->dir, st->resumed_shards, pt->k, st->resumed_seconds);
	} else if ((rc = train(pt, budget)) < 0 || (rc = assign(pt, sum)) < 0 ||
		   (rc = find_medoid(pt, sum)) < 0 || (pt->ckpt && (rc = vam_ckpt_save_state(pt)) < 0)) {
		goto out;
	}
	st->shards = pt->k;
	for (uint32_t s = 0; s < pt->k; s++) {
		if (pt->size[s] > st->max_shard_points)
			st->max_shard_points = pt->size[s];
		if (pt->built[s])
			continue;
		if (pt->p.progress)
			pt->p.progress(pt->p.progress_arg, "vamana shards", s, pt->k);
		if ((rc = build_shard(pt, s)) < 0)
			goto out;
		pt->built[s] = true;
	}
	if (pt->p.progress)
		pt->p.progress(pt->p.progress_arg, "vamana shards", pt->k, pt->k);
	rc = merge(pt, budget, graph_path, &st->truncated);
out:
	remove_temp(pt, rc);
	free(sum);
	return rc;
}

int vam_build_file(const char *vec_path, enum dann_metric metric, const struct vam_params *p,
		   uint64_t build_ram_bytes, const char *tmpdir, const char *graph_path,
		   struct vam_file_stats *st)
{
	struct vam_file_stats dummy;
	struct part pt = { .metric = metric, .p = *p };
	struct vf *f = NULL;
	char *gdir = NULL;
	int rc;

	if (!st)
		st = &dummy;
	memset(st, 0, sizeof *st);
	if ((rc = vam_params_check(p)) < 0)
		return rc;
	if ((rc = vf_open(vec_path, &f)) < 0)
		return rc;
	pt.f = f;
	pt.n = vf_count(f);
	pt.dim = vf_dim(f);
	if (vf_dtype(f) == DANN_DTYPE_I32) {
		rc = dann_fail(DANN_EINVAL, "%s: int32 rows are ids, not vectors to index", vec_path);
		goto out;
	}
	st->est_bytes = vam_build_bytes(pt.n, pt.dim, vf_dtype(f), metric, p);
	if (build_ram_bytes == 0 || st->est_bytes <= build_ram_bytes) {
		rc = build_whole(f, metric, p, graph_path);
		goto out;
	}
	if (!tmpdir) {
		if (!(gdir = strdup(graph_path))) {
			rc = dann_fail(DANN_ENOMEM, "vamana: no memory");
			goto out;
		}
		tmpdir = dirname(gdir);
	}
	rc = build_partitioned(&pt, build_ram_bytes, tmpdir, graph_path, st);
out:
	free(pt.centroids);
	free(pt.size);
	free(pt.shard_medoid);
	free(pt.built);
	free(gdir);
	vf_close(f);
	return rc;
}
