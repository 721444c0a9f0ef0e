/*
 * dann.h — the public contract of libdann, the disk-first vector engine.
 *
 * Everything a program linking libdann may rely on is declared here, once.
 * Conventions that hold for every function in the library:
 *   - a function returns int: 0 on success, a negative DANN_E* code on
 *     failure; the detail ("which file, which field, what was expected") is
 *     kept in a per-thread message that dann_errmsg() returns;
 *   - the library never exits, aborts or prints on its own behalf;
 *   - whoever opens/creates/news a thing closes/destroys/frees it.
 */
#ifndef DANN_H
#define DANN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define DANN_VERSION_MAJOR 0
#define DANN_VERSION_MINOR 1

/* Error codes: a small closed set. The message says the rest. */
enum dann_err {
	DANN_OK = 0,
	DANN_EINVAL = -1,      /* bad argument or bad input from the caller */
	DANN_ENOMEM = -2,      /* an allocation failed */
	DANN_EIO = -3,         /* the OS failed a read, write, open, sync */
	DANN_ECORRUPT = -4,    /* a file's contents are not what they claim */
	DANN_ENOTFOUND = -5,   /* a named file, collection or id does not exist */
	DANN_EUNSUPPORTED = -6, /* a valid request this build or machine cannot do */
	DANN_EBUSY = -7,       /* a resource is full; retry later */
	DANN_ECANCELED = -8,   /* an operation stopped because it was asked to */
};

/* The message of the last failure on this thread ("" if none). The pointer
 * stays valid until the next failure on the same thread. */
const char *dann_errmsg(void);

/* Short fixed name of an error code ("DANN_ECORRUPT"). */
const char *dann_errname(int code);

/* Distance conventions: every distance is "smaller is closer".
 *   L2     squared Euclidean distance;
 *   IP     negative inner product (maximum inner product search);
 *   COSINE 1 - cos(a, b); zero vectors have cosine distance 1. */
enum dann_metric {
	DANN_METRIC_L2 = 0,
	DANN_METRIC_IP = 1,
	DANN_METRIC_COSINE = 2,
};

/* Element types of stored vectors. Queries are always float32. */
enum dann_dtype {
	DANN_DTYPE_F32 = 0,
	DANN_DTYPE_U8 = 1,
	DANN_DTYPE_I8 = 2,
	DANN_DTYPE_I32 = 3, /* ids in ground-truth files only */
};

/* Bytes per element of a dtype (4, 1, 1, 4). */
size_t dann_dtype_size(enum dann_dtype t);
const char *dann_dtype_name(enum dann_dtype t);
const char *dann_metric_name(enum dann_metric m);
/* Parses "l2" / "ip" / "cosine"; DANN_EINVAL naming the text otherwise. */
int dann_metric_parse(const char *s, enum dann_metric *out);

/* Progress hook for long operations (build, ground truth, encode): called
 * from the thread that drives the operation, never concurrently, with
 * done <= total. A phase name says which part is running. */
typedef void (*dann_progress_fn)(void *arg, const char *phase, uint64_t done, uint64_t total);

/* ---- Disk indexes (engine/vamana/dix_*) ------------------------------------
 *
 * A disk index is a directory built once from a vector file and never
 * changed: PQ codes (kept in RAM when open), the Vamana graph and the full
 * vectors (read from SSD during search), an id map and a MANIFEST of
 * checksums. See DESIGN.md, "The disk index" and "Beam search". */

struct dann_build_params {
	enum dann_metric metric;  /* default L2 */
	uint32_t R;               /* max degree (default 64) */
	uint32_t L;               /* build list size (default 100) */
	float alpha;              /* RobustPrune slack (default 1.2) */
	uint32_t pq_bytes;        /* PQ code bytes per vector; 0 = dim/8, at least 1 (capped at dim) */
	double build_ram_gib;     /* graph built in k-means shards above it; 0 = no limit */
	uint32_t threads;         /* 0 = all cores */
	int locality_order;       /* 1: pack graph neighbours into shared sectors (default 1) */
	dann_progress_fn progress; /* optional; phases "pq train", "encode", "graph", "layout" */
	void *progress_arg;
};

/* Fills p with the defaults above. */
void dann_build_params_default(struct dann_build_params *p);

