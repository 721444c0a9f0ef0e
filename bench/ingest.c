/*
 * bench/ingest.c — a collection under streaming writes: durable inserts
 * per second while a second thread searches at a fixed rate, then search
 * after the last flush and compaction next to one disk index built from
 * the same rows in one go (same run).
 *
 * Rows of --base are inserted in batches of --batch by --writers threads
 * under their row numbers as keys. Reported:
 *   - durable inserts/s (every insert returns after its WAL record is
 *     fsynced), fsync + fdatasync calls per second, p50/p99 latency of one
 *     batch insert;
 *   - ack to visible: every 50th batch, the writer searches for one of the
 *     rows it just inserted (k 1) until it comes back; the time from the
 *     insert's return to that result;
 *   - the searcher's QPS, latency, segments visited and recall@10 while
 *     ingesting. Recall during ingest is against the exact top 10 of the
 *     rows acknowledged when the query started: the first 10 of the
 *     ground truth's 100 ids (--gt holds at least 100 per query) that are
 *     below that row count (queries with fewer are skipped);
 *   - build time per sealed segment: the time from a segment first seen
 *     SEALED to first seen FLUSHED, polled every 100 ms;
 *   - after dann_coll_flush and dann_coll_compact: recall@10 and QPS per L
 *     (search_batch, --threads threads), and the same for one disk index
 *     built from --base with the same R, L and PQ bytes; the QPS ratio at
 *     the best recall target (0.95, else 0.9) that both reach;
 *   - peak RSS of the process.
 *
 * fsyncs are counted by defining fsync and fdatasync in this program: the
 * executable's definitions take precedence over libc's for every call in
 * it (the engine is linked statically), and they make the same system
 * call. They count every sync of the process: WAL, segments, catalog.
 */
#include <getopt.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ftw.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "../engine/dann.h"
#include "../engine/error.h"
#include "../engine/vf.h"
#include "../tools/runenv.h"

#define K 10
#define GT_K_MIN 100
#define VISIBLE_EVERY 50          /* batches between ack-to-visible probes */
#define VISIBLE_MAX_TRIES 10000
#define SEG_POLL_NS 100000000ull  /* segment state poll: 100 ms */
#define MAX_LS 32
#define MAX_SEGS 4096

/* Process-wide counters for the fsync interposers below: the one piece
 * of global state, because libc's entry points take no context. */
static atomic_ullong n_fsync, n_fdatasync;

int fsync(int fd)
{
	atomic_fetch_add(&n_fsync, 1);
	return (int)syscall(SYS_fsync, fd);
}

int fdatasync(int fd)
{
	atomic_fetch_add(&n_fdatasync, 1);
	return (int)syscall(SYS_fdatasync, fd);
}

struct opts {
	const char *base, *queries, *gt, *work, *Ls;
	uint32_t batch, writers, search_qps, search_L, R, L, pq_bytes, threads, final_nq;
	uint64_t seal_rows;
	int json, no_oneshot;
};

struct bench {
	struct opts o;
	struct dann_coll *c;
	struct vf *base;
	uint32_t dim;
	uint64_t n, nbatches;
	float *queries;
	uint64_t nq;
	int32_t *gt;
	uint32_t gt_k;

	atomic_uint_fast64_t next_batch;
	pthread_mutex_t mu;
	uint8_t *batch_done;          /* nbatches flags */
	uint64_t watermark;           /* rows [0, watermark) are acknowledged */
	atomic_int stop;
	int failed;
	char err[512];

	double *write_ms;             /* per batch */
	double *visible_ms;
	uint64_t nvisible;

	/* searcher */
	double *search_ms;
	uint32_t *search_segs;
	double recall_sum;
	uint64_t nsearch, nrecall;
	double search_secs;
	uint64_t seg_id[MAX_SEGS];
	double seg_sealed[MAX_SEGS], seg_flushed[MAX_SEGS];
	size_t nseg;
};

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void fail(struct bench *b, const char *what)
{
	pthread_mutex_lock(&b->mu);
	if (!b->failed)
		snprintf(b->err, sizeof b->err, "%s: %s", what, dann_errmsg());
	b->failed = 1;
	pthread_mutex_unlock(&b->mu);
	atomic_store(&b->stop, 1);
}

