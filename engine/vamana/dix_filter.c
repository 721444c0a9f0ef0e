/*
 * dix_filter.c — filtered search on one disk index (see dix_filter.h): the
 * planner, and the exact plan.
 *
 * Why two plans. The beam search keeps L candidates by PQ distance whether
 * or not they pass the filter, so with a fraction s allowed only about
 * s * L of them can be answers: recall falls as s falls unless L grows
 * like 1/s, and the reads grow with it (a 1% filter would need 100x the
 * reads). The exact plan's reads are `rerank` whatever s is, and its CPU is
 * one PQ distance (pq_bytes table lookups) per allowed row, so it wins
 * once the allowed rows are few. The thresholds in dix_filter.h come from
 * bench/run's `filter` stage. Of the two ways to walk the graph with a
 * mask, the uncounted one (excluded nodes traversed but not counted into
 * L) adapts the list to how selective the filter is near the query rather
 * than on average, which is never worse and pays most where the two
 * differ: below 10%, and filters that follow the vectors.
 *
 * The exact plan per query: PQ table; ADC over the allowed ids in blocks,
 * keeping the best `rerank` in a heap; those nodes' sectors read from SSD
 * in one submission (cached nodes need no read); exact distances into the
 * top-k. Nothing is allocated per query.
 */
#include "dix_filter.h"

#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../aligned.h"
#include "../error.h"
#include "../pq/pq.h"
#include "../topk.h"
#include "dix_threads.h"

#define ADC_BLOCK 1024u  /* ids scored per pq_adc_ids call */

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Word w of the allowed-and-not-deleted mask over [0, n). */
static uint64_t mask_word(const struct dix_index *ix, const struct dix_search_params *p, uint64_t w)
{
	uint64_t m = ~0ull, lo = w * 64;

	if (p->allowed)
		m &= lo < p->allowed_bits ? p->allowed[w] : 0;
	if (p->allowed && lo + 64 > p->allowed_bits)
		m &= p->allowed_bits > lo ? (1ull << (p->allowed_bits - lo)) - 1 : 0;
	if (p->deleted && lo < p->deleted_bits) {
		uint64_t d = p->deleted[w];
		if (lo + 64 > p->deleted_bits)
			d &= (1ull << (p->deleted_bits - lo)) - 1;
		m &= ~d;
	}
	if (lo + 64 > ix->h.n)
		m &= ix->h.n > lo ? (1ull << (ix->h.n - lo)) - 1 : 0;
	return m;
}

int dix_filter_plan_check(int want)
{
	if (want < DANN_PLAN_AUTO || want > DANN_PLAN_BEAM_UNCOUNTED)
		return dann_fail(DANN_EINVAL, "search: filter plan %d, expected 0 (auto), 1 (beam), "
				 "2 (exact) or 3 (beam, excluded uncounted)", want);
	return 0;
}

/* The grown list of a beam plan at selectivity s: L / s, at most
 * DIX_BEAM_MAX_GROWTH times L and DIX_MAX_L. */
static uint32_t grown_L(uint32_t L, double s)
{
	double g = s > 0 ? ceil(L / s) : (double)L * DIX_BEAM_MAX_GROWTH;

	if (g > (double)L * DIX_BEAM_MAX_GROWTH)
		g = (double)L * DIX_BEAM_MAX_GROWTH;
	if (g > DIX_MAX_L)
		g = DIX_MAX_L;
	return (uint32_t)g > L ? (uint32_t)g : L;
}

int dix_filter_choose(const struct dix_index *ix, const struct dix_search_params *p, int want,
		      struct dix_filter_plan *out)
{
	uint64_t words = (ix->h.n + 63) / 64, count = 0;
	double s;
	int rc;

