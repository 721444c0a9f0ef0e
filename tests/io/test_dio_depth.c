/*
 * test_dio_depth.c — hundreds of reads in flight at once, and backpressure:
 * a batch larger than the depth waits for room instead of failing, and only
 * a caller that never reaps is asked (by a partial count) to do so.
 */
#include "dio_test.h"

#define FILE_SECTORS 2048u

static void setup(char *dir, size_t dir_bytes, struct dio_file *f)
{
	char path[300];

	t_mkdtemp(dir, dir_bytes, "/tmp");
	snprintf(path, sizeof path, "%s/d.bin", dir);
	t_write_pattern(path, (uint64_t)FILE_SECTORS * T_SECTOR);
	cr_assert_eq(dio_file_open(path, f), 0);
}

static void fill(struct dio_req *r, unsigned n, uint8_t *buf, uint32_t slot)
{
	for (unsigned i = 0; i < n; i++)
		r[i] = (struct dio_req){ .tag = i, .off = (uint64_t)((i * 7919u) % FILE_SECTORS) * T_SECTOR,
					 .buf = buf + (size_t)i * T_SECTOR, .len = T_SECTOR, .file = slot };
}

static void check(const struct dio_req *r, const struct dio_cqe *c, unsigned n, const char *bn)
{
	uint8_t *seen = calloc(n, 1);

	for (unsigned j = 0; j < n; j++) {
		unsigned i = (unsigned)c[j].tag;

		cr_assert_lt(i, n);
		cr_assert_eq(c[j].res, T_SECTOR, "%s tag %u: %lld", bn, i, (long long)c[j].res);
		cr_assert(t_matches(r[i].buf, r[i].off, T_SECTOR), "%s tag %u: wrong bytes", bn, i);
		seen[i]++;
	}
	for (unsigned i = 0; i < n; i++)
		cr_assert_eq(seen[i], 1, "%s tag %u completed %u times", bn, i, seen[i]);
	free(seen);
}

Test(dio_depth, three_hundred_reads_are_in_flight_at_once)
{
	const unsigned n = 300;
	char dir[256];
	struct dio_file f;
	uint8_t *buf = dann_aligned_alloc((size_t)n * T_SECTOR);
	struct dio_req *r = calloc(n, sizeof *r);
	struct dio_cqe *c = calloc(n, sizeof *c);

	setup(dir, sizeof dir, &f);
	for (int b = 0; b < N_BACKENDS; b++) {
		struct dio *d = t_open(t_backend(b), 512, NULL, 0);
		uint32_t slot;

		cr_assert_eq(dio_file_add(d, f.fd, &slot), 0);
		memset(buf, 0, (size_t)n * T_SECTOR);
		fill(r, n, buf, slot);
		/* one batch, one submission: all 300 are handed over together */
		cr_assert_eq(dio_submit(d, r, n), (int)n, "%s", dann_errmsg());
		cr_assert_eq(dio_pending(d), n);
		t_reap_n(d, c, n);
		cr_assert_eq(dio_pending(d), 0);
		check(r, c, n, dio_backend_name(t_backend(b)));
		dio_close(d);
	}
	free(r);
	free(c);
	dann_aligned_free(buf);
	dio_file_close(&f);
	t_rmdir(dir);
}

Test(dio_depth, a_batch_larger_than_the_depth_waits_for_room)
{
	const unsigned depth = 32, n = 1000;
	char dir[256];
	struct dio_file f;
	uint8_t *buf = dann_aligned_alloc((size_t)n * T_SECTOR);
	struct dio_req *r = calloc(n, sizeof *r);
	struct dio_cqe *c = calloc(n, sizeof *c);

	setup(dir, sizeof dir, &f);
	for (int b = 0; b < N_BACKENDS; b++) {
		struct dio *d = t_open(t_backend(b), depth, NULL, 0);
		unsigned done = 0, got = 0;
		uint32_t slot;
		int k;

		cr_assert_eq(dio_file_add(d, f.fd, &slot), 0);
		memset(buf, 0, (size_t)n * T_SECTOR);
		fill(r, n, buf, slot);
		/* 1.5 x depth: the ring waits for completions, accepts all */
		cr_assert_eq(dio_submit(d, r, depth + depth / 2), (int)(depth + depth / 2));
		done = depth + depth / 2;
		/* a caller that never reaps: accepted up to depth finished +
		 * depth in flight, then a partial count */
		k = dio_submit(d, r + done, n - done);
		cr_assert(k >= 0 && done + (unsigned)k <= 2 * depth, "accepted %d", k);
		done += (unsigned)k;
		cr_assert_eq(dio_pending(d), done);
		while (got < n) {
			int m = dio_reap(d, c + got, n - got, 1, 10000);

			cr_assert_gt(m, 0);
			got += (unsigned)m;
			if (done < n) {
				cr_assert((k = dio_submit(d, r + done, n - done)) >= 0);
				done += (unsigned)k;
			}
		}
		check(r, c, n, dio_backend_name(t_backend(b)));
		dio_close(d);
	}
	free(r);
	free(c);
	dann_aligned_free(buf);
	dio_file_close(&f);
	t_rmdir(dir);
}
