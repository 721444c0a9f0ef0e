/*
 * test_dix_layout_rss.c — the layout step reads the graph file by pread
 * (dix_graph.h): it writes the same node file as from a graph in RAM, it
 * refuses a bad row with an error naming the node, and it keeps the graph
 * out of the process's RSS.
 *
 * The layout once mapped the graph file; the locality order's walk and
 * the writer touched every row, so the whole file stayed resident (388 MiB
 * under a 256 MiB --build-ram budget on 1M x 128). Here the graph file is
 * 78 MiB and the layout is held to a fifth of that: the peak RSS of this
 * test's own process (Criterion runs each test in its own), from a
 * high-water mark reset after the file is written. Skipped under
 * AddressSanitizer, whose allocator makes RSS say nothing.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dix_testutil.h"
#include "error.h"
#include "helpers/rss.h"
#include "vamana/dix_graph.h"
#include "vamana/dix_write.h"
#include "vamana/vam_file.h"
#include "vamana/vamana.h"

#define DIM 8u
#define CHUNK_ROWS 8192u

/* Vectors from the node id alone, so the test keeps none in RAM. */
static int rows_of_id(void *arg, uint64_t first, uint64_t n, void *dst)
{
	uint8_t *d = dst;
	(void)arg;
	for (uint64_t i = 0; i < n; i++)
		for (uint32_t j = 0; j < DIM; j++)
			d[i * DIM + j] = (uint8_t)((first + i) * 31 + j * 7);
	return 0;
}

/* Node i's row: degree 1..R, neighbours from a per-node seed, so the file
 * and the in-RAM copy agree without holding either whole. */
static uint32_t random_row(uint64_t i, uint64_t n, uint32_t R, uint32_t *row)
{
	unsigned seed = (unsigned)(i * 2654435761u + 17);
	uint32_t d = 1 + (uint32_t)(rand_r(&seed) % R);

	memset(row, 0, sizeof *row * R);
	for (uint32_t j = 0; j < d; j++)
		row[j] = (uint32_t)(rand_r(&seed) % n);
	return d;
}

static void write_graph_file(const char *path, uint64_t n, uint32_t R)
{
	struct vam_file_header h = { .R = R, .n = n, .medoid = (uint32_t)(n / 3),
				     .metric = DANN_METRIC_L2, .dtype = DANN_DTYPE_U8, .dim = DIM };
	uint32_t *deg = malloc(sizeof *deg * CHUNK_ROWS), *rows = malloc(sizeof *rows * CHUNK_ROWS * R);
	struct vam_gw *w;

	cr_assert(deg && rows);
	cr_assert_eq(vam_gw_create(path, &h, &w), 0, "%s", dann_errmsg());
	for (uint64_t i0 = 0; i0 < n; i0 += CHUNK_ROWS) {
		uint64_t m = n - i0 < CHUNK_ROWS ? n - i0 : CHUNK_ROWS;
		for (uint64_t i = 0; i < m; i++)
			deg[i] = random_row(i0 + i, n, R, rows + i * R);
		cr_assert_eq(vam_gw_put(w, i0, m, deg, rows), 0, "%s", dann_errmsg());
	}
	cr_assert_eq(vam_gw_close(w), 0, "%s", dann_errmsg());
	free(deg);
	free(rows);
}

static int layout(const char *dir, const struct dix_graph *g)
{
	struct dix_write_params p = { .metric = DANN_METRIC_L2, .dtype = DANN_DTYPE_U8, .dim = DIM,
				      .layout = DIX_LAYOUT_LOCALITY };
	char cmd[PATH_MAX + 16];

	TU_FMT(cmd, "mkdir -p '%s'", dir);
	cr_assert_eq(system(cmd), 0);
	return dix_write_nodes(dir, &p, g, rows_of_id, NULL);
}

static void *slurp(const char *dir, const char *name, size_t *len)
{
	char path[PATH_MAX];
	FILE *f;
	void *buf;
	long sz;

	TU_FMT(path, "%s/%s", dir, name);
	cr_assert_not_null(f = fopen(path, "rb"), "%s", path);
	fseek(f, 0, SEEK_END);
	sz = ftell(f);
	rewind(f);
	cr_assert_not_null(buf = malloc((size_t)sz + 1));
	cr_assert_eq(fread(buf, 1, (size_t)sz, f), (size_t)sz);
	fclose(f);
	*len = (size_t)sz;
	return buf;
}

