/*
 * tsan_stress.c — the library's concurrent paths, run without Criterion so
 * that the tsan build can check them: Criterion's runner cannot start under
 * ThreadSanitizer (its shared arena is mapped at random addresses that
 * TSan's shadow memory holds; Snaipe/Criterion issue 274), so the tsan
 * build runs this program instead of the Criterion suites (scripts/test).
 * In the other builds it is one more test.
 *
 * What runs at once, on small data so it stays fast under TSan:
 *   - dann_index_build on 2 threads (PQ training, encoding, graph linking
 *     on OpenMP) and a partitioned build;
 *   - three threads calling dann_search (searcher pool borrow/return,
 *     different I/O backends) while another reads dann_index_io, and a
 *     dann_search_batch on 2 threads stopped by a cancel flag set from
 *     another thread;
 *   - an in-memory Vamana index taking inserts, deletes and consolidation
 *     while two threads search it;
 *   - the searcher dannd's single-query searches go to (dann_searcher):
 *     eight threads' queries admitted into two search threads' slots on a
 *     collection of a flushed and a growing segment while a ninth's
 *     queries time out, waiting or in flight.
 * Exits 0 when every call returned what it should, 1 otherwise (with the
 * failure on stderr); TSan's reports make the tsan run fail by themselves.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dann.h"
#include "error.h"
#include "vamana/vamana.h"
#include "vf.h"

#define DIM 16
#define N 2000
#define NQ 64

static int failures;

#define CHECK(cond, ...)                                                    \
	do {                                                                \
		if (!(cond)) {                                              \
			fprintf(stderr, "tsan_stress: %s:%d: ", __FILE__, __LINE__); \
			fprintf(stderr, __VA_ARGS__);                       \
			fprintf(stderr, " (%s)\n", dann_errmsg());          \
			__atomic_fetch_add(&failures, 1, __ATOMIC_RELAXED); \
		}                                                           \
	} while (0)

static float *random_rows(uint32_t n, unsigned seed)
{
	float *x = malloc(sizeof *x * n * DIM);

	for (size_t i = 0; i < (size_t)n * DIM; i++)
		x[i] = (float)(rand_r(&seed) % 1000) / 100.0f;
	return x;
}

struct search_arg {
	struct dann_index *ix;
	const float *q;
	int backend;
	_Atomic int *stop;
};

static void *search_main(void *p)
{
	struct search_arg *a = p;
	struct dann_search_params sp;
	uint32_t ids[10], found;
	float dists[10];

	dann_search_params_default(&sp);
	sp.io_backend = a->backend;
	for (int i = 0; i < 40; i++) {
		int rc = dann_search(a->ix, a->q + (size_t)(i % NQ) * DIM, &sp, ids, dists, &found,
				     NULL);
		CHECK(rc == 0 && found == 10, "dann_search rc %d found %u", rc, found);
	}
	return NULL;
}

static void *io_reader_main(void *p)
{
	struct search_arg *a = p;

	while (!atomic_load(a->stop)) {
		const char *io = dann_index_io(a->ix);
		CHECK(io[0] == '\0' || strchr(io, ':'), "torn io text \"%s\"", io);
	}
	return NULL;
}

struct cancel_arg {
	volatile int *flag;
	useconds_t after_us;
};

static void *canceller_main(void *p)
{
	struct cancel_arg *c = p;

	usleep(c->after_us);
	__atomic_store_n(c->flag, 1, __ATOMIC_RELAXED);
	return NULL;
}

static void disk_index(const char *tmp)
{
	char data[512], dir[512], dir2[512];
	float *x = random_rows(N, 1), *q = random_rows(NQ, 2);
	struct dann_build_params bp;
	struct dann_search_params sp;
	struct dann_index *ix = NULL;
	struct search_arg sa[3], ra;
	struct cancel_arg ca;
	pthread_t ts[3], tr, tc;
	_Atomic int stop = 0;
	static uint32_t ids[NQ * 10 * 50], found[NQ * 50];
	static float dists[NQ * 10 * 50], qs[NQ * 50 * DIM];
	volatile int cancel = 0;
	int rc;

	snprintf(data, sizeof data, "%s/data.fbin", tmp);
	snprintf(dir, sizeof dir, "%s/index", tmp);
	snprintf(dir2, sizeof dir2, "%s/index-part", tmp);
	CHECK(vf_write_file(data, DIM, x, N) == 0, "writing %s", data);
	dann_build_params_default(&bp);
	bp.R = 16;
	bp.L = 32;
	bp.pq_bytes = 4;
	bp.threads = 2;
	CHECK(dann_index_build(data, dir, &bp) == 0, "build");
	bp.build_ram_gib = 256.0 / (1024 * 1024); /* 256 KiB: partitioned */
	CHECK(dann_index_build(data, dir2, &bp) == 0, "partitioned build");
	CHECK(dann_index_open(dir, NULL, &ix) == 0, "open");
	if (!ix)
		goto out;
	ra = (struct search_arg){ .ix = ix, .stop = &stop };
	pthread_create(&tr, NULL, io_reader_main, &ra);
	for (int t = 0; t < 3; t++) {
		sa[t] = (struct search_arg){ .ix = ix, .q = q, .backend = t == 2 ? 3 : 0 };
		pthread_create(&ts[t], NULL, search_main, &sa[t]);
	}
	for (int t = 0; t < 3; t++)
		pthread_join(ts[t], NULL);
	atomic_store(&stop, 1);
	pthread_join(tr, NULL);

	/* A batch on two threads, canceled from a third while it runs. */
	for (int i = 0; i < NQ * 50; i++)
		memcpy(qs + (size_t)i * DIM, q + (size_t)(i % NQ) * DIM, sizeof *qs * DIM);
	dann_search_params_default(&sp);
	sp.threads = 2;
	sp.cancel = &cancel;
	ca = (struct cancel_arg){ .flag = &cancel, .after_us = 2000 };
	pthread_create(&tc, NULL, canceller_main, &ca);
	rc = dann_search_batch(ix, qs, NQ * 50, &sp, ids, dists, found, NULL);
	pthread_join(tc, NULL);
	CHECK(rc == 0 || rc == DANN_ECANCELED, "batch rc %d", rc);
	cancel = 0;
	CHECK(dann_search_batch(ix, qs, NQ, &sp, ids, dists, found, NULL) == 0, "batch");
