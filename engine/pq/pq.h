/*
 * pq.h — product quantization: training, encoding, per-query distance
 * tables and ADC scans, and the pivots / codes files.
 *
 * Module engine/pq (prefixes pq_, km_): starts at this header and kmeans.h
 * (k-means, also used by the partitioned graph build); pq.c trains and
 * encodes, pq_stream.c does both from vector files, pq_file.c owns the two
 * files, pq_kernels*.c the SIMD loops (internal, pq_kernels.h). It ends at
 * codes and distance tables: which codes a search scores is the caller's
 * (engine/vamana). Uses engine/ (vf, dist, crc, fsutil) and OpenBLAS.
 *
 * A vector of `dim` floats is split into M chunks (sub-spaces) of
 * consecutive dimensions; when M does not divide dim, the first dim % M
 * chunks get one dimension more. Each chunk has 256 centroids, so a vector
 * is stored as M bytes (pq_bytes = M). The data are centred first (the
 * training sample's mean is subtracted) and, for the cosine metric,
 * normalised to unit length before that. Training is k-means (kmeans.h) on
 * a sample of at most `sample` rows.
 *
 * Search (ADC, asymmetric distance computation): per query, pq_table_build
 * fills an M x 256 table of partial distances; the distance to a point is
 * the sum of its M table entries, computed for a list of ids (the beam
 * search's access pattern) or a contiguous block. By construction the sum
 * equals the exact distance between the query and the decoded point:
 *   L2      ||q - x'||^2
 *   IP      -<q, x'>
 *   COSINE  ||q/|q| - x'||^2 / 2, where x' decodes the normalised vector
 *           (1 - cos when x' is a unit vector; the L2 form is used because
 *           its error shrinks as x nears the query, which keeps the beam
 *           search's recall equal to L2's on unit vectors)
 * with x' = pq_decode(code) (up to float rounding).
 *
 * OPQ (Ge et al. 2013, "Optimized Product Quantization"; faiss's
 * OPQMatrix): with pq_params.opq_iters > 0, training first learns an
 * orthonormal dim x dim rotation R (eigenvalue allocation, then
 * alternating PQ training on the rotated sample with the Procrustes
 * solution (SVD) for R; pq_opq.c), then trains the
 * final quantizer on R x. Every vector is rotated before centring and
 * chunking; a query is rotated as its table is built (dim^2 multiply-adds),
 * so tables, ADC and the identity above are unchanged. R being orthonormal,
 * L2 and inner products are the same in both spaces; pq_decode returns the
 * vector in the original space.
 *
 * Files (pq_save / pq_load, in an index directory):
 *   PQ_PIVOTS_FILE  header, centre (dim floats), chunk offsets (M+1 u32),
 *                   centroids (256 x dim floats, chunk by chunk, each
 *                   centroid's dims consecutive), with OPQ the rotation
 *                   (dim x dim floats, row-major), CRC32C of all before it;
 *                   version 1 without a rotation, 2 with one (flag bit 0
 *                   set), so builds without OPQ stay readable by older dann;
 *   PQ_CODES_FILE   header, n x M code bytes, CRC32C of all before it.
 * Headers hold magic, version, metric, dim and M (codes: also n); every
 * field and the checksum are verified on load, and a file that fails is
 * DANN_ECORRUPT with a message naming it. Files are written to a temporary
 * name, fsynced and renamed, then the directory is fsynced.
 *
 * A struct pq is immutable once trained or loaded, except for attaching
 * codes (pq_encode_array / pq_encode_file); tables, ADC and decode may then
 * run from any number of threads at once.
 */
#ifndef DANN_PQ_H
#define DANN_PQ_H

#include <stddef.h>
#include <stdint.h>

#include "dann.h"
#include "stop.h"

