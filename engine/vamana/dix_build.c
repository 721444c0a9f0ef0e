/*
 * dix_build.c — dann_index_build: a vector file in, a disk index directory
 * out. The phases, each reported through the progress hook:
 *   PQ train (on a sample) → encode every row → Vamana graph in RAM →
 *   node file layout;
 * all written into a stage beside the output directory and renamed into
 * place only when complete (dix_manifest.h).
 *
 * Memory: PQ training reads a sample, encoding streams the file, and the
 * graph is built by vam_build_file within --build-ram (partitioned into
 * overlapping k-means shards when the in-RAM build would not fit); the
 * layout preads both the graph's rows (dix_graph.h: only the degrees stay
 * in RAM) and the vectors, so it too keeps to the budget. It once mapped
 * the graph file, which stayed resident: 388 MiB under a 256 MiB budget
 * on 1M x 128.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../dann.h"
#include "../error.h"
#include "../pq/pq.h"
#include "../vf.h"
#include "dix_entry.h"
#include "dix_graph.h"
#include "dix_manifest.h"
#include "dix_write.h"
#include "vamana.h"

#define GIB (1024.0 * 1024.0 * 1024.0)
#define GRAPH_TMP_FILE "graph.build" /* removed before the stage commits */

void dann_build_params_default(struct dann_build_params *p)
{
	memset(p, 0, sizeof *p);
	p->metric = DANN_METRIC_L2;
	p->R = 64;
	p->L = 100;
	p->alpha = 1.2f;
	p->locality_order = 1;
	p->entry_sample = DANN_ENTRY_SAMPLE_AUTO;
}

static void phase(const struct dann_build_params *p, const char *name, uint64_t done, uint64_t total)
{
	if (p->progress)
		p->progress(p->progress_arg, name, done, total);
}

#define BUILD_MAX_THREADS 1024

/* Every parameter, before a byte is written or a phase starts (PQ
 * training alone can take hours at scale). */
static int check_params(const struct dann_build_params *p, const struct vf *f, uint32_t *M)
{
	struct vam_params vp;
	int rc;

	uint32_t dim = vf_dim(f);
	enum dann_dtype t = vf_dtype(f);

	if (t != DANN_DTYPE_F32 && t != DANN_DTYPE_U8 && t != DANN_DTYPE_I8)
		return dann_fail(DANN_EINVAL, "%s: %s vectors cannot be indexed (float32, uint8 or int8)",
				 vf_path(f), dann_dtype_name(t));
	if (vf_count(f) == 0 || vf_count(f) > UINT32_MAX)
		return dann_fail(DANN_EINVAL, "%s: %llu vectors, expected 1..%u", vf_path(f),
				 (unsigned long long)vf_count(f), UINT32_MAX);
	if (p->R == 0 || p->R > DIX_MAX_R)
		return dann_fail(DANN_EINVAL, "build: R = %u, expected 1..%d", p->R, DIX_MAX_R);
	*M = p->pq_bytes ? p->pq_bytes : (dim / 8 ? dim / 8 : 1);
	if (*M > dim || *M > PQ_MAX_BYTES)
		return dann_fail(DANN_EINVAL, "build: --pq-bytes %u, expected 1..%u for dimension %u",
				 *M, dim < PQ_MAX_BYTES ? dim : PQ_MAX_BYTES, dim);
	if (p->opq && dim > PQ_OPQ_MAX_DIM)
		return dann_fail(DANN_EINVAL, "build: --opq on dimension %u: the rotation is kept up to %u dims",
				 dim, PQ_OPQ_MAX_DIM);
	if (!(p->build_ram_gib >= 0) || p->build_ram_gib > 1e9)
		return dann_fail(DANN_EINVAL, "build: --build-ram %g GiB, expected >= 0 (0 = no limit)",
				 p->build_ram_gib);
	if (p->locality_order < DANN_ORDER_PLAIN || p->locality_order > DANN_ORDER_SHUFFLE)
		return dann_fail(DANN_EINVAL, "build: node order %d, expected 0 (plain), 1 (locality) "
				 "or 2 (shuffle)", p->locality_order);
	if (p->threads > BUILD_MAX_THREADS)
		return dann_fail(DANN_EINVAL, "build: threads = %u, expected 0 (every core) .. %u",
				 p->threads, BUILD_MAX_THREADS);
	vam_params_default(&vp);
	vp.R = p->R;
	vp.L = p->L;
	vp.alpha = p->alpha;
	if ((rc = vam_params_check(&vp)) < 0)
		return dann_fail_wrap(rc, "build");
	return 0;
}

