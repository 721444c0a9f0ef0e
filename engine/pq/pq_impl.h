/*
 * pq_impl.h — the inside of struct pq, shared by pq.c (training, encoding,
 * tables), pq_file.c (pivots and codes files) and pq_stream.c (vector
 * files). Not for use outside engine/pq.
 */
#ifndef DANN_PQ_IMPL_H
#define DANN_PQ_IMPL_H

#include "pq.h"
#include "pq_kernels.h"

/* Rows encoded per step: bounds the float copy of a block (16k x dim) and,
 * for files, how much is resident at once. */
#define PQ_ENCODE_BLOCK_ROWS 16384u

struct pq {
	enum dann_metric metric;
	uint32_t dim;
	uint32_t M;
	uint32_t *off;    /* M + 1 chunk offsets into the dims */
	float *centre;    /* dim: the training mean, subtracted before quantizing */
	float *cent;      /* 256 * dim: chunk m at off[m] * 256, centroid-major
	                     ([k][dsub]): the file layout, read by decode */
	float *cent_t;    /* the same, dim-major per chunk ([dsub][k]), so that
	                     table building runs down 256 contiguous floats */
	float *rot;       /* dim * dim, row-major, orthonormal: OPQ's rotation,
	                     y = rot x, applied before centring and chunking
	                     (centre and centroids live in the rotated space);
	                     NULL for plain PQ */
	uint8_t *codes;   /* n * M, from dann_aligned_alloc; NULL if none */
	uint64_t n;
	const struct pq_kernels *kern;
	/* How training and encoding run (pq_set_run): OpenMP threads (0 =
	 * every core) and the build's stop check. */
	uint32_t threads;
	const struct stop *stop;
};

/* An empty quantizer of the given shape with arrays allocated (centroids
 * zeroed) and chunk offsets filled; DANN_ENOMEM. */
int pq_alloc(enum dann_metric metric, uint32_t dim, uint32_t M, struct pq **out);

/* Checks (metric, dim, M) and names what is wrong; ctx prefixes the message. */
int pq_check_shape(const char *ctx, enum dann_metric metric, uint32_t dim, uint32_t M);

/* Fills cent_t from cent (after training or loading). */
void pq_finish_layout(struct pq *pq);

/* Trains pq's centre and centroids on the ns x dim float rows x (already
 * converted, normalised for cosine, checked finite); x is modified (centred). */
int pq_train_rows(struct pq *pq, const struct pq_params *p, float *x, uint64_t ns,
		  struct pq_train_stats *stats);

/* Encodes n float rows (modified in place: normalised, centred) into out. */
int pq_encode_rows(const struct pq *pq, float *x, uint64_t n, uint8_t *out);

/* Converts n rows of dtype to float into dst (src == dst is allowed for
 * float32), normalising them for cosine; DANN_EINVAL naming the row
 * (rows[i] if rows is given, else first + i) if a value is not finite. */
int pq_rows_to_float(const struct pq *pq, const void *src, enum dann_dtype dtype, uint64_t n,
		     const uint64_t *rows, uint64_t first, float *dst);

/* OPQ (pq_opq.c): learns pq->rot on the ns x dim rows x (normalised for
 * cosine, not centred) by p->opq_iters rounds of PQ training and Procrustes,
 * then rotates x in place. DANN_EINVAL for dim > PQ_OPQ_MAX_DIM,
 * DANN_ENOMEM, DANN_EIO when the SVD fails, or the stop's error. */
int pq_opq_train(struct pq *pq, const struct pq_params *p, float *x, uint64_t ns);

/* x := rot x for n rows in place (nothing without a rotation). */
int pq_rotate_rows(const struct pq *pq, float *x, uint64_t n);

/* Replaces pq's codes with an aligned array for n points (zeroed). */
int pq_alloc_codes(struct pq *pq, uint64_t n);

#endif
