/*
 * test_dio_errors.c — a read that fails (empty slot, descriptor not open for
 * reading, a directory, a device error) fails alone: the reads around it in
 * the same batch succeed and the context keeps working afterwards.
 */
#include "dio_test.h"

#define EIO_TAG 4u

/* Injects a device error on one tag, as a dying sector would. */
static int64_t fail_one_tag(void *arg, const struct dio_req *at, int64_t res)
{
	(void)arg;
	return at->tag == EIO_TAG ? -EIO : res;
}

Test(dio_errors, a_failing_read_fails_alone_and_the_ring_stays_usable)
{
	char dir[256], path[300];
	struct dio_file f;
	int wfd, dfd;
	uint8_t *buf = dann_aligned_alloc(16 * T_SECTOR);

	t_mkdtemp(dir, sizeof dir, "/tmp");
	snprintf(path, sizeof path, "%s/e.bin", dir);
	t_write_pattern(path, 64 * T_SECTOR);
	cr_assert_eq(dio_file_open(path, &f), 0);
	cr_assert((wfd = open(path, O_WRONLY)) >= 0);
	cr_assert((dfd = open(dir, O_RDONLY | O_DIRECTORY)) >= 0);
	for (int b = 0; b < N_BACKENDS; b++) {
		struct dio_opts o = { .backend = t_backend(b), .depth = 16, .fault = fail_one_tag };
		struct dio *d;
		uint32_t good, wo, dirslot, gone;
		struct dio_cqe c[8];
		int64_t res[8];
		const char *bn = dio_backend_name(t_backend(b));

		cr_assert_eq(dio_open(&o, &d), 0);
		cr_assert_eq(dio_backend_of(d), t_backend(b));
		cr_assert_eq(dio_file_add(d, f.fd, &good), 0);
		cr_assert_eq(dio_file_add(d, wfd, &wo), 0);
		cr_assert_eq(dio_file_add(d, dfd, &dirslot), 0);
		cr_assert_eq(dio_file_add(d, f.fd, &gone), 0);
		cr_assert_eq(dio_file_remove(d, gone), 0);
		cr_assert_eq(dio_file_remove(d, gone), DANN_EINVAL, "removed an empty slot twice");
		struct dio_req r[6] = {
			{ .tag = 0, .off = 0, .len = T_SECTOR, .file = good },
			{ .tag = 1, .off = 0, .len = T_SECTOR, .file = gone },
			{ .tag = 2, .off = T_SECTOR, .len = T_SECTOR, .file = wo },
			{ .tag = 3, .off = 0, .len = T_SECTOR, .file = dirslot },
			{ .tag = EIO_TAG, .off = 2 * T_SECTOR, .len = T_SECTOR, .file = good },
			{ .tag = 5, .off = 5 * T_SECTOR, .len = 2 * T_SECTOR, .file = good },
		};
		for (int i = 0; i < 6; i++)
			r[i].buf = buf + 2 * i * T_SECTOR;
		cr_assert_eq(dio_submit(d, r, 6), 6, "%s: %s", bn, dann_errmsg());
		t_reap_n(d, c, 6);
		for (int i = 0; i < 6; i++)
			res[c[i].tag] = c[i].res;
		cr_assert_eq(res[0], T_SECTOR, "%s: %lld", bn, (long long)res[0]);
		cr_assert_eq(res[1], -EBADF, "%s: empty slot gave %lld", bn, (long long)res[1]);
		cr_assert_eq(res[2], -EBADF, "%s: write-only descriptor gave %lld", bn, (long long)res[2]);
		cr_assert_lt(res[3], 0, "%s: reading a directory gave %lld", bn, (long long)res[3]);
		cr_assert_eq(res[EIO_TAG], -EIO, "%s: injected EIO gave %lld", bn, (long long)res[EIO_TAG]);
		cr_assert_eq(res[5], 2 * T_SECTOR);
		cr_assert(t_matches(buf, 0, T_SECTOR));
		cr_assert(t_matches(buf + 10 * T_SECTOR, 5 * T_SECTOR, 2 * T_SECTOR));

		/* still usable: a second batch reads right */
		memset(buf, 0, 4 * T_SECTOR);
		struct dio_req again[2] = {
			{ .tag = 10, .off = 8 * T_SECTOR, .buf = buf, .len = T_SECTOR, .file = good },
			{ .tag = 11, .off = 9 * T_SECTOR, .buf = buf + T_SECTOR, .len = 3 * T_SECTOR, .file = good },
		};
		cr_assert_eq(dio_submit(d, again, 2), 2);
		t_reap_n(d, c, 2);
		cr_assert_gt(c[0].res, 0);
		cr_assert_gt(c[1].res, 0);
		cr_assert(t_matches(buf, 8 * T_SECTOR, 4 * T_SECTOR), "%s: second batch wrong", bn);
		struct dio_stats st;
		dio_stats_get(d, &st);
		cr_assert_eq(st.completed, 8);
		cr_assert_eq(st.failed, 4);
		cr_assert_eq(dio_close(d), 0);
	}
	close(wfd);
	close(dfd);
	dio_file_close(&f);
	dann_aligned_free(buf);
	t_rmdir(dir);
}