out:
	dann_index_close(ix);
	free(x);
	free(q);
}

struct vam_arg {
	struct vam *v;
	const float *x;
	_Atomic int *stop;
};

static void *vam_search_main(void *p)
{
	struct vam_arg *a = p;
	uint32_t ids[10], found, k = 0;
	float d[10];

	while (!atomic_load(a->stop)) {
		int rc = vam_search(a->v, a->x + (size_t)(k++ % N) * DIM, 10, 40, NULL, ids, d,
				    &found, NULL);
		CHECK(rc == 0, "vam_search rc %d", rc);
		for (uint32_t j = 0; j < found; j++)
			CHECK(ids[j] < vam_count(a->v), "id %u past the count", ids[j]);
	}
	return NULL;
}

static void memory_index(void)
{
	float *x = random_rows(N, 3);
	struct vam_params p;
	struct vam *v = NULL;
	struct vam_arg a;
	_Atomic int stop = 0;
	pthread_t ts[2];
	uint32_t id;

	vam_params_default(&p);
	p.R = 16;
	p.L = 32;
	p.threads = 2;
	CHECK(vam_build(DANN_METRIC_IP, DANN_DTYPE_F32, DIM, x, N / 3, &p, &v) == 0, "vam_build");
	if (!v)
		goto out;
	a = (struct vam_arg){ .v = v, .x = x, .stop = &stop };
	for (int t = 0; t < 2; t++)
		pthread_create(&ts[t], NULL, vam_search_main, &a);
	for (uint32_t i = N / 3; i < 2 * N / 3; i++)
		CHECK(vam_insert(v, x + (size_t)i * DIM, &id) == 0, "vam_insert");
	for (uint32_t i = 0; i < 200; i++)
		CHECK(vam_delete(v, i) == 0, "vam_delete");
	CHECK(vam_consolidate(v, NULL) == 0, "vam_consolidate");
	CHECK(vam_insert_batch(v, x + (size_t)(2 * N / 3) * DIM, N / 3, &id) == 0, "insert batch");
	atomic_store(&stop, 1);
	for (int t = 0; t < 2; t++)
		pthread_join(ts[t], NULL);
out:
	vam_free(v);
	free(x);
}

