/*
 * dix_entry.c — the in-RAM entry graph over a sample of the index's
 * points (see dix_entry.h).
 *
 * The sample is uniform (Knuth's selection sampling, ids ascending), so it
 * covers the data as densely as the data is dense; its graph is an
 * ordinary Vamana graph (vam_build) searched with exact distances, at a
 * cost per query of a few hundred distance computations in RAM against
 * the SSD reads it saves.
 */
#include "dix_entry.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../error.h"
#include "../rng.h"
#include "../vf.h"
#include "dix_format.h"
#include "dix_manifest.h"
#include "vamana.h"

#define ENTRY_FRACTION 100u       /* auto: one point in a hundred ... */
#define ENTRY_MIN 1000u           /* ... but at least this many (or all) ... */
#define ENTRY_MAX 1000000u        /* ... and at most this many */
#define ENTRY_R 32u               /* the sample graph's max degree and build list */
#define ENTRY_BUILD_L 64u
#define ENTRY_SEED 0x5eed5eedull  /* sampling; fixed so rebuilds agree */
#define ENTRY_SEARCH_L_MIN 32u    /* list size of the sample search */

struct dix_entry {
	struct vam *g;
	uint32_t *ids;            /* sample point i is internal id ids[i] */
	uint64_t count;
	uint64_t row_bytes;
};

uint64_t dix_entry_sample_size(uint64_t requested, uint64_t n)
{
	uint64_t s;

	if (requested == 0 || n == 0)
		return 0;
	if (requested != DANN_ENTRY_SAMPLE_AUTO)
		return requested < n ? requested : n;
	s = n / ENTRY_FRACTION;
	if (s < ENTRY_MIN)
		s = ENTRY_MIN;
	if (s > ENTRY_MAX)
		s = ENTRY_MAX;
	return s < n ? s : n;
}

static void entry_params(struct vam_params *vp, uint32_t threads)
{
	vam_params_default(vp);
	vp->R = ENTRY_R;
	vp->L = ENTRY_BUILD_L;
	vp->threads = threads;
}

int dix_entry_build(const char *dir, const struct vf *f, enum dann_metric metric, uint64_t sample,
		    uint32_t threads)
{
	uint64_t n = vf_count(f), row = (uint64_t)vf_dim(f) * dann_dtype_size(vf_dtype(f));
	uint64_t state = ENTRY_SEED, chosen = 0;
	char path[PATH_MAX];
	struct vam_params vp;
	struct vam *g = NULL;
	uint32_t *ids = NULL;
	char *file = NULL;
	int rc;

	if (sample == 0 || sample > n || sample > UINT32_MAX)
		return dann_fail(DANN_EINVAL, "entry graph: sample of %llu from %llu points",
				 (unsigned long long)sample, (unsigned long long)n);
	if (snprintf(path, sizeof path, "%s/%s", dir, DIX_ENTRY_GRAPH_FILE) >= (int)sizeof path)
		return dann_fail(DANN_EINVAL, "%s: path too long", dir);
	/* ids, then the rows right after them: the file's layout in RAM. */
	if (!(file = malloc(sizeof *ids * sample + row * sample)))
		return dann_fail(DANN_ENOMEM, "entry graph: no memory for %llu sample rows",
				 (unsigned long long)sample);
	ids = (uint32_t *)file;
	for (uint64_t i = 0; i < n && chosen < sample; i++) {
		/* Selection sampling: take i with probability (left to choose) /
		 * (left to see); 53 random bits make the comparison exact enough. */
		double u = (double)(rng_splitmix64(&state) >> 11) * 0x1p-53;
		if (u * (double)(n - i) < (double)(sample - chosen))
			ids[chosen++] = (uint32_t)i;
	}
	for (uint64_t i = 0; i < sample; i++)
		if ((rc = vf_read(f, ids[i], 1, file + sizeof *ids * sample + i * row)) < 0)
			goto out;
	entry_params(&vp, threads);
	if ((rc = vam_build(metric, vf_dtype(f), vf_dim(f), file + sizeof *ids * sample, sample, &vp,
			    &g)) < 0 ||
	    (rc = vam_save(g, path)) < 0 ||
	    (rc = dix_write_small_file(dir, DIX_ENTRY_FILE, file, (sizeof *ids + row) * sample)) < 0)
		goto out;
out:
	vam_free(g);
	free(file);
	return rc;
}