	if ((rc = dix_filter_plan_check(want)) < 0)
		return rc;
	memset(out, 0, sizeof *out);
	out->plan = DANN_PLAN_BEAM;
	out->L = p->L;
	if (!p->allowed && !p->deleted) {
		out->allowed = ix->h.n;
		out->selectivity = 1;
		return 0;
	}
	for (uint64_t w = 0; w < words; w++)
		count += (uint64_t)__builtin_popcountll(mask_word(ix, p, w));
	s = ix->h.n ? (double)count / (double)ix->h.n : 0;
	out->allowed = count;
	out->selectivity = s;
	out->rerank = p->L > p->k ? p->L : p->k;
	if (out->rerank > count)
		out->rerank = (uint32_t)count;
	/* The beam walk AUTO runs, in both its bands (above the exact plan's
	 * fraction, and below it when too many rows pass for a PQ scan), is
	 * the uncounted one: at equal recall it read as few or fewer nodes at
	 * every selectivity measured (dix_filter.h). */
	if (want == DANN_PLAN_AUTO)
		want = count == 0 || (s <= DIX_EXACT_MAX_FRACTION && count <= DIX_EXACT_MAX_ROWS)
			       ? DANN_PLAN_EXACT : DANN_PLAN_BEAM_UNCOUNTED;
	out->plan = (enum dann_filter_plan)want;
	if (want == DANN_PLAN_BEAM)
		out->L = grown_L(p->L, s);
	out->list_max = grown_L(p->L, s) * DIX_UNCOUNTED_ROOM;
	if (out->list_max > DIX_MAX_L)
		out->list_max = DIX_MAX_L;
	return 0;
}

void dix_filter_apply(const struct dix_filter_plan *plan, struct dix_search_params *p)
{
	p->L = plan->L;
	p->excluded_uncounted = plan->plan == DANN_PLAN_BEAM_UNCOUNTED;
	p->list_max = p->excluded_uncounted ? plan->list_max : 0;
}

int dix_filter_ids(const struct dix_index *ix, const struct dix_search_params *p, uint32_t **ids,
		   uint64_t *n)
{
	uint64_t words = (ix->h.n + 63) / 64, count = 0, at = 0;
	uint32_t *out;

	for (uint64_t w = 0; w < words; w++)
		count += (uint64_t)__builtin_popcountll(mask_word(ix, p, w));
	if (!(out = malloc(sizeof *out * (count ? count : 1))))
		return dann_fail(DANN_ENOMEM, "search: no memory for %llu allowed ids",
				 (unsigned long long)count);
	for (uint64_t w = 0; w < words; w++)
		for (uint64_t m = mask_word(ix, p, w); m; m &= m - 1)
			out[at++] = (uint32_t)(w * 64 + (uint64_t)__builtin_ctzll(m));
	*ids = out;
	*n = count;
	return 0;
}

/* ---- the exact plan ------------------------------------------------------- */

struct dix_exact {
	enum dio_backend backend;
	struct dio *dio;
	char io_desc[128];
	char *region;
	uint32_t cap_reads, cap_read_bytes, cap_k, cap_table;
	uint64_t serial;            /* index whose file is in `file` (0: none) */
	uint32_t file;
	float *table;
	float dbuf[ADC_BLOCK];
	struct topk pq_best;        /* rerank best by PQ */
	struct topk best;           /* k best by exact distance */
	struct dio_req *reqs;
	struct dio_cqe *cqes;
};

int dix_exact_new(enum dio_backend backend, struct dix_exact **out)
{
	struct dix_exact *x = calloc(1, sizeof *x);

	*out = NULL;
	if (!x)
		return dann_fail(DANN_ENOMEM, "search: no memory for an exact searcher");
	x->backend = backend;
	*out = x;
	return 0;
}

static void exact_release(struct dix_exact *x)
{
	dio_close(x->dio);
	x->dio = NULL;
	dann_aligned_free(x->region);
	x->region = NULL;
	free(x->reqs);
	free(x->cqes);
	x->reqs = NULL;
	x->cqes = NULL;
	topk_destroy(&x->pq_best);
	x->cap_reads = 0;
	x->serial = 0;
}

void dix_exact_free(struct dix_exact *x)
{
	if (!x)
		return;
	exact_release(x);
	topk_destroy(&x->best);
	free(x->table);
	free(x);
}

