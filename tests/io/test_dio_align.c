/*
 * test_dio_align.c — requests that break the 4096-byte alignment contract
 * are rejected with a message naming the value, and the whole batch is
 * refused: nothing of it reaches the kernel.
 */
#include "dio_test.h"

static void expect_rejected(struct dio *d, struct dio_req bad, const char *needle)
{
	cr_assert_eq(dio_submit(d, &bad, 1), DANN_EINVAL, "accepted a request with %s", needle);
	cr_assert(strstr(dann_errmsg(), needle), "message '%s' does not name '%s'", dann_errmsg(), needle);
	cr_assert_eq(dio_pending(d), 0);
}

Test(dio_align, misaligned_offset_length_or_buffer_is_rejected_naming_the_value)
{
	uint8_t *buf = dann_aligned_alloc(4 * T_SECTOR);

	for (int b = 0; b < N_BACKENDS; b++) {
		struct dio *d = t_open(t_backend(b), 8, NULL, 0);
		uint32_t slot;
		struct dio_req good = { .tag = 1, .off = 0, .buf = buf, .len = T_SECTOR };

		cr_assert_eq(dio_file_add(d, STDIN_FILENO, &slot), 0, "%s", dann_errmsg());
		good.file = slot;
		struct dio_req r = good;
		r.off = 512;
		expect_rejected(d, r, "offset 512");
		r = good;
		r.len = 100;
		expect_rejected(d, r, "length 100");
		r = good;
		r.len = 0;
		expect_rejected(d, r, "length 0");
		r = good;
		r.buf = buf + 8;
		expect_rejected(d, r, "not 4096-aligned");
		r = good;
		r.file = 9999;
		expect_rejected(d, r, "file slot 9999");
		r = good;
		r.len = DIO_MAX_READ_BYTES + T_SECTOR;
		expect_rejected(d, r, "length");
		cr_assert_eq(dio_close(d), 0);
	}
	dann_aligned_free(buf);
}

Test(dio_align, one_bad_request_refuses_the_whole_batch)
{
	char dir[256], path[300];
	uint8_t *buf = dann_aligned_alloc(3 * T_SECTOR);
	struct dio_file f;

	t_mkdtemp(dir, sizeof dir, "/tmp");
	snprintf(path, sizeof path, "%s/a.bin", dir);
	t_write_pattern(path, 8 * T_SECTOR);
	cr_assert_eq(dio_file_open(path, &f), 0);
	for (int b = 0; b < N_BACKENDS; b++) {
		struct dio *d = t_open(t_backend(b), 8, NULL, 0);
		struct dio_cqe c[3];
		uint32_t slot;

		cr_assert_eq(dio_file_add(d, f.fd, &slot), 0);
		struct dio_req batch[3] = {
			{ .tag = 0, .off = 0, .buf = buf, .len = T_SECTOR, .file = slot },
			{ .tag = 1, .off = T_SECTOR, .buf = buf + T_SECTOR, .len = T_SECTOR, .file = slot },
			{ .tag = 2, .off = 3 * T_SECTOR + 1, .buf = buf + 2 * T_SECTOR, .len = T_SECTOR, .file = slot },
		};
		cr_assert_eq(dio_submit(d, batch, 3), DANN_EINVAL);
		cr_assert(strstr(dann_errmsg(), "read 2 (tag 2): offset 12289"), "%s", dann_errmsg());
		cr_assert_eq(dio_pending(d), 0);
		cr_assert_eq(dio_reap(d, c, 3, 0, 0), 0);
		/* the context is unharmed: the good part goes through */
		cr_assert_eq(dio_submit(d, batch, 2), 2);
		t_reap_n(d, c, 2);
		cr_assert_eq(c[0].res, T_SECTOR);
		cr_assert_eq(c[1].res, T_SECTOR);
		cr_assert_eq(dio_close(d), 0);
	}
	dio_file_close(&f);
	dann_aligned_free(buf);
	t_rmdir(dir);
}

Test(dio_align, bad_options_are_rejected_naming_the_value)
{
	uint8_t *buf = dann_aligned_alloc(2 * T_SECTOR);
	struct dio_buf_region region = { buf + 512, T_SECTOR };
	struct dio_opts o = { .depth = DIO_MAX_DEPTH + 1 };
	struct dio *d = NULL;

	cr_assert_eq(dio_open(&o, &d), DANN_EINVAL);
	cr_assert(strstr(dann_errmsg(), "depth 32769"), "%s", dann_errmsg());
	o = (struct dio_opts){ .bufs = &region, .nbufs = 1 };
	cr_assert_eq(dio_open(&o, &d), DANN_EINVAL);
	cr_assert(strstr(dann_errmsg(), "buffer region 0"), "%s", dann_errmsg());
	o = (struct dio_opts){ .flags = 0x80 };
	cr_assert_eq(dio_open(&o, &d), DANN_EINVAL);
	cr_assert(strstr(dann_errmsg(), "0x80"), "%s", dann_errmsg());
	cr_assert_null(d);
	dann_aligned_free(buf);
}
