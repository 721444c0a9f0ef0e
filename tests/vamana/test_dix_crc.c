/*
 * test_dix_crc.c — the per-block checksums of disk.index (format version
 * 2): one flipped bit inside a stored vector makes the search, the batch
 * search and the cache fill fail with DANN_ECORRUPT naming the file and
 * the sector, instead of returning a wrong distance; a version 1 index is
 * refused with a message asking for a rebuild.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crc.h"
#include "dann.h"
#include "dix_testutil.h"
#include "error.h"
#include "helpers/cli.h"
#include "vamana/dix.h"
#include "vamana/dix_format.h"
#include "vf.h"

#define NQ 4

struct fx {
	char tmp[256];
	char data[512], dir[512];
	float *x, *q;
	uint32_t n, dim;
};

static void fx_build(struct fx *f, uint32_t n, uint32_t dim)
{
	unsigned seed = 5;
	char *err = NULL;
	int rc;

	memset(f, 0, sizeof *f);
	tu_mkdtemp(f->tmp, sizeof f->tmp);
	TU_FMT(f->data, "%s/data.fbin", f->tmp);
	TU_FMT(f->dir, "%s/index", f->tmp);
	f->n = n;
	f->dim = dim;
	f->x = malloc(sizeof *f->x * n * dim);
	f->q = malloc(sizeof *f->q * NQ * dim);
	for (uint64_t i = 0; i < (uint64_t)n * dim; i++)
		f->x[i] = (float)(rand_r(&seed) % 1000) / 100.0f;
	for (uint64_t i = 0; i < (uint64_t)NQ * dim; i++)
		f->q[i] = (float)(rand_r(&seed) % 1000) / 100.0f;
	cr_assert_eq(vf_write_file(f->data, dim, f->x, n), 0, "%s", dann_errmsg());
	setenv("OMP_WAIT_POLICY", "passive", 0);
	rc = cli_run(NULL, &err, "build", "--data", f->data, "--out", f->dir, "-R", "16", "-L", "32",
		     "--pq-bytes", "4", "--threads", "1", "--order", "plain", NULL);
	cr_assert_eq(rc, 0, "dann build: %s", err);
	free(err);
}

static void fx_free(struct fx *f)
{
	tu_rmtree(f->tmp);
	free(f->x);
	free(f->q);
}

/* Flips bit `bit` of the byte at offset in dir/name. */
static void flip_bit(const char *dir, const char *name, uint64_t offset, int bit)
{
	char path[PATH_MAX];
	unsigned char b;
	int fd;

	TU_FMT(path, "%s/%s", dir, name);
	cr_assert((fd = open(path, O_RDWR)) >= 0, "open %s", path);
	cr_assert_eq(pread(fd, &b, 1, (off_t)offset), 1);
	b ^= (unsigned char)(1u << bit);
	cr_assert_eq(pwrite(fd, &b, 1, (off_t)offset), 1);
	close(fd);
}

/* Flips one bit in the middle of the entry point's stored vector (plain
 * layout: slot = id), which every search reads first; returns the sector. */
static uint64_t damage_entry_vector(struct fx *f, uint32_t byte_in_vector)
{
	struct dix_header h;
	uint64_t off;

	cr_assert_eq(dix_read_header(f->dir, &h), 0, "%s", dann_errmsg());
	cr_assert_eq(h.version, DIX_VERSION);
	off = dix_slot_sector_offset(&h, h.entry[0]) + dix_slot_in_sector(&h, h.entry[0]) +
	      byte_in_vector;
	flip_bit(f->dir, DIX_DATA_FILE, off, 3);
	return off / DIX_SECTOR;
}

static void expect_sector_error(int rc, uint64_t sector)
{
	char want[64];

	cr_assert_eq(rc, DANN_ECORRUPT, "rc %d: %s", rc, dann_errmsg());
	cr_assert_not_null(strstr(dann_errmsg(), DIX_DATA_FILE), "%s", dann_errmsg());
	snprintf(want, sizeof want, "sector %llu ", (unsigned long long)sector);
	cr_assert_not_null(strstr(dann_errmsg(), want), "want \"%s\" in: %s", want, dann_errmsg());
	cr_assert_not_null(strstr(dann_errmsg(), "checksum"), "%s", dann_errmsg());
}

Test(dix_crc, every_block_written_carries_the_checksum_of_its_bytes)
{
	struct fx f;
	struct dix_header h;
	char path[600];
	char *buf;
	int fd;

	fx_build(&f, 300, 24);
	cr_assert_eq(dix_read_header(f.dir, &h), 0, "%s", dann_errmsg());
	TU_FMT(path, "%s/%s", f.dir, DIX_DATA_FILE);
	buf = malloc(dix_read_bytes(&h));
	cr_assert((fd = open(path, O_RDONLY)) >= 0);
	for (uint64_t b = 0; b < h.node_sectors / h.sectors_per_node; b++) {
		uint64_t off = (1 + b * h.sectors_per_node) * DIX_SECTOR;
		cr_assert_eq(pread(fd, buf, dix_read_bytes(&h), (off_t)off), dix_read_bytes(&h));
		cr_assert_eq(dix_block_crc_stored(buf, dix_read_bytes(&h)),
			     crc32c(0, buf, dix_read_bytes(&h) - DIX_BLOCK_CRC_BYTES), "block %llu",
			     (unsigned long long)b);
	}
	close(fd);
	free(buf);
	fx_free(&f);
}