const char *dix_exact_io(const struct dix_exact *x)
{
	return x->io_desc;
}

static int exact_configure(struct dix_exact *x, const struct dix_index *ix, uint32_t rerank,
			   uint32_t k)
{
	uint32_t rb = ix->read_bytes, tf = (uint32_t)pq_table_floats(ix->pq);
	int rc;

	if (rerank == 0)
		rerank = 1;
	if (tf > x->cap_table) {
		free(x->table);
		if (!(x->table = malloc(sizeof *x->table * tf)))
			return dann_fail(DANN_ENOMEM, "search: no memory for a PQ table");
		x->cap_table = tf;
	}
	if (k > x->cap_k) {
		topk_destroy(&x->best);
		if ((rc = topk_init(&x->best, k)) < 0)
			return rc;
		x->cap_k = k;
	}
	if (x->dio && rerank <= x->cap_reads && rb <= x->cap_read_bytes) {
		if (x->serial != ix->serial) {
			if (x->serial && (rc = dio_file_remove(x->dio, x->file)) < 0)
				return rc;
			x->serial = 0;
			if ((rc = dio_file_add(x->dio, ix->fd, &x->file)) < 0)
				return rc;
			x->serial = ix->serial;
		}
		return 0;
	}
	exact_release(x);
	{
		struct dio_buf_region reg;
		struct dio_opts o = { 0 };
		size_t bytes = (size_t)rerank * rb;
		if (!(x->region = dann_aligned_alloc(bytes)))
			return dann_fail(DANN_ENOMEM, "search: no memory for %u re-rank reads", rerank);
		reg.base = x->region;
		reg.bytes = dann_round_up(bytes, DIO_ALIGN);
		o.backend = x->backend;
		o.depth = rerank < 8 ? 8 : rerank;
		if (o.depth > DIO_MAX_DEPTH)
			o.depth = DIO_MAX_DEPTH;
		o.bufs = &reg;
		o.nbufs = 1;
		if (!(x->reqs = malloc(sizeof *x->reqs * rerank)) ||
		    !(x->cqes = malloc(sizeof *x->cqes * rerank))) {
			exact_release(x);
			return dann_fail(DANN_ENOMEM, "search: no memory for %u re-rank reads", rerank);
		}
		if ((rc = topk_init(&x->pq_best, rerank)) < 0 || (rc = dio_open(&o, &x->dio)) < 0 ||
		    (rc = dio_file_add(x->dio, ix->fd, &x->file)) < 0) {
			exact_release(x);
			return rc;
		}
		snprintf(x->io_desc, sizeof x->io_desc, "%s", dio_describe(x->dio));
		x->cap_reads = rerank;
		x->cap_read_bytes = rb;
		x->serial = ix->serial;
	}
	return 0;
}

/* Submits the queued reads and reaps them all, re-ranking each node. */
static int exact_reads(struct dix_exact *x, const struct dix_index *ix, const float *q,
		       uint32_t nreq)
{
	uint32_t sent = 0, got = 0;
	int rc;

	while (sent < nreq) {
		int r = dio_submit(x->dio, x->reqs + sent, nreq - sent);
		if (r < 0)
			return r;
		sent += (uint32_t)r;
		if (sent < nreq && r == 0)
			break; /* ring full of finished reads: reap below, then resubmit */
	}
	while (got < nreq) {
		int r = dio_reap(x->dio, x->cqes, x->cap_reads, 1, -1);
		if (r < 0)
			return r;
		for (int j = 0; j < r; j++) {
			const struct dio_cqe *c = &x->cqes[j];
			uint32_t id = (uint32_t)(c->tag >> 32), b = (uint32_t)c->tag;
			const char *rec;
			if (c->res != (int64_t)ix->read_bytes)
				return c->res < 0 ? dann_fail_errno(DANN_EIO, (int)-c->res, "%s/%s: read of node %u",
								    ix->dir, DIX_DATA_FILE, id)
						  : dann_fail(DANN_ECORRUPT, "%s/%s: short read of node %u (truncated?)",
							      ix->dir, DIX_DATA_FILE, id);
			/* Every block read from SSD is checked before use (dix.h). */
			if ((rc = dix_block_check(ix, x->region + (size_t)b * ix->read_bytes,
						  dix_slot_sector_offset(&ix->h, dix_slot(ix, id)))) < 0)
				return rc;
			rec = x->region + (size_t)b * ix->read_bytes + dix_slot_in_sector(&ix->h, dix_slot(ix, id));
			topk_push(&x->best, id, ix->dist(q, rec, ix->h.dim));
		}
		got += (uint32_t)r;
		while (sent < nreq) {
			int s = dio_submit(x->dio, x->reqs + sent, nreq - sent);
			if (s <= 0) {
				if (s < 0)
					return s;
				break;
			}
			sent += (uint32_t)s;
		}
	}
	return 0;
}

