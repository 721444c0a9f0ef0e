/*
 * seg_catalog_local.c — the catalog of a data directory used without
 * dannd: every collection, segment and counter in one file, CATALOG,
 * rewritten whole on each change (fsu_write_file_atomic: temporary name,
 * fsync, rename, fsync of the directory), so a crash leaves the old
 * catalog or the new one. The file ends with a CRC32C of everything before
 * it; a bad checksum or size is DANN_ECORRUPT naming the file.
 *
 * Layout (little-endian): "DANNCAT1", u32 version, u32 sizeof coll record,
 * u32 sizeof segment record, u32 ncolls, u32 nsegs, u64 counters[4], the
 * collection records, the segment records, u32 crc. Dropped collections
 * and segments are not kept: their ids never come back (the counters
 * only grow), and the segment layer removes their files. Version 1 files
 * (before field defaults) are read through seg_catalog_v1.c. Version 2
 * records are today's size: index.opq sits where version 2 had padding
 * (whatever bytes it held), so it is read as 0, plain PQ.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../crc.h"
#include "../error.h"
#include "../fsutil.h"
#include "seg_impl.h"

#define CAT_FILE SEG_CATALOG_FILE
#define CAT_MAGIC "DANNCAT1"
#define CAT_VERSION 3u     /* 3: index.opq; 2: fields have defaults; 1 and 2 are still read */
#define CAT_NCOUNTERS 4

struct cat_head {
	char magic[8];
	uint32_t version, coll_size, seg_size, ncolls, nsegs, pad;
	uint64_t counters[CAT_NCOUNTERS];
};

struct local_cat {
	char path[PATH_MAX];
	pthread_mutex_t mu;
	struct dann_cat_coll *colls;
	size_t ncolls;
	struct dann_cat_segment *segs;
	size_t nsegs;
	uint64_t counters[CAT_NCOUNTERS];
};

static int cat_save(struct local_cat *lc, const struct dann_cat_coll *colls, size_t ncolls,
		    const struct dann_cat_segment *segs, size_t nsegs, const uint64_t *counters)
{
	size_t len = sizeof(struct cat_head) + ncolls * sizeof *colls + nsegs * sizeof *segs + 4;
	uint8_t *buf = calloc(1, len), *p;
	struct cat_head h;
	uint32_t crc;
	int rc;

	if (!buf)
		return dann_fail(DANN_ENOMEM, "%s: %zu bytes", lc->path, len);
	memset(&h, 0, sizeof h);
	memcpy(h.magic, CAT_MAGIC, 8);
	h.version = CAT_VERSION;
	h.coll_size = sizeof *colls;
	h.seg_size = sizeof *segs;
	h.ncolls = (uint32_t)ncolls;
	h.nsegs = (uint32_t)nsegs;
	memcpy(h.counters, counters, sizeof h.counters);
	p = buf;
	memcpy(p, &h, sizeof h);
	p += sizeof h;
	if (ncolls)
		memcpy(p, colls, ncolls * sizeof *colls);
	p += ncolls * sizeof *colls;
	if (nsegs)
		memcpy(p, segs, nsegs * sizeof *segs);
	p += nsegs * sizeof *segs;
	crc = crc32c(0, buf, (size_t)(p - buf));
	memcpy(p, &crc, 4);
	rc = fsu_write_file_atomic(lc->path, buf, len);
	free(buf);
	return rc;
}