/* Builds a disk index of the vectors in data_path (.fbin/.u8bin/.i8bin or
 * .fvecs/.bvecs) into the directory out_dir, which must not exist: written
 * to a temporary name beside it, fsynced, renamed. DANN_EINVAL naming the
 * bad parameter; DANN_EUNSUPPORTED if the estimated build memory exceeds
 * build_ram_gib; file errors name the file. */
int dann_index_build(const char *data_path, const char *out_dir, const struct dann_build_params *p);

struct dann_open_params {
	uint64_t cache_nodes;  /* hot nodes kept in RAM (breadth-first from the entry point) */
	uint64_t cache_bytes;  /* or a byte budget; the smaller wins when both are set */
	int buffered;          /* 1: read through the page cache instead of O_DIRECT */
	int verify_all;        /* 1: also checksum the node file on open (reads all of it) */
};

struct dann_index;

/* Opens the index in dir (see dix.h for every check made). A missing,
 * truncated or corrupt file is an error naming it. p may be NULL. The
 * open index is read-only: any number of threads may search it at once,
 * and any number of indexes may be open. */
int dann_index_open(const char *dir, const struct dann_open_params *p, struct dann_index **out);
/* Closes ix; no search may be running on it. NULL is a no-op. */
void dann_index_close(struct dann_index *ix);

struct dann_index_info {
	enum dann_metric metric;
	enum dann_dtype dtype;
	uint32_t dim;
	uint64_t n;
	uint32_t R;
	uint32_t entry;           /* the medoid */
	uint32_t node_bytes;
	uint32_t nodes_per_sector;
	uint32_t sectors_per_node;
	int locality_order;
	uint32_t pq_bytes;
	uint64_t cache_nodes;     /* nodes held in the cache */
	uint64_t ram_bytes;       /* PQ + maps + cache */
	uint64_t disk_bytes;      /* all files */
	int direct;               /* 1 if node reads bypass the page cache */
};
int dann_index_info(const struct dann_index *ix, struct dann_index_info *out);

/* Primary key of internal id (the row number of the build file). */
uint64_t dann_index_key(const struct dann_index *ix, uint32_t id);

struct dann_search_params {
	uint32_t k;               /* results per query (default 10), 1..L */
	uint32_t L;               /* candidate list size (default 100) */
	uint32_t W;               /* beam width: reads per round (default 4) */
	uint32_t threads;         /* batch: search threads (default 1) */
	uint32_t inflight;        /* batch: queries in flight per thread (default 16) */
	int io_backend;           /* 0 auto, 1 io_uring, 2 libaio, 3 pread (enum dio_backend) */
	/* Optional bitmaps over internal ids (bit i of word i/64): a point may
	 * be returned when set in allowed (NULL: all) and clear in deleted
	 * (NULL: none). Excluded points are still traversed. */
	const uint64_t *allowed;
	uint64_t allowed_bits;
	const uint64_t *deleted;
	uint64_t deleted_bits;
	int sector_expand;        /* -1 auto (on with the locality order), 0 off, 1 on */
};

void dann_search_params_default(struct dann_search_params *p);

struct dann_search_stats {
	uint32_t reads;       /* node reads from SSD */
	uint32_t hops;        /* nodes expanded */
	uint32_t cache_hits;  /* expansions served from the node cache */
	uint32_t rounds;      /* beam rounds */
	uint64_t latency_ns;
};

/* One query (dim float32s): up to k results ascending by exact distance
 * into ids (internal ids; dann_index_key maps them) and dists, their number
 * into *found. stats may be NULL. Thread-safe; each calling thread borrows
 * a searcher (one I/O ring) from the index's pool. DANN_EINVAL for k = 0,
 * k > L, W out of range; read failures name the file. */
int dann_search(struct dann_index *ix, const float *query, const struct dann_search_params *p,
		uint32_t *ids, float *dists, uint32_t *found, struct dann_search_stats *stats);

/* nq queries (nq * dim float32s) on p->threads threads with p->inflight
 * queries in flight on each: query i's results at ids[i*k], dists[i*k],
 * found[i], stats[i] (stats may be NULL). Equal to nq dann_search calls. */
int dann_search_batch(struct dann_index *ix, const float *queries, uint64_t nq,
		      const struct dann_search_params *p, uint32_t *ids, float *dists,
		      uint32_t *found, struct dann_search_stats *stats);

/* The I/O backend the last search on this index used ("io_uring: ..."). */
const char *dann_index_io(const struct dann_index *ix);

#ifdef __cplusplus
}
#endif
#endif
