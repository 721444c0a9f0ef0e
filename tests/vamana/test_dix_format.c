/*
 * test_dix_format.c — the disk index files as written: record placement,
 * the locality order, the manifest and the header checks, and the staging
 * that makes an index appear whole or not at all.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dix_testutil.h"
#include "error.h"
#include "vamana/dix.h"
#include "vamana/dix_manifest.h"
#include "vamana/dix_write.h"

struct fixture {
	char tmp[PATH_MAX];
	char dir[PATH_MAX];
	uint64_t n;
	uint32_t dim, R, elem;
	enum dann_dtype dtype;
	uint8_t *vecs;
	uint32_t *nbrs, *degree;
	struct dix_graph g;
};

static int rows_from_array(void *arg, uint64_t first, uint64_t n, void *dst)
{
	struct fixture *f = arg;
	memcpy(dst, f->vecs + first * f->dim * f->elem, n * f->dim * f->elem);
	return 0;
}

static void fixture_make(struct fixture *f, uint64_t n, uint32_t dim, uint32_t R,
			 enum dann_dtype dtype)
{
	unsigned seed = 42;

	memset(f, 0, sizeof *f);
	tu_mkdtemp(f->tmp, sizeof f->tmp);
	TU_FMT(f->dir, "%s/index", f->tmp);
	f->n = n;
	f->dim = dim;
	f->R = R;
	f->dtype = dtype;
	f->elem = (uint32_t)dann_dtype_size(dtype);
	f->vecs = malloc(n * dim * f->elem);
	f->nbrs = malloc(sizeof *f->nbrs * n * R);
	f->degree = malloc(sizeof *f->degree * n);
	for (uint64_t i = 0; i < n * dim * f->elem; i++)
		f->vecs[i] = (uint8_t)rand_r(&seed);
	tu_random_graph(n, R, 7, f->nbrs, f->degree);
	f->g = (struct dix_graph){ .n = n, .R = R, .nbrs = f->nbrs, .degree = f->degree,
				   .n_entry = 1, .entry = { (uint32_t)(n / 2) } };
}

static void fixture_free(struct fixture *f)
{
	tu_rmtree(f->tmp);
	free(f->vecs);
	free(f->nbrs);
	free(f->degree);
}

static int write_index(struct fixture *f, enum dix_layout layout)
{
	struct dix_write_params p = { .metric = DANN_METRIC_L2, .dtype = f->dtype, .dim = f->dim,
				      .layout = layout };
	struct dix_stage *st;
	int rc;

	if ((rc = dix_stage_begin(f->dir, &st)) < 0)
		return rc;
	if ((rc = dix_write_nodes(dix_stage_dir(st), &p, &f->g, rows_from_array, f)) < 0 ||
	    (rc = dix_write_ids(dix_stage_dir(st), NULL, f->n)) < 0) {
		dix_stage_abort(st);
		return rc;
	}
	return dix_stage_commit(st);
}

static char *slurp(const char *dir, const char *name, size_t *len)
{
	char path[PATH_MAX];
	FILE *fp;
	char *buf;
	long sz;

	TU_FMT(path, "%s/%s", dir, name);
	cr_assert_not_null(fp = fopen(path, "rb"), "%s", path);
	fseek(fp, 0, SEEK_END);
	sz = ftell(fp);
	fseek(fp, 0, SEEK_SET);
	buf = malloc((size_t)sz + 1);
	cr_assert_eq(fread(buf, 1, (size_t)sz, fp), (size_t)sz);
	fclose(fp);
	*len = (size_t)sz;
	return buf;
}

/* Every record holds its node's vector, degree and neighbours at the slot
 * the header's geometry says. */