static int cat_load(struct local_cat *lc)
{
	struct cat_head h;
	uint8_t *buf = NULL;
	size_t len, want;
	uint32_t crc;
	int rc;

	rc = fsu_read_file(lc->path, (void **)&buf, &len);
	if (rc == DANN_ENOTFOUND) {
		dann_clear_error();
		return cat_save(lc, NULL, 0, NULL, 0, lc->counters);
	}
	if (rc < 0)
		return rc;
	rc = DANN_ECORRUPT;
	if (len < sizeof h + 4) {
		dann_fail(rc, "%s: %zu bytes, shorter than its header", lc->path, len);
		goto out;
	}
	memcpy(&h, buf, sizeof h);
	memcpy(&crc, buf + len - 4, 4);
	if (memcmp(h.magic, CAT_MAGIC, 8) || h.version < 1 || h.version > CAT_VERSION ||
	    h.coll_size != (h.version == 1 ? seg_catalog_v1_coll_size() : sizeof(struct dann_cat_coll)) ||
	    h.seg_size != sizeof(struct dann_cat_segment)) {
		dann_fail(rc, "%s: not a version 1..%u catalog of this build", lc->path, CAT_VERSION);
		goto out;
	}
	want = sizeof h + (size_t)h.ncolls * h.coll_size + (size_t)h.nsegs * h.seg_size + 4;
	if (len != want) {
		dann_fail(rc, "%s: %zu bytes, header says %zu", lc->path, len, want);
		goto out;
	}
	if (crc32c(0, buf, len - 4) != crc) {
		dann_fail(rc, "%s: checksum mismatch", lc->path);
		goto out;
	}
	lc->colls = calloc(h.ncolls + 1, sizeof *lc->colls);
	lc->segs = calloc(h.nsegs + 1, sizeof *lc->segs);
	if (!lc->colls || !lc->segs) {
		rc = dann_fail(DANN_ENOMEM, "%s: loading", lc->path);
		goto out;
	}
	if (h.version == 1)
		for (uint32_t i = 0; i < h.ncolls; i++)
			seg_catalog_v1_coll(buf + sizeof h + (size_t)i * h.coll_size, &lc->colls[i]);
	else
		memcpy(lc->colls, buf + sizeof h, (size_t)h.ncolls * h.coll_size);
	if (h.version < 3)
		for (uint32_t i = 0; i < h.ncolls; i++)
			lc->colls[i].schema.index.opq = 0;
	memcpy(lc->segs, buf + sizeof h + (size_t)h.ncolls * h.coll_size, (size_t)h.nsegs * h.seg_size);
	lc->ncolls = h.ncolls;
	lc->nsegs = h.nsegs;
	memcpy(lc->counters, h.counters, sizeof h.counters);
	rc = 0;
out:
	free(buf);
	return rc;
}

int seg_catalog_local_open(const char *dir, void **ctx)
{
	struct local_cat *lc = calloc(1, sizeof *lc);
	int rc;

	if (!lc)
		return dann_fail(DANN_ENOMEM, "%s: catalog", dir);
	pthread_mutex_init(&lc->mu, NULL);
	for (int i = 0; i < CAT_NCOUNTERS; i++)
		lc->counters[i] = 1; /* ids start at 1: 0 means "none" */
	if ((rc = seg_join(lc->path, dir, CAT_FILE)) < 0 || (rc = cat_load(lc)) < 0) {
		seg_catalog_local_close(lc);
		return rc;
	}
	/* arrays are never NULL, so copies of zero records need no guard */
	if ((!lc->colls && !(lc->colls = calloc(1, sizeof *lc->colls))) ||
	    (!lc->segs && !(lc->segs = calloc(1, sizeof *lc->segs)))) {
		seg_catalog_local_close(lc);
		return dann_fail(DANN_ENOMEM, "%s: catalog", dir);
	}
	*ctx = lc;
	return 0;
}

void seg_catalog_local_close(void *ctx)
{
	struct local_cat *lc = ctx;

	if (!lc)
		return;
	pthread_mutex_destroy(&lc->mu);
	free(lc->colls);
	free(lc->segs);
	free(lc);
}

/* Every change: build the new arrays, save them, and only then adopt them,
 * so a failed save leaves the catalog in memory as it is on disk. */
static int commit(struct local_cat *lc, struct dann_cat_coll *colls, size_t ncolls,
		  struct dann_cat_segment *segs, size_t nsegs, const uint64_t *counters)
{
	int rc = cat_save(lc, colls, ncolls, segs, nsegs, counters);

