/*
 * test_durable.c — every durable writer of the library (vector files, PQ
 * pivots and codes, the graph file, an index stage) reports a failed fsync
 * of the directory that holds its new name. Before fsutil, the graph
 * writer dropped that error ("best effort"), so a build could report
 * success for a rename that a power cut would undo.
 *
 * The fault is injected by interposing fsync: the test executable's
 * definition takes precedence over libc's for the statically linked
 * library; it fails with EIO on directories while armed.
 */
#include <criterion/criterion.h>
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"
#include "pq/pq.h"
#include "vamana/dix_manifest.h"
#include "vamana/vamana.h"
#include "vf.h"
#include "helpers/tmpdir.h"

static int fail_dir_fsync;
static unsigned dir_fsyncs_failed;

int fsync(int fd)
{
	static int (*real)(int);
	struct stat st;

	if (!real)
		real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
	if (fail_dir_fsync && fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
		dir_fsyncs_failed++;
		errno = EIO;
		return -1;
	}
	return real(fd);
}

static void setup(void)
{
	tmpdir_make("durable");
}

static void teardown(void)
{
	fail_dir_fsync = 0;
	tmpdir_remove();
}

TestSuite(durable, .init = setup, .fini = teardown);

#define N 600
#define DIM 8

static float *points(void)
{
	float *x = malloc(sizeof *x * N * DIM);
	cr_assert_not_null(x);
	for (int i = 0; i < N * DIM; i++)
		x[i] = (float)((i * 7919) % 1000) / 100.0f;
	return x;
}

static void expect_dir_fsync_error(int rc, const char *what)
{
	cr_assert_eq(rc, DANN_EIO, "%s: rc %d (%s)", what, rc, dann_errmsg());
	cr_assert_not_null(strstr(dann_errmsg(), "fsync"), "%s: %s", what, dann_errmsg());
	cr_assert_gt(dir_fsyncs_failed, 0, "%s: no directory fsync was attempted", what);
	cr_assert_not_null(strstr(dann_errmsg(), tmpdir_get()), "%s: %s", what, dann_errmsg());
}

static void arm(void)
{
	fail_dir_fsync = 1;
	dir_fsyncs_failed = 0;
}

Test(durable, a_vector_file_writer_reports_a_failed_directory_fsync)
{
	float *x = points();

	arm();
	expect_dir_fsync_error(vf_write_file(tmpdir_path("x.fbin"), DIM, x, N), "vf_write_file");
	free(x);
}

Test(durable, the_pq_writer_reports_a_failed_directory_fsync)
{
	struct pq_params p;
	struct pq *pq;
	float *x = points();

	pq_params_default(&p, DANN_METRIC_L2, 4);
	cr_assert_eq(pq_train(&p, x, DANN_DTYPE_F32, N, DIM, &pq, NULL), 0, "%s", dann_errmsg());
	cr_assert_eq(pq_encode_array(pq, x, DANN_DTYPE_F32, N), 0, "%s", dann_errmsg());
	arm();
	expect_dir_fsync_error(pq_save(pq, tmpdir_get()), "pq_save");
	pq_free(pq);
	free(x);
}

Test(durable, the_graph_writer_reports_a_failed_directory_fsync)
{
	struct vam_params p;
	struct vam *v;
	float *x = points();

	vam_params_default(&p);
	p.R = 8;
	p.L = 16;
	p.threads = 1;
	cr_assert_eq(vam_build(DANN_METRIC_L2, DANN_DTYPE_F32, DIM, x, N, &p, &v), 0, "%s",
		     dann_errmsg());
	arm();
	expect_dir_fsync_error(vam_save(v, tmpdir_path("g.graph")), "vam_save");
	vam_free(v);
	free(x);
}

Test(durable, an_index_stage_reports_a_failed_directory_fsync)
{
	struct dix_stage *st;

	cr_assert_eq(dix_stage_begin(tmpdir_path("index"), &st), 0, "%s", dann_errmsg());
	cr_assert_eq(dix_write_small_file(dix_stage_dir(st), "ids", "12345678", 8), 0);
	arm();
	expect_dir_fsync_error(dix_stage_commit(st), "dix_stage_commit");
}
