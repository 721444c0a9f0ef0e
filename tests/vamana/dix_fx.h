/*
 * dix_fx.h — a small disk index for tests: random float32 data of a given
 * size and dimension, built by `dann build` in a child process (whose
 * OpenMP threads sleep rather than spin while they wait: libgomp reads
 * that only at process start), in a temporary directory the test removes.
 */
#ifndef DANN_DIX_FX_H
#define DANN_DIX_FX_H

#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dann.h"
#include "dix_testutil.h"
#include "error.h"
#include "helpers/cli.h"
#include "vf.h"

struct dix_fx {
	char tmp[256];
	char data[512], dir[512];
	float *x, *q;
	uint32_t n, dim, nq;
};

static inline void dix_fx_data(struct dix_fx *f, uint32_t n, uint32_t dim, uint32_t nq)
{
	unsigned seed = 7;

	memset(f, 0, sizeof *f);
	tu_mkdtemp(f->tmp, sizeof f->tmp);
	TU_FMT(f->data, "%s/data.fbin", f->tmp);
	TU_FMT(f->dir, "%s/index", f->tmp);
	f->n = n;
	f->dim = dim;
	f->nq = nq;
	f->x = malloc(sizeof *f->x * n * dim);
	f->q = malloc(sizeof *f->q * nq * dim);
	for (uint64_t i = 0; i < (uint64_t)n * dim; i++)
		f->x[i] = (float)(rand_r(&seed) % 1000) / 100.0f;
	for (uint64_t i = 0; i < (uint64_t)nq * dim; i++)
		f->q[i] = (float)(rand_r(&seed) % 1000) / 100.0f;
	cr_assert_eq(vf_write_file(f->data, dim, f->x, n), 0, "%s", dann_errmsg());
}

static inline void dix_fx_build(struct dix_fx *f, uint32_t n, uint32_t dim, uint32_t nq)
{
	char *err = NULL;

	dix_fx_data(f, n, dim, nq);
	setenv("OMP_WAIT_POLICY", "passive", 0);
	cr_assert_eq(cli_run(NULL, &err, "build", "--data", f->data, "--out", f->dir, "-R", "16",
			     "-L", "32", "--pq-bytes", "4", "--threads", "1", NULL),
		     0, "dann build: %s", err);
	free(err);
}

static inline void dix_fx_free(struct dix_fx *f)
{
	tu_rmtree(f->tmp);
	free(f->x);
	free(f->q);
}

#endif
