/*
 * vam_file.h — the graph-file writer shared by vam_save and the
 * partitioned build's merge (layout in vamana.h). Rows may be put in any
 * order; vam_gw_close checksums, fsyncs and renames into place.
 */
#ifndef DANN_VAM_FILE_H
#define DANN_VAM_FILE_H

#include "vamana.h"

struct vam_gw;

/* Starts <path>.tmp for a graph described by h (version and crc ignored). */
int vam_gw_create(const char *path, const struct vam_file_header *h, struct vam_gw **out);
/* Writes rows [first, first+count): degrees and count*R slots (padded). */
int vam_gw_put(struct vam_gw *w, uint64_t first, uint64_t count, const uint32_t *deg,
	       const uint32_t *slots);
/* Finishes the file durably and frees w (also on failure). */
int vam_gw_close(struct vam_gw *w);
/* Removes the temporary file and frees w. */
void vam_gw_abort(struct vam_gw *w);

struct vam;
/* Makes a loaded index searchable: n raw rows are in place, the graph
 * is filled; prepares the rows for the metric and sets the entry point. */
void vam_load_finish(struct vam *v, uint64_t n, uint32_t medoid);

#endif
