/*
 * test_vamana_ckpt.c — the partitioned build's checkpoint (vam_ckpt.c): a
 * build stopped after some shards resumes at the first unbuilt one and
 * ends with the same graph file as a build never stopped; another build's
 * checkpoint is refused by name and left as it was.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../engine/error.h"
#include "../engine/fsutil.h"
#include "../engine/stop.h"
#include "../engine/vamana/vamana.h"
#include "../engine/vf.h"

#define DIM 8
#define N 3000u
#define STOP_AT 3u /* shards built before the stop */

static char dir[] = "/tmp/vamckptXXXXXX";
static char vec_path[256], ckpt[256];

static void setup(void)
{
	float *x = malloc(sizeof *x * N * DIM);
	uint64_t s = 5;

	cr_assert_not_null(mkdtemp(dir));
	snprintf(vec_path, sizeof vec_path, "%s/base.fbin", dir);
	snprintf(ckpt, sizeof ckpt, "%s/ckpt", dir);
	for (uint32_t i = 0; i < N * DIM; i++) {
		s = s * 6364136223846793005ull + 1442695040888963407ull;
		x[i] = (float)((i / DIM) % 17) + (float)((s >> 40) / 16777216.0);
	}
	cr_assert_eq(vf_write_file(vec_path, DIM, x, N), 0, "%s", dann_errmsg());
	free(x);
}

static void teardown(void)
{
	fsu_rmtree(dir);
}

/* Progress hook: counts shard starts, remembers the first, and sets the
 * cancel flag when shard STOP_AT is about to start (if armed). */
struct watch {
	volatile int cancel;
	int armed;
	int first_shard;
	int starts;
};

static void on_progress(void *arg, const char *phase, uint64_t done, uint64_t total)
{
	struct watch *w = arg;

	if (strcmp(phase, "vamana shards") != 0 || done == total)
		return;
	if (w->first_shard < 0)
		w->first_shard = (int)done;
	w->starts++;
	if (w->armed && done == STOP_AT)
		__atomic_store_n(&w->cancel, 1, __ATOMIC_RELAXED);
}

static int build(struct vam_params *p, struct watch *w, const char *out, struct vam_file_stats *st)
{
	struct stop stop = { .cancel = &w->cancel };
	uint64_t budget;

	w->first_shard = -1;
	w->starts = 0;
	p->progress = on_progress;
	p->progress_arg = w;
	p->stop = &stop;
	/* a fifth of the whole build: about a dozen shards */
	budget = vam_build_bytes(N, DIM, DANN_DTYPE_F32, DANN_METRIC_L2, p) / 5;
	return vam_build_file(vec_path, DANN_METRIC_L2, p, budget, dir, out, st);
}

static void params(struct vam_params *p)
{
	vam_params_default(p);
	p->R = 16;
	p->L = 32;
	p->threads = 1; /* one thread: the same graph every time */
	p->checkpoint_dir = ckpt;
}

static void *slurp(const char *path, size_t *len)
{
	void *buf;

	cr_assert_eq(fsu_read_file(path, &buf, len), 0, "%s", dann_errmsg());
	return buf;
}

TestSuite(vamana_ckpt, .init = setup, .fini = teardown);

Test(vamana_ckpt, stopped_build_resumes_at_its_first_unbuilt_shard)
{
	char whole[300], resumed[300], done[300];
	struct vam_file_stats st;
	struct vam_params p;
	struct watch w = { 0 };
	size_t la, lb;
	void *a, *b;

	snprintf(whole, sizeof whole, "%s/whole.vam", dir);
	snprintf(resumed, sizeof resumed, "%s/resumed.vam", dir);
	params(&p);
	cr_assert_eq(build(&p, &w, whole, &st), 0, "%s", dann_errmsg());
	cr_assert_gt(st.shards, STOP_AT + 2, "%u shards", st.shards);
	cr_expect_eq(st.resumed_shards, 0);
	cr_expect_neq(access(ckpt, F_OK), 0, "a successful build removes its checkpoint");

	w.armed = 1;
	cr_assert_eq(build(&p, &w, resumed, NULL), DANN_ECANCELED, "%s", dann_errmsg());
	cr_expect_neq(access(resumed, F_OK), 0, "a stopped build leaves no graph");
	snprintf(done, sizeof done, "%s/shard%u.done", ckpt, STOP_AT - 1);
	cr_expect_eq(access(done, F_OK), 0, "shard %u is recorded as built", STOP_AT - 1);
	snprintf(done, sizeof done, "%s/shard%u.graph.tmp", ckpt, STOP_AT);
	cr_expect_neq(access(done, F_OK), 0, "no partial shard graph is kept");

	w.armed = 0;
	w.cancel = 0;
	cr_assert_eq(build(&p, &w, resumed, &st), 0, "%s", dann_errmsg());
	cr_expect_eq(st.resumed_shards, STOP_AT);
	cr_expect_geq(st.resumed_seconds, 0);
	cr_expect_eq(w.first_shard, (int)STOP_AT, "the resumed build started at shard %d", w.first_shard);
	cr_expect_eq(w.starts, (int)(st.shards - STOP_AT), "%d shards built again", w.starts);
	cr_expect_neq(access(ckpt, F_OK), 0, "the checkpoint goes once the build succeeds");

	a = slurp(whole, &la);
	b = slurp(resumed, &lb);
	cr_expect(la == lb && memcmp(a, b, la) == 0, "the resumed graph differs from the uninterrupted one");
	free(a);
	free(b);
}

Test(vamana_ckpt, another_builds_checkpoint_is_refused_and_kept)
{
	char out[300], state[300];
	struct vam_params p;
	struct watch w = { .armed = 1 };
	size_t la, lb;
	void *a, *b;

	snprintf(out, sizeof out, "%s/g.vam", dir);
	snprintf(state, sizeof state, "%s/state", ckpt);
	params(&p);
	cr_assert_eq(build(&p, &w, out, NULL), DANN_ECANCELED, "%s", dann_errmsg());
	a = slurp(state, &la);

	params(&p);
	p.R = 12;
	w.armed = 0;
	w.cancel = 0;
	cr_expect_eq(build(&p, &w, out, NULL), DANN_EINVAL);
	cr_expect(strstr(dann_errmsg(), "R 16") && strstr(dann_errmsg(), "R 12") && strstr(dann_errmsg(), ckpt),
		  "%s", dann_errmsg());
	cr_expect_eq(w.starts, 0, "nothing was built");
	b = slurp(state, &lb);
	cr_expect(la == lb && memcmp(a, b, la) == 0, "the refused checkpoint was changed");
	free(a);
	free(b);
}