static int exact_one(struct dix_exact *x, const struct dix_index *ix, const float *q, uint32_t k,
		     const uint32_t *allowed, uint64_t nallowed, uint32_t rerank, uint32_t *ids,
		     float *dists, uint32_t *found, struct dann_search_stats *st)
{
	uint64_t t0 = now_ns();
	uint32_t m, nreq = 0, n;
	int rc;

	memset(st, 0, sizeof *st);
	pq_table_build(ix->pq, q, x->table);
	topk_reset(&x->pq_best);
	x->pq_best.k = rerank ? rerank : 1;
	topk_reset(&x->best);
	x->best.k = k;
	for (uint64_t off = 0; off < nallowed; off += ADC_BLOCK) {
		size_t cnt = nallowed - off < ADC_BLOCK ? (size_t)(nallowed - off) : ADC_BLOCK;
		pq_adc_ids(ix->pq, x->table, allowed + off, cnt, x->dbuf);
		for (size_t j = 0; j < cnt; j++)
			if (x->dbuf[j] < topk_bound(&x->pq_best))
				topk_push(&x->pq_best, allowed[off + j], x->dbuf[j]);
	}
	m = rerank ? topk_sort(&x->pq_best) : 0;
	for (uint32_t i = 0; i < m; i++) {
		uint32_t id = x->pq_best.id[i];
		const char *rec = dix_cache_get(&ix->cache, id);
		if (rec) {
			st->cache_hits++;
			topk_push(&x->best, id, ix->dist(q, rec, ix->h.dim));
			continue;
		}
		x->reqs[nreq] = (struct dio_req){
			.tag = (uint64_t)id << 32 | nreq,
			.off = dix_slot_sector_offset(&ix->h, dix_slot(ix, id)),
			.buf = x->region + (size_t)nreq * ix->read_bytes,
			.len = ix->read_bytes,
			.file = x->file,
		};
		nreq++;
	}
	if (nreq && (rc = exact_reads(x, ix, q, nreq)) < 0) {
		struct dio_cqe c;
		while (dio_pending(x->dio) > 0 && dio_reap(x->dio, &c, 1, 1, -1) > 0)
			;
		return rc;
	}
	n = topk_sort(&x->best);
	for (uint32_t i = 0; i < k; i++) {
		ids[i] = i < n ? x->best.id[i] : UINT32_MAX;
		dists[i] = i < n ? x->best.dist[i] : INFINITY;
	}
	*found = n;
	st->reads = nreq;
	st->hops = m;
	st->rounds = nreq ? 1 : 0;
	st->plan = DANN_PLAN_EXACT;
	st->latency_ns = now_ns() - t0;
	return 0;
}