static void mark_done(struct bench *b, uint64_t batch)
{
	pthread_mutex_lock(&b->mu);
	b->batch_done[batch] = 1;
	while (b->watermark < b->n && b->batch_done[b->watermark / b->o.batch])
		b->watermark = b->watermark + b->o.batch < b->n ? b->watermark + b->o.batch : b->n;
	pthread_mutex_unlock(&b->mu);
}

static uint64_t watermark(struct bench *b)
{
	pthread_mutex_lock(&b->mu);
	uint64_t w = b->watermark;
	pthread_mutex_unlock(&b->mu);
	return w;
}

/* Searches for row (just inserted) until it is found; ms since acked. */
static int probe_visible(struct bench *b, const float *row, int64_t key, double acked, double *ms)
{
	struct dann_coll_search_params p;
	int64_t got;
	float dist;
	uint32_t found;

	dann_coll_search_params_default(&p);
	p.k = 1;
	p.L = b->o.search_L;
	for (int i = 0; i < VISIBLE_MAX_TRIES; i++) {
		if (dann_coll_search(b->c, row, &p, &got, &dist, &found, NULL) < 0)
			return -1;
		if (found && (got == key || dist == 0.0f)) {
			*ms = (now_s() - acked) * 1e3;
			return 0;
		}
	}
	*ms = NAN;
	return 0;
}

static void *writer(void *arg)
{
	struct bench *b = arg;
	float *rows = malloc(sizeof *rows * b->o.batch * b->dim);
	int64_t *keys = malloc(sizeof *keys * b->o.batch);

	if (!rows || !keys) {
		dann_fail(DANN_ENOMEM, "writer buffers");
		fail(b, "writer");
		goto out;
	}
	while (!atomic_load(&b->stop)) {
		uint64_t i = atomic_fetch_add(&b->next_batch, 1), first = i * b->o.batch, m;
		struct dann_batch batch = { 0 };
		double t0, t1;

		if (i >= b->nbatches)
			break;
		m = b->n - first < b->o.batch ? b->n - first : b->o.batch;
		if (vf_read_f32(b->base, first, m, rows) < 0) {
			fail(b, "read base");
			break;
		}
		for (uint64_t r = 0; r < m; r++)
			keys[r] = (int64_t)(first + r);
		batch.n = m;
		batch.keys = keys;
		batch.vectors = rows;
		t0 = now_s();
		if (dann_coll_insert(b->c, &batch, NULL) < 0) {
			fail(b, "insert");
			break;
		}
		t1 = now_s();
		b->write_ms[i] = (t1 - t0) * 1e3;
		mark_done(b, i);
		if (i % VISIBLE_EVERY == 0) {
			double ms;
			if (probe_visible(b, rows + (m - 1) * b->dim, keys[m - 1], t1, &ms) < 0) {
				fail(b, "visibility probe");
				break;
			}
			pthread_mutex_lock(&b->mu);
			b->visible_ms[b->nvisible++] = ms;
			pthread_mutex_unlock(&b->mu);
		}
	}
out:
	free(rows);
	free(keys);
	return NULL;
}

/* Recall@K of one result against the exact top K of rows [0, m). */
static int prefix_recall(const struct bench *b, uint64_t q, uint64_t m, const int64_t *keys, uint32_t found,
			 double *recall)
{
	int32_t truth[K];
	uint32_t nt = 0, hits = 0;

	for (uint32_t j = 0; j < b->gt_k && nt < K; j++)
		if ((uint64_t)b->gt[q * b->gt_k + j] < m)
			truth[nt++] = b->gt[q * b->gt_k + j];
	if (nt < K)
		return 0;
	for (uint32_t a = 0; a < found; a++)
		for (uint32_t t = 0; t < K; t++)
			if (keys[a] == truth[t]) {
				hits++;
				break;
			}
	*recall = (double)hits / K;
	return 1;
}

