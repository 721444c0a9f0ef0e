/*
 * gen.c — the synthetic embedding generator (see gen.h for the model and
 * the quantisation rule).
 *
 * Invariant that makes the output reproducible: a row depends only on
 * (model, stream, row index). Its random numbers come from a xoshiro256**
 * generator seeded by splitmix64 from those three, and its arithmetic runs
 * in one fixed order (latent sample, then the map one latent dimension at a
 * time, then noise in coordinate order). Threads only decide who computes a
 * row, never what it is.
 */
#include "gen.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "rng.h"
#include "vf.h"

/* Cluster spread relative to the spread of the centres. At 0.4 the
 * relative contrast (mean distance / nearest-neighbour distance, 100k x 128)
 * is about 4, near SIFT's: clustered, but neighbours are not trivially
 * found inside one tight blob. Scales vary per cluster by a log-normal
 * factor. */
#define GEN_CLUSTER_SCALE 0.4
#define GEN_CLUSTER_SCALE_LOGSD 0.35
/* Mixture weights are log-normal: cluster sizes differ by a few times. */
#define GEN_WEIGHT_LOGSD 0.7
/* Isotropic noise relative to the typical within-cluster coordinate spread. */
#define GEN_NOISE_REL 0.1
/* Quantisation: this many RMS coordinates map to the int8 limit 127. */
#define GEN_QUANT_RMS_SPAN 4.0
/* Coordinates computed at a time per row: bounds the stack scratch. */
#define GEN_TILE 512
/* Rows per chunk buffer in gen_write, at most this many bytes. */
#define GEN_CHUNK_BYTES (32u << 20)
/* Rows one OpenMP task generates (small enough to balance two threads). */
#define GEN_TASK_ROWS 256

/* The stream that draws the model itself, apart from base and queries. */
#define GEN_STREAM_MODEL 0x6d6f64656cULL

struct gen_model {
	uint32_t dim, latent, clusters;
	enum dann_dtype dtype;
	uint64_t seed;
	float *centre;   /* clusters x latent */
	float *spread;   /* clusters x latent: per-cluster scale x spectrum */
	double *cum;     /* clusters: cumulative mixture weight, last = 1 */
	float *map;      /* latent x dim: row j is latent dim j's image */
	float noise_sd;
	float rms;
	float quant;     /* x * quant rounds to the int8 value */
};

struct rng {
	uint64_t s[4];
};

static inline uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static inline uint64_t rng_next(struct rng *r)
{
	uint64_t *s = r->s;
	uint64_t out = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return out;
}

/* Seeds a generator from (seed, stream, index): each key gets an
 * independent-looking sequence, and nearby indices share nothing. */
static void rng_seed(struct rng *r, uint64_t seed, uint64_t stream, uint64_t index)
{
	uint64_t x = seed;

	x = rng_splitmix64(&x) ^ (stream * 0xd1b54a32d192ed03ULL);
	x = rng_splitmix64(&x) ^ index;
	for (int i = 0; i < 4; i++)
		r->s[i] = rng_splitmix64(&x);
}

