/*
 * idx.h — reading IDX files, the format of MNIST and Fashion-MNIST.
 *
 * An IDX file is a 4-byte magic (0, 0, element type, number of dimensions),
 * one big-endian uint32 per dimension, then the elements row-major. Only
 * unsigned-byte files (type 0x08) with 1 to 3 dimensions are read: idx3
 * images (magic 0x00000803: count x rows x cols) and idx1 labels (magic
 * 0x00000801: count). Files may be gzipped or plain (zlib tells them apart
 * by content). Rows are streamed in order, never loaded whole.
 */
#ifndef DANN_IDX_H
#define DANN_IDX_H

#include <stdint.h>

#define IDX_MAGIC_UBYTE 0x08u
#define IDX_MAX_DIMS 3

struct idx;

/* Opens path and checks its header: magic, dimensions (each >= 1 except the
 * count, count <= INT32_MAX, a row of at most VF_MAX_DIM elements) and, for
 * a plain file, the file size. DANN_ECORRUPT / DANN_EUNSUPPORTED naming the
 * file and the field otherwise. */
int idx_open(const char *path, struct idx **out);
void idx_close(struct idx *x);

/* Number of dimensions (1 for labels, 3 for images) and each of them;
 * dims[0] is the count. */
unsigned idx_ndims(const struct idx *x);
uint32_t idx_dim_at(const struct idx *x, unsigned i);
uint32_t idx_count(const struct idx *x);
/* Elements per row: the product of dims[1..], 1 for a label file. */
uint32_t idx_row_elems(const struct idx *x);
/* The 32-bit magic as read (0x00000803 for images). */
uint32_t idx_magic(const struct idx *x);
/* Whether the file is gzip-compressed. */
int idx_gzipped(const struct idx *x);

/* Reads the next n rows (n * idx_row_elems bytes) into dst. DANN_EINVAL if
 * that passes the count, DANN_ECORRUPT if the data ends early or does not
 * decompress. */
int idx_read(struct idx *x, uint64_t n, uint8_t *dst);

/* After the last row: DANN_ECORRUPT if bytes follow it. */
int idx_finish(struct idx *x);

#endif
