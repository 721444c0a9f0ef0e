/*
 * test_dio_close.c — closing a context with reads in flight waits for them,
 * so their buffers can be freed at once (ASan would see a late write), and
 * results nobody reaped are dropped and counted.
 */
#include "dio_test.h"

Test(dio_close, closing_with_reads_in_flight_drains_them)
{
	const unsigned n = 200;
	char dir[256], path[300];
	struct dio_file f;
	struct dio_req *r = calloc(n, sizeof *r);

	t_mkdtemp(dir, sizeof dir, "/tmp");
	snprintf(path, sizeof path, "%s/c.bin", dir);
	t_write_pattern(path, 512 * T_SECTOR);
	cr_assert_eq(dio_file_open(path, &f), 0);
	for (int b = 0; b < N_BACKENDS; b++) {
		uint8_t *buf = dann_aligned_alloc((size_t)n * T_SECTOR);
		struct dio *d = t_open(t_backend(b), 256, NULL, 0);
		struct dio_cqe c[10];
		uint32_t slot;

		cr_assert_eq(dio_file_add(d, f.fd, &slot), 0);
		for (unsigned i = 0; i < n; i++)
			r[i] = (struct dio_req){ .tag = i, .off = (uint64_t)(i * 13 % 512) * T_SECTOR,
						 .buf = buf + (size_t)i * T_SECTOR, .len = T_SECTOR, .file = slot };
		cr_assert_eq(dio_submit(d, r, n), (int)n);
		t_reap_n(d, c, 10); /* some reaped, the rest in flight or finished */
		cr_assert_eq(dio_close(d), n - 10, "%s", dio_backend_name(t_backend(b)));
		dann_aligned_free(buf);
	}
	cr_assert_eq(dio_close(NULL), 0);
	free(r);
	dio_file_close(&f);
	t_rmdir(dir);
}
