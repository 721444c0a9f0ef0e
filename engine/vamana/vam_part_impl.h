/*
 * vam_part_impl.h — the partitioned graph build's state, shared by
 * vam_part.c (the build) and vam_ckpt.c (its checkpoint, which lets an
 * interrupted build of a large file resume at its first unbuilt shard).
 */
#ifndef DANN_VAM_PART_IMPL_H
#define DANN_VAM_PART_IMPL_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include "vamana.h"
#include "vf.h"

struct part {
	const struct vf *f;
	enum dann_metric metric;
	struct vam_params p;
	uint64_t n, cap;        /* points; shard capacity */
	uint64_t stream_rows;   /* rows per chunk of a pass over the file */
	uint64_t budget;        /* build RAM bytes */
	uint32_t k, dim;
	float *centroids;       /* k * dim */
	uint64_t *size;         /* points per shard */
	uint32_t *shard_medoid; /* global id of each shard graph's entry */
	bool *built;            /* shard graph complete (from a checkpoint or this run) */
	float ip_M2;            /* largest squared norm in the file */
	uint32_t medoid;
	bool ckpt;              /* dir is p.checkpoint_dir: kept unless the build succeeds */
	char dir[PATH_MAX - 64]; /* shard files (room left for names) */
};

/* dir/shard<s>.<kind> into out (PATH_MAX). */
void vam_part_path(const struct part *pt, uint32_t s, const char *kind, char *out);

/* Opens pt->p.checkpoint_dir as pt->dir (created if missing). If it holds
 * the state of an interrupted build of the same file with the same
 * parameters, restores it (shards, sizes, medoids, which shards are built)
 * and sets *resumed; *earlier_s gets the seconds its shards took. A
 * checkpoint of another build: DANN_EINVAL naming what differs, nothing
 * touched. Needs pt->k and pt->size allocated by the caller. */
int vam_ckpt_open(struct part *pt, bool *resumed, double *earlier_s);
/* After the assignment pass (which fsyncs the ids files of a checkpoint
 * as it closes them): the state that lets a later run skip training and
 * assignment. */
int vam_ckpt_save_state(const struct part *pt);
/* Shard s's graph file is complete (renamed into place): records its
 * medoid and build time so a later run skips it. */
int vam_ckpt_shard_done(const struct part *pt, uint32_t s, double seconds);
/* Removes the checkpoint's own files (the build succeeded). */
void vam_ckpt_remove(const struct part *pt);

#endif