static void poll_segments(struct bench *b, double t)
{
	struct dann_seg_info *s = NULL;
	size_t n = 0;

	if (dann_coll_segments(b->c, &s, &n) < 0)
		return;
	for (size_t i = 0; i < n; i++) {
		size_t j;
		for (j = 0; j < b->nseg && b->seg_id[j] != s[i].id; j++)
			;
		if (j == b->nseg) {
			if (b->nseg == MAX_SEGS || s[i].state != DANN_SEG_SEALED)
				continue; /* only segments seen while sealed are timed */
			b->seg_id[j] = s[i].id;
			b->seg_sealed[j] = t;
			b->seg_flushed[j] = NAN;
			b->nseg++;
		}
		if (s[i].state == DANN_SEG_FLUSHED && isnan(b->seg_flushed[j]))
			b->seg_flushed[j] = t;
	}
	free(s);
}

static void *searcher(void *arg)
{
	struct bench *b = arg;
	struct dann_coll_search_params p;
	struct dann_coll_search_stats st;
	double interval = 1.0 / b->o.search_qps, start = now_s(), next = start, next_poll = start;
	uint64_t cap = 1 << 16;
	int64_t keys[K];
	float dists[K];
	uint32_t found;

	b->search_ms = malloc(sizeof *b->search_ms * cap);
	b->search_segs = malloc(sizeof *b->search_segs * cap);
	dann_coll_search_params_default(&p);
	p.k = K;
	p.L = b->o.search_L;
	while (!atomic_load(&b->stop) && b->search_ms && b->search_segs) {
		double t = now_s(), r;
		uint64_t q = b->nsearch % b->nq, m;

		if (t >= next_poll) {
			poll_segments(b, t);
			next_poll = t + SEG_POLL_NS * 1e-9;
		}
		if (t < next) {
			struct timespec d = { 0, (long)((next - t) * 1e9) };
			nanosleep(&d, NULL);
			continue;
		}
		next += interval;
		m = watermark(b);
		if (m == 0)
			continue;
		if (dann_coll_search(b->c, b->queries + q * b->dim, &p, keys, dists, &found, &st) < 0) {
			fail(b, "search during ingest");
			break;
		}
		if (b->nsearch == cap) {
			cap *= 2;
			b->search_ms = realloc(b->search_ms, sizeof *b->search_ms * cap);
			b->search_segs = realloc(b->search_segs, sizeof *b->search_segs * cap);
			if (!b->search_ms || !b->search_segs)
				break;
		}
		b->search_ms[b->nsearch] = (double)st.latency_ns / 1e6;
		b->search_segs[b->nsearch] = st.segments;
		b->nsearch++;
		if (prefix_recall(b, q, m, keys, found, &r)) {
			b->recall_sum += r;
			b->nrecall++;
		}
	}
	b->search_secs = now_s() - start;
	return NULL;
}

static int cmp_d(const void *a, const void *c)
{
	double x = *(const double *)a, y = *(const double *)c;
	return x < y ? -1 : x > y;
}

/* The p-th percentile of v[0..n) (sorts v; NaNs last and skipped). */
static double pct(double *v, uint64_t n, double p)
{
	uint64_t m = 0;
	qsort(v, n, sizeof *v, cmp_d);
	while (m < n && !isnan(v[m]))
		m++;
	return m ? v[(uint64_t)((double)(m - 1) * p)] : NAN;
}

struct sweep_row {
	uint32_t L;
	double recall, qps, segments;
};

static double recall_of(const struct bench *b, uint64_t nq, const int64_t *keys, const uint32_t *found)
{
	uint64_t hits = 0;
	for (uint64_t q = 0; q < nq; q++)
		for (uint32_t a = 0; a < found[q]; a++)
			for (uint32_t t = 0; t < K; t++)
				if (keys[q * K + a] == b->gt[q * b->gt_k + t]) {
					hits++;
					break;
				}
	return (double)hits / ((double)nq * K);
}