static void rmtree(const char *dir)
{
	char cmd[600];

	/* Test scaffolding only: the library never runs commands. */
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "tsan_stress: could not remove %s\n", dir);
}

#define BATCH_THREADS 8
#define BATCH_QUERIES 25

struct batch_arg {
	struct dann_searcher *b;
	struct dann_coll *c;
	const float *q;
	int t;
	int expire;              /* 1: queries whose deadline is already near */
};

static void *batch_main(void *p)
{
	struct batch_arg *a = p;
	struct dann_coll_search_params sp;

	dann_coll_search_params_default(&sp);
	sp.k = 5;
	sp.L = 20;
	for (int i = 0; i < BATCH_QUERIES; i++) {
		const float *q = a->q + (size_t)((a->t * 7 + i) % NQ) * DIM;
		int64_t k1[5], k2[5];
		float d1[5], d2[5];
		uint32_t f1, f2;
		int rc;
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		sp.deadline_ns = a->expire ? (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec + 1000 : 0;
		rc = dann_searcher_search(a->b, a->c, q, &sp, k1, d1, &f1);
		if (a->expire) {
			CHECK(rc == 0 || rc == DANN_ETIMEDOUT, "searcher: expiring query rc %d", rc);
			continue;
		}
		CHECK(rc == 0, "searcher: %s", dann_errmsg());
		CHECK(dann_coll_search(a->c, q, &sp, k2, d2, &f2, NULL) == 0, "search: %s", dann_errmsg());
		CHECK(f1 == f2 && !memcmp(k1, k2, f1 * sizeof *k1), "searcher: thread %d query %d differs", a->t, i);
	}
	return NULL;
}

static void collector(const char *tmp)
{
	char data[512];
	float *x = random_rows(N / 4, 3), *q = random_rows(NQ, 4);
	static int64_t keys[N / 4];
	struct dann_schema s;
	struct dann_db *db = NULL;
	struct dann_coll *c = NULL;
	struct dann_searcher_params sp = { .threads = 2, .inflight = 8, .queue_max = 64 };
	struct dann_searcher *b = NULL;
	struct batch_arg ba[BATCH_THREADS + 1];
	pthread_t th[BATCH_THREADS + 1];

	snprintf(data, sizeof data, "%s/db", tmp);
	dann_schema_default(&s);
	snprintf(s.name, sizeof s.name, "c");
	s.dim = DIM;
	for (int i = 0; i < N / 4; i++)
		keys[i] = i;
	struct dann_batch rows = { .n = N / 8, .keys = keys, .vectors = x };
	struct dann_batch more = { .n = N / 8, .keys = keys + N / 8, .vectors = x + (size_t)N / 8 * DIM };
	CHECK(dann_db_open(data, NULL, &db) == 0 && dann_coll_create(db, &s) == 0 && dann_coll_get(db, "c", &c) == 0 &&
		      dann_coll_insert(c, &rows, NULL) == 0 && dann_coll_flush(c) == 0 &&
		      dann_coll_insert(c, &more, NULL) == 0,
	      "collector setup: %s", dann_errmsg());
	CHECK(dann_searcher_new(&sp, &b) == 0, "searcher: %s", dann_errmsg());
	if (!c || !b)
		goto out;
	for (int t = 0; t <= BATCH_THREADS; t++) {
		ba[t] = (struct batch_arg){ .b = b, .c = c, .q = q, .t = t, .expire = t == BATCH_THREADS };
		pthread_create(&th[t], NULL, batch_main, &ba[t]);
	}
	for (int t = 0; t <= BATCH_THREADS; t++)
		pthread_join(th[t], NULL);
out:
	dann_searcher_free(b);
	dann_db_close(db);
	free(x);
	free(q);
}

int main(void)
{
	char tmp[] = "/tmp/dann-tsan-XXXXXX";

	if (!mkdtemp(tmp)) {
		perror("mkdtemp");
		return 1;
	}
	disk_index(tmp);
	memory_index();
	collector(tmp);
	rmtree(tmp);
	if (failures)
		fprintf(stderr, "tsan_stress: %d failures\n", failures);
	return failures ? 1 : 0;
}
