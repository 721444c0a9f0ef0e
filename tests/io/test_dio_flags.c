/*
 * test_dio_flags.c — the optional io_uring modes: SQPOLL reads the same
 * bytes and says it is on; IOPOLL on a device without poll queues (a virtio
 * disk, most VMs) fails those reads alone, each with its errno; the other
 * backends ignore both flags and say so.
 */
#include "dio_test.h"

static struct dio *open_flags(enum dio_backend b, unsigned flags)
{
	struct dio_opts o = { .backend = b, .depth = 16, .flags = flags };
	struct dio *d = NULL;

	cr_assert_eq(dio_open(&o, &d), 0, "%s", dann_errmsg());
	return d;
}

static int64_t read_one(struct dio *d, uint32_t slot, uint8_t *buf, uint64_t sector)
{
	struct dio_req r = { .tag = sector, .off = sector * T_SECTOR, .buf = buf, .len = T_SECTOR, .file = slot };
	struct dio_cqe c;

	cr_assert_eq(dio_submit(d, &r, 1), 1);
	t_reap_n(d, &c, 1);
	cr_assert_eq(c.tag, sector);
	return c.res;
}

Test(dio_flags, optional_io_uring_modes_read_right_or_fail_per_read)
{
	char dir[256], path[300];
	uint8_t *buf = dann_aligned_alloc(T_SECTOR);
	struct dio_file f;
	struct dio *d;
	uint32_t slot;
	int64_t res;

	t_mkdtemp(dir, sizeof dir, "/tmp");
	snprintf(path, sizeof path, "%s/f.bin", dir);
	t_write_pattern(path, 16 * T_SECTOR);
	cr_assert_eq(dio_file_open(path, &f), 0);

	d = open_flags(DIO_BACKEND_URING, DIO_SQPOLL);
	cr_assert_eq(dio_backend_of(d), DIO_BACKEND_URING);
	cr_assert_eq(dio_file_add(d, f.fd, &slot), 0);
	if (strstr(dio_describe(d), "SQPOLL on")) {
		cr_assert_eq(read_one(d, slot, buf, 5), T_SECTOR);
		cr_assert(t_matches(buf, 5 * T_SECTOR, T_SECTOR));
	}
	dio_close(d);

	d = open_flags(DIO_BACKEND_URING, DIO_IOPOLL);
	cr_assert_eq(dio_file_add(d, f.fd, &slot), 0);
	res = read_one(d, slot, buf, 7);
	cr_assert(res == T_SECTOR || res == -EOPNOTSUPP || res == -EINVAL, "IOPOLL read gave %lld", (long long)res);
	if (res == T_SECTOR)
		cr_assert(t_matches(buf, 7 * T_SECTOR, T_SECTOR));
	dio_close(d);

	for (int b = 1; b < N_BACKENDS; b++) {
		d = open_flags(t_backend(b), DIO_SQPOLL | DIO_IOPOLL);
		cr_assert(strstr(dio_describe(d), "ignored (io_uring only)"), "%s", dio_describe(d));
		cr_assert_eq(dio_file_add(d, f.fd, &slot), 0);
		cr_assert_eq(read_one(d, slot, buf, 3), T_SECTOR);
		dio_close(d);
	}
	dio_file_close(&f);
	dann_aligned_free(buf);
	t_rmdir(dir);
}
