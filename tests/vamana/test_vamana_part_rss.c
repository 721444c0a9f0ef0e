/*
 * test_vamana_part_rss.c — a partitioned build keeps to its RAM budget.
 *
 * The input file is several times the budget. The merge prunes each union
 * against its neighbours' vectors, rows scattered over the whole file;
 * reading them through the file's mapping once made most of the file
 * resident (fault-around maps 64 KiB about every row touched), so the
 * build peaked near the file's size whatever the budget. The peak RSS of
 * this test's own process (Criterion runs each test in its own), from a
 * high-water mark reset after the data is made, is held to the budget plus
 * a constant for code, thread stacks and allocator.
 *
 * Under AddressSanitizer the allocator's quarantine and shadow memory
 * make RSS say nothing about the build, so the test is skipped there.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "../engine/error.h"
#include "gen.h"
#include "../engine/vamana/vamana.h"
#include "helpers/rss.h"
#include "helpers/tmpdir.h"

#define DIM 256u
#define N 60000u                  /* 61 MiB of float32 rows */
#define BUDGET (12ull << 20)      /* a fifth of the file */
#define SLACK (10ull << 20)       /* code, stacks, allocator, stdio buffers */

Test(vamana_part_rss, partitioned_build_keeps_to_its_budget, .timeout = 300)
{
#if RSS_UNDER_ASAN
	cr_skip_test("RSS is not the build's under AddressSanitizer");
#else
	struct gen_params gp = { .dim = DIM, .seed = 7, .dtype = DANN_DTYPE_F32 };
	struct gen_model *m;
	struct vam_params p;
	struct vam_file_stats st;
	const char *vec, *graph;
	double before, after;

	tmpdir_make("vamrss");
	vec = tmpdir_path("base.fbin");
	graph = tmpdir_path("g.vam");
	cr_assert_eq(gen_model_new(&gp, &m), 0, "%s", dann_errmsg());
	cr_assert_eq(gen_write(m, GEN_BASE, N, vec, NULL, NULL), 0, "%s", dann_errmsg());
	gen_model_free(m);

	vam_params_default(&p);
	p.R = 32;
	p.L = 50;
	p.threads = 2;
	rss_reset_peak();
	before = rss_status_mib("VmRSS");
	cr_assert_eq(vam_build_file(vec, DANN_METRIC_L2, &p, BUDGET, tmpdir_get(), graph, &st), 0, "%s",
		     dann_errmsg());
	after = rss_status_mib("VmHWM");
	cr_log_info("RSS %.1f MiB before the build, peak %.1f during it; budget %.0f MiB; %u shards, "
		    "%llu unions pruned", before, after, BUDGET / 1048576.0, st.shards,
		    (unsigned long long)st.truncated);
	cr_expect_geq(st.shards, 3, "the build must have been partitioned");
	cr_expect_gt(st.truncated, 0, "the merge must have pruned (it reads neighbour rows)");
	cr_expect_leq(after, before + (BUDGET + SLACK) / 1048576.0,
		      "peak RSS %.1f MiB, %.1f MiB before the build: over the %.0f MiB budget + %.0f",
		      after, before, BUDGET / 1048576.0, SLACK / 1048576.0);
	tmpdir_remove();
#endif
}
