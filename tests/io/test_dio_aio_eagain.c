/*
 * test_dio_aio_eagain.c — libaio's io_submit refusing with EAGAIN while
 * none of the context's reads are in flight: nothing will complete to free
 * resources, so the backend must not wait for a completion (it spun in
 * dio_reap for ever). The read retries a bounded number of times, then
 * fails with -EAGAIN; if the kernel relents in time, it succeeds.
 *
 * io_submit is interposed: the test executable's definition takes
 * precedence over libaio's for the statically linked library.
 */
#include <dlfcn.h>
#include <libaio.h>

#include "dio_test.h"

static int eagain_left; /* io_submit calls still to refuse */
static int eagain_calls;

int io_submit(io_context_t ctx, long nr, struct iocb *ios[])
{
	static int (*real)(io_context_t, long, struct iocb *[]);

	if (!real)
		real = (int (*)(io_context_t, long, struct iocb *[]))dlsym(RTLD_NEXT, "io_submit");
	if (eagain_left > 0) {
		eagain_left--;
		eagain_calls++;
		return -EAGAIN;
	}
	return real(ctx, nr, ios);
}

static struct dio *open_aio(const char *path, uint32_t *slot, int *fd)
{
	struct dio_opts o = { .backend = DIO_BACKEND_AIO, .depth = 4 };
	struct dio *d;

	cr_assert_eq(dio_open(&o, &d), 0, "%s", dann_errmsg());
	if (dio_backend_of(d) != DIO_BACKEND_AIO) {
		dio_close(d);
		cr_skip_test("libaio is not available here: %s", dio_describe(d));
	}
	cr_assert((*fd = open(path, O_RDONLY | O_DIRECT)) >= 0, "%s", strerror(errno));
	cr_assert_eq(dio_file_add(d, *fd, slot), 0, "%s", dann_errmsg());
	return d;
}

/* 10 s, far more than 64 retries at 1 ms, and a bound on the old spin. */
#define REAP_TIMEOUT_MS 10000

Test(dio_aio_eagain, a_read_the_kernel_keeps_refusing_fails_instead_of_spinning, .timeout = 60)
{
	char dir[256], path[300];
	uint8_t *buf = dann_aligned_alloc(T_SECTOR);
	struct dio_stats st;
	struct dio_cqe c;
	uint32_t slot;
	int fd;

	t_mkdtemp(dir, sizeof dir, "/tmp");
	snprintf(path, sizeof path, "%s/a.bin", dir);
	t_write_pattern(path, 4 * T_SECTOR);
	struct dio *d = open_aio(path, &slot, &fd);
	struct dio_req r = { .tag = 7, .off = T_SECTOR, .len = T_SECTOR, .buf = buf, .file = slot };

	eagain_left = 1 << 30;
	cr_assert_eq(dio_submit(d, &r, 1), 1, "%s", dann_errmsg());
	cr_assert_eq(dio_reap(d, &c, 1, 1, REAP_TIMEOUT_MS), 1, "no completion: the backend waited");
	cr_assert_eq(c.tag, 7);
	cr_assert_eq(c.res, -EAGAIN);
	dio_stats_get(d, &st);
	cr_assert_eq(st.retried, DIO_MAX_RETRIES);
	cr_assert_eq(eagain_calls, DIO_MAX_RETRIES + 1);
	eagain_left = 0;
	dio_close(d);
	close(fd);
	dann_aligned_free(buf);
	t_rmdir(dir);
}

Test(dio_aio_eagain, a_read_refused_a_few_times_then_succeeds, .timeout = 60)
{
	char dir[256], path[300];
	uint8_t *buf = dann_aligned_alloc(T_SECTOR);
	struct dio_cqe c;
	uint32_t slot;
	int fd;

	t_mkdtemp(dir, sizeof dir, "/tmp");
	snprintf(path, sizeof path, "%s/a.bin", dir);
	t_write_pattern(path, 4 * T_SECTOR);
	struct dio *d = open_aio(path, &slot, &fd);
	struct dio_req r = { .tag = 9, .off = 2 * T_SECTOR, .len = T_SECTOR, .buf = buf, .file = slot };

	eagain_left = 3;
	cr_assert_eq(dio_submit(d, &r, 1), 1, "%s", dann_errmsg());
	cr_assert_eq(dio_reap(d, &c, 1, 1, REAP_TIMEOUT_MS), 1, "no completion: the backend waited");
	cr_assert_eq(c.res, T_SECTOR, "%lld", (long long)c.res);
	cr_assert(t_matches(buf, 2 * T_SECTOR, T_SECTOR));
	cr_assert_eq(eagain_calls, 3);
	dio_close(d);
	close(fd);
	dann_aligned_free(buf);
	t_rmdir(dir);
}