#define PQ_PIVOTS_FILE "pq_pivots.bin"
#define PQ_CODES_FILE "pq_codes.bin"
#define PQ_CENTROIDS 256u          /* per sub-space: 8-bit codes */
#define PQ_DEFAULT_SAMPLE 262144u  /* training rows (all if fewer) */
#define PQ_MAX_BYTES 4096u         /* largest M accepted */
#define PQ_OPQ_MAX_DIM 4096u       /* largest dim OPQ rotates (64 MiB matrix) */
#define PQ_OPQ_DEFAULT_ITERS 10u   /* alternation rounds of dann build --opq */

struct vf;
struct pq;

struct pq_params {
	enum dann_metric metric;
	uint32_t pq_bytes;   /* M: bytes per code = number of chunks; 1..min(dim, PQ_MAX_BYTES) */
	uint64_t sample;     /* training rows at most (default PQ_DEFAULT_SAMPLE; 0 = all) */
	uint32_t iters;      /* Lloyd iterations per chunk (default 25) */
	uint64_t seed;       /* default 1234 */
	uint32_t opq_iters;  /* OPQ rounds before the final training; 0 = plain PQ (default) */
	uint32_t threads;    /* OpenMP threads for training (default 0 = every core) */
	const struct stop *stop; /* checked every Lloyd iteration (NULL: never) */
};

/* Defaults for the given metric and M. */
void pq_params_default(struct pq_params *p, enum dann_metric metric, uint32_t pq_bytes);

/* How later encoding of pq runs: on `threads` OpenMP threads (0 = every
 * core), checking stop between blocks (NULL: never). Training sets both
 * from its params; a loaded quantizer starts with (0, NULL). stop must
 * outlive the encoding calls. */
void pq_set_run(struct pq *pq, uint32_t threads, const struct stop *stop);

/* What training did, for logs and benchmarks. */
struct pq_train_stats {
	uint64_t rows;         /* rows trained on */
	double seconds;        /* wall time of training */
	double mse;            /* mean over training rows of ||x - decode(encode(x))||^2
	                          (in the centred, normalised space) */
};

/*
 * Trains a quantizer on n row-major vectors of `dim` elements of type dtype
 * (F32, U8 or I8), or on a random sample of p->sample of them. stats may be
 * NULL. Errors (nothing is allocated on failure): DANN_EINVAL for pq_bytes 0
 * or > dim or > PQ_MAX_BYTES, dim 0 or > 65536, n 0, an unsupported dtype or
 * metric, a NaN or infinite value (naming the row); DANN_ENOMEM.
 */
int pq_train(const struct pq_params *p, const void *data, enum dann_dtype dtype, uint64_t n,
	     uint32_t dim, struct pq **out, struct pq_train_stats *stats);

/* pq_train on a vector file (vf.h), reading only the sampled rows, so the
 * file may be larger than RAM. */
int pq_train_file(const struct pq_params *p, const struct vf *f, struct pq **out,
		  struct pq_train_stats *stats);

/* Frees pq and the codes it holds; NULL is allowed. */
void pq_free(struct pq *pq);

enum dann_metric pq_metric(const struct pq *pq);
uint32_t pq_dim(const struct pq *pq);
uint32_t pq_bytes(const struct pq *pq);      /* M */
/* OPQ's rotation (dim x dim, row-major: y = R x), NULL for plain PQ. */
const float *pq_rotation(const struct pq *pq);
/* Dimensions [off[m], off[m+1]) form chunk m; M + 1 entries. */
const uint32_t *pq_chunk_offsets(const struct pq *pq);

/*
 * Encodes n rows of dtype into out (n * M bytes, caller-owned), in parallel.
 * A row of the wrong shape is the caller's problem; a NaN or infinite value
 * is DANN_EINVAL naming the row. For cosine, zero rows encode the centre.
 */
int pq_encode(const struct pq *pq, const void *data, enum dann_dtype dtype, uint64_t n,
	      uint8_t *out);

