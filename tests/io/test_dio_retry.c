/*
 * test_dio_retry.c — short reads are finished by reading the rest, EINTR and
 * EAGAIN are retried, and a read that keeps failing with EAGAIN gives up
 * after DIO_MAX_RETRIES. Faults are injected through dio_opts.fault, which
 * also scribbles over the bytes the fake result says were not read, so only
 * a real re-read can restore them.
 */
#include "dio_test.h"

#define NREADS 24u
#define READ_SECTORS 4u

enum fault_kind { SHORT_WHOLE_SECTOR, SHORT_MID_SECTOR, INTERRUPTED, TRY_AGAIN, ALWAYS_AGAIN };

struct fault {
	enum fault_kind kind;
	unsigned seen[NREADS]; /* attempts per tag */
};

static int64_t inject(void *arg, const struct dio_req *at, int64_t res)
{
	struct fault *f = arg;
	unsigned n = f->seen[at->tag]++;

	if (res <= 0)
		return res;
	switch (f->kind) {
	case SHORT_WHOLE_SECTOR: /* each attempt gets one sector less than asked */
		if (res > (int64_t)T_SECTOR) {
			memset((char *)at->buf + T_SECTOR, 0xAB, (size_t)res - T_SECTOR);
			return T_SECTOR;
		}
		return res;
	case SHORT_MID_SECTOR: /* first attempt stops 100 bytes into a sector */
		if (n == 0) {
			memset((char *)at->buf + T_SECTOR + 100, 0xAB, (size_t)res - T_SECTOR - 100);
			return T_SECTOR + 100;
		}
		return res;
	case INTERRUPTED:
	case TRY_AGAIN:
		if (n < 2) {
			memset(at->buf, 0xAB, (size_t)res);
			return f->kind == INTERRUPTED ? -EINTR : -EAGAIN;
		}
		return res;
	case ALWAYS_AGAIN:
		return at->tag == 0 ? -EAGAIN : res;
	}
	return res;
}

static void run(enum dio_backend b, enum fault_kind kind, const char *path, struct dio_stats *st,
		int64_t *res0)
{
	struct fault f = { .kind = kind };
	struct dio_opts o = { .backend = b, .depth = 32, .fault = inject, .fault_arg = &f };
	uint8_t *buf = dann_aligned_alloc(NREADS * READ_SECTORS * T_SECTOR);
	struct dio_req r[NREADS];
	struct dio_cqe c[NREADS];
	struct dio_file file;
	struct dio *d;
	uint32_t slot;

	cr_assert_eq(dio_file_open(path, &file), 0);
	cr_assert_eq(dio_open(&o, &d), 0);
	cr_assert_eq(dio_backend_of(d), b);
	cr_assert_eq(dio_file_add(d, file.fd, &slot), 0);
	for (unsigned i = 0; i < NREADS; i++)
		r[i] = (struct dio_req){ .tag = i, .off = (uint64_t)(3 * i) * T_SECTOR,
					 .buf = buf + i * READ_SECTORS * T_SECTOR, .len = READ_SECTORS * T_SECTOR,
					 .file = slot };
	cr_assert_eq(dio_submit(d, r, NREADS), (int)NREADS, "%s", dann_errmsg());
	t_reap_n(d, c, NREADS);
	for (unsigned j = 0; j < NREADS; j++) {
		unsigned i = (unsigned)c[j].tag;

		if (i == 0)
			*res0 = c[j].res;
		if (kind == ALWAYS_AGAIN && i == 0)
			continue;
		cr_assert_eq(c[j].res, READ_SECTORS * T_SECTOR, "%s kind %d tag %u: %lld", dio_backend_name(b), kind,
			     i, (long long)c[j].res);
		cr_assert(t_matches(buf + i * READ_SECTORS * T_SECTOR, r[i].off, READ_SECTORS * T_SECTOR),
			  "%s kind %d tag %u: bytes not re-read", dio_backend_name(b), kind, i);
	}
	dio_stats_get(d, st);
	dio_close(d);
	dio_file_close(&file);
	dann_aligned_free(buf);
}

static void with_file(void (*body)(const char *path))
{
	char dir[256], path[300];

	t_mkdtemp(dir, sizeof dir, "/tmp");
	snprintf(path, sizeof path, "%s/r.bin", dir);
	t_write_pattern(path, 3 * NREADS * T_SECTOR + READ_SECTORS * T_SECTOR);
	body(path);
	t_rmdir(dir);
}

static void short_reads(const char *path)
{
	for (int b = 0; b < N_BACKENDS; b++) {
		struct dio_stats st;
		int64_t r0;

		run(t_backend(b), SHORT_WHOLE_SECTOR, path, &st, &r0);
		/* 4 sectors, one per attempt: three resubmissions per read */
		cr_assert_eq(st.resubmitted, 3 * NREADS, "%s: %llu", dio_backend_name(t_backend(b)),
			     (unsigned long long)st.resubmitted);
		run(t_backend(b), SHORT_MID_SECTOR, path, &st, &r0);
		cr_assert_eq(st.resubmitted, NREADS);
	}
}

static void retries(const char *path)
{
	for (int b = 0; b < N_BACKENDS; b++) {
		struct dio_stats st;
		int64_t r0;

		run(t_backend(b), INTERRUPTED, path, &st, &r0);
		cr_assert_eq(st.retried, 2 * NREADS);
		run(t_backend(b), TRY_AGAIN, path, &st, &r0);
		cr_assert_eq(st.retried, 2 * NREADS);
		run(t_backend(b), ALWAYS_AGAIN, path, &st, &r0);
		cr_assert_eq(r0, -EAGAIN, "endless EAGAIN ended with %lld", (long long)r0);
		cr_assert_eq(st.retried, DIO_MAX_RETRIES);
	}
}

Test(dio_retry, short_reads_are_finished_by_reading_the_rest)
{
	with_file(short_reads);
}

Test(dio_retry, eintr_and_eagain_are_retried_then_given_up)
{
	with_file(retries);
}
