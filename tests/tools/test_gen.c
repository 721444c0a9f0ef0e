/*
 * test_gen.c — the synthetic generator: reproducible to the byte (across
 * seeds, thread counts, chunking and ranges), queries apart from the base,
 * clustered statistics, the quantisation rule, and `dann gen`'s errors.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "error.h"
#include "gen.h"
#include "vf.h"
#include "helpers/tmpdir.h"

static void make_tmp(void)
{
	tmpdir_make("gen");
}

TestSuite(gen, .init = make_tmp, .fini = tmpdir_remove);

static char *path_in(const char *name)
{
	return tmpdir_path(name);
}

static struct gen_model *model(uint64_t seed, uint32_t dim, enum dann_dtype t)
{
	struct gen_params p = { .seed = seed, .dim = dim, .dtype = t };
	struct gen_model *m;

	cr_assert_eq(gen_model_new(&p, &m), 0, "%s", dann_errmsg());
	return m;
}

/* The whole file's bytes; *size gets its length. */
static unsigned char *slurp(const char *path, size_t *size)
{
	FILE *f = fopen(path, "rb");
	unsigned char *p;

	cr_assert_not_null(f, "%s", path);
	fseek(f, 0, SEEK_END);
	*size = (size_t)ftell(f);
	fseek(f, 0, SEEK_SET);
	p = malloc(*size + 1);
	cr_assert_eq(fread(p, 1, *size, f), *size);
	fclose(f);
	return p;
}

static int same_file(const char *a, const char *b)
{
	size_t na, nb;
	unsigned char *pa = slurp(a, &na), *pb = slurp(b, &nb);
	int same = na == nb && !memcmp(pa, pb, na);

	free(pa);
	free(pb);
	return same;
}

Test(gen, writes_the_same_bytes_for_the_same_seed_on_one_or_two_threads)
{
	struct gen_model *m = model(42, 96, DANN_DTYPE_F32);

	omp_set_num_threads(1);
	cr_assert_eq(gen_write(m, GEN_BASE, 3001, path_in("a.fbin"), NULL, NULL), 0, "%s", dann_errmsg());
	omp_set_num_threads(2);
	cr_assert_eq(gen_write(m, GEN_BASE, 3001, path_in("b.fbin"), NULL, NULL), 0);
	cr_assert(same_file(path_in("a.fbin"), path_in("b.fbin")));
	gen_model_free(m);
	/* A model made again from the same seed is the same model. */
	m = model(42, 96, DANN_DTYPE_F32);
	cr_assert_eq(gen_write(m, GEN_BASE, 3001, path_in("c.fbin"), NULL, NULL), 0);
	cr_assert(same_file(path_in("a.fbin"), path_in("c.fbin")));
	gen_model_free(m);
}

Test(gen, gives_a_row_the_same_value_whatever_range_it_is_asked_in)
{
	enum { N = 700, DIM = 33 };
	struct gen_model *m = model(5, DIM, DANN_DTYPE_I8);
	int8_t *whole = malloc(N * DIM), *parts = malloc(N * DIM);

	gen_rows(m, GEN_QUERIES, 0, N, whole);
	gen_rows(m, GEN_QUERIES, 0, 123, parts);
	gen_rows(m, GEN_QUERIES, 123, 1, parts + 123 * DIM);
	gen_rows(m, GEN_QUERIES, 124, N - 124, parts + 124 * DIM);
	cr_assert_eq(memcmp(whole, parts, N * DIM), 0);
	free(whole);
	free(parts);
	gen_model_free(m);
}