#define NORM_BLOCK_ROWS 16384u

/* Inner product: dir/norms.bin, the squared norm of every row (see
 * dix_format.h), streamed from the file a block at a time. */
static int write_norms(const struct vf *f, const struct stop *stop, const char *dir)
{
	uint64_t n = vf_count(f);
	uint32_t dim = vf_dim(f);
	float *norms = malloc(sizeof *norms * n), *x = malloc(sizeof *x * NORM_BLOCK_ROWS * dim);
	int rc = 0;

	if (!norms || !x) {
		rc = dann_fail(DANN_ENOMEM, "build: no memory for the norms of %llu rows",
			       (unsigned long long)n);
		goto out;
	}
	for (uint64_t i0 = 0; i0 < n; i0 += NORM_BLOCK_ROWS) {
		uint64_t m = n - i0 < NORM_BLOCK_ROWS ? n - i0 : NORM_BLOCK_ROWS;
		if ((rc = stop_check(stop, "build: norms")) < 0 ||
		    (rc = vf_read_f32(f, i0, m, x)) < 0)
			goto out;
		for (uint64_t i = 0; i < m; i++) {
			double s2 = 0;
			for (uint32_t j = 0; j < dim; j++)
				s2 += (double)x[i * dim + j] * x[i * dim + j];
			norms[i0 + i] = (float)s2;
		}
	}
	rc = dix_write_small_file(dir, DIX_NORMS_FILE, norms, sizeof *norms * n);
out:
	free(norms);
	free(x);
	return rc;
}

/* Builds the graph into dir/GRAPH_TMP_FILE: in RAM when it fits
 * --build-ram, else partitioned by vam_build_file. */
static int build_graph(const struct dann_build_params *p, const struct stop *stop,
		       const struct vf *f, const char *dir, char *graph_path, size_t cap)
{
	struct vam_params vp;
	int rc;

	if (snprintf(graph_path, cap, "%s/%s", dir, GRAPH_TMP_FILE) >= (int)cap)
		return dann_fail(DANN_EINVAL, "%s: path too long", dir);
	vam_params_default(&vp);
	vp.R = p->R;
	vp.L = p->L;
	vp.alpha = p->alpha;
	vp.threads = p->threads;
	vp.progress = p->progress;
	vp.progress_arg = p->progress_arg;
	vp.stop = stop;
	vp.checkpoint_dir = p->checkpoint_dir;
	if ((rc = vam_params_check(&vp)) < 0)
		return rc;
	return vam_build_file(vf_path(f), p->metric, &vp, (uint64_t)(p->build_ram_gib * GIB), dir,
			      graph_path, NULL);
}

