/*
 * test_pq_sample_rss.c — training PQ on a sample of a large file reads only
 * the sample into memory.
 *
 * The sampled rows are scattered over the file; read through its mapping,
 * each maps 64 KiB about it (fault-around), so a 4096-row sample of a
 * 61 MiB file once left most of the file resident in the process (on
 * 1M x 128 with the default 256k-row sample: 650 MiB; here 62 MiB over
 * the mark, against 18 now). Criterion runs
 * each test in its own process, whose peak RSS is checked from a mark
 * reset after the data is made. Skipped under AddressSanitizer, where
 * RSS says nothing about the code under test.
 */
#include <criterion/criterion.h>

#include "../engine/error.h"
#include "gen.h"
#include "../engine/pq/pq.h"
#include "../engine/vf.h"
#include "helpers/rss.h"
#include "helpers/tmpdir.h"

#define DIM 256u
#define N 60000u            /* 61 MiB of float32 rows */
#define SAMPLE 4096u        /* 4 MiB of them as floats */
#define SLACK_MIB 24.0      /* OpenBLAS and k-means buffers (14 measured), codebooks */

Test(pq_sample_rss, training_on_a_sample_keeps_only_the_sample_resident, .timeout = 120)
{
#if RSS_UNDER_ASAN
	cr_skip_test("RSS is not the code's under AddressSanitizer");
#else
	struct gen_params gp = { .dim = DIM, .seed = 3, .dtype = DANN_DTYPE_F32 };
	struct gen_model *m;
	struct pq_params pp;
	struct pq *pq = NULL;
	struct vf *f;
	const char *path;
	double before, after;

	tmpdir_make("pqrss");
	path = tmpdir_path("base.fbin");
	cr_assert_eq(gen_model_new(&gp, &m), 0, "%s", dann_errmsg());
	cr_assert_eq(gen_write(m, GEN_BASE, N, path, NULL, NULL), 0, "%s", dann_errmsg());
	gen_model_free(m);
	cr_assert_eq(vf_open(path, &f), 0, "%s", dann_errmsg());

	pq_params_default(&pp, DANN_METRIC_L2, 16);
	pp.sample = SAMPLE;
	pp.iters = 2;
	rss_reset_peak();
	before = rss_status_mib("VmRSS");
	cr_assert_eq(pq_train_file(&pp, f, &pq, NULL), 0, "%s", dann_errmsg());
	after = rss_status_mib("VmHWM");
	cr_log_info("RSS %.1f MiB before training, peak %.1f during it", before, after);
	cr_expect_leq(after, before + SAMPLE * DIM * 4.0 / 1048576.0 + SLACK_MIB,
		      "peak RSS %.1f MiB, %.1f before: the %u-row sample is %.0f MiB", after, before,
		      SAMPLE, SAMPLE * DIM * 4.0 / 1048576.0);
	pq_free(pq);
	vf_close(f);
	tmpdir_remove();
#endif
}
