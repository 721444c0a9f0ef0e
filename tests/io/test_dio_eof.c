/*
 * test_dio_eof.c — reads that reach or pass the end of the file return the
 * bytes that exist (0 past the end) on every backend, and a read that ends in
 * a partial last sector is finished, not retried forever.
 */
#include "dio_test.h"

#define WHOLE_SECTORS 10u
#define TAIL_BYTES 100u

Test(dio_eof, reads_at_and_past_end_of_file_return_the_bytes_that_exist)
{
	const uint64_t size = WHOLE_SECTORS * T_SECTOR + TAIL_BYTES;
	struct {
		uint64_t sector;
		uint32_t sectors;
		int64_t want;
	} cases[] = {
		{ 0, 2, 2 * T_SECTOR },                          /* well inside */
		{ WHOLE_SECTORS - 1, 1, T_SECTOR },              /* last whole sector */
		{ WHOLE_SECTORS - 1, 2, T_SECTOR + TAIL_BYTES }, /* runs into the tail */
		{ WHOLE_SECTORS, 1, TAIL_BYTES },                /* only the tail */
		{ WHOLE_SECTORS, 4, TAIL_BYTES },                /* tail and beyond */
		{ WHOLE_SECTORS + 1, 1, 0 },                     /* just past the end */
		{ 1000000, 2, 0 },                               /* far past the end */
	};
	const unsigned n = sizeof cases / sizeof cases[0];
	char dir[256], path[300];
	struct dio_file f;

	t_mkdtemp(dir, sizeof dir, "/tmp");
	snprintf(path, sizeof path, "%s/tail.bin", dir);
	t_write_pattern(path, size);
	cr_assert_eq(dio_file_open(path, &f), 0, "%s", dann_errmsg());
	cr_assert_eq(f.bytes, size);
	for (int b = 0; b < N_BACKENDS; b++) {
		struct dio *d = t_open(t_backend(b), 16, NULL, 0);
		struct dio_req reqs[8];
		struct dio_cqe cqes[8];
		uint8_t *buf = dann_aligned_alloc(n * 4 * T_SECTOR);
		uint32_t slot;

		cr_assert_eq(dio_file_add(d, f.fd, &slot), 0);
		for (unsigned i = 0; i < n; i++)
			reqs[i] = (struct dio_req){ .tag = i, .off = cases[i].sector * T_SECTOR,
						    .buf = buf + i * 4 * T_SECTOR, .len = cases[i].sectors * T_SECTOR,
						    .file = slot };
		cr_assert_eq(dio_submit(d, reqs, n), (int)n, "%s", dann_errmsg());
		t_reap_n(d, cqes, n);
		for (unsigned j = 0; j < n; j++) {
			unsigned i = (unsigned)cqes[j].tag;

			cr_assert_eq(cqes[j].res, cases[i].want, "%s case %u: got %lld, want %lld",
				     dio_backend_name(t_backend(b)), i, (long long)cqes[j].res, (long long)cases[i].want);
			cr_assert(t_matches(buf + i * 4 * T_SECTOR, cases[i].sector * T_SECTOR, (size_t)cases[i].want),
				  "%s case %u: wrong bytes", dio_backend_name(t_backend(b)), i);
		}
		cr_assert_eq(dio_close(d), 0);
		dann_aligned_free(buf);
	}
	dio_file_close(&f);
	t_rmdir(dir);
}
