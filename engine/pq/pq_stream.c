/*
 * pq_stream.c — training on and encoding from vector files (vf.h), which
 * may be larger than RAM.
 *
 * Training reads only the sampled rows, in file order. Encoding walks the
 * file in blocks of PQ_ENCODE_BLOCK_ROWS rows read with pread: the next
 * block is announced to the kernel (read-ahead) while the current one is
 * encoded, so memory holds the codes plus one block whatever the file's
 * size (the page cache is the kernel's).
 */
#include "pq_impl.h"

#include <stdlib.h>

#include "aligned.h"
#include "error.h"
#include "kmeans.h"
#include "vf.h"

static int check_file(const char *ctx, const struct vf *f)
{
	enum dann_dtype t = vf_dtype(f);

	if (t != DANN_DTYPE_F32 && t != DANN_DTYPE_U8 && t != DANN_DTYPE_I8)
		return dann_fail(DANN_EINVAL, "%s: %s holds %s elements: expected float32, uint8 or int8",
				 ctx, vf_path(f), dann_dtype_name(t));
	return 0;
}

int pq_train_file(const struct pq_params *p, const struct vf *f, struct pq **out,
		  struct pq_train_stats *stats)
{
	uint64_t n = vf_count(f), ns, *rows = NULL;
	uint32_t dim = vf_dim(f);
	struct pq *pq = NULL;
	float *x = NULL;
	int rc;

	if ((rc = check_file("pq_train", f)) < 0)
		return rc;
	if ((rc = pq_check_shape("pq_train", p->metric, dim, p->pq_bytes)) < 0)
		return rc;
	if (n == 0)
		return dann_fail(DANN_EINVAL, "pq_train: %s has no rows to train on", vf_path(f));
	if (p->iters == 0)
		return dann_fail(DANN_EINVAL, "pq_train: iters 0: at least one Lloyd iteration is needed");
	ns = p->sample && p->sample < n ? p->sample : n;
	if ((rc = pq_alloc(p->metric, dim, p->pq_bytes, &pq)) < 0)
		return rc;
	pq_set_run(pq, p->threads, p->stop);
	rows = malloc(ns * sizeof *rows);
	x = malloc(ns * dim * sizeof *x);
	if (!rows || !x) {
		rc = dann_fail(DANN_ENOMEM, "pq_train: sample of %llu x %u", (unsigned long long)ns, dim);
		goto fail;
	}
	if ((rc = km_sample_rows(n, ns, p->seed, rows)) < 0)
		goto fail;
	/* Only the sampled rows, by pread (scattered over the file): the
	 * sample is all that becomes resident. */
	if ((rc = vf_read_f32_ids(f, rows, ns, x)) < 0)
		goto fail;
	if ((rc = pq_rows_to_float(pq, x, DANN_DTYPE_F32, ns, rows, 0, x)) < 0 ||
	    (rc = pq_train_rows(pq, p, x, ns, stats)) < 0)
		goto fail;
	free(rows);
	free(x);
	*out = pq;
	return 0;
fail:
	free(rows);
	free(x);
	pq_free(pq);
	return dann_fail_wrap(rc, "%s", vf_path(f));
}

int pq_encode_file(struct pq *pq, const struct vf *f, dann_progress_fn progress, void *arg)
{
	uint64_t n = vf_count(f), bn = PQ_ENCODE_BLOCK_ROWS;
	uint8_t *old = pq->codes;
	uint64_t oldn = pq->n;
	float *x = NULL;
	int rc;

	if ((rc = check_file("pq_encode", f)) < 0)
		return rc;
	if (vf_dim(f) != pq->dim)
		return dann_fail(DANN_EINVAL, "pq_encode: %s has dimension %u, the quantizer %u",
				 vf_path(f), vf_dim(f), pq->dim);
	if (!(x = malloc(bn * pq->dim * sizeof *x)))
		return dann_fail(DANN_ENOMEM, "pq_encode: block of %llu x %u", (unsigned long long)bn,
				 pq->dim);
	pq->codes = NULL;
	if ((rc = pq_alloc_codes(pq, n)) < 0)
		goto fail;
	for (uint64_t i0 = 0; i0 < n; i0 += bn) {
		uint64_t m = n - i0 < bn ? n - i0 : bn;

		if (i0 + m < n)
			vf_advise_willneed(f, i0 + m, n - i0 - m < bn ? n - i0 - m : bn);
		if ((rc = stop_check(pq->stop, "pq encode")) < 0 ||
		    (rc = vf_read_f32(f, i0, m, x)) < 0 ||
		    (rc = pq_rows_to_float(pq, x, DANN_DTYPE_F32, m, NULL, i0, x)) < 0 ||
		    (rc = pq_encode_rows(pq, x, m, pq->codes + i0 * pq->M)) < 0)
			goto fail;
		vf_advise_dontneed(f, i0, m);
		if (progress)
			progress(arg, "pq encode", i0 + m, n);
	}
	free(x);
	dann_aligned_free(old);
	return 0;
fail:
	free(x);
	dann_aligned_free(pq->codes);
	pq->codes = old;
	pq->n = oldn;
	return dann_fail_wrap(rc, "%s", vf_path(f));
}
