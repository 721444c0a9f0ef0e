/*
 * test_dix_build_limits.c — dann_index_build as a server uses it: every
 * parameter checked before any phase starts, cancellation and deadlines
 * that stop a build and leave no files, the threads it is given and no
 * more, a partitioned build through the library API, and a build killed
 * midway that leaves nothing at the output path and can be redone.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>

#include "dix_fx.h"
#include "vamana/vamana.h"

struct watch {
	const char *cancel_at;  /* phase name: set cancel when it is reported */
	const char *expire_at;  /* phase name: move the deadline to now */
	const char *kill_at;    /* phase name: SIGKILL this process */
	volatile int cancel;
	struct dann_build_params *p;
	int calls;
	int partitioned;        /* a "vamana shards" phase was reported */
	int max_threads;        /* largest thread count of the process seen */
};

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int process_threads(void)
{
	char line[256];
	int n = -1;
	FILE *f = fopen("/proc/self/status", "r");

	cr_assert_not_null(f);
	while (fgets(line, sizeof line, f))
		if (sscanf(line, "Threads: %d", &n) == 1)
			break;
	fclose(f);
	return n;
}

static void on_progress(void *arg, const char *phase, uint64_t done, uint64_t total)
{
	struct watch *w = arg;
	int t = process_threads();

	(void)done;
	(void)total;
	w->calls++;
	if (t > w->max_threads)
		w->max_threads = t;
	if (!strcmp(phase, "vamana shards"))
		w->partitioned = 1;
	if (w->cancel_at && !strcmp(phase, w->cancel_at))
		w->cancel = 1;
	if (w->expire_at && !strcmp(phase, w->expire_at))
		w->p->deadline_ns = mono_ns();
	if (w->kill_at && !strcmp(phase, w->kill_at))
		raise(SIGKILL);
}

static void params(struct dann_build_params *p, struct watch *w)
{
	dann_build_params_default(p);
	p->R = 16;
	p->L = 32;
	p->pq_bytes = 4;
	p->threads = 1;
	p->progress = on_progress;
	p->progress_arg = w;
	p->cancel = &w->cancel;
	w->p = p;
}

/* Only the data file is left in the fixture's directory: no index, no
 * stage, no temporary file. */
static void expect_no_files(const struct dix_fx *f)
{
	struct dirent *de;
	DIR *d = opendir(f->tmp);
	int others = 0;

	cr_assert_not_null(d);
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") &&
		    strcmp(de->d_name, "data.fbin")) {
			cr_log_error("left behind: %s", de->d_name);
			others++;
		}
	closedir(d);
	cr_assert_eq(others, 0, "files left beside the data");
}

Test(dix_build_limits, bad_parameters_fail_before_any_phase_with_no_files_left)
{
	struct dix_fx f;
	struct dann_build_params p;
	struct watch w = { 0 };

	dix_fx_data(&f, 400, 8, 1);
	params(&p, &w);
	p.L = 0;
	cr_assert_eq(dann_index_build(f.data, f.dir, &p), DANN_EINVAL);
	cr_assert_not_null(strstr(dann_errmsg(), "L = 0"), "%s", dann_errmsg());
	params(&p, &w);
	p.alpha = 0.5f;
	cr_assert_eq(dann_index_build(f.data, f.dir, &p), DANN_EINVAL);
	cr_assert_not_null(strstr(dann_errmsg(), "alpha"), "%s", dann_errmsg());
	params(&p, &w);
	p.threads = 100000;
	cr_assert_eq(dann_index_build(f.data, f.dir, &p), DANN_EINVAL);
	cr_assert_not_null(strstr(dann_errmsg(), "threads"), "%s", dann_errmsg());
	/* No phase ever started: PQ training (hours at scale) is not paid
	 * for a typo. */
	cr_assert_eq(w.calls, 0);
	expect_no_files(&f);
	dix_fx_free(&f);
}

static void expect_stopped(const char *cancel_at, const char *expire_at, int want,
			   const char *want_msg)
{
	struct dix_fx f;
	struct dann_build_params p;
	struct watch w = { .cancel_at = cancel_at, .expire_at = expire_at };
	(void)w.expire_at;
	struct dann_index *ix;

	dix_fx_data(&f, 3000, 16, 1);
	params(&p, &w);
	cr_assert_eq(dann_index_build(f.data, f.dir, &p), want, "%s", dann_errmsg());
	cr_assert_not_null(strstr(dann_errmsg(), want_msg), "want \"%s\" in: %s", want_msg,
			   dann_errmsg());
	expect_no_files(&f);
	/* The same call without the stop builds the index. */
	params(&p, &w);
	w.cancel_at = w.expire_at = NULL;
	w.cancel = 0;
	cr_assert_eq(dann_index_build(f.data, f.dir, &p), 0, "%s", dann_errmsg());
	cr_assert_eq(dann_index_open(f.dir, NULL, &ix), 0, "%s", dann_errmsg());
	dann_index_close(ix);
	dix_fx_free(&f);
}