static void check_records(struct fixture *f, const uint32_t *slot_of)
{
	struct dix_header h;
	size_t len;
	char *file;
	uint32_t vb = dix_vec_bytes(f->dim, f->elem);

	cr_assert_eq(dix_read_header(f->dir, &h), 0, "%s", dann_errmsg());
	file = slurp(f->dir, DIX_DATA_FILE, &len);
	cr_assert_eq(len, h.file_bytes);
	for (uint64_t i = 0; i < f->n; i++) {
		uint64_t s = slot_of ? slot_of[i] : i;
		const char *rec = file + dix_slot_sector_offset(&h, s) + dix_slot_in_sector(&h, s);
		cr_assert(dix_slot_in_sector(&h, s) + h.node_bytes <= dix_read_bytes(&h),
			  "node %llu straddles a sector", (unsigned long long)i);
		cr_assert_eq(memcmp(rec, f->vecs + i * f->dim * f->elem, f->dim * f->elem), 0,
			     "vector of node %llu", (unsigned long long)i);
		cr_assert_eq(dix_rec_degree(rec, vb), f->degree[i]);
		cr_assert_eq(memcmp(dix_rec_nbrs(rec, vb), f->nbrs + i * f->R, 4 * f->degree[i]), 0);
	}
	free(file);
}

Test(dix_format, plain_layout_puts_every_record_where_the_header_says)
{
	struct fixture f;
	struct dix_header h;

	fixture_make(&f, 500, 17, 8, DANN_DTYPE_U8); /* 56-byte records, 73 per sector */
	cr_assert_eq(write_index(&f, DIX_LAYOUT_PLAIN), 0, "%s", dann_errmsg());
	cr_assert_eq(dix_read_header(f.dir, &h), 0);
	cr_assert_eq(h.node_bytes, 20 + 4 + 32);
	cr_assert_eq(h.nodes_per_sector, 4096 / 56);
	cr_assert_eq(h.sectors_per_node, 1);
	cr_assert_eq(h.n, 500);
	cr_assert_eq(h.entry[0], 250);
	check_records(&f, NULL);
	fixture_free(&f);
}

Test(dix_format, records_larger_than_a_sector_take_whole_sectors)
{
	struct fixture f;
	struct dix_header h;

	fixture_make(&f, 20, 1100, 16, DANN_DTYPE_F32); /* 4468 bytes: two sectors each */
	cr_assert_eq(write_index(&f, DIX_LAYOUT_PLAIN), 0, "%s", dann_errmsg());
	cr_assert_eq(dix_read_header(f.dir, &h), 0);
	cr_assert_eq(h.sectors_per_node, 2);
	cr_assert_eq(h.file_bytes, (1 + 40) * 4096);
	check_records(&f, NULL);
	fixture_free(&f);
}

Test(dix_format, one_point_index_is_one_header_and_one_node_sector)
{
	struct fixture f;
	struct dix_header h;

	fixture_make(&f, 1, 8, 4, DANN_DTYPE_F32);
	cr_assert_eq(write_index(&f, DIX_LAYOUT_LOCALITY), 0, "%s", dann_errmsg());
	cr_assert_eq(dix_read_header(f.dir, &h), 0);
	cr_assert_eq(h.file_bytes, 2 * 4096);
	cr_assert_eq(h.entry[0], 0);
	check_records(&f, NULL);
	fixture_free(&f);
}