Test(gen, streams_a_count_that_is_not_a_multiple_of_the_chunk)
{
	/* 4096 float dims = 16 KiB rows: a 32 MiB chunk holds 2048 rows, so
	 * 4173 rows take two full chunks and a short one. */
	enum { DIM = 4096, N = 2 * 2048 + 77 };
	struct gen_model *m = model(9, DIM, DANN_DTYPE_F32);
	float *want = malloc(sizeof *want * (size_t)N * DIM);
	struct vf *f;

	cr_assert_eq(gen_write(m, GEN_BASE, N, path_in("big.fbin"), NULL, NULL), 0, "%s", dann_errmsg());
	gen_rows(m, GEN_BASE, 0, N, want);
	cr_assert_eq(vf_open(path_in("big.fbin"), &f), 0, "%s", dann_errmsg());
	cr_assert_eq(vf_count(f), N);
	cr_assert_eq(vf_dim(f), DIM);
	float *got = malloc(sizeof *got * (size_t)N * DIM);
	cr_assert_not_null(got);
	cr_assert_eq(vf_read(f, 0, N, got), 0, "%s", dann_errmsg());
	cr_assert_eq(memcmp(got, want, sizeof *want * (size_t)N * DIM), 0);
	vf_close(f);
	free(got);
	free(want);
	gen_model_free(m);
}

Test(gen, differs_between_seeds_and_between_base_and_queries)
{
	enum { N = 64, DIM = 16 };
	struct gen_model *a = model(1, DIM, DANN_DTYPE_F32), *b = model(2, DIM, DANN_DTYPE_F32);
	float ra[N * DIM], rb[N * DIM], rq[N * DIM];

	gen_rows(a, GEN_BASE, 0, N, ra);
	gen_rows(b, GEN_BASE, 0, N, rb);
	gen_rows(a, GEN_QUERIES, 0, N, rq);
	cr_assert_neq(memcmp(ra, rb, sizeof ra), 0);
	for (int i = 0; i < N; i++)
		cr_assert_neq(memcmp(ra + i * DIM, rq + i * DIM, sizeof(float) * DIM), 0, "row %d", i);
	gen_model_free(a);
	gen_model_free(b);
}

static double sqdist(const float *a, const float *b, int dim)
{
	double s = 0;

	for (int i = 0; i < dim; i++)
		s += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
	return s;
}

Test(gen, never_repeats_a_base_point_as_a_query)
{
	enum { NB = 3000, NQ = 300, DIM = 16 };
	enum dann_dtype types[] = { DANN_DTYPE_F32, DANN_DTYPE_U8 };

	for (int t = 0; t < 2; t++) {
		struct gen_model *m = model(77, DIM, types[t]);
		size_t row = DIM * dann_dtype_size(types[t]);
		unsigned char *b = malloc(NB * row), *q = malloc(NQ * row);

		gen_rows(m, GEN_BASE, 0, NB, b);
		gen_rows(m, GEN_QUERIES, 0, NQ, q);
		for (int i = 0; i < NQ; i++)
			for (int j = 0; j < NB; j++)
				cr_assert_neq(memcmp(q + i * row, b + j * row, row), 0,
					      "%s query %d equals base row %d", dann_dtype_name(types[t]), i, j);
		free(b);
		free(q);
		gen_model_free(m);
	}
}

Test(gen, makes_clustered_data_with_the_scale_it_reports)
{
	enum { N = 2000, DIM = 48, PAIRS = 2000 };
	struct gen_model *m = model(3, DIM, DANN_DTYPE_F32);
	float *x = malloc(sizeof *x * N * DIM);
	double ss = 0, nn_sum = 0, pair_sum = 0;
	int distinct = 0;

	gen_rows(m, GEN_BASE, 0, N, x);
	for (int i = 0; i < N * DIM; i++) {
		cr_assert(isfinite(x[i]));
		ss += (double)x[i] * x[i];
	}
	for (int i = 1; i < N; i++)
		distinct += memcmp(x, x + i * DIM, sizeof *x * DIM) != 0;
	cr_assert_eq(distinct, N - 1);
	/* The measured RMS coordinate agrees with the model's. */
	double rms = sqrt(ss / (N * DIM));
	cr_assert(fabs(rms - gen_model_rms(m)) < 0.15 * gen_model_rms(m), "rms %g, model %g", rms,
		  (double)gen_model_rms(m));
	/* Nearest neighbours of the first 200 points against random pairs. */
	for (int i = 0; i < 200; i++) {
		double best = INFINITY;
		for (int j = 0; j < N; j++)
			if (j != i) {
				double d = sqdist(x + i * DIM, x + j * DIM, DIM);
				best = d < best ? d : best;
			}
		nn_sum += best;
	}
	for (int i = 0; i < PAIRS; i++)
		pair_sum += sqdist(x + i * DIM, x + ((i * 7919 + 13) % N) * DIM, DIM);
	double nn = nn_sum / 200, pair = pair_sum / PAIRS;
	cr_assert(nn < 0.25 * pair, "mean nearest-neighbour distance %g vs random pair %g", nn, pair);
	cr_assert(nn > 0, "points collapse onto each other");
	free(x);
	gen_model_free(m);
}

