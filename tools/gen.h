/*
 * gen.h — deterministic synthetic vectors shaped like real embeddings.
 *
 * The model: a mixture of Gaussian clusters in a low-dimensional latent
 * space (centres, per-cluster scales and mixture weights drawn from the
 * seed, with a decaying spectrum over latent dimensions as real embeddings
 * show), mapped to the target dimension by a fixed random linear map, plus
 * small isotropic noise. Nearest neighbours are therefore much closer than
 * random pairs, and the intrinsic dimension is the latent one, as with
 * learned embeddings.
 *
 * Determinism: every row has its own random stream, seeded from (seed,
 * stream, row index), and is computed with a fixed order of float
 * operations. So row i is the same bytes whatever the thread count, chunk
 * size or range it was asked for in; and base and query rows come from
 * different streams, so a query is a fresh draw from the mixture, never a
 * copy of a base row (in float32 two draws never coincide in practice;
 * quantised to 8 bits in a handful of dimensions, two draws can round to
 * the same vector, as two base rows can).
 *
 * uint8 / int8 output quantises each coordinate x as
 *   int8:  clamp(round(x * q), -128, 127)
 *   uint8: clamp(round(x * q) + 128, 0, 255)      (= int8 value + 128)
 * where q = 127 / (4 * rms) and rms is the model's root-mean-square
 * coordinate, computed from the model itself (gen_model_rms): four standard
 * deviations fill the range, so clamping is rare.
 */
#ifndef DANN_GEN_H
#define DANN_GEN_H

#include <stddef.h>
#include <stdint.h>

#include "dann.h"

#define GEN_DEFAULT_LATENT_DIM 24
#define GEN_DEFAULT_CLUSTERS 1000
#define GEN_MAX_LATENT_DIM 256
#define GEN_MAX_CLUSTERS 1000000

enum gen_stream {
	GEN_BASE = 0,
	GEN_QUERIES = 1,
};

struct gen_params {
	uint64_t seed;
	uint32_t dim;        /* target dimension, 1..VF_MAX_DIM */
	uint32_t latent_dim; /* 0 = GEN_DEFAULT_LATENT_DIM */
	uint32_t clusters;   /* 0 = GEN_DEFAULT_CLUSTERS */
	enum dann_dtype dtype; /* F32, U8 or I8 */
};

struct gen_model; /* the mixture and the linear map; read-only once made */

/* Builds the model for p (everything but the rows themselves). DANN_EINVAL
 * naming the field for a bad dim, latent_dim, cluster count or dtype. */
int gen_model_new(const struct gen_params *p, struct gen_model **out);
void gen_model_free(struct gen_model *m);

/* Root-mean-square coordinate of the float model (the quantisation scale
 * above is derived from it). */
float gen_model_rms(const struct gen_model *m);

/* Writes rows [first, first + n) of a stream into dst, in the model's
 * dtype (n * dim elements). Runs on the calling thread only; call it from
 * several threads on disjoint ranges to go parallel. Never fails. */
void gen_rows(const struct gen_model *m, enum gen_stream s, uint64_t first, uint64_t n,
	      void *dst);

/* Streams n rows of a stream to path (a .fbin / .u8bin / .i8bin whose
 * element type must match p's dtype) through vf's writer, a chunk at a
 * time, each chunk generated in parallel with OpenMP: memory stays at one
 * chunk whatever n is. progress (may be NULL) is told rows done. The file
 * appears only when complete. */
int gen_write(const struct gen_model *m, enum gen_stream s, uint64_t n, const char *path,
	      dann_progress_fn progress, void *progress_arg);

#endif