Test(dix_crc, a_flipped_bit_in_a_stored_vector_fails_the_search_naming_file_and_sector)
{
	struct fx f;
	struct dann_index *ix;
	struct dann_search_params p;
	uint32_t ids[10 * NQ], found[NQ];
	float dists[10 * NQ];
	uint64_t sector;

	fx_build(&f, 300, 24);
	sector = damage_entry_vector(&f, 10);
	/* Open does not read the node file (verify_all is off) ... */
	cr_assert_eq(dann_index_open(f.dir, NULL, &ix), 0, "%s", dann_errmsg());
	dann_search_params_default(&p);
	/* ... but the first read of the damaged sector is caught. */
	expect_sector_error(dann_search(ix, f.q, &p, ids, dists, found, NULL), sector);
	expect_sector_error(dann_search_batch(ix, f.q, NQ, &p, ids, dists, found, NULL), sector);
	p.io_backend = 3; /* pread: the check is not the ring's */
	expect_sector_error(dann_search(ix, f.q, &p, ids, dists, found, NULL), sector);
	dann_index_close(ix);
	fx_free(&f);
}

Test(dix_crc, the_cache_fill_checks_the_sectors_it_reads)
{
	struct fx f;
	struct dann_index *ix = NULL;
	struct dann_open_params op = { .cache_nodes = 50 };
	uint64_t sector;

	fx_build(&f, 300, 24);
	sector = damage_entry_vector(&f, 0);
	expect_sector_error(dann_index_open(f.dir, &op, &ix), sector);
	cr_assert_null(ix);
	fx_free(&f);
}

Test(dix_crc, nodes_larger_than_a_sector_are_checked_over_their_whole_block)
{
	struct fx f;
	struct dann_index *ix;
	struct dann_search_params p;
	struct dix_header h;
	uint32_t ids[10], found;
	float dists[10];
	uint64_t sector;

	fx_build(&f, 60, 1100); /* 4468-byte records: two-sector blocks */
	cr_assert_eq(dix_read_header(f.dir, &h), 0, "%s", dann_errmsg());
	cr_assert_eq(h.sectors_per_node, 2);
	/* A bit in the block's second sector: the error names the block's
	 * first sector, where the read starts. */
	sector = damage_entry_vector(&f, 4200);
	cr_assert_eq(dann_index_open(f.dir, NULL, &ix), 0, "%s", dann_errmsg());
	dann_search_params_default(&p);
	expect_sector_error(dann_search(ix, f.q, &p, ids, dists, &found, NULL), sector - 1);
	dann_index_close(ix);
	fx_free(&f);
}

Test(dix_crc, a_version_1_index_is_refused_with_a_rebuild_message)
{
	struct fx f;
	struct dann_index *ix = NULL;
	struct dix_header h;
	char path[600];
	int fd;

	fx_build(&f, 100, 8);
	cr_assert_eq(dix_read_header(f.dir, &h), 0, "%s", dann_errmsg());
	h.version = 1;
	h.crc = 0;
	h.crc = crc32c(0, &h, sizeof h);
	TU_FMT(path, "%s/%s", f.dir, DIX_DATA_FILE);
	cr_assert((fd = open(path, O_WRONLY)) >= 0);
	cr_assert_eq(pwrite(fd, &h, sizeof h, 0), (ssize_t)sizeof h);
	close(fd);
	cr_assert_eq(dann_index_open(f.dir, NULL, &ix), DANN_EUNSUPPORTED);
	cr_assert_null(ix);
	cr_assert_not_null(strstr(dann_errmsg(), "version 1"), "%s", dann_errmsg());
	cr_assert_not_null(strstr(dann_errmsg(), "rebuild"), "%s", dann_errmsg());
	fx_free(&f);
}

Test(dix_crc, the_exact_filter_plan_checks_the_sectors_it_reads)
{
	struct fx f;
	struct dann_index *ix;
	struct dann_search_params p;
	uint32_t ids[10], found;
	float dists[10];
	uint64_t sector, allowed[(300 + 63) / 64];
	struct dix_header h;

	fx_build(&f, 300, 24);
	cr_assert_eq(dix_read_header(f.dir, &h), 0, "%s", dann_errmsg());
	sector = damage_entry_vector(&f, 10);
	/* Only the damaged node is allowed: the exact plan re-ranks it from
	 * SSD. */
	memset(allowed, 0, sizeof allowed);
	allowed[h.entry[0] / 64] |= 1ull << (h.entry[0] % 64);
	cr_assert_eq(dann_index_open(f.dir, NULL, &ix), 0, "%s", dann_errmsg());
	dann_search_params_default(&p);
	p.allowed = allowed;
	p.allowed_bits = 300;
	p.filter_plan = DANN_PLAN_EXACT;
	expect_sector_error(dann_search(ix, f.q, &p, ids, dists, &found, NULL), sector);
	dann_index_close(ix);
	fx_free(&f);
}