static int sweep_coll(struct bench *b, const uint32_t *Ls, uint32_t nL, uint64_t nq, struct sweep_row *rows)
{
	struct dann_coll_search_params p;
	struct dann_coll_search_stats *st = malloc(sizeof *st * nq);
	int64_t *keys = malloc(sizeof *keys * nq * K);
	float *dists = malloc(sizeof *dists * nq * K);
	uint32_t *found = malloc(sizeof *found * nq);
	int rc = 0;

	if (!st || !keys || !dists || !found)
		rc = dann_fail(DANN_ENOMEM, "sweep buffers");
	dann_coll_search_params_default(&p);
	p.k = K;
	p.threads = b->o.threads;
	for (uint32_t i = 0; i < nL && rc == 0; i++) {
		uint64_t segs = 0;
		double t0 = now_s();
		p.L = Ls[i];
		if ((rc = dann_coll_search_batch(b->c, b->queries, nq, &p, keys, dists, found, st)) < 0)
			break;
		rows[i].L = Ls[i];
		rows[i].qps = (double)nq / (now_s() - t0);
		rows[i].recall = recall_of(b, nq, keys, found);
		for (uint64_t q = 0; q < nq; q++)
			segs += st[q].segments;
		rows[i].segments = (double)segs / (double)nq;
	}
	free(st);
	free(keys);
	free(dists);
	free(found);
	return rc;
}

static int sweep_index(struct bench *b, struct dann_index *ix, const uint32_t *Ls, uint32_t nL, uint64_t nq,
		       struct sweep_row *rows)
{
	struct dann_search_params p;
	uint32_t *ids = malloc(sizeof *ids * nq * K), *found = malloc(sizeof *found * nq);
	int64_t *keys = malloc(sizeof *keys * nq * K);
	float *dists = malloc(sizeof *dists * nq * K);
	int rc = 0;

	if (!ids || !found || !keys || !dists)
		rc = dann_fail(DANN_ENOMEM, "sweep buffers");
	dann_search_params_default(&p);
	p.k = K;
	p.threads = b->o.threads;
	for (uint32_t i = 0; i < nL && rc == 0; i++) {
		double t0 = now_s();
		p.L = Ls[i];
		if ((rc = dann_search_batch(ix, b->queries, nq, &p, ids, dists, found, NULL)) < 0)
			break;
		rows[i].L = Ls[i];
		rows[i].qps = (double)nq / (now_s() - t0);
		for (uint64_t q = 0; q < nq * K; q++)
			keys[q] = ids[q] == UINT32_MAX ? -1 : (int64_t)dann_index_key(ix, ids[q]);
		rows[i].recall = recall_of(b, nq, keys, found);
		rows[i].segments = 1;
	}
	free(ids);
	free(found);
	free(keys);
	free(dists);
	return rc;
}

/* Best QPS among rows reaching target (0 if none). */
static double best_at(const struct sweep_row *r, uint32_t n, double target)
{
	double best = 0;
	for (uint32_t i = 0; i < n; i++)
		if (r[i].recall >= target && r[i].qps > best)
			best = r[i].qps;
	return best;
}

static int parse_Ls(const char *s, uint32_t *Ls, uint32_t *n)
{
	char buf[256], *save = NULL, *tok;

	snprintf(buf, sizeof buf, "%s", s);
	*n = 0;
	for (tok = strtok_r(buf, ",", &save); tok && *n < MAX_LS; tok = strtok_r(NULL, ",", &save)) {
		long v = strtol(tok, NULL, 10);
		if (v < K)
			return dann_fail(DANN_EINVAL, "--Ls: %s is below k = %d", tok, K);
		Ls[(*n)++] = (uint32_t)v;
	}
	return *n ? 0 : dann_fail(DANN_EINVAL, "--Ls: no list sizes in '%s'", s);
}

static void usage(FILE *f)
{
	fprintf(f, "usage: bench_ingest --base B.fbin --queries Q.fbin --gt GT.ibin --work DIR\n"
		   "       [--batch 1000] [--writers 2] [--search-qps 50] [--search-L 40]\n"
		   "       [-R 64] [-L 100] [--pq-bytes 0] [--seal-rows N] [--threads 2]\n"
		   "       [--final-nq 1000] [--Ls 10,20,40,80,160,320] [--no-oneshot] [--json]\n"
		   "(see the comment at the top of bench/ingest.c)\n");
}

