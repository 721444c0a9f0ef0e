/*
 * seg_batch.c — many queries against a collection at the disk's speed.
 *
 * One search (seg_search.c) visits its version's segments one after
 * another, one disk read in flight at a time; a batch made of such
 * searches on threads kept the SSD nearly idle. Here a batch goes segment
 * by segment instead: each flushed segment answers every query of a chunk
 * with dann_search_batch (the caller's threads, each keeping p->inflight
 * queries in flight on its own io_uring ring, the segment's delete bitmap
 * as the deleted mask), the RAM segments answer the chunk on the same
 * number of threads, and then each query's hits are merged by exact
 * distance with the single search's own merge. Every segment search is
 * the one the single search runs, so a batch returns what nq single
 * searches would (tests/segment/test_seg_batch.c holds it to that).
 *
 * All chunks read one version: a swap during the batch is seen by none of
 * its queries. Chunks bound the memory held for hits and let cancel and
 * the deadline act between segment passes.
 *
 * A filtered batch is compiled once and evaluated once per segment, on
 * the segment's first pass, into the allowed-rows mask every query of
 * every chunk then shares (the single search evaluates it per query and
 * segment: with one filter for the whole batch that work, a scan of the
 * segment's columns or a scalar index lookup each time, was repeated nq
 * times for the same mask). A disk segment's batch then plans once
 * (dix_filter.h) and an exact plan lists the allowed ids once per chunk.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../error.h"
#include "expr.h"
#include "seg_impl.h"

#define BATCH_CHUNK 1024u              /* queries per pass over the segments */
#define BATCH_HIT_BYTES (64ull << 20)  /* hits held for one chunk, at most */
#define BATCH_MAX_THREADS 64u

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Runs fn(arg) on n threads (the caller's one of them); fn takes work
 * from a shared counter, so fewer threads only means slower. */
static void run_threads(void *(*fn)(void *), void *arg, uint32_t n)
{
	pthread_t th[BATCH_MAX_THREADS];
	uint32_t started = 0;

	n = n > BATCH_MAX_THREADS ? BATCH_MAX_THREADS : n;
	for (uint32_t t = 1; t < n; t++)
		if (pthread_create(&th[started], NULL, fn, arg) == 0)
			started++;
	fn(arg);
	for (uint32_t t = 0; t < started; t++)
		pthread_join(th[t], NULL);
}

static void first_error(_Atomic int *slot, int rc)
{
	int zero = 0;

	atomic_compare_exchange_strong(slot, &zero, rc);
}

/* ---- one chunk of queries, segment by segment */

struct chunk {
	struct dann_coll *c;
	const struct dann_coll_search_params *p;
	uint32_t threads;
	const float *q;                    /* m queries */
	uint64_t m;
	size_t cap;                        /* room for hits per query */
	int64_t *hk;                       /* m * cap hits */
	float *hd;
	size_t *nh;                        /* m */
	int64_t *sk;                       /* one segment's results: m * k */
	float *sd;
	uint32_t *sf;                      /* m */
	uint32_t *ids;                     /* m * k */
	struct dann_search_stats *dst;     /* m */
	struct dann_coll_search_stats *st; /* m */
	/* The filter (NULL: none) and its mask per segment of the version,
	 * made on the segment's first pass and kept for the later chunks. */
	const struct expr *filter;
	uint64_t **masks;
	uint64_t *mask_rows;
	bool *masked;
	/* RAM segment pass */
	struct seg_mem *mem;
	const uint64_t *mem_allowed;
	uint64_t mem_nallowed;
	_Atomic uint64_t next;
	_Atomic int rc;
};

static int disk_pass(struct chunk *ch, struct seg *s, const uint64_t *allowed)
{
	const struct dann_coll_search_params *p = ch->p;
	struct dann_search_params sp;
	uint32_t k = p->k;
	int rc;

	dann_search_params_default(&sp);
	sp.k = k;
	sp.L = p->L < k ? k : p->L;
	sp.W = p->W ? p->W : sp.W;
	sp.threads = ch->threads;
	sp.inflight = p->inflight ? p->inflight : sp.inflight;
	sp.deleted = (const uint64_t *)s->disk->delw;
	sp.deleted_bits = s->nrows;
	sp.allowed = allowed; /* as the single search does (seg_disk_search) */
	sp.allowed_bits = allowed ? s->nrows : 0;
	/* pinned (and fetched back if the tier cache evicted it) while read */
	if ((rc = seg_disk_use(ch->c, s)) < 0)
		return rc;
	rc = dann_search_batch(s->disk->ix, ch->q, ch->m, &sp, ch->ids, ch->sd, ch->sf, ch->dst);
	seg_disk_done(ch->c, s);
	if (rc < 0)
		return rc;
	for (uint64_t i = 0; i < ch->m; i++) {
		for (uint32_t j = 0; j < ch->sf[i]; j++)
			ch->sk[i * k + j] = s->disk->keys[ch->ids[i * k + j]];
		ch->st[i].reads += ch->dst[i].reads;
	}
	return 0;
}

static void *mem_main(void *arg)
{
	struct chunk *ch = arg;
	uint32_t k = ch->p->k, dim = ch->c->schema.dim;
	uint64_t i;

	while (atomic_load(&ch->rc) == 0 && (i = atomic_fetch_add(&ch->next, 1)) < ch->m) {
		int rc = seg_mem_search(ch->c, ch->mem, ch->q + i * dim, k, ch->p->L, ch->mem_allowed,
					ch->mem_nallowed, ch->sk + i * k, ch->sd + i * k, &ch->sf[i]);
		if (rc < 0)
			first_error(&ch->rc, rc);
	}
	return NULL;
}

static int mem_pass(struct chunk *ch, struct seg *s, const uint64_t *allowed, uint64_t nallowed)
{
	ch->mem = s->mem;
	ch->mem_allowed = allowed;
	ch->mem_nallowed = nallowed;
	atomic_store(&ch->next, 0);
	atomic_store(&ch->rc, 0);
	run_threads(mem_main, ch, ch->threads);
	return atomic_load(&ch->rc);
}

/* Every segment of v for the chunk's queries, then the merge into out. */
static int run_chunk(struct chunk *ch, struct seg_ver *v, int64_t *keys, float *dists, uint32_t *found)
{
	uint32_t k = ch->p->k;
	int rc;

	memset(ch->nh, 0, ch->m * sizeof *ch->nh);
	memset(ch->st, 0, ch->m * sizeof *ch->st);
	for (size_t si = 0; si < v->n; si++) {
		struct seg *s = v->s[si];
		if ((rc = seg_search_stop(ch->c, ch->p)) < 0)
			return rc;
		if (!s->disk && !s->mem->n)
			continue;
		if (ch->filter && !ch->masked[si]) {
			if ((rc = seg_filter_mask(ch->c, s, ch->filter, &ch->masks[si], &ch->mask_rows[si])) < 0)
				return rc;
			ch->masked[si] = true;
		}
		if (s->disk)
			rc = disk_pass(ch, s, ch->masks[si]);
		else
			rc = mem_pass(ch, s, ch->masks[si], ch->mask_rows[si]);
		if (rc < 0)
			return rc;
		for (uint64_t i = 0; i < ch->m; i++) {
			size_t at = i * ch->cap + ch->nh[i];
			memcpy(ch->hk + at, ch->sk + i * k, ch->sf[i] * sizeof *ch->hk);
			memcpy(ch->hd + at, ch->sd + i * k, ch->sf[i] * sizeof *ch->hd);
			ch->nh[i] += ch->sf[i];
			ch->st[i].segments++;
		}
	}
	for (uint64_t i = 0; i < ch->m; i++)
		if ((rc = seg_search_merge(ch->hk + i * ch->cap, ch->hd + i * ch->cap, ch->nh[i], k,
					   keys + i * k, dists + i * k, &found[i])) < 0)
			return rc;
	return 0;
}

static void chunk_free(struct chunk *ch, size_t nseg)
{
	for (size_t i = 0; ch->masks && i < nseg; i++)
		free(ch->masks[i]);
	free(ch->masks);
	free(ch->mask_rows);
	free(ch->masked);
	free(ch->hk);
	free(ch->hd);
	free(ch->nh);
	free(ch->sk);
	free(ch->sd);
	free(ch->sf);
	free(ch->ids);
	free(ch->dst);
	free(ch->st);
}

static int chunk_alloc(struct chunk *ch, uint64_t m, size_t nseg, uint32_t k)
{
	ch->cap = (nseg ? nseg : 1) * k;
	ch->hk = malloc(m * ch->cap * sizeof *ch->hk);
	ch->hd = malloc(m * ch->cap * sizeof *ch->hd);
	ch->nh = malloc(m * sizeof *ch->nh);
	ch->sk = malloc(m * k * sizeof *ch->sk);
	ch->sd = malloc(m * k * sizeof *ch->sd);
	ch->sf = malloc(m * sizeof *ch->sf);
	ch->ids = malloc(m * k * sizeof *ch->ids);
	ch->dst = malloc(m * sizeof *ch->dst);
	ch->st = malloc(m * sizeof *ch->st);
	ch->masks = calloc(nseg + 1, sizeof *ch->masks);
	ch->mask_rows = calloc(nseg + 1, sizeof *ch->mask_rows);
	ch->masked = calloc(nseg + 1, sizeof *ch->masked);
	if (!ch->hk || !ch->hd || !ch->nh || !ch->sk || !ch->sd || !ch->sf || !ch->ids || !ch->dst ||
	    !ch->st || !ch->masks || !ch->mask_rows || !ch->masked)
		return dann_fail(DANN_ENOMEM, "search_batch: %llu queries x %zu segments x %u results",
				 (unsigned long long)m, nseg, k);
	return 0;
}

static int search_chunks(struct dann_coll *c, struct seg_ver *v, const float *queries, uint64_t nq,
			 const struct dann_coll_search_params *p, const struct expr *filter,
			 uint32_t threads, int64_t *keys, float *dists, uint32_t *found,
			 struct dann_coll_search_stats *stats)
{
	uint32_t k = p->k, dim = c->schema.dim;
	size_t per_query = (v->n ? v->n : 1) * k * (sizeof(int64_t) + sizeof(float));
	uint64_t m = BATCH_HIT_BYTES / per_query;
	struct chunk ch = { .c = c, .p = p, .filter = filter };
	int rc;

	m = m < 1 ? 1 : m > BATCH_CHUNK ? BATCH_CHUNK : m;
	m = m > nq ? nq : m;
	atomic_init(&ch.next, 0);
	atomic_init(&ch.rc, 0);
	if ((rc = chunk_alloc(&ch, m, v->n, k)) < 0)
		goto out;
	for (uint64_t q0 = 0; q0 < nq; q0 += ch.m) {
		uint64_t t0 = now_ns();
		ch.m = nq - q0 < m ? nq - q0 : m;
		ch.q = queries + q0 * dim;
		ch.threads = threads > ch.m ? (uint32_t)ch.m : threads;
		if ((rc = run_chunk(&ch, v, keys + q0 * k, dists + q0 * k, found + q0)) < 0)
			break;
		for (uint64_t i = 0; stats && i < ch.m; i++) {
			stats[q0 + i] = ch.st[i];
			stats[q0 + i].latency_ns = now_ns() - t0; /* the chunk's time */
		}
	}
out:
	chunk_free(&ch, v->n);
	return rc;
}

int dann_coll_search_batch(struct dann_coll *c, const float *queries, uint64_t nq,
			   const struct dann_coll_search_params *p, int64_t *keys, float *dists,
			   uint32_t *found, struct dann_coll_search_stats *stats)
{
	struct dann_coll_search_params def;
	struct expr *filter = NULL;
	struct seg_ver *v;
	uint32_t threads;
	int rc;

	if (!c || !queries || !keys || !dists || !found)
		return dann_fail(DANN_EINVAL, "search_batch: no collection, queries or output");
	if (!p) {
		dann_coll_search_params_default(&def);
		p = &def;
	}
	threads = p->threads ? p->threads : 1;
	threads = threads > BATCH_MAX_THREADS ? BATCH_MAX_THREADS : threads;
	memset(found, 0, nq * sizeof *found);
	for (uint64_t i = 0; i < nq; i++)
		if ((rc = seg_search_check(c, queries + i * c->schema.dim, p)) < 0)
			return dann_fail_wrap(rc, "query %llu", (unsigned long long)i);
	/* compiled once for the batch, as the single search does per query */
	if (p->filter && (rc = expr_compile(p->filter, &c->schema, &filter)) < 0)
		return dann_fail_wrap(rc, "%s", c->schema.name);
	if (nq == 0) {
		expr_free(filter);
		return 0;
	}
	/* again if a metric change flipped meanwhile (see dann_coll_search) */
	for (int tries = 0;; tries++) {
		uint32_t epoch = atomic_load(&c->metric_epoch);
		v = seg_ver_get(c);
		rc = search_chunks(c, v, queries, nq, p, filter, threads, keys, dists, found, stats);
		seg_ver_unref(v);
		if (rc < 0 || atomic_load(&c->metric_epoch) == epoch || tries == SEG_SEARCH_RETRIES)
			break;
	}
	expr_free(filter);
	return rc;
}