Test(dix_layout, a_graph_read_from_its_file_lays_out_the_same_bytes_as_from_ram)
{
	const uint64_t n = 3000;
	const uint32_t R = 24;
	char tmp[PATH_MAX], gpath[PATH_MAX], a[PATH_MAX], b[PATH_MAX];
	uint32_t *nbrs = malloc(sizeof *nbrs * n * R), *degree = malloc(sizeof *degree * n);
	struct dix_graph mem, file;
	const char *names[] = { DIX_DATA_FILE, DIX_SLOTS_FILE };

	cr_assert(nbrs && degree);
	tu_mkdtemp(tmp, sizeof tmp);
	TU_FMT(gpath, "%s/graph.vam", tmp);
	TU_FMT(a, "%s/ram", tmp);
	TU_FMT(b, "%s/file", tmp);
	for (uint64_t i = 0; i < n; i++)
		degree[i] = random_row(i, n, R, nbrs + i * R);
	write_graph_file(gpath, n, R);
	mem = (struct dix_graph){ .n = n, .R = R, .nbrs = nbrs, .degree = degree, .n_entry = 1,
				  .entry = { (uint32_t)(n / 3) } };
	cr_assert_eq(dix_graph_open_file(gpath, n, DIM, &file), 0, "%s", dann_errmsg());
	cr_assert_eq(file.entry[0], n / 3, "the medoid comes from the file's header");
	cr_assert_eq(layout(a, &mem), 0, "%s", dann_errmsg());
	cr_assert_eq(layout(b, &file), 0, "%s", dann_errmsg());
	dix_graph_close(&file);
	cr_assert_null(file.file);
	for (int k = 0; k < 2; k++) {
		size_t la, lb;
		void *x = slurp(a, names[k], &la), *y = slurp(b, names[k], &lb);
		cr_assert_eq(la, lb, "%s: %zu vs %zu bytes", names[k], la, lb);
		cr_assert(memcmp(x, y, la) == 0, "%s differs", names[k]);
		free(x);
		free(y);
	}
	free(nbrs);
	free(degree);
	tu_rmtree(tmp);
}

Test(dix_layout, a_neighbour_out_of_range_in_the_file_is_refused_naming_the_node)
{
	const uint64_t n = 500;
	const uint32_t R = 8, bad = 77, huge = 999999;
	char tmp[PATH_MAX], gpath[PATH_MAX], out[PATH_MAX];
	struct dix_graph g;
	FILE *f;

	tu_mkdtemp(tmp, sizeof tmp);
	TU_FMT(gpath, "%s/graph.vam", tmp);
	TU_FMT(out, "%s/index", tmp);
	write_graph_file(gpath, n, R);
	/* The first slot of node 77's row (the header's CRC is not what the
	 * layout checks: the build wrote the file a moment ago). */
	cr_assert_not_null(f = fopen(gpath, "r+b"));
	cr_assert_eq(fseek(f, (long)(VAM_FILE_HEADER_BYTES + n * 4 + bad * R * 4), SEEK_SET), 0);
	cr_assert_eq(fwrite(&huge, 4, 1, f), 1);
	fclose(f);
	cr_assert_eq(dix_graph_open_file(gpath, n, DIM, &g), 0, "%s", dann_errmsg());
	cr_assert_eq(layout(out, &g), DANN_EINVAL);
	cr_assert_not_null(strstr(dann_errmsg(), "node 77 "), "%s", dann_errmsg());
	dix_graph_close(&g);
	cr_assert_eq(dix_graph_open_file(gpath, n + 1, DIM, &g), DANN_ECORRUPT,
		     "a graph of another size than the data");
	cr_assert_not_null(strstr(dann_errmsg(), gpath), "%s", dann_errmsg());
	tu_rmtree(tmp);
}

Test(dix_layout, laying_out_a_graph_file_keeps_it_out_of_rss, .timeout = 300)
{
#if RSS_UNDER_ASAN
	cr_skip_test("RSS is not the layout's under AddressSanitizer");
#else
	const uint64_t n = 300000;
	const uint32_t R = 64;              /* 78 MiB of rows */
	const double bound_mib = 16;        /* degrees, slot maps, walk, write chunk: ~10 */
	char tmp[PATH_MAX], gpath[PATH_MAX], out[PATH_MAX];
	struct dix_graph g;
	double before, peak;

	tu_mkdtemp(tmp, sizeof tmp);
	TU_FMT(gpath, "%s/graph.vam", tmp);
	TU_FMT(out, "%s/index", tmp);
	write_graph_file(gpath, n, R);
	rss_reset_peak();
	before = rss_status_mib("VmRSS");
	cr_assert_eq(dix_graph_open_file(gpath, n, DIM, &g), 0, "%s", dann_errmsg());
	cr_assert_eq(layout(out, &g), 0, "%s", dann_errmsg());
	dix_graph_close(&g);
	peak = rss_status_mib("VmHWM");
	cr_log_info("layout of a %.0f MiB graph file: RSS %.1f MiB before, peak %.1f", n * (R + 1) * 4 / 1048576.0,
		    before, peak);
	cr_expect_leq(peak - before, bound_mib, "the layout took %.1f MiB over %.1f MiB before it "
		      "(bound %.0f MiB; the graph file is %.0f MiB)", peak - before, before, bound_mib,
		      n * (R + 1) * 4 / 1048576.0);
	tu_rmtree(tmp);
#endif
}