int dix_entry_load(const char *dir, enum dann_metric metric, enum dann_dtype dtype, uint32_t dim,
		   uint64_t n, struct dix_entry **out)
{
	const struct dix_manifest_entry *me, *mg;
	struct dix_manifest m;
	struct vam_file_header h;
	struct vam_params vp;
	struct dix_entry *e = NULL;
	char path[PATH_MAX];
	uint64_t row = (uint64_t)dim * dann_dtype_size(dtype);
	char *file = NULL;
	int rc;

	*out = NULL;
	if ((rc = dix_manifest_read(dir, &m)) < 0)
		return rc;
	me = dix_manifest_find(&m, DIX_ENTRY_FILE);
	mg = dix_manifest_find(&m, DIX_ENTRY_GRAPH_FILE);
	if (!me && !mg)
		return 0;
	if (!me || !mg)
		return dann_fail(DANN_ECORRUPT, "%s/%s: lists %s without %s", dir, DIX_MANIFEST_FILE,
				 me ? DIX_ENTRY_FILE : DIX_ENTRY_GRAPH_FILE,
				 me ? DIX_ENTRY_GRAPH_FILE : DIX_ENTRY_FILE);
	if (snprintf(path, sizeof path, "%s/%s", dir, DIX_ENTRY_GRAPH_FILE) >= (int)sizeof path)
		return dann_fail(DANN_EINVAL, "%s: path too long", dir);
	if ((rc = vam_file_read_header(path, &h)) < 0)
		return rc;
	if (h.n == 0 || h.n > n || me->size != (sizeof(uint32_t) + row) * h.n)
		return dann_fail(DANN_ECORRUPT, "%s/%s: %llu bytes for a sample of %llu points of %llu "
				 "bytes (index of %llu)", dir, DIX_ENTRY_FILE,
				 (unsigned long long)me->size, (unsigned long long)h.n,
				 (unsigned long long)row, (unsigned long long)n);
	if (!(e = calloc(1, sizeof *e)))
		return dann_fail(DANN_ENOMEM, "%s: no memory for the entry graph", dir);
	if ((rc = dix_read_small_file(dir, DIX_ENTRY_FILE, me->size, (void **)&file)) < 0)
		goto fail;
	e->count = h.n;
	e->row_bytes = row;
	if (!(e->ids = malloc(sizeof *e->ids * h.n))) {
		rc = dann_fail(DANN_ENOMEM, "%s: no memory for the entry graph", dir);
		goto fail;
	}
	memcpy(e->ids, file, sizeof *e->ids * h.n);
	for (uint64_t i = 0; i < h.n; i++)
		if (e->ids[i] >= n || (i > 0 && e->ids[i] <= e->ids[i - 1])) {
			rc = dann_fail(DANN_ECORRUPT, "%s/%s: sample id %llu (%u) out of order or >= %llu",
				       dir, DIX_ENTRY_FILE, (unsigned long long)i, e->ids[i],
				       (unsigned long long)n);
			goto fail;
		}
	entry_params(&vp, 1);
	if ((rc = vam_load(path, metric, dtype, dim, file + sizeof *e->ids * h.n, h.n, &vp, &e->g)) < 0)
		goto fail;
	free(file);
	*out = e;
	return 0;
fail:
	free(file);
	dix_entry_free(e);
	return rc;
}

void dix_entry_free(struct dix_entry *e)
{
	if (!e)
		return;
	vam_free(e->g);
	free(e->ids);
	free(e);
}

int dix_entry_seeds(struct dix_entry *e, const float *q, uint32_t want, uint32_t *ids, uint32_t *n)
{
	float dists[DIX_ENTRY_MAX_SEEDS];
	uint32_t L;
	int rc;

	*n = 0;
	if (want > DIX_ENTRY_MAX_SEEDS)
		want = DIX_ENTRY_MAX_SEEDS;
	if (want > e->count)
		want = (uint32_t)e->count;
	if (want == 0)
		return 0;
	L = want < ENTRY_SEARCH_L_MIN ? ENTRY_SEARCH_L_MIN : want;
	if ((rc = vam_search(e->g, q, want, L, NULL, ids, dists, n, NULL)) < 0)
		return rc;
	for (uint32_t i = 0; i < *n; i++)
		ids[i] = e->ids[ids[i]];
	return 0;
}

uint64_t dix_entry_count(const struct dix_entry *e)
{
	return e ? e->count : 0;
}

const uint32_t *dix_entry_ids(const struct dix_entry *e)
{
	return e ? e->ids : NULL;
}

uint64_t dix_entry_ram_bytes(const struct dix_entry *e)
{
	if (!e)
		return 0;
	return e->count * (sizeof *e->ids + e->row_bytes + sizeof(uint32_t) * (1 + ENTRY_R));
}