/* Encodes n rows and keeps the codes in pq (one aligned allocation),
 * replacing any held before; they become point ids 0..n-1. */
int pq_encode_array(struct pq *pq, const void *data, enum dann_dtype dtype, uint64_t n);

/*
 * Encodes every row of a vector file into pq's codes, streaming it in
 * chunks of rows (the file may be larger than RAM: each chunk is dropped
 * from the page cache once encoded). dim must match pq's. progress may be
 * NULL; it is called with phase "pq encode" after each chunk.
 */
int pq_encode_file(struct pq *pq, const struct vf *f, dann_progress_fn progress, void *arg);

/* Codes held by pq (n * M bytes, row-major), and n; NULL / 0 if none. */
const uint8_t *pq_codes(const struct pq *pq);
uint64_t pq_count(const struct pq *pq);

/* Writes n decoded vectors (n * dim floats) for n codes (n * M bytes). */
void pq_decode(const struct pq *pq, const uint8_t *codes, uint64_t n, float *out);

/* Floats in one query's distance table: M * 256. */
size_t pq_table_floats(const struct pq *pq);

/* Fills table (pq_table_floats floats, caller-owned: a search thread keeps
 * one) for the float query q of dim elements. Never allocates. */
void pq_table_build(const struct pq *pq, const float *q, float *table);
/* The same with the estimate of another metric over the same codes: the
 * disk search of an inner-product index builds the L2 table and turns it
 * into -q.x with each point's stored norm (dix_search.c). */
void pq_table_build_as(const struct pq *pq, enum dann_metric metric, const float *q, float *table);

/* out[i] = ADC distance of point ids[i] (< pq_count, unchecked) from the
 * table's query. The hot path: no allocation, no checks beyond debug
 * asserts. */
void pq_adc_ids(const struct pq *pq, const float *table, const uint32_t *ids, size_t n, float *out);

/* out[i] = ADC distance of point first + i, for i < n (first + n <= pq_count). */
void pq_adc_block(const struct pq *pq, const float *table, uint64_t first, size_t n, float *out);

/* With OPQ: writes the n queries rotated into the quantizer's space
 * (n * dim floats) with one matrix product, for a batch that builds many
 * tables (pq_table_build_rotated); a copy without a rotation. DANN_ENOMEM. */
int pq_rotate_queries(const struct pq *pq, const float *q, uint64_t n, float *out);
/* pq_table_build_as for a query pq_rotate_queries already rotated. */
void pq_table_build_rotated(const struct pq *pq, enum dann_metric metric, const float *qr,
			    float *table);

/* Same as the two above over caller-held codes (codes of n points, M bytes
 * each), for code arrays that do not belong to a struct pq. */
void pq_adc_codes_ids(const struct pq *pq, const float *table, const uint8_t *codes,
		      const uint32_t *ids, size_t n, float *out);
void pq_adc_codes_block(const struct pq *pq, const float *table, const uint8_t *codes, size_t n,
			float *out);

/* Writes PQ_PIVOTS_FILE and, if pq holds codes, PQ_CODES_FILE into the
 * existing directory dir (each: temporary name, fsync, rename, directory
 * fsync). DANN_EIO naming the file on failure; a file already there is
 * replaced only when its new version is complete. */
int pq_save(const struct pq *pq, const char *dir);

/* Loads dir/PQ_PIVOTS_FILE and, if with_codes, dir/PQ_CODES_FILE, checking
 * each header field, sizes and checksum, and that the codes file belongs to
 * the pivots (metric, dim, M). DANN_ENOTFOUND / DANN_ECORRUPT / DANN_EIO
 * with a message naming the file and the field. */
int pq_load(const char *dir, int with_codes, struct pq **out);

/* The same for explicit file paths (codes_path may be NULL). */
int pq_load_files(const char *pivots_path, const char *codes_path, struct pq **out);
int pq_save_files(const struct pq *pq, const char *pivots_path, const char *codes_path);

#endif