	if (rc < 0) {
		if (colls != lc->colls)
			free(colls);
		if (segs != lc->segs)
			free(segs);
		return rc;
	}
	if (colls != lc->colls) {
		free(lc->colls);
		lc->colls = colls;
	}
	if (segs != lc->segs) {
		free(lc->segs);
		lc->segs = segs;
	}
	lc->ncolls = ncolls;
	lc->nsegs = nsegs;
	memcpy(lc->counters, counters, sizeof lc->counters);
	return 0;
}

static int lc_coll_create(void *ctx, const struct dann_schema *s, uint64_t *id)
{
	struct local_cat *lc = ctx;
	struct dann_cat_coll *colls;
	uint64_t counters[CAT_NCOUNTERS];
	int rc;

	pthread_mutex_lock(&lc->mu);
	for (size_t i = 0; i < lc->ncolls; i++)
		if (!strcmp(lc->colls[i].schema.name, s->name)) {
			rc = dann_fail(DANN_EEXIST, "collection \"%s\" already exists", s->name);
			goto out;
		}
	if (!(colls = malloc((lc->ncolls + 1) * sizeof *colls))) {
		rc = dann_fail(DANN_ENOMEM, "catalog: collection %s", s->name);
		goto out;
	}
	if (lc->ncolls) /* NULL while empty */
		memcpy(colls, lc->colls, lc->ncolls * sizeof *colls);
	memcpy(counters, lc->counters, sizeof counters);
	memset(&colls[lc->ncolls], 0, sizeof *colls);
	colls[lc->ncolls].id = counters[DANN_CAT_COLL_ID]++;
	colls[lc->ncolls].schema = *s;
	*id = colls[lc->ncolls].id;
	rc = commit(lc, colls, lc->ncolls + 1, lc->segs, lc->nsegs, counters);
out:
	pthread_mutex_unlock(&lc->mu);
	return rc;
}

static int lc_coll_drop(void *ctx, uint64_t id)
{
	struct local_cat *lc = ctx;
	struct dann_cat_coll *colls = malloc((lc->ncolls + 1) * sizeof *colls);
	struct dann_cat_segment *segs = malloc((lc->nsegs + 1) * sizeof *segs);
	size_t nc = 0, ns = 0;
	bool found = false;
	int rc;

	if (!colls || !segs) {
		free(colls);
		free(segs);
		return dann_fail(DANN_ENOMEM, "catalog: drop");
	}
	pthread_mutex_lock(&lc->mu);
	for (size_t i = 0; i < lc->ncolls; i++) {
		if (lc->colls[i].id == id)
			found = true;
		else
			colls[nc++] = lc->colls[i];
	}
	for (size_t i = 0; i < lc->nsegs; i++)
		if (lc->segs[i].coll_id != id)
			segs[ns++] = lc->segs[i];
	if (!found) {
		free(colls);
		free(segs);
		rc = dann_fail(DANN_ENOTFOUND, "catalog: no collection with id %llu",
			       (unsigned long long)id);
	} else {
		rc = commit(lc, colls, nc, segs, ns, lc->counters);
	}
	pthread_mutex_unlock(&lc->mu);
	return rc;
}

static int lc_coll_update(void *ctx, const struct dann_cat_coll *c)
{
	struct local_cat *lc = ctx;
	struct dann_cat_coll *colls = malloc((lc->ncolls + 1) * sizeof *colls);
	int rc = DANN_ENOTFOUND;

	if (!colls)
		return dann_fail(DANN_ENOMEM, "catalog: update");
	pthread_mutex_lock(&lc->mu);
	if (lc->ncolls) /* NULL while empty */
		memcpy(colls, lc->colls, lc->ncolls * sizeof *colls);
	for (size_t i = 0; i < lc->ncolls; i++)
		if (colls[i].id == c->id) {
			colls[i] = *c;
			rc = 0;
		}
	if (rc < 0) {
		free(colls);
		rc = dann_fail(DANN_ENOTFOUND, "catalog: no collection with id %llu",
			       (unsigned long long)c->id);
	} else {
		rc = commit(lc, colls, lc->ncolls, lc->segs, lc->nsegs, lc->counters);
	}
	pthread_mutex_unlock(&lc->mu);
	return rc;
}

