/*
 * vf_impl.h — what the vector-file reader (vf.c) and writer (vf_writer.c)
 * share: the format table and the layout constants. Not for other modules;
 * they use vf.h.
 */
#ifndef DANN_VF_IMPL_H
#define DANN_VF_IMPL_H

#include <stdbool.h>

#include "vf.h"

#define VF_BIN_HEADER_BYTES 8u      /* int32 count, int32 dim */
#define VF_VECS_ROW_HEADER_BYTES 4u /* int32 dim before every row */
#define VF_EXTENSIONS ".fbin, .u8bin, .i8bin, .ibin, .fvecs, .bvecs or .ivecs"

struct vf_format_info {
	const char *ext;   /* ".fbin" */
	const char *name;  /* "fbin" */
	enum dann_dtype dtype;
	bool vecs;         /* per-row dim headers instead of one file header */
};

/* The table entry of a format, or NULL for a value outside the enum. */
const struct vf_format_info *vf_format_info(enum vf_format f);

#endif
