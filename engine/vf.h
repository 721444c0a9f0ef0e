/*
 * vf.h — vector files: reading and writing the formats dann exchanges.
 *
 *   .fbin / .u8bin / .i8bin   int32 count, int32 dim, count*dim elements
 *                             (float32 / uint8 / int8), row-major
 *   .ibin                     same layout with int32 elements: ground-truth
 *                             ids (count queries x k); the distances sit
 *                             beside it as an .fbin of the same shape
 *   .fvecs / .bvecs / .ivecs  per row: int32 dim, then dim elements
 *                             (float32 / uint8 / int32)
 *
 * Ground truth: for ids in X.ibin the distances are in X.dist.fbin (same
 * count x k); vf_gt_dist_path derives the one name from the other.
 *
 * Files are read with pread, never loaded or mapped, so a file larger than
 * RAM can be read row range by row range, and a file that another process
 * truncates meanwhile is an error naming it (DANN_ECORRUPT), not a SIGBUS.
 * Opening a *bin file reads only its header; opening a *vecs file reads
 * every row header, which reads the whole file, so large *vecs inputs are
 * best converted to *bin once (dann convert). Every header is checked
 * against the file size on open; a malformed file (truncated, size mismatch, dim <= 0 or > 65536,
 * count < 0, rows of differing dim in a *vecs file) is DANN_ECORRUPT with
 * a message naming the file and the field. Writers write to "<path>.tmp",
 * and on close patch the count, fsync, rename and fsync the directory, so a
 * reader never sees a half-written file.
 */
#ifndef DANN_VF_H
#define DANN_VF_H

#include <stddef.h>
#include <stdint.h>

#include "dann.h"

#define VF_MAX_DIM 65536

enum vf_format {
	VF_FBIN = 0,
	VF_U8BIN,
	VF_I8BIN,
	VF_IBIN,
	VF_FVECS,
	VF_BVECS,
	VF_IVECS,
};

/* The format a file name's extension says, or DANN_EINVAL naming it. */
int vf_format_from_path(const char *path, enum vf_format *out);
/* Element type of a format (fbin/fvecs → F32, u8bin/bvecs → U8, ...). */
enum dann_dtype vf_format_dtype(enum vf_format f);
const char *vf_format_name(enum vf_format f);

struct vf; /* an open, validated vector file */

/* Opens and validates path; the format comes from its extension. */
int vf_open(const char *path, struct vf **out);
void vf_close(struct vf *f);

uint64_t vf_count(const struct vf *f);
uint32_t vf_dim(const struct vf *f);
enum vf_format vf_format(const struct vf *f);
enum dann_dtype vf_dtype(const struct vf *f);
const char *vf_path(const struct vf *f);
/* Size of the whole file in bytes, headers included. */
uint64_t vf_file_bytes(const struct vf *f);
/* Bytes of one row's elements (dim * element size), without headers. */
size_t vf_row_bytes(const struct vf *f);

/* Copies rows [first, first+n) in the file's own element type into dst
 * (n * vf_row_bytes bytes). DANN_EINVAL if the range runs past the end;
 * DANN_ECORRUPT if the file has been cut short since vf_open. */
int vf_read(const struct vf *f, uint64_t first, uint64_t n, void *dst);

/* Copies rows ids[0..n) (strictly ascending) into dst, one after another,
 * one pread per run of consecutive rows, so a caller that needs a sparse
 * subset of a file larger than RAM pays only for dst. DANN_EINVAL for an
 * id past the end or out of order. */
int vf_read_ids(const struct vf *f, const uint32_t *ids, uint64_t n, void *dst);

/* vf_read_ids converted to float32 (n * dim floats), for ids as
 * km_sample_rows draws them (uint64, strictly ascending). */
int vf_read_f32_ids(const struct vf *f, const uint64_t *ids, uint64_t n, float *dst);

/* Copies rows [first, first+n) converted to float32 into dst (n*dim). */
int vf_read_f32(const struct vf *f, uint64_t first, uint64_t n, float *dst);

/* Tells the kernel which rows will be read next (readahead) / are done
 * with. Hints only: rows are read with pread, so nothing of the file is
 * resident in this process and done-with has nothing to release. */
void vf_advise_willneed(const struct vf *f, uint64_t first, uint64_t n);
void vf_advise_dontneed(const struct vf *f, uint64_t first, uint64_t n);

struct vf_writer;

/* Creates path (format from its extension) for rows of dim elements. */
int vf_writer_create(const char *path, uint32_t dim, struct vf_writer **out);
/* Appends n rows of the format's element type. */
int vf_writer_append(struct vf_writer *w, const void *rows, uint64_t n);
/* Finishes the file durably (count, fsync, rename, directory fsync) and
 * frees w; on failure the temporary file is removed and path is untouched.
 * A *bin file may have 0 rows; a *vecs file with 0 rows would be empty and
 * carry no dimension, so closing one is DANN_EINVAL. */
int vf_writer_close(struct vf_writer *w);
/* Drops an unfinished file: removes the temporary, frees w. */
void vf_writer_abort(struct vf_writer *w);

/* Convenience: writes a whole array as one file. */
int vf_write_file(const char *path, uint32_t dim, const void *rows, uint64_t n);

/* The distances file that goes with ground-truth ids: "gt.ibin" gives
 * "gt.dist.fbin" (same directory, count x k float32). DANN_EINVAL if
 * ibin_path does not end in ".ibin" or the name does not fit in cap bytes. */
int vf_gt_dist_path(const char *ibin_path, char *out, size_t cap);

#endif