static int parse(int argc, char **argv, struct opts *o)
{
	enum { O_BASE = 256, O_Q, O_GT, O_WORK, O_BATCH, O_WRITERS, O_SQPS, O_SL, O_PQ, O_SEAL, O_THREADS, O_NQ,
	       O_LS, O_NOONE, O_JSON, O_HELP };
	static const struct option longs[] = {
		{ "base", 1, 0, O_BASE },     { "queries", 1, 0, O_Q },   { "gt", 1, 0, O_GT },
		{ "work", 1, 0, O_WORK },     { "batch", 1, 0, O_BATCH }, { "writers", 1, 0, O_WRITERS },
		{ "search-qps", 1, 0, O_SQPS }, { "search-L", 1, 0, O_SL }, { "pq-bytes", 1, 0, O_PQ },
		{ "seal-rows", 1, 0, O_SEAL }, { "threads", 1, 0, O_THREADS }, { "final-nq", 1, 0, O_NQ },
		{ "Ls", 1, 0, O_LS },         { "no-oneshot", 0, 0, O_NOONE }, { "json", 0, 0, O_JSON },
		{ "help", 0, 0, O_HELP },     { 0, 0, 0, 0 },
	};
	int c;

	memset(o, 0, sizeof *o);
	o->batch = 1000;
	o->writers = 2;
	o->search_qps = 50;
	o->search_L = 40;
	o->R = 64;
	o->L = 100;
	o->threads = 2;
	o->final_nq = 1000;
	o->Ls = "10,20,40,80,160,320";
	while ((c = getopt_long(argc, argv, "R:L:h", longs, NULL)) != -1) {
		switch (c) {
		case O_BASE: o->base = optarg; break;
		case O_Q: o->queries = optarg; break;
		case O_GT: o->gt = optarg; break;
		case O_WORK: o->work = optarg; break;
		case O_BATCH: o->batch = (uint32_t)atoi(optarg); break;
		case O_WRITERS: o->writers = (uint32_t)atoi(optarg); break;
		case O_SQPS: o->search_qps = (uint32_t)atoi(optarg); break;
		case O_SL: o->search_L = (uint32_t)atoi(optarg); break;
		case 'R': o->R = (uint32_t)atoi(optarg); break;
		case 'L': o->L = (uint32_t)atoi(optarg); break;
		case O_PQ: o->pq_bytes = (uint32_t)atoi(optarg); break;
		case O_SEAL: o->seal_rows = strtoull(optarg, NULL, 10); break;
		case O_THREADS: o->threads = (uint32_t)atoi(optarg); break;
		case O_NQ: o->final_nq = (uint32_t)atoi(optarg); break;
		case O_LS: o->Ls = optarg; break;
		case O_NOONE: o->no_oneshot = 1; break;
		case O_JSON: o->json = 1; break;
		case 'h':
		case O_HELP: usage(stdout); exit(0);
		default: usage(stderr); return -1;
		}
	}
	if (!o->base || !o->queries || !o->gt || !o->work || !o->batch || !o->writers || !o->search_qps ||
	    o->search_L < K || !o->threads || !o->final_nq) {
		usage(stderr);
		return -1;
	}
	return 0;
}