int dix_exact_run(struct dix_exact *x, const struct dix_index *ix, const float *queries,
		  uint64_t nq, uint32_t k, const uint32_t *allowed, uint64_t nallowed,
		  uint32_t rerank, _Atomic uint64_t *next, uint32_t *ids, float *dists,
		  uint32_t *found, struct dann_search_stats *stats)
{
	uint64_t local = 0;
	int rc;

	if (k == 0)
		return dann_fail(DANN_EINVAL, "search: k must be at least 1");
	if (rerank > nallowed)
		rerank = (uint32_t)nallowed;
	if ((rc = exact_configure(x, ix, rerank, k)) < 0)
		return rc;
	for (;;) {
		uint64_t i = next ? atomic_fetch_add(next, 1) : local++;
		struct dann_search_stats st;
		if (i >= nq)
			return 0;
		if ((rc = exact_one(x, ix, queries + i * ix->h.dim, k, allowed, nallowed, rerank,
				    ids + i * k, dists + i * k, &found[i], &st)) < 0)
			return rc;
		if (stats)
			stats[i] = st;
	}
}

/* ---- batches ------------------------------------------------------------ */

struct exact_job {
	const struct dix_index *ix;
	const float *queries;
	uint64_t nq;
	uint32_t k, rerank;
	const uint32_t *allowed;
	uint64_t nallowed;
	enum dio_backend backend;
	_Atomic uint64_t *next;
	uint32_t *ids;
	float *dists;
	uint32_t *found;
	struct dann_search_stats *stats;
};

/* One thread of an exact batch (dix_threads.h): its own exact searcher. */
static int exact_thread(void *arg, char *io, size_t io_cap)
{
	const struct exact_job *j = arg;
	struct dix_exact *x = NULL;
	int rc;

	if ((rc = dix_exact_new(j->backend, &x)) == 0)
		rc = dix_exact_run(x, j->ix, j->queries, j->nq, j->k, j->allowed, j->nallowed,
				   j->rerank, j->next, j->ids, j->dists, j->found, j->stats);
	if (x)
		snprintf(io, io_cap, "%s", x->io_desc);
	dix_exact_free(x);
	return rc;
}

static int exact_batch(const struct dix_index *ix, const float *queries, uint64_t nq,
		       const struct dix_search_params *p, const struct dix_searcher_params *sp,
		       uint32_t threads, uint32_t rerank, uint32_t *ids, float *dists,
		       uint32_t *found, struct dann_search_stats *stats, char *io_desc,
		       size_t io_desc_cap)
{
	_Atomic uint64_t next = 0;
	struct exact_job j = { .ix = ix, .queries = queries, .nq = nq, .k = p->k, .rerank = rerank,
			       .backend = sp->backend, .next = &next, .ids = ids, .dists = dists,
			       .found = found, .stats = stats };
	uint32_t *allowed = NULL;
	int rc;

	if ((rc = dix_filter_ids(ix, p, &allowed, &j.nallowed)) < 0)
		return rc;
	j.allowed = allowed;
	rc = dix_run_threads(threads, exact_thread, &j, &next, nq, io_desc, io_desc_cap);
	free(allowed);
	return rc;
}

int dix_filter_batch(const struct dix_index *ix, const float *queries, uint64_t nq,
		     const struct dix_search_params *p, const struct dix_searcher_params *sp,
		     uint32_t threads, int want, uint32_t *ids, float *dists, uint32_t *found,
		     struct dann_search_stats *stats, char *io_desc, size_t io_desc_cap,
		     struct dix_filter_plan *chosen)
{
	struct dix_filter_plan plan;
	struct dix_search_params bp;
	int rc;

	if ((rc = dix_search_params_check(p)) < 0 || (rc = dix_filter_choose(ix, p, want, &plan)) < 0)
		return rc;
	if (chosen)
		*chosen = plan;
	if (plan.plan == DANN_PLAN_EXACT)
		return exact_batch(ix, queries, nq, p, sp, threads, plan.rerank, ids, dists, found,
				   stats, io_desc, io_desc_cap);
	bp = *p;
	dix_filter_apply(&plan, &bp);
	rc = dix_search_batch(ix, queries, nq, &bp, sp, threads, ids, dists, found, stats, io_desc,
			      io_desc_cap);
	if (rc == 0 && stats && (p->allowed || p->deleted))
		for (uint64_t i = 0; i < nq; i++)
			stats[i].plan = plan.plan;
	return rc;
}