Test(gen, quantises_integer_types_by_the_documented_rule)
{
	enum { N = 500, DIM = 40 };
	struct gen_model *f = model(11, DIM, DANN_DTYPE_F32), *u = model(11, DIM, DANN_DTYPE_U8),
			 *s = model(11, DIM, DANN_DTYPE_I8);
	float *x = malloc(sizeof *x * N * DIM);
	uint8_t *xu = malloc(N * DIM);
	int8_t *xs = malloc(N * DIM);
	float q = 127.0f / (4.0f * gen_model_rms(f));
	int clamped = 0;

	cr_assert_eq(gen_model_rms(f), gen_model_rms(u));
	gen_rows(f, GEN_BASE, 0, N, x);
	gen_rows(u, GEN_BASE, 0, N, xu);
	gen_rows(s, GEN_BASE, 0, N, xs);
	for (int i = 0; i < N * DIM; i++) {
		float v = nearbyintf(x[i] * q);
		clamped += v < -128 || v > 127;
		v = fminf(fmaxf(v, -128), 127);
		cr_assert_eq(xs[i], (int8_t)v, "element %d: %d, want %g", i, xs[i], (double)v);
		cr_assert_eq(xu[i], (uint8_t)(xs[i] + 128), "element %d", i);
	}
	cr_assert(clamped < N * DIM / 1000, "%d of %d clamped", clamped, N * DIM);
	free(x);
	free(xu);
	free(xs);
	gen_model_free(f);
	gen_model_free(u);
	gen_model_free(s);
}

Test(gen, rejects_bad_parameters_with_a_message)
{
	struct gen_params p = { .seed = 1, .dim = 0, .dtype = DANN_DTYPE_F32 };
	struct gen_model *m = NULL;

	cr_assert_eq(gen_model_new(&p, &m), DANN_EINVAL);
	cr_assert(strstr(dann_errmsg(), "dim 0"), "%s", dann_errmsg());
	p.dim = VF_MAX_DIM + 1;
	cr_assert_eq(gen_model_new(&p, &m), DANN_EINVAL);
	p.dim = 8;
	p.latent_dim = GEN_MAX_LATENT_DIM + 1;
	cr_assert_eq(gen_model_new(&p, &m), DANN_EINVAL);
	p.latent_dim = 0;
	p.dtype = DANN_DTYPE_I32;
	cr_assert_eq(gen_model_new(&p, &m), DANN_EINVAL);
	cr_assert(strstr(dann_errmsg(), "int32"), "%s", dann_errmsg());
	cr_assert_null(m);
	m = model(1, 8, DANN_DTYPE_F32);
	cr_assert_eq(gen_write(m, GEN_BASE, 10, path_in("x.u8bin"), NULL, NULL), DANN_EINVAL);
	cr_assert(strstr(dann_errmsg(), "x.u8bin"), "%s", dann_errmsg());
	cr_assert_eq(access(path_in("x.u8bin"), F_OK), -1);
	gen_model_free(m);
}