Test(dix_format, locality_order_is_a_permutation_that_packs_neighbours_together)
{
	struct fixture f;
	uint32_t *slot_of, *id_of, *slots_file;
	struct dix_header h;
	uint64_t mates_loc = 0, mates_plain = 0;
	size_t len;

	fixture_make(&f, 3000, 64, 12, DANN_DTYPE_U8); /* 116-byte records, 35 per sector */
	cr_assert_eq(write_index(&f, DIX_LAYOUT_LOCALITY), 0, "%s", dann_errmsg());
	cr_assert_eq(dix_read_header(f.dir, &h), 0);
	cr_assert_eq(h.layout, DIX_LAYOUT_LOCALITY);
	slots_file = (uint32_t *)slurp(f.dir, DIX_SLOTS_FILE, &len);
	cr_assert_eq(len, 4 * f.n);
	slot_of = slots_file;
	id_of = malloc(sizeof *id_of * f.n);
	memset(id_of, 0xff, sizeof *id_of * f.n);
	for (uint64_t i = 0; i < f.n; i++) {
		cr_assert_lt(slot_of[i], f.n);
		cr_assert_eq(id_of[slot_of[i]], UINT32_MAX, "slot %u used twice", slot_of[i]);
		id_of[slot_of[i]] = (uint32_t)i;
	}
	check_records(&f, slot_of);
	/* Edges whose ends share a sector: the point of the order. */
	for (uint64_t i = 0; i < f.n; i++)
		for (uint32_t j = 0; j < f.degree[i]; j++) {
			uint32_t v = f.nbrs[i * f.R + j];
			mates_loc += slot_of[i] / h.nodes_per_sector == slot_of[v] / h.nodes_per_sector;
			mates_plain += i / h.nodes_per_sector == v / h.nodes_per_sector;
		}
	cr_assert_gt(mates_loc, 5 * mates_plain, "locality %llu vs plain %llu same-sector edges",
		     (unsigned long long)mates_loc, (unsigned long long)mates_plain);
	free(id_of);
	free(slots_file);
	fixture_free(&f);
}

Test(dix_format, manifest_lists_every_file_with_its_size_and_checksum)
{
	struct fixture f;
	struct dix_manifest m;
	const struct dix_manifest_entry *e;
	struct stat st;
	char path[PATH_MAX];

	fixture_make(&f, 100, 16, 8, DANN_DTYPE_F32);
	cr_assert_eq(write_index(&f, DIX_LAYOUT_PLAIN), 0, "%s", dann_errmsg());
	cr_assert_eq(dix_manifest_read(f.dir, &m), 0, "%s", dann_errmsg());
	cr_assert_eq(m.n, 2);
	cr_assert_not_null(e = dix_manifest_find(&m, DIX_DATA_FILE));
	TU_FMT(path, "%s/%s", f.dir, DIX_DATA_FILE);
	cr_assert_eq(stat(path, &st), 0);
	cr_assert_eq(e->size, (uint64_t)st.st_size);
	cr_assert_not_null(e = dix_manifest_find(&m, DIX_IDS_FILE));
	cr_assert_eq(e->size, 8 * 100);
	cr_assert_eq(dix_manifest_verify(f.dir, &m, NULL), 0, "%s", dann_errmsg());
	fixture_free(&f);
}

Test(dix_format, verify_names_a_truncated_file)
{
	struct fixture f;
	struct dix_manifest m;

	fixture_make(&f, 100, 16, 8, DANN_DTYPE_F32);
	cr_assert_eq(write_index(&f, DIX_LAYOUT_PLAIN), 0);
	tu_truncate(f.dir, DIX_IDS_FILE, 8);
	cr_assert_eq(dix_manifest_read(f.dir, &m), 0);
	cr_assert_eq(dix_manifest_verify(f.dir, &m, NULL), DANN_ECORRUPT);
	cr_assert_not_null(strstr(dann_errmsg(), DIX_IDS_FILE), "%s", dann_errmsg());
	cr_assert_not_null(strstr(dann_errmsg(), "truncated"), "%s", dann_errmsg());
	fixture_free(&f);
}

Test(dix_format, verify_names_a_file_with_a_flipped_byte)
{
	struct fixture f;
	struct dix_manifest m;

	fixture_make(&f, 100, 16, 8, DANN_DTYPE_F32);
	cr_assert_eq(write_index(&f, DIX_LAYOUT_PLAIN), 0);
	tu_flip_byte(f.dir, DIX_DATA_FILE, 4096 + 100);
	cr_assert_eq(dix_manifest_read(f.dir, &m), 0);
	/* The loader skips the node file's checksum; a full verify does not. */
	cr_assert_eq(dix_manifest_verify(f.dir, &m, DIX_DATA_FILE), 0);
	cr_assert_eq(dix_manifest_verify(f.dir, &m, NULL), DANN_ECORRUPT);
	cr_assert_not_null(strstr(dann_errmsg(), DIX_DATA_FILE), "%s", dann_errmsg());
	fixture_free(&f);
}