/* Uniform in (0, 1): 53 random bits, never 0 (log below). */
static inline double rng_unit(struct rng *r)
{
	return ((double)(rng_next(r) >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

/* Two standard normals by the Marsaglia polar method: no trigonometry. */
static inline void rng_gauss2(struct rng *r, double *a, double *b)
{
	double u, v, s;

	do {
		u = 2.0 * rng_unit(r) - 1.0;
		v = 2.0 * rng_unit(r) - 1.0;
		s = u * u + v * v;
	} while (s >= 1.0 || s == 0.0);
	s = sqrt(-2.0 * log(s) / s);
	*a = u * s;
	*b = v * s;
}

/* Fills out[0..n) with standard normals drawn in order. */
static void rng_gauss_fill(struct rng *r, double *out, uint32_t n)
{
	uint32_t i = 0;
	double b;

	for (; i + 1 < n; i += 2)
		rng_gauss2(r, &out[i], &out[i + 1]);
	if (i < n)
		rng_gauss2(r, &out[i], &b);
}

static int check_params(const struct gen_params *p)
{
	if (p->dim < 1 || p->dim > VF_MAX_DIM)
		return dann_fail(DANN_EINVAL, "gen: dim %u out of range, expected 1..%d", p->dim,
				 VF_MAX_DIM);
	if (p->latent_dim > GEN_MAX_LATENT_DIM)
		return dann_fail(DANN_EINVAL, "gen: latent dim %u out of range, expected 1..%d",
				 p->latent_dim, GEN_MAX_LATENT_DIM);
	if (p->clusters > GEN_MAX_CLUSTERS)
		return dann_fail(DANN_EINVAL, "gen: %u clusters, expected 1..%d", p->clusters,
				 GEN_MAX_CLUSTERS);
	if (p->dtype != DANN_DTYPE_F32 && p->dtype != DANN_DTYPE_U8 && p->dtype != DANN_DTYPE_I8)
		return dann_fail(DANN_EINVAL, "gen: element type %s, expected float32, uint8 or int8",
				 dann_dtype_name(p->dtype));
	return 0;
}

/* Draws centres, spreads, weights and the map from the model stream. */
static void draw_model(struct gen_model *m)
{
	uint32_t L = m->latent, C = m->clusters, D = m->dim;
	double lam2_sum = 0, scale_sum = 0, wsum = 0, g[2];
	double ez2[GEN_MAX_LATENT_DIM] = { 0 }; /* E[z_j^2] over the mixture */
	double ss = 0;
	struct rng r;

	rng_seed(&r, m->seed, GEN_STREAM_MODEL, 0);
	for (uint32_t c = 0; c < C; c++) {
		rng_gauss2(&r, &g[0], &g[1]);
		double scale = GEN_CLUSTER_SCALE * exp(GEN_CLUSTER_SCALE_LOGSD * g[0]);
		double w = exp(GEN_WEIGHT_LOGSD * g[1]);
		scale_sum += scale;
		wsum += w;
		m->cum[c] = wsum;
		for (uint32_t j = 0; j < L; j++) {
			/* Decaying spectrum: latent dim j carries variance
			 * 1/(1+j/4), as embeddings' principal components do. */
			double lam = 1.0 / sqrt(1.0 + j / 4.0);
			rng_gauss2(&r, &g[0], &g[1]);
			m->centre[(size_t)c * L + j] = (float)(g[0] * lam);
			m->spread[(size_t)c * L + j] = (float)(scale * lam);
		}
	}
	for (uint32_t c = 0; c < C; c++) {
		double w = (c == 0 ? m->cum[0] : m->cum[c] - m->cum[c - 1]) / wsum;
		for (uint32_t j = 0; j < L; j++) {
			double mu = m->centre[(size_t)c * L + j], sd = m->spread[(size_t)c * L + j];
			ez2[j] += w * (mu * mu + sd * sd);
		}
	}
	for (uint32_t c = 0; c < C; c++)
		m->cum[c] /= wsum;
	m->cum[C - 1] = 1.0;
	/* Entries N(0, 1/L): a coordinate's variance is the latent vector's
	 * mean square, whatever the target dimension. */
	for (size_t i = 0; i < (size_t)L * D; i++) {
		rng_gauss2(&r, &g[0], &g[1]);
		m->map[i] = (float)(g[0] / sqrt((double)L));
	}
	for (uint32_t j = 0; j < L; j++) {
		lam2_sum += 1.0 / (1.0 + j / 4.0);
		double a2 = 0;
		for (uint32_t i = 0; i < D; i++)
			a2 += (double)m->map[(size_t)j * D + i] * m->map[(size_t)j * D + i];
		ss += a2 / D * ez2[j];
	}
	m->noise_sd = (float)(GEN_NOISE_REL * scale_sum / C * sqrt(lam2_sum / L));
	ss += (double)m->noise_sd * m->noise_sd;
	m->rms = (float)sqrt(ss);
	m->quant = (float)(127.0 / (GEN_QUANT_RMS_SPAN * m->rms));
}

int gen_model_new(const struct gen_params *p, struct gen_model **out)
{
	struct gen_model *m;
	int rc;

	*out = NULL;
	if ((rc = check_params(p)) < 0)
		return rc;
	if (!(m = calloc(1, sizeof *m)))
		return dann_fail(DANN_ENOMEM, "gen: no memory for the model");
	m->dim = p->dim;
	m->latent = p->latent_dim ? p->latent_dim : GEN_DEFAULT_LATENT_DIM;
	m->clusters = p->clusters ? p->clusters : GEN_DEFAULT_CLUSTERS;
	m->dtype = p->dtype;
	m->seed = p->seed;
	m->centre = malloc(sizeof *m->centre * m->clusters * m->latent);
	m->spread = malloc(sizeof *m->spread * m->clusters * m->latent);
	m->cum = malloc(sizeof *m->cum * m->clusters);
	m->map = malloc(sizeof *m->map * (size_t)m->latent * m->dim);
	if (!m->centre || !m->spread || !m->cum || !m->map) {
		gen_model_free(m);
		return dann_fail(DANN_ENOMEM, "gen: no memory for a model of %u clusters x %u dims",
				 p->clusters, p->dim);
	}
	draw_model(m);
	*out = m;
	return 0;
}

void gen_model_free(struct gen_model *m)
{
	if (!m)
		return;
	free(m->centre);
	free(m->spread);
	free(m->cum);
	free(m->map);
	free(m);
}

float gen_model_rms(const struct gen_model *m)
{
	return m->rms;
}

static uint32_t pick_cluster(const struct gen_model *m, double u)
{
	uint32_t lo = 0, hi = m->clusters - 1;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (m->cum[mid] > u)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

static void store_tile(const struct gen_model *m, const float *x, uint32_t n, void *dst)
{
	if (m->dtype == DANN_DTYPE_F32) {
		memcpy(dst, x, sizeof *x * n);
		return;
	}
	for (uint32_t t = 0; t < n; t++) {
		float v = nearbyintf(x[t] * m->quant);
		v = v < -128.0f ? -128.0f : v > 127.0f ? 127.0f : v;
		if (m->dtype == DANN_DTYPE_I8)
			((int8_t *)dst)[t] = (int8_t)v;
		else
			((uint8_t *)dst)[t] = (uint8_t)((int)v + 128);
	}
}

static void gen_row(const struct gen_model *m, enum gen_stream s, uint64_t row, void *dst)
{
	uint32_t L = m->latent, D = m->dim;
	size_t esz = dann_dtype_size(m->dtype);
	float z[GEN_MAX_LATENT_DIM], x[GEN_TILE];
	double g[GEN_TILE > GEN_MAX_LATENT_DIM ? GEN_TILE : GEN_MAX_LATENT_DIM];
	struct rng r;

	rng_seed(&r, m->seed, (uint64_t)s, row);
	uint32_t c = pick_cluster(m, rng_unit(&r));
	rng_gauss_fill(&r, g, L);
	for (uint32_t j = 0; j < L; j++)
		z[j] = m->centre[(size_t)c * L + j] + m->spread[(size_t)c * L + j] * (float)g[j];
	for (uint32_t i0 = 0; i0 < D; i0 += GEN_TILE) {
		uint32_t n = D - i0 < GEN_TILE ? D - i0 : GEN_TILE;
		memset(x, 0, sizeof *x * n);
		for (uint32_t j = 0; j < L; j++) {
			const float *a = m->map + (size_t)j * D + i0;
			for (uint32_t t = 0; t < n; t++)
				x[t] += z[j] * a[t];
		}
		rng_gauss_fill(&r, g, n);
		for (uint32_t t = 0; t < n; t++)
			x[t] += m->noise_sd * (float)g[t];
		store_tile(m, x, n, (char *)dst + (size_t)i0 * esz);
	}
}

void gen_rows(const struct gen_model *m, enum gen_stream s, uint64_t first, uint64_t n, void *dst)
{
	size_t row_bytes = (size_t)m->dim * dann_dtype_size(m->dtype);

	for (uint64_t i = 0; i < n; i++)
		gen_row(m, s, first + i, (char *)dst + i * row_bytes);
}

int gen_write(const struct gen_model *m, enum gen_stream s, uint64_t n, const char *path,
	      dann_progress_fn progress, void *progress_arg)
{
	size_t row_bytes = (size_t)m->dim * dann_dtype_size(m->dtype);
	uint64_t chunk = GEN_CHUNK_BYTES / row_bytes;
	struct vf_writer *w = NULL;
	enum vf_format fmt;
	void *buf = NULL;
	int rc;

	if ((rc = vf_format_from_path(path, &fmt)) < 0)
		return rc;
	if (fmt == VF_IBIN || vf_format_dtype(fmt) != m->dtype)
		return dann_fail(DANN_EINVAL, "%s: a %s file holds %s, but the data is %s", path,
				 vf_format_name(fmt), dann_dtype_name(vf_format_dtype(fmt)),
				 dann_dtype_name(m->dtype));
	if (chunk < GEN_TASK_ROWS)
		chunk = GEN_TASK_ROWS;
	if (chunk > n)
		chunk = n ? n : 1;
	if (!(buf = malloc(chunk * row_bytes)))
		return dann_fail(DANN_ENOMEM, "gen: no memory for a chunk of %llu rows",
				 (unsigned long long)chunk);
	if ((rc = vf_writer_create(path, m->dim, &w)) < 0)
		goto out;
	for (uint64_t done = 0; done < n;) {
		uint64_t rows = n - done < chunk ? n - done : chunk;
		long tasks = (long)((rows + GEN_TASK_ROWS - 1) / GEN_TASK_ROWS);

#pragma omp parallel for schedule(dynamic, 1)
		for (long t = 0; t < tasks; t++) {
			uint64_t a = (uint64_t)t * GEN_TASK_ROWS;
			uint64_t b = a + GEN_TASK_ROWS < rows ? a + GEN_TASK_ROWS : rows;
			gen_rows(m, s, done + a, b - a, (char *)buf + a * row_bytes);
		}
		if ((rc = vf_writer_append(w, buf, rows)) < 0)
			goto out;
		done += rows;
		if (progress)
			progress(progress_arg, "generate", done, n);
	}
	rc = vf_writer_close(w);
	w = NULL;
out:
	if (w)
		vf_writer_abort(w);
	free(buf);
	return rc;
}