static int load_inputs(struct bench *b)
{
	struct vf *q = NULL, *g = NULL;
	int rc;

	if ((rc = vf_open(b->o.base, &b->base)) < 0 || (rc = vf_open(b->o.queries, &q)) < 0 ||
	    (rc = vf_open(b->o.gt, &g)) < 0)
		goto out;
	b->dim = vf_dim(b->base);
	b->n = vf_count(b->base);
	b->nq = vf_count(q);
	b->gt_k = vf_dim(g);
	if (vf_dim(q) != b->dim || vf_count(g) < b->nq || b->gt_k < GT_K_MIN) {
		rc = dann_fail(DANN_EINVAL, "queries of dim %u for a base of dim %u, or ground truth of %u ids per "
					    "query (need >= %d for every query)", vf_dim(q), b->dim, b->gt_k, GT_K_MIN);
		goto out;
	}
	b->queries = malloc(sizeof *b->queries * b->nq * b->dim);
	b->gt = malloc(sizeof *b->gt * b->nq * b->gt_k);
	if (!b->queries || !b->gt) {
		rc = dann_fail(DANN_ENOMEM, "queries");
		goto out;
	}
	if ((rc = vf_read_f32(q, 0, b->nq, b->queries)) < 0 || (rc = vf_read(g, 0, b->nq, b->gt)) < 0)
		goto out;
	b->nbatches = (b->n + b->o.batch - 1) / b->o.batch;
	b->batch_done = calloc(b->nbatches, 1);
	b->write_ms = calloc(b->nbatches, sizeof *b->write_ms);
	b->visible_ms = calloc(b->nbatches / VISIBLE_EVERY + b->o.writers + 1, sizeof *b->visible_ms);
	if (!b->batch_done || !b->write_ms || !b->visible_ms)
		rc = dann_fail(DANN_ENOMEM, "per-batch figures");
out:
	vf_close(q);
	vf_close(g);
	return rc;
}

static double peak_rss_mib(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_maxrss / 1024.0;
}

static void print_rows(const char *name, const struct sweep_row *r, uint32_t n, int json)
{
	if (json) {
		printf(", \"%s\": [", name);
		for (uint32_t i = 0; i < n; i++)
			printf("%s{\"L\": %u, \"recall\": %.4f, \"qps\": %.1f, \"mean_segments\": %.2f}", i ? ", " : "",
			       r[i].L, r[i].recall, r[i].qps, r[i].segments);
		printf("]");
		return;
	}
	printf("%s:\n%6s %9s %10s %8s\n", name, "L", "recall@10", "QPS", "segs/q");
	for (uint32_t i = 0; i < n; i++)
		printf("%6u %9.4f %10.1f %8.2f\n", r[i].L, r[i].recall, r[i].qps, r[i].segments);
}

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(p);
}

