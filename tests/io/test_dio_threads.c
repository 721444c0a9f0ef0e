/*
 * test_dio_threads.c — a context belongs to one thread at a time, not to
 * the thread that opened it: the search may open contexts up front and hand
 * one to each worker. Several contexts read the same file concurrently.
 */
#include <pthread.h>

#include "dio_test.h"

#define NTHREADS 4
#define READS 64u

struct job {
	struct dio *d;
	uint32_t slot;
	unsigned seed;
	uint8_t *buf;
	int ok;
};

static void *worker(void *arg)
{
	struct job *j = arg;
	struct dio_req r[READS];
	struct dio_cqe c[READS];
	unsigned got = 0;

	for (unsigned i = 0; i < READS; i++)
		r[i] = (struct dio_req){ .tag = i, .off = (uint64_t)((i * 31 + j->seed) % 256) * T_SECTOR,
					 .buf = j->buf + (size_t)i * T_SECTOR, .len = T_SECTOR, .file = j->slot };
	if (dio_submit(j->d, r, READS) != (int)READS)
		return NULL;
	while (got < READS) {
		int k = dio_reap(j->d, c + got, READS - got, 1, 10000);

		if (k <= 0)
			return NULL;
		got += (unsigned)k;
	}
	for (unsigned i = 0; i < READS; i++)
		if (c[i].res != T_SECTOR || !t_matches(r[c[i].tag].buf, r[c[i].tag].off, T_SECTOR))
			return NULL;
	j->ok = 1;
	return NULL;
}

Test(dio_threads, contexts_opened_on_one_thread_work_on_others_concurrently)
{
	char dir[256], path[300];
	struct dio_file f;

	t_mkdtemp(dir, sizeof dir, "/tmp");
	snprintf(path, sizeof path, "%s/t.bin", dir);
	t_write_pattern(path, 256 * T_SECTOR);
	cr_assert_eq(dio_file_open(path, &f), 0);
	for (int b = 0; b < N_BACKENDS; b++) {
		struct job jobs[NTHREADS];
		pthread_t th[NTHREADS];

		for (int t = 0; t < NTHREADS; t++) {
			jobs[t] = (struct job){ .d = t_open(t_backend(b), 64, NULL, 0), .seed = (unsigned)t * 17 };
			cr_assert_not_null(jobs[t].buf = dann_aligned_alloc(READS * T_SECTOR));
			cr_assert_eq(dio_file_add(jobs[t].d, f.fd, &jobs[t].slot), 0);
		}
		for (int t = 0; t < NTHREADS; t++)
			cr_assert_eq(pthread_create(&th[t], NULL, worker, &jobs[t]), 0);
		for (int t = 0; t < NTHREADS; t++) {
			cr_assert_eq(pthread_join(th[t], NULL), 0);
			cr_assert(jobs[t].ok, "%s: thread %d read wrong", dio_backend_name(t_backend(b)), t);
			dio_close(jobs[t].d);
			dann_aligned_free(jobs[t].buf);
		}
	}
	dio_file_close(&f);
	t_rmdir(dir);
}