Test(dix_format, a_damaged_manifest_is_rejected_by_name)
{
	struct fixture f;
	struct dix_manifest m;

	fixture_make(&f, 10, 4, 4, DANN_DTYPE_F32);
	cr_assert_eq(write_index(&f, DIX_LAYOUT_PLAIN), 0);
	tu_flip_byte(f.dir, DIX_MANIFEST_FILE, 3);
	cr_assert_eq(dix_manifest_read(f.dir, &m), DANN_ECORRUPT);
	cr_assert_not_null(strstr(dann_errmsg(), DIX_MANIFEST_FILE), "%s", dann_errmsg());
	fixture_free(&f);
}

Test(dix_format, header_checks_reject_bad_magic_checksum_and_length)
{
	struct fixture f;
	struct dix_header h;

	fixture_make(&f, 200, 16, 8, DANN_DTYPE_F32);
	cr_assert_eq(write_index(&f, DIX_LAYOUT_PLAIN), 0);
	tu_flip_byte(f.dir, DIX_DATA_FILE, 20); /* inside the header fields */
	cr_assert_eq(dix_read_header(f.dir, &h), DANN_ECORRUPT);
	cr_assert_not_null(strstr(dann_errmsg(), "disk.index: header checksum"), "%s", dann_errmsg());
	tu_flip_byte(f.dir, DIX_DATA_FILE, 20);
	cr_assert_eq(dix_read_header(f.dir, &h), 0, "%s", dann_errmsg());
	tu_flip_byte(f.dir, DIX_DATA_FILE, 0);
	cr_assert_eq(dix_read_header(f.dir, &h), DANN_ECORRUPT);
	cr_assert_not_null(strstr(dann_errmsg(), "bad magic"), "%s", dann_errmsg());
	tu_flip_byte(f.dir, DIX_DATA_FILE, 0);
	tu_truncate(f.dir, DIX_DATA_FILE, 4096);
	cr_assert_eq(dix_read_header(f.dir, &h), DANN_ECORRUPT);
	cr_assert_not_null(strstr(dann_errmsg(), "truncated"), "%s", dann_errmsg());
	fixture_free(&f);
}

Test(dix_format, an_existing_directory_is_never_overwritten)
{
	struct fixture f;

	fixture_make(&f, 10, 4, 4, DANN_DTYPE_F32);
	cr_assert_eq(write_index(&f, DIX_LAYOUT_PLAIN), 0);
	cr_assert_eq(write_index(&f, DIX_LAYOUT_PLAIN), DANN_EINVAL);
	cr_assert_not_null(strstr(dann_errmsg(), "already exists"), "%s", dann_errmsg());
	fixture_free(&f);
}

Test(dix_format, a_bad_graph_is_rejected_and_leaves_no_directory)
{
	struct fixture f;
	struct stat st;
	DIR *d;
	struct dirent *de;
	int entries = 0;

	fixture_make(&f, 50, 4, 4, DANN_DTYPE_F32);
	f.nbrs[7 * 4] = 50; /* node 7's first neighbour out of range */
	f.degree[7] = 1;
	cr_assert_eq(write_index(&f, DIX_LAYOUT_PLAIN), DANN_EINVAL);
	cr_assert_not_null(strstr(dann_errmsg(), "node 7 has neighbour 50"), "%s", dann_errmsg());
	cr_assert_neq(stat(f.dir, &st), 0);
	/* The stage was removed too. */
	cr_assert_not_null(d = opendir(f.tmp));
	while ((de = readdir(d)))
		entries += de->d_name[0] != '.';
	closedir(d);
	cr_assert_eq(entries, 0);
	fixture_free(&f);
}
