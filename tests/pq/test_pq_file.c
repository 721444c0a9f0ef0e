/*
 * test_pq_file.c — pivots and codes files, and encoding streamed from a
 * vector file.
 */
#include "pq/pq_testutil.h"

#include "dann.h"
#include "error.h"
#include "pq/pq.h"
#include "vf.h"

enum { N = 1000, DIM = 20, M = 5 };

struct fixture {
	char dir[64];
	char piv[PATH_MAX];
	char cod[PATH_MAX];
	float *x;
	struct pq *pq;
};

static void setup(struct fixture *f, enum dann_metric metric)
{
	struct pq_params p;

	pt_mkdtemp(f->dir, sizeof f->dir);
	snprintf(f->piv, sizeof f->piv, "%s/%s", f->dir, PQ_PIVOTS_FILE);
	snprintf(f->cod, sizeof f->cod, "%s/%s", f->dir, PQ_CODES_FILE);
	f->x = pt_mixture(N, DIM, 10, 21);
	pq_params_default(&p, metric, M);
	p.iters = 4;
	cr_assert_eq(pq_train(&p, f->x, DANN_DTYPE_F32, N, DIM, &f->pq, NULL), 0, "%s", dann_errmsg());
	cr_assert_eq(pq_encode_array(f->pq, f->x, DANN_DTYPE_F32, N), 0, "%s", dann_errmsg());
	cr_assert_eq(pq_save(f->pq, f->dir), 0, "%s", dann_errmsg());
}

static void teardown(struct fixture *f)
{
	pq_free(f->pq);
	free(f->x);
	pt_rmtree(f->dir);
}

/* Loading must fail with `code` and a message naming path and containing what. */
static void expect_load_error(struct fixture *f, int code, const char *path, const char *what)
{
	struct pq *pq = NULL;
	int rc = pq_load(f->dir, 1, &pq);

	cr_assert_eq(rc, code, "rc %d (%s)", rc, dann_errmsg());
	cr_assert(strstr(dann_errmsg(), path), "message does not name %s: %s", path, dann_errmsg());
	if (what)
		cr_assert(strstr(dann_errmsg(), what), "message lacks '%s': %s", what, dann_errmsg());
	cr_assert_null(pq);
}

Test(pq_file, save_then_load_gives_the_same_tables_and_codes)
{
	static const enum dann_metric metrics[] = { DANN_METRIC_L2, DANN_METRIC_IP, DANN_METRIC_COSINE };

	for (int t = 0; t < 3; t++) {
		struct fixture f;
		struct pq *back = NULL;
		float t0[M * 256], t1[M * 256];
		struct stat st;

		setup(&f, metrics[t]);
		cr_assert_eq(pq_load(f.dir, 1, &back), 0, "%s", dann_errmsg());
		cr_assert_eq(pq_metric(back), metrics[t]);
		cr_assert_eq(pq_dim(back), DIM);
		cr_assert_eq(pq_bytes(back), M);
		cr_assert_eq(pq_count(back), N);
		cr_assert_arr_eq(pq_codes(back), pq_codes(f.pq), N * M);
		cr_assert_eq((uintptr_t)pq_codes(back) % 4096, 0, "codes are one aligned allocation");
		pq_table_build(f.pq, f.x + 3 * DIM, t0);
		pq_table_build(back, f.x + 3 * DIM, t1);
		cr_assert_arr_eq(t0, t1, sizeof t0);
		/* No temporary left behind. */
		char tmp[PATH_MAX + 8];
		snprintf(tmp, sizeof tmp, "%s.tmp", f.piv);
		cr_assert_neq(stat(tmp, &st), 0);
		pq_free(back);
		/* Pivots alone load too. */
		cr_assert_eq(pq_load(f.dir, 0, &back), 0, "%s", dann_errmsg());
		cr_assert_null(pq_codes(back));
		pq_free(back);
		teardown(&f);
	}
}

Test(pq_file, rejects_a_corrupted_pivots_file_naming_it)
{
	static const long offsets[] = { 0, 12, 40, 300, -1 };

	for (size_t i = 0; i < sizeof offsets / sizeof *offsets; i++) {
		struct fixture f;
		setup(&f, DANN_METRIC_L2);
		pt_flip_byte(f.piv, offsets[i]);
		expect_load_error(&f, DANN_ECORRUPT, f.piv, NULL);
		teardown(&f);
	}
}