Test(dix_build_limits, a_cancel_during_pq_encoding_stops_the_build_and_leaves_nothing)
{
	expect_stopped("pq encode", NULL, DANN_ECANCELED, "canceled");
}

Test(dix_build_limits, a_cancel_during_the_graph_stops_the_build_and_leaves_nothing)
{
	expect_stopped("vamana", NULL, DANN_ECANCELED, "canceled");
}

Test(dix_build_limits, a_cancel_inside_pq_training_stops_its_kmeans)
{
	/* Set when training starts: the first Lloyd iteration's check fires,
	 * inside the phase, not after it. */
	expect_stopped("pq train", NULL, DANN_ECANCELED, "kmeans: canceled");
}

Test(dix_build_limits, a_deadline_already_passed_stops_before_any_phase)
{
	struct dix_fx f;
	struct dann_build_params p;
	struct watch w = { 0 };

	dix_fx_data(&f, 400, 8, 1);
	params(&p, &w);
	p.deadline_ns = mono_ns() - 1;
	cr_assert_eq(dann_index_build(f.data, f.dir, &p), DANN_ETIMEDOUT);
	cr_assert_eq(w.calls, 0);
	expect_no_files(&f);
	dix_fx_free(&f);
}

Test(dix_build_limits, a_build_on_one_thread_starts_no_other_threads)
{
	struct dix_fx f;
	struct dann_build_params p;
	struct watch w = { 0 };
	int before;

	dix_fx_data(&f, 3000, 16, 1);
	params(&p, &w);
	before = process_threads();
	cr_assert_eq(dann_index_build(f.data, f.dir, &p), 0, "%s", dann_errmsg());
	/* OpenMP keeps its pool threads once made, so any phase that ran on
	 * more than the one thread asked for (PQ training and encoding did,
	 * on every core) shows here and in the phases' own counts. */
	cr_assert_eq(process_threads(), before, "threads: %d before, %d after", before,
		     process_threads());
	cr_assert_eq(w.max_threads, before, "a phase ran with %d threads", w.max_threads);
	dix_fx_free(&f);
}

Test(dix_build_limits, a_partitioned_build_through_the_library_finds_neighbours)
{
	struct dix_fx f;
	struct dann_build_params p;
	struct dann_search_params sp;
	struct watch w = { 0 };
	struct dann_index *ix;
	uint32_t ids[10], found, hits = 0;
	float dists[10];

	dix_fx_data(&f, 4000, 16, 20);
	params(&p, &w);
	p.threads = 2;
	/* A quarter of what the in-RAM graph build needs. */
	p.build_ram_gib = 0.25 * (double)vam_build_bytes(4000, 16, DANN_DTYPE_F32, DANN_METRIC_L2,
							 &(struct vam_params){ .R = 16, .L = 32,
									       .threads = 2 }) /
			  (1024.0 * 1024 * 1024);
	cr_assert_eq(dann_index_build(f.data, f.dir, &p), 0, "%s", dann_errmsg());
	cr_assert(w.partitioned, "the build did not partition");
	cr_assert_eq(dann_index_open(f.dir, NULL, &ix), 0, "%s", dann_errmsg());
	dann_search_params_default(&sp);
	sp.L = 60;
	/* Each stored point, searched for, is its own nearest neighbour. */
	for (uint32_t i = 0; i < 20; i++) {
		cr_assert_eq(dann_search(ix, f.x + (size_t)i * 199 * 16, &sp, ids, dists, &found,
					 NULL), 0, "%s", dann_errmsg());
		hits += found > 0 && ids[0] == i * 199;
	}
	cr_assert_geq(hits, 19, "%u of 20 points found themselves", hits);
	dann_index_close(ix);
	dix_fx_free(&f);
}

Test(dix_build_limits, a_build_killed_midway_leaves_nothing_at_the_output_and_can_be_redone)
{
	static const char *phases[] = { "pq encode", "vamana", "layout" };

	for (int k = 0; k < 3; k++) {
		struct dix_fx f;
		struct dann_build_params p;
		struct watch w = { .kill_at = phases[k] };
		struct dann_index *ix;
		struct stat st;
		int status;
		pid_t pid;

		dix_fx_data(&f, 3000, 16, 1);
		params(&p, &w);
		fflush(NULL);
		cr_assert((pid = fork()) >= 0);
		if (pid == 0) {
			dann_index_build(f.data, f.dir, &p);
			_exit(0); /* not reached: killed in the phase */
		}
		cr_assert_eq(waitpid(pid, &status, 0), pid);
		cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
			  "the build was not killed in %s", phases[k]);
		cr_assert_neq(stat(f.dir, &st), 0, "killed in %s: %s exists", phases[k], f.dir);
		w.kill_at = NULL;
		cr_assert_eq(dann_index_build(f.data, f.dir, &p), 0, "rebuild after a kill in %s: %s",
			     phases[k], dann_errmsg());
		cr_assert_eq(dann_index_open(f.dir, NULL, &ix), 0, "%s", dann_errmsg());
		dann_index_close(ix);
		dix_fx_free(&f);
	}
}
