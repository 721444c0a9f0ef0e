/*
 * test_dio_pattern.c — every backend reads the same random sectors of a file
 * with a known pattern and gets the same, correct bytes.
 */
#include "dio_test.h"

#define FILE_SECTORS 1024u
#define NREADS 400u
#define MAX_SECTORS_PER_READ 4u

struct plan {
	uint64_t off[NREADS];
	uint32_t len[NREADS];
};

static void make_plan(struct plan *p, unsigned seed)
{
	srand(seed);
	for (unsigned i = 0; i < NREADS; i++) {
		uint32_t sectors = 1 + (uint32_t)rand() % MAX_SECTORS_PER_READ;

		p->len[i] = sectors * T_SECTOR;
		p->off[i] = (uint64_t)((unsigned)rand() % (FILE_SECTORS - sectors + 1)) * T_SECTOR;
	}
}

/* Reads the plan with backend b into out (NREADS slots of the largest read),
 * half the buffers inside a registered region. */
static void read_plan(enum dio_backend b, int fd, const struct plan *p, uint8_t *out, unsigned depth)
{
	const size_t slot_bytes = MAX_SECTORS_PER_READ * T_SECTOR;
	struct dio_buf_region region = { out, slot_bytes * NREADS / 2 };
	struct dio *d = t_open(b, depth, &region, 1);
	struct dio_req reqs[NREADS];
	struct dio_cqe cqes[NREADS];
	uint8_t seen[NREADS] = { 0 };
	uint32_t slot;
	unsigned done = 0;

	cr_assert_eq(dio_file_add(d, fd, &slot), 0, "%s", dann_errmsg());
	for (unsigned i = 0; i < NREADS; i++)
		reqs[i] = (struct dio_req){ .tag = 1000 + i, .off = p->off[i], .buf = out + i * slot_bytes,
					    .len = p->len[i], .file = slot };
	while (done < NREADS) {
		int k = dio_submit(d, reqs + done, NREADS - done);

		cr_assert(k >= 0, "submit: %s", dann_errmsg());
		done += (unsigned)k;
		if (done < NREADS)
			cr_assert_gt(dio_pending(d), 0, "partial submit with nothing to reap");
		/* Reap as the search will: whatever is there, without waiting. */
		for (int r; (r = dio_reap(d, cqes, NREADS, 0, 0)) > 0;)
			for (int j = 0; j < r; j++) {
				unsigned i = (unsigned)(cqes[j].tag - 1000);

				cr_assert_lt(i, NREADS);
				cr_assert_eq(cqes[j].res, p->len[i], "%s tag %u: res %lld", dio_backend_name(b), i,
					     (long long)cqes[j].res);
				seen[i]++;
			}
	}
	unsigned left = dio_pending(d);
	t_reap_n(d, cqes, left);
	for (unsigned j = 0; j < left; j++) {
		unsigned i = (unsigned)(cqes[j].tag - 1000);

		cr_assert_lt(i, NREADS);
		cr_assert_eq(cqes[j].res, p->len[i]);
		seen[i]++;
	}
	for (unsigned i = 0; i < NREADS; i++)
		cr_assert_eq(seen[i], 1, "tag %u completed %u times", i, seen[i]);
	if (b == DIO_BACKEND_URING) {
		struct dio_stats st;

		dio_stats_get(d, &st);
		cr_assert_gt(st.fixed_reads, 0, "no read went through the registered buffer");
		cr_assert_lt(st.fixed_reads, NREADS, "every read claimed to be fixed");
	}
	cr_assert_eq(dio_close(d), 0);
}

Test(dio_pattern, all_backends_read_identical_correct_bytes_at_random_sectors)
{
	char dir[256], path[300];
	const size_t bytes = (size_t)NREADS * MAX_SECTORS_PER_READ * T_SECTOR;
	uint8_t *out[N_BACKENDS];
	struct dio_file f;
	struct plan p;

	t_mkdtemp(dir, sizeof dir, "/tmp");
	snprintf(path, sizeof path, "%s/pattern.bin", dir);
	t_write_pattern(path, (uint64_t)FILE_SECTORS * T_SECTOR);
	cr_assert_eq(dio_file_open(path, &f), 0, "%s", dann_errmsg());
	cr_assert_eq(f.direct, 1, "O_DIRECT refused on %s", path);
	cr_assert_eq(f.bytes, (uint64_t)FILE_SECTORS * T_SECTOR);
	make_plan(&p, 7);
	for (int b = 0; b < N_BACKENDS; b++) {
		cr_assert_not_null(out[b] = dann_aligned_alloc(bytes));
		memset(out[b], 0xEE, bytes);
		/* depth 64 < NREADS: submit also exercises backpressure */
		read_plan(t_backend(b), f.fd, &p, out[b], 64);
	}
	for (unsigned i = 0; i < NREADS; i++) {
		size_t at = (size_t)i * MAX_SECTORS_PER_READ * T_SECTOR;

		cr_assert(t_matches(out[0] + at, p.off[i], p.len[i]), "uring read %u wrong", i);
		cr_assert_eq(memcmp(out[0] + at, out[1] + at, p.len[i]), 0, "aio differs from uring at read %u", i);
		cr_assert_eq(memcmp(out[0] + at, out[2] + at, p.len[i]), 0, "pread differs from uring at read %u", i);
	}
	for (int b = 0; b < N_BACKENDS; b++)
		dann_aligned_free(out[b]);
	dio_file_close(&f);
	dio_file_close(&f);
	t_rmdir(dir);
}