Test(pq_file, rejects_a_corrupted_codes_file_naming_it)
{
	struct fixture f;

	setup(&f, DANN_METRIC_L2);
	pt_flip_byte(f.cod, 32 + 777);
	expect_load_error(&f, DANN_ECORRUPT, f.cod, "checksum");
	teardown(&f);
}

Test(pq_file, rejects_truncated_files_naming_them)
{
	struct fixture f;

	setup(&f, DANN_METRIC_IP);
	pt_truncate(f.cod, 5);
	expect_load_error(&f, DANN_ECORRUPT, f.cod, "code bytes");
	teardown(&f);
	setup(&f, DANN_METRIC_IP);
	pt_truncate(f.piv, 1);
	expect_load_error(&f, DANN_ECORRUPT, f.piv, "bytes, expected");
	teardown(&f);
}

Test(pq_file, rejects_codes_that_belong_to_other_pivots)
{
	struct fixture f, g;
	char cmd[PATH_MAX * 2 + 8];

	setup(&f, DANN_METRIC_L2);
	setup(&g, DANN_METRIC_IP);
	snprintf(cmd, sizeof cmd, "%s", g.cod);
	cr_assert_eq(rename(cmd, f.cod), 0);
	expect_load_error(&f, DANN_ECORRUPT, f.cod, "do not belong");
	teardown(&f);
	teardown(&g);
}

Test(pq_file, reports_a_missing_file_as_not_found)
{
	struct fixture f;

	setup(&f, DANN_METRIC_L2);
	unlink(f.piv);
	expect_load_error(&f, DANN_ENOTFOUND, f.piv, NULL);
	teardown(&f);
}

Test(pq_file, encoding_a_vector_file_in_blocks_equals_encoding_the_array)
{
	/* More rows than one encode block, so the streaming loop turns. */
	enum { BIG = 40000, D = 12, MM = 4 };
	char dir[64], path[PATH_MAX];
	float *x = pt_mixture(BIG, D, 30, 31);
	uint8_t *codes = malloc((size_t)BIG * MM);
	struct pq_params p;
	struct pq *a = NULL, *b = NULL;
	struct vf *f = NULL;

	pt_mkdtemp(dir, sizeof dir);
	snprintf(path, sizeof path, "%s/base.fbin", dir);
	cr_assert_eq(vf_write_file(path, D, x, BIG), 0, "%s", dann_errmsg());
	cr_assert_eq(vf_open(path, &f), 0, "%s", dann_errmsg());
	pq_params_default(&p, DANN_METRIC_L2, MM);
	p.iters = 5;
	p.sample = 5000;
	cr_assert_eq(pq_train_file(&p, f, &a, NULL), 0, "%s", dann_errmsg());
	cr_assert_eq(pq_train(&p, x, DANN_DTYPE_F32, BIG, D, &b, NULL), 0, "%s", dann_errmsg());
	/* Same sample, same seed: the same quantizer from file or array. */
	cr_assert_eq(pq_encode_file(a, f, NULL, NULL), 0, "%s", dann_errmsg());
	cr_assert_eq(pq_count(a), BIG);
	cr_assert_eq(pq_encode(b, x, DANN_DTYPE_F32, BIG, codes), 0);
	cr_assert_arr_eq(pq_codes(a), codes, (size_t)BIG * MM);
	pq_free(a);
	pq_free(b);
	vf_close(f);
	free(x);
	free(codes);
	pt_rmtree(dir);
}

Test(pq_file, rejects_a_vector_file_of_another_dimension)
{
	char dir[64], path[PATH_MAX];
	float *x = pt_mixture(300, 6, 3, 41);
	struct pq_params p;
	struct pq *pq = NULL;
	struct vf *f = NULL;

	pt_mkdtemp(dir, sizeof dir);
	snprintf(path, sizeof path, "%s/base.fbin", dir);
	cr_assert_eq(vf_write_file(path, 6, x, 300), 0);
	cr_assert_eq(vf_open(path, &f), 0);
	pq_params_default(&p, DANN_METRIC_L2, 2);
	cr_assert_eq(pq_train(&p, x, DANN_DTYPE_F32, 150, 12, &pq, NULL), 0, "%s", dann_errmsg());
	cr_assert_eq(pq_encode_file(pq, f, NULL, NULL), DANN_EINVAL);
	cr_assert(strstr(dann_errmsg(), "dimension 6"), "%s", dann_errmsg());
	cr_assert_null(pq_codes(pq));
	pq_free(pq);
	vf_close(f);
	free(x);
	pt_rmtree(dir);
}