/* Runs `[env] dann <args>` in the temp dir; returns the exit status and
 * keeps what it printed in out. */
static int run_cli(const char *env, const char *args, char *out, size_t cap)
{
	char cmd[1024];
	FILE *p;
	size_t n;

	snprintf(cmd, sizeof cmd, "cd '%s' && %s '%s' %s 2>&1", tmpdir_get(), env, DANN_CLI, args);
	cr_assert_not_null(p = popen(cmd, "r"));
	n = fread(out, 1, cap - 1, p);
	out[n] = 0;
	int st = pclose(p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

Test(gen, cli_writes_identical_files_on_one_and_two_threads)
{
	char out[4096];
	struct vf *f;

	cr_assert_eq(run_cli("OMP_NUM_THREADS=1", "gen --n 5000 --dim 20 --queries 100 "
			     "--queries-out q1.u8bin --seed 99 --out b1.u8bin", out, sizeof out), 0, "%s", out);
	cr_assert_eq(run_cli("OMP_NUM_THREADS=2", "gen --n 5000 --dim 20 --queries 100 "
			     "--queries-out q2.u8bin --seed 99 --dtype uint8 --out b2.u8bin", out, sizeof out), 0, "%s", out);
	cr_assert(same_file(path_in("b1.u8bin"), path_in("b2.u8bin")));
	cr_assert(same_file(path_in("q1.u8bin"), path_in("q2.u8bin")));
	cr_assert_eq(vf_open(path_in("q1.u8bin"), &f), 0);
	cr_assert_eq(vf_count(f), 100);
	cr_assert_eq(vf_dim(f), 20);
	vf_close(f);
	cr_assert_eq(run_cli("", "gen --n 5000 --dim 20 --seed 100 --out b3.u8bin", out, sizeof out), 0);
	cr_assert(!same_file(path_in("b1.u8bin"), path_in("b3.u8bin")));
}

Test(gen, cli_rejects_missing_and_bad_arguments)
{
	static const struct {
		const char *args, *says;
	} bad[] = {
		{ "gen --dim 8 --out a.fbin", "required" },
		{ "gen --n 10 --out a.fbin", "required" },
		{ "gen --n 10 --dim 8", "required" },
		{ "gen --n 0 --dim 8 --out a.fbin", "--n" },
		{ "gen --n 10 --dim 0 --out a.fbin", "--dim" },
		{ "gen --n 10 --dim 70000 --out a.fbin", "--dim" },
		{ "gen --n ten --dim 8 --out a.fbin", "'ten'" },
		{ "gen --n 10 --dim 8 --dtype float16 --out a.fbin", "float16" },
		{ "gen --n 10 --dim 8 --dtype uint8 --out a.fbin", "a.fbin" },
		{ "gen --n 10 --dim 8 --out a.txt", "a.txt" },
		{ "gen --n 10 --dim 8 --out a.ibin", "a.ibin" },
		{ "gen --n 10 --dim 8 --queries 5 --out a.fbin", "--queries-out" },
		{ "gen --n 10 --dim 8 --queries-out q.fbin --out a.fbin", "--queries" },
		{ "gen --n 10 --dim 8 --queries 5 --queries-out a.fbin --out a.fbin", "same file" },
		{ "gen --n 10 --dim 8 --out a.fbin --bogus 1", "--bogus" },
		{ "gen --n 10 --dim 8 --out", "--out" },
	};
	char out[4096];

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		cr_assert_eq(run_cli("", bad[i].args, out, sizeof out), 2, "%s: %s", bad[i].args, out);
		cr_assert(strstr(out, bad[i].says), "'%s' should mention '%s': %s", bad[i].args,
			  bad[i].says, out);
	}
	cr_assert_eq(access(path_in("a.fbin"), F_OK), -1);
	cr_assert_eq(run_cli("", "gen --help", out, sizeof out), 0);
	cr_assert(strstr(out, "--queries-out"), "%s", out);
}
