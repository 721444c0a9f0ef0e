/*
 * test_dio_reap.c — reaping: non-blocking when asked, bounded by its
 * timeout, never waiting for reads that were not submitted, and with
 * io_uring free of system calls when completions are already posted.
 */
#include <time.h>

#include "dio_test.h"

static double now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

Test(dio_reap, reaping_with_nothing_outstanding_returns_at_once)
{
	for (int b = 0; b < N_BACKENDS; b++) {
		struct dio *d = t_open(t_backend(b), 8, NULL, 0);
		struct dio_cqe c[4];
		double t0 = now_ms();

		cr_assert_eq(dio_reap(d, c, 4, 0, 0), 0);
		cr_assert_eq(dio_reap(d, c, 4, 4, -1), 0, "waited for reads never submitted");
		cr_assert_eq(dio_reap(d, c, 4, 1, 5000), 0);
		/* not a timing assertion on the I/O: only that nothing slept 5 s */
		cr_assert_lt(now_ms() - t0, 4000.0);
		dio_close(d);
	}
}

Test(dio_reap, completions_already_posted_are_reaped_without_a_system_call)
{
	char dir[256], path[300];
	uint8_t *buf = dann_aligned_alloc(64 * T_SECTOR);
	struct dio_file f;
	struct dio *d = t_open(DIO_BACKEND_URING, 64, NULL, 0);
	struct dio_req r[33];
	struct dio_cqe c[33];
	struct dio_stats before, after;
	uint32_t slot;
	int got = 0;

	t_mkdtemp(dir, sizeof dir, "/tmp");
	snprintf(path, sizeof path, "%s/s.bin", dir);
	t_write_pattern(path, 64 * T_SECTOR);
	cr_assert_eq(dio_file_open(path, &f), 0);
	cr_assert_eq(dio_file_add(d, f.fd, &slot), 0);
	for (int i = 0; i < 33; i++)
		r[i] = (struct dio_req){ .tag = (uint64_t)i, .off = (uint64_t)i * T_SECTOR, .buf = buf + i * T_SECTOR,
					 .len = T_SECTOR, .file = slot };
	/* Batch A; once the device has finished it, the next submission's
	 * trip into the kernel posts A's completions to the shared ring. */
	cr_assert_eq(dio_submit(d, r, 32), 32);
	for (int tries = 0; tries < 50 && got == 0; tries++) {
		struct timespec pause = { 0, 20 * 1000000L };

		nanosleep(&pause, NULL);
		cr_assert_eq(dio_submit(d, &r[32], 1), 1);
		dio_stats_get(d, &before);
		got = dio_reap(d, c, 33, 0, 0);
		dio_stats_get(d, &after);
		if (got > 0)
			cr_assert_eq(after.enters, before.enters, "reaping %d posted completions entered the kernel", got);
		r[32].tag += 100; /* each extra single read gets its own tag */
	}
	cr_assert_gt(got, 0);
	dio_close(d);
	dio_file_close(&f);
	dann_aligned_free(buf);
	t_rmdir(dir);
}

Test(dio_reap, pread_reads_complete_during_submit)
{
	char dir[256], path[300];
	uint8_t *buf = dann_aligned_alloc(8 * T_SECTOR);
	struct dio *d = t_open(DIO_BACKEND_PREAD, 8, NULL, 0);
	struct dio_req r[8];
	struct dio_cqe c[8];
	struct dio_file f;
	uint32_t slot;

	t_mkdtemp(dir, sizeof dir, "/tmp");
	snprintf(path, sizeof path, "%s/p.bin", dir);
	t_write_pattern(path, 8 * T_SECTOR);
	cr_assert_eq(dio_file_open(path, &f), 0);
	cr_assert_eq(dio_file_add(d, f.fd, &slot), 0);
	for (int i = 0; i < 8; i++)
		r[i] = (struct dio_req){ .tag = (uint64_t)i, .off = (uint64_t)(7 - i) * T_SECTOR,
					 .buf = buf + i * T_SECTOR, .len = T_SECTOR, .file = slot };
	cr_assert_eq(dio_submit(d, r, 8), 8);
	/* nothing left to wait for: a non-blocking reap gets all eight, in order */
	cr_assert_eq(dio_reap(d, c, 8, 0, 0), 8);
	for (int i = 0; i < 8; i++) {
		cr_assert_eq(c[i].tag, (uint64_t)i);
		cr_assert(t_matches(buf + i * T_SECTOR, (uint64_t)(7 - i) * T_SECTOR, T_SECTOR));
	}
	dio_close(d);
	dio_file_close(&f);
	dann_aligned_free(buf);
	t_rmdir(dir);
}