Test(dio_errors, the_ring_reads_through_its_own_duplicate_of_the_descriptor)
{
	char dir[256], path[300];
	uint8_t *buf = dann_aligned_alloc(T_SECTOR);

	t_mkdtemp(dir, sizeof dir, "/tmp");
	snprintf(path, sizeof path, "%s/dup.bin", dir);
	t_write_pattern(path, 4 * T_SECTOR);
	for (int b = 0; b < N_BACKENDS; b++) {
		struct dio *d = t_open(t_backend(b), 4, NULL, 0);
		struct dio_file f;
		struct dio_cqe c;
		uint32_t slot;

		cr_assert_eq(dio_file_open(path, &f), 0);
		cr_assert_eq(dio_file_add(d, f.fd, &slot), 0);
		int closed = f.fd;
		dio_file_close(&f);
		struct dio_req r = { .tag = 1, .off = 3 * T_SECTOR, .buf = buf, .len = T_SECTOR, .file = slot };
		cr_assert_eq(dio_submit(d, &r, 1), 1);
		t_reap_n(d, &c, 1);
		cr_assert_eq(c.res, T_SECTOR);
		cr_assert(t_matches(buf, 3 * T_SECTOR, T_SECTOR));
		/* a descriptor that is not open is refused at once, by number */
		cr_assert_eq(dio_file_add(d, closed, &slot), DANN_EINVAL);
		char want[64];
		snprintf(want, sizeof want, "descriptor %d", closed);
		cr_assert(strstr(dann_errmsg(), want), "%s", dann_errmsg());
		dio_close(d);
	}
	dann_aligned_free(buf);
	t_rmdir(dir);
}

Test(dio_errors, running_out_of_file_slots_is_reported)
{
	struct dio_opts o = { .backend = DIO_BACKEND_PREAD, .max_files = 2 };
	struct dio *d;
	uint32_t s;

	cr_assert_eq(dio_open(&o, &d), 0);
	cr_assert_eq(dio_file_add(d, STDIN_FILENO, &s), 0);
	cr_assert_eq(dio_file_add(d, STDIN_FILENO, &s), 0);
	cr_assert_eq(dio_file_add(d, STDIN_FILENO, &s), DANN_EBUSY);
	cr_assert(strstr(dann_errmsg(), "all 2 file slots"), "%s", dann_errmsg());
	dio_close(d);
}

Test(dio_errors, opening_a_missing_file_or_a_directory_names_the_path)
{
	struct dio_file f = { .fd = -1 };
	struct t_log log = { .len = 0 };

	dann_log_set(t_log_hook, &log, DANN_LOG_DEBUG);
	cr_assert_eq(dio_file_open("/nonexistent/dann/x.idx", &f), DANN_ENOTFOUND);
	cr_assert(strstr(dann_errmsg(), "/nonexistent/dann/x.idx"), "%s", dann_errmsg());
	cr_assert_eq(f.fd, -1);
	cr_assert_eq(dio_file_open("/tmp", &f), DANN_EINVAL);
	cr_assert(strstr(dann_errmsg(), "/tmp: not a regular file"), "%s", dann_errmsg());
	cr_assert_eq(f.fd, -1);
	cr_assert_eq(log.len, 0, "a refused open logged: %s", log.text);
	dann_log_set(NULL, NULL, DANN_LOG_WARN);
	dio_file_close(&f);
}