static int lc_coll_list(void *ctx, struct dann_cat_coll **out, size_t *n)
{
	struct local_cat *lc = ctx;
	int rc = 0;

	pthread_mutex_lock(&lc->mu);
	*out = malloc((lc->ncolls + 1) * sizeof **out);
	if (!*out)
		rc = dann_fail(DANN_ENOMEM, "catalog: list");
	else {
		if (lc->ncolls) /* colls is NULL while empty */
			memcpy(*out, lc->colls, lc->ncolls * sizeof **out);
		*n = lc->ncolls;
	}
	pthread_mutex_unlock(&lc->mu);
	return rc;
}

static int lc_seg_apply(void *ctx, const struct dann_cat_segment *in, size_t n)
{
	struct local_cat *lc = ctx;
	struct dann_cat_segment *segs = malloc((lc->nsegs + n + 1) * sizeof *segs);
	size_t ns;
	int rc;

	if (!segs)
		return dann_fail(DANN_ENOMEM, "catalog: %zu segment records", n);
	pthread_mutex_lock(&lc->mu);
	if (lc->nsegs) /* NULL while empty */
		memcpy(segs, lc->segs, lc->nsegs * sizeof *segs);
	ns = lc->nsegs;
	for (size_t i = 0; i < n; i++) {
		size_t j;
		for (j = 0; j < ns && segs[j].id != in[i].id; j++)
			;
		if (in[i].state == DANN_SEG_DROPPED) {
			if (j < ns)
				segs[j] = segs[--ns];
			continue;
		}
		segs[j] = in[i];
		if (j == ns)
			ns++;
	}
	rc = commit(lc, lc->colls, lc->ncolls, segs, ns, lc->counters);
	pthread_mutex_unlock(&lc->mu);
	return rc;
}

static int lc_seg_list(void *ctx, uint64_t coll_id, struct dann_cat_segment **out, size_t *n)
{
	struct local_cat *lc = ctx;
	int rc = 0;

	pthread_mutex_lock(&lc->mu);
	*out = malloc((lc->nsegs + 1) * sizeof **out);
	*n = 0;
	if (!*out)
		rc = dann_fail(DANN_ENOMEM, "catalog: segment list");
	else
		for (size_t i = 0; i < lc->nsegs; i++)
			if (lc->segs[i].coll_id == coll_id)
				(*out)[(*n)++] = lc->segs[i];
	pthread_mutex_unlock(&lc->mu);
	return rc;
}

static int lc_alloc(void *ctx, enum dann_cat_counter which, uint64_t count, uint64_t *first)
{
	struct local_cat *lc = ctx;
	uint64_t counters[CAT_NCOUNTERS];
	int rc;

	if ((unsigned)which >= CAT_NCOUNTERS || count == 0)
		return dann_fail(DANN_EINVAL, "catalog: alloc of %llu from counter %d",
				 (unsigned long long)count, (int)which);
	pthread_mutex_lock(&lc->mu);
	memcpy(counters, lc->counters, sizeof counters);
	*first = counters[which];
	counters[which] += count;
	rc = commit(lc, lc->colls, lc->ncolls, lc->segs, lc->nsegs, counters);
	pthread_mutex_unlock(&lc->mu);
	return rc;
}

static int lc_counter(void *ctx, enum dann_cat_counter which, uint64_t *next)
{
	struct local_cat *lc = ctx;

	if ((unsigned)which >= CAT_NCOUNTERS)
		return dann_fail(DANN_EINVAL, "catalog: no counter %d", (int)which);
	pthread_mutex_lock(&lc->mu);
	*next = lc->counters[which];
	pthread_mutex_unlock(&lc->mu);
	return 0;
}

const struct dann_catalog_ops seg_catalog_local_ops = {
	.coll_create = lc_coll_create,
	.coll_drop = lc_coll_drop,
	.coll_update = lc_coll_update,
	.coll_list = lc_coll_list,
	.seg_apply = lc_seg_apply,
	.seg_list = lc_seg_list,
	.alloc = lc_alloc,
	.counter = lc_counter,
};