static void rmtree(const char *dir)
{
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Inserts every row with writers and a searcher running; fills the
 * ingest figures. */
static int ingest(struct bench *b, double *secs, uint64_t *syncs)
{
	pthread_t w[64], s;
	uint32_t nw = b->o.writers < 64 ? b->o.writers : 64;
	uint64_t s0 = atomic_load(&n_fsync) + atomic_load(&n_fdatasync);
	double t0 = now_s();

	if (pthread_create(&s, NULL, searcher, b) != 0)
		return dann_fail(DANN_ENOMEM, "searcher thread");
	for (uint32_t i = 0; i < nw; i++)
		if (pthread_create(&w[i], NULL, writer, b) != 0) {
			nw = i;
			fail(b, "writer thread");
			break;
		}
	for (uint32_t i = 0; i < nw; i++)
		pthread_join(w[i], NULL);
	*secs = now_s() - t0;
	*syncs = atomic_load(&n_fsync) + atomic_load(&n_fdatasync) - s0;
	atomic_store(&b->stop, 1);
	pthread_join(s, NULL);
	if (b->failed)
		return dann_fail(DANN_EIO, "%s", b->err);
	return 0;
}

int main(int argc, char **argv)
{
	struct bench b;
	struct dann_db *db = NULL;
	struct dann_db_params dp;
	struct dann_schema sc;
	struct dann_index *ix = NULL;
	struct dann_build_params bp;
	struct sweep_row after[MAX_LS], one[MAX_LS];
	char dbdir[4096], onedir[4096];
	uint32_t Ls[MAX_LS], nL = 0;
	double ingest_s = 0, flush_s = 0, compact_s = 0, oneshot_s = NAN, seg_build[MAX_SEGS];
	uint64_t syncs = 0, final_nq, nbuilt = 0, live = 0;
	int rc;

	/* OpenMP workers that sleep when idle, as in the CLI: spinning ones
	 * took a quarter of the CPU from the writers here. */
	runenv_ensure(argv);
	memset(&b, 0, sizeof b);
	if (parse(argc, argv, &b.o) < 0)
		return 2;
	pthread_mutex_init(&b.mu, NULL);
	if ((rc = parse_Ls(b.o.Ls, Ls, &nL)) < 0 || (rc = load_inputs(&b)) < 0)
		goto out;
	snprintf(dbdir, sizeof dbdir, "%s/ingest-db", b.o.work);
	snprintf(onedir, sizeof onedir, "%s/ingest-oneshot", b.o.work);
	rmtree(dbdir);
	rmtree(onedir);
	dann_db_params_default(&dp);
	dann_schema_default(&sc);
	snprintf(sc.name, sizeof sc.name, "ingest");
	sc.dim = b.dim;
	sc.index.R = b.o.R;
	sc.index.L = b.o.L;
	sc.index.pq_bytes = b.o.pq_bytes;
	sc.seal_rows = b.o.seal_rows;
	if ((rc = dann_db_open(dbdir, &dp, &db)) < 0 || (rc = dann_coll_create(db, &sc)) < 0 ||
	    (rc = dann_coll_get(db, sc.name, &b.c)) < 0)
		goto out;
	fprintf(stderr, "ingest: %llu x %u in batches of %u, %u writers, searching at %u/s\n",
		(unsigned long long)b.n, b.dim, b.o.batch, b.o.writers, b.o.search_qps);
	if ((rc = ingest(&b, &ingest_s, &syncs)) < 0)
		goto out;
	fprintf(stderr, "ingest: %.1f s; flushing\n", ingest_s);
	flush_s = now_s();
	if ((rc = dann_coll_flush(b.c)) < 0)
		goto out;
	flush_s = now_s() - flush_s;
	poll_segments(&b, now_s());
	compact_s = now_s();
	if ((rc = dann_coll_compact(b.c)) < 0 || (rc = dann_coll_count(b.c, &live)) < 0)
		goto out;
	compact_s = now_s() - compact_s;
	final_nq = b.o.final_nq < b.nq ? b.o.final_nq : b.nq;
	if ((rc = sweep_coll(&b, Ls, nL, final_nq, after)) < 0)
		goto out;
	for (size_t i = 0; i < b.nseg; i++)
		if (!isnan(b.seg_flushed[i]))
			seg_build[nbuilt++] = b.seg_flushed[i] - b.seg_sealed[i];
	if (!b.o.no_oneshot) {
		fprintf(stderr, "ingest: building one index from the same rows\n");
		dann_build_params_default(&bp);
		bp.R = b.o.R;
		bp.L = b.o.L;
		bp.pq_bytes = b.o.pq_bytes;
		bp.threads = b.o.threads;
		oneshot_s = now_s();
		if ((rc = dann_index_build(b.o.base, onedir, &bp)) < 0 || (rc = dann_index_open(onedir, NULL, &ix)) < 0)
			goto out;
		oneshot_s = now_s() - oneshot_s;
		if ((rc = sweep_index(&b, ix, Ls, nL, final_nq, one)) < 0)
			goto out;
	}

	{
		uint64_t nw = b.nbatches;
		double wp50 = pct(b.write_ms, nw, 0.5), wp99 = pct(b.write_ms, nw, 0.99), wmax = pct(b.write_ms, nw, 1);
		double vp50 = pct(b.visible_ms, b.nvisible, 0.5), vp99 = pct(b.visible_ms, b.nvisible, 0.99);
		double segs = 0, *sm = b.search_ms, sp50 = pct(sm, b.nsearch, 0.5), sp99 = pct(sm, b.nsearch, 0.99);
		double bmean = 0, target = 0.95, ratio = NAN;
		for (uint64_t i = 0; i < b.nsearch; i++)
			segs += b.search_segs[i];
		segs = b.nsearch ? segs / (double)b.nsearch : NAN;
		for (uint64_t i = 0; i < nbuilt; i++)
			bmean += seg_build[i] / (double)nbuilt;
		if (!b.o.no_oneshot) {
			if (!(best_at(after, nL, target) > 0 && best_at(one, nL, target) > 0))
				target = 0.9;
			if (best_at(after, nL, target) > 0 && best_at(one, nL, target) > 0)
				ratio = best_at(after, nL, target) / best_at(one, nL, target);
		}
		if (b.o.json) {
			printf("{\"rows\": %llu, \"dim\": %u, \"batch\": %u, \"writers\": %u, \"ingest_s\": %.2f, "
			       "\"inserts_per_s\": %.0f, \"syncs\": %llu, \"syncs_per_s\": %.1f, "
			       "\"write_p50_ms\": %.3f, \"write_p99_ms\": %.3f, \"write_max_ms\": %.3f, \"visible_p50_ms\": %.3f, "
			       "\"visible_p99_ms\": %.3f, \"search_qps_target\": %u, \"search_qps\": %.1f, "
			       "\"search_recall_during\": %.4f, \"search_p50_ms\": %.3f, \"search_p99_ms\": %.3f, "
			       "\"segments_during\": %.2f, \"segments_built\": %llu, \"segment_build_s_mean\": %.2f, "
			       "\"flush_s\": %.2f, \"compact_s\": %.2f, \"live_rows\": %llu, \"oneshot_build_s\": %.2f, "
			       "\"qps_ratio_target\": %.2f, \"qps_ratio\": %.3f, \"peak_rss_mib\": %.1f",
			       (unsigned long long)b.n, b.dim, b.o.batch, b.o.writers, ingest_s, (double)b.n / ingest_s,
			       (unsigned long long)syncs, (double)syncs / ingest_s, wp50, wp99, wmax, vp50, vp99,
			       b.o.search_qps, (double)b.nsearch / b.search_secs,
			       b.nrecall ? b.recall_sum / (double)b.nrecall : NAN, sp50, sp99, segs,
			       (unsigned long long)nbuilt, bmean, flush_s, compact_s, (unsigned long long)live, oneshot_s,
			       target, ratio, peak_rss_mib());
			print_rows("after", after, nL, 1);
			if (!b.o.no_oneshot)
				print_rows("oneshot", one, nL, 1);
			printf("}\n");
		} else {
			printf("ingest: %llu rows x %u in %.2f s: %.0f durable inserts/s, %.1f syncs/s (%llu)\n",
			       (unsigned long long)b.n, b.dim, ingest_s, (double)b.n / ingest_s, (double)syncs / ingest_s,
			       (unsigned long long)syncs);
			printf("write latency per batch of %u: p50 %.3f ms, p99 %.3f ms, max %.3f ms; ack to visible p50 "
			       "%.3f ms, p99 %.3f ms\n", b.o.batch, wp50, wp99, wmax, vp50, vp99);
			printf("search during ingest: %.1f QPS (target %u), recall@10 %.4f, p50 %.3f ms, p99 %.3f ms, "
			       "%.2f segments/search\n", (double)b.nsearch / b.search_secs, b.o.search_qps,
			       b.nrecall ? b.recall_sum / (double)b.nrecall : NAN, sp50, sp99, segs);
			printf("sealed segments built: %llu, %.2f s each on average; flush %.2f s, compact %.2f s; "
			       "%llu live rows\n", (unsigned long long)nbuilt, bmean, flush_s, compact_s,
			       (unsigned long long)live);
			print_rows("after flush and compaction", after, nL, 0);
			if (!b.o.no_oneshot) {
				printf("one index from the same rows: built in %.1f s\n", oneshot_s);
				print_rows("one index", one, nL, 0);
				printf("QPS ratio at recall >= %.2f: %.3f\n", target, ratio);
			}
			printf("peak RSS %.1f MiB\n", peak_rss_mib());
		}
	}
out:
	if (rc < 0)
		fprintf(stderr, "bench_ingest: %s\n", dann_errmsg());
	dann_index_close(ix);
	dann_db_close(db);
	vf_close(b.base);
	free(b.queries);
	free(b.gt);
	free(b.batch_done);
	free(b.write_ms);
	free(b.visible_ms);
	free(b.search_ms);
	free(b.search_segs);
	return rc < 0 ? 1 : 0;
}