static int build_into(const struct dann_build_params *p, const struct stop *stop, struct vf *f,
		      uint32_t M, const char *dir, const uint64_t *keys)
{
	struct dix_write_params wp = { .metric = p->metric, .dtype = vf_dtype(f), .dim = vf_dim(f),
				       .layout = p->locality_order == DANN_ORDER_SHUFFLE ? DIX_LAYOUT_SHUFFLE
						 : p->locality_order == DANN_ORDER_LOCALITY ? DIX_LAYOUT_LOCALITY
											    : DIX_LAYOUT_PLAIN,
				       .progress = p->progress, .progress_arg = p->progress_arg,
				       .stop = stop };
	char graph_path[PATH_MAX];
	struct pq_params pp;
	struct pq *pq = NULL;
	struct dix_graph g = { 0 };
	uint64_t entry;
	int rc;

	graph_path[0] = '\0';
	entry = dix_entry_sample_size(p->entry_sample, vf_count(f));
	pq_params_default(&pp, p->metric, M);
	pp.threads = p->threads;
	pp.stop = stop;
	pp.opq_iters = p->opq ? PQ_OPQ_DEFAULT_ITERS : 0;
	if (p->build_ram_gib > 0) {
		/* The training sample (float rows) takes at most a quarter of the
		 * budget, but never fewer than 40 rows per centroid. */
		uint64_t cap = (uint64_t)(p->build_ram_gib * GIB / 4) / (sizeof(float) * vf_dim(f));
		if (cap < 40 * 256)
			cap = 40 * 256;
		if (pp.sample == 0 || pp.sample > cap)
			pp.sample = cap;
	}
	if ((rc = stop_check(stop, "build: pq train")) < 0)
		goto out;
	phase(p, "pq train", 0, 1);
	if ((rc = pq_train_file(&pp, f, &pq, NULL)) < 0)
		goto out;
	phase(p, "pq train", 1, 1);
	if ((rc = stop_check(stop, "build: pq encode")) < 0 ||
	    (rc = pq_encode_file(pq, f, p->progress, p->progress_arg)) < 0 ||
	    (rc = stop_check(stop, "build: pq save")) < 0 || (rc = pq_save(pq, dir)) < 0)
		goto out;
	pq_free(pq);
	pq = NULL;
	if (p->metric == DANN_METRIC_IP && (rc = write_norms(f, stop, dir)) < 0)
		goto out;
	if ((rc = stop_check(stop, "build: graph")) < 0 ||
	    (rc = build_graph(p, stop, f, dir, graph_path, sizeof graph_path)) < 0 ||
	    (rc = stop_check(stop, "build: layout")) < 0 ||
	    (rc = dix_graph_open_file(graph_path, vf_count(f), vf_dim(f), &g)) < 0)
		goto out;
	if ((rc = dix_write_nodes(dir, &wp, &g, dix_rows_from_vf, f)) < 0 ||
	    (rc = dix_write_ids(dir, keys, g.n)) < 0)
		goto out;
	if (entry > 0) {
		if ((rc = stop_check(stop, "build: entry graph")) < 0)
			goto out;
		phase(p, "entry graph", 0, 1);
		if ((rc = dix_entry_build(dir, f, p->metric, entry, p->threads)) < 0)
			goto out;
		phase(p, "entry graph", 1, 1);
	}
out:
	dix_graph_close(&g);
	/* The graph lives on in the node file; its build file is not part of
	 * the index. */
	if (graph_path[0])
		unlink(graph_path);
	pq_free(pq);
	return rc;
}

int dann_index_build(const char *data_path, const char *out_dir, const struct dann_build_params *p)
{
	struct dann_build_params defaults;
	struct dix_stage *st = NULL;
	struct stop stop;
	struct vf *f = NULL;
	uint32_t M = 0;
	int rc;

	if (!p) {
		dann_build_params_default(&defaults);
		p = &defaults;
	}
	if ((unsigned)p->metric > DANN_METRIC_COSINE)
		return dann_fail(DANN_EINVAL, "build: unknown metric %d", (int)p->metric);
	if ((rc = vf_open(data_path, &f)) < 0)
		return rc;
	stop = (struct stop){ .cancel = p->cancel, .deadline_ns = p->deadline_ns };
	if ((rc = check_params(p, f, &M)) < 0 || (rc = stop_check(&stop, "build")) < 0 ||
	    (rc = dix_stage_begin(out_dir, &st)) < 0)
		goto out;
	if ((rc = build_into(p, &stop, f, M, dix_stage_dir(st), NULL)) < 0 ||
	    (rc = stop_check(&stop, "build: commit")) < 0) {
		dix_stage_abort(st);
		goto out;
	}
	rc = dix_stage_commit(st);
out:
	vf_close(f);
	return rc;
}

int dix_build_dir(const char *data_path, const char *dir, const struct dann_build_params *p,
		  const uint64_t *keys, const _Atomic bool *cancel)
{
	struct stop stop = { .cancel = p->cancel, .flag = cancel, .deadline_ns = p->deadline_ns };
	struct vf *f = NULL;
	uint32_t M = 0;
	int rc;

	if ((unsigned)p->metric > DANN_METRIC_COSINE)
		return dann_fail(DANN_EINVAL, "build: unknown metric %d", (int)p->metric);
	if ((rc = vf_open(data_path, &f)) < 0)
		return rc;
	if ((rc = check_params(p, f, &M)) == 0)
		rc = build_into(p, &stop, f, M, dir, keys);
	vf_close(f);
	return rc;
}
