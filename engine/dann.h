/*
 * dann.h — the public contract of libdann, the disk-first vector engine.
 *
 * Where the library starts: the only header installed, and the only
 * functions libdann.so exports. Each is implemented at the top of its
 * module: errors and names in engine/error.c, logging in engine/log.c, the
 * disk index in engine/vamana/dix_api.c, collections in engine/segment
 * (seg_db.c and its neighbours). docs/ARCHITECTURE.md maps the rest.
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

/* Every function declared in this header, and only those, is exported from
 * libdann.so: the library is compiled with -fvisibility=hidden, and this
 * pragma (GCC and Clang) gives the declarations below default visibility,
 * which their definitions inherit. */
#pragma GCC visibility push(default)

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
	DANN_EEXIST = -9,      /* a named collection or primary key already exists */
	DANN_ETIMEDOUT = -10,  /* an operation passed its deadline and stopped */
};

/* The message of the last failure on this thread ("" if none). The pointer
 * stays valid until the next failure on the same thread. */
const char *dann_errmsg(void);

/* Short fixed name of an error code ("DANN_ECORRUPT"). */
const char *dann_errname(int code);

/* Notices that are not failures (a fallback taken: O_DIRECT refused,
 * io_uring unavailable) go to one hook the program sets; until it does,
 * warnings and errors go to stderr ("dann: warning: <module>: <message>"). */
enum dann_log_level {
	DANN_LOG_ERROR = 0, /* something failed that the caller may not see */
	DANN_LOG_WARN = 1,  /* a fallback or a degraded mode was taken */
	DANN_LOG_INFO = 2,  /* a choice worth knowing (backend, features on) */
	DANN_LOG_DEBUG = 3, /* detail for whoever is chasing a problem */
};

/* Receives one formatted message (no trailing newline). module is a short
 * fixed name ("io", "pq"); msg is valid only during the call. */
typedef void (*dann_log_fn)(void *arg, enum dann_log_level level, const char *module,
			    const char *msg);

/* Sets the hook and the most verbose level passed to it; fn NULL restores
 * the default (stderr). Messages above max_level are dropped before they are
 * formatted. */
void dann_log_set(dann_log_fn fn, void *arg, enum dann_log_level max_level);

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

#define DANN_ENTRY_SAMPLE_AUTO UINT64_MAX

enum dann_order {
	DANN_ORDER_PLAIN = 0,    /* internal id order */
	DANN_ORDER_LOCALITY = 1, /* one greedy pass: neighbours fill the sector */
	DANN_ORDER_SHUFFLE = 2,  /* locality, then Starling's block shuffling */
};

struct dann_build_params {
	enum dann_metric metric;  /* default L2 */
	uint32_t R;               /* max degree (default 64) */
	uint32_t L;               /* build list size (default 100) */
	float alpha;              /* RobustPrune slack (default 1.2) */
	uint32_t pq_bytes;        /* PQ code bytes per vector; 0 = dim/8, at least 1 (capped at dim) */
	double build_ram_gib;     /* graph built in k-means shards above it; 0 = no limit */
	uint32_t threads;         /* threads of every phase (PQ training and encoding,
	                             k-means, graph): 0 = all cores, at most 1024 */
	/* Node order on disk (enum dann_order): LOCALITY (default) packs
	 * graph neighbours into shared sectors; SHUFFLE refines it by block
	 * shuffling (more same-sector edges, a few passes more of build). */
	int locality_order;
	/* Points in the in-RAM entry graph that seeds each search near its
	 * query (Starling/PipeANN): DANN_ENTRY_SAMPLE_AUTO (the default) is 1%
	 * of n within [1000, 1000000]; 0 builds none (search from the medoid). */
	uint64_t entry_sample;
	/* 1: learn an OPQ rotation before PQ (PQ_OPQ_DEFAULT_ITERS rounds;
	 * dim at most 4096), stored with the pivots and applied to every
	 * query's table; 0 (default): plain PQ. Pays on embedding-like data
	 * whose signal plain PQ's consecutive-dimension chunks split badly. */
	int opq;
	/* optional; phases "pq train", "pq encode", "vamana" ("vamana shards"
	 * when partitioned), "layout", "entry graph" */
	dann_progress_fn progress;
	void *progress_arg;
	/* Optional: once *cancel is nonzero the build stops (DANN_ECANCELED;
	 * read with an atomic load: set it with an atomic store);
	 * past deadline_ns on CLOCK_MONOTONIC (0 = none) it stops with
	 * DANN_ETIMEDOUT. Checked between phases and inside the long loops
	 * (each k-means iteration, each encoded block, every few thousand
	 * graph insertions, each layout chunk); a stopped build leaves
	 * nothing at out_dir and no temporary files. */
	const volatile int *cancel;
	uint64_t deadline_ns;
	/* Optional: a directory for the shards of a partitioned graph build
	 * (build_ram_gib below what the whole build needs). Each shard graph is
	 * kept there as it completes, and the directory stays when the build
	 * fails, is stopped or is killed; a later build of the same file with
	 * the same parameters and checkpoint_dir skips the k-means passes and
	 * every shard already built. Another build's checkpoint is refused
	 * (DANN_EINVAL naming what differs). Removed when the build succeeds;
	 * unused by builds that fit in RAM. */
	const char *checkpoint_dir;
};

/* Fills p with the defaults above. */
void dann_build_params_default(struct dann_build_params *p);

/* Builds a disk index of the vectors in data_path (.fbin/.u8bin/.i8bin or
 * .fvecs/.bvecs) into the directory out_dir, which must not exist: written
 * to a temporary name beside it, fsynced, renamed; a build that fails,
 * is stopped or is killed leaves nothing at out_dir. Every parameter is
 * checked before the first phase: DANN_EINVAL naming the bad one.
 * DANN_EUNSUPPORTED if the estimated build memory exceeds build_ram_gib;
 * DANN_ENOMEM with a message when memory runs out; file errors name the
 * file. OpenBLAS's thread count is process-wide: the k-means passes set it
 * to 1 while they run (their own threads do the work) and restore it when
 * the last one ends. */
int dann_index_build(const char *data_path, const char *out_dir, const struct dann_build_params *p);

/* Which nodes the node cache holds. */
enum dann_cache_policy {
	DANN_CACHE_BFS = 0,    /* breadth-first from the entry points */
	/* the nodes that 2000 warm-up searches (for every n/2000-th indexed
	 * point, L 32) read most, then breadth-first: costs those searches'
	 * reads at open (DiskANN's cache list from sample queries) */
	DANN_CACHE_VISITS = 1,
};

/* The node cache a collection's disk segments (dann_db_params.cache_bytes
 * DANN_CACHE_AUTO) and `dann search` get unless told otherwise: this
 * fraction of the node file (disk.index), filled by this policy. Chosen
 * from bench/cache.py's reads per query per L (README.md, Benchmarks):
 * RAM = the fraction x the node file, per open segment. */
#define DANN_CACHE_DEFAULT_FRAC 0.02
#define DANN_CACHE_DEFAULT_POLICY DANN_CACHE_BFS

struct dann_open_params {
	uint64_t cache_nodes;  /* hot nodes kept in RAM (see cache_policy) */
	uint64_t cache_bytes;  /* or a byte budget */
	/* or a fraction of the node file's bytes (0..1); the smallest of the
	 * bounds set wins; all three 0: no cache */
	double cache_frac;
	int buffered;          /* 1: read through the page cache instead of O_DIRECT */
	int verify_all;        /* 1: also checksum the node file on open (reads all of it) */
	int cache_policy;      /* enum dann_cache_policy (default 0: breadth-first) */
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
	int locality_order;       /* enum dann_order the index was built with */
	uint32_t pq_bytes;
	int opq;                  /* 1 if PQ applies a learned rotation (built with opq) */
	uint64_t cache_nodes;     /* nodes held in the cache */
	uint64_t ram_bytes;       /* PQ + maps + cache */
	uint64_t disk_bytes;      /* all files */
	int direct;               /* 1 if node reads bypass the page cache */
	uint64_t entry_points;    /* sample points in the in-RAM entry graph (0: none) */
};
int dann_index_info(const struct dann_index *ix, struct dann_index_info *out);

/* Primary key of internal id (the row number of the build file). */
uint64_t dann_index_key(const struct dann_index *ix, uint32_t id);

/* How a search with an allowed/deleted mask runs (engine/vamana/dix_filter.h):
 * BEAM is the beam search with the mask, its list grown with 1/selectivity;
 * BEAM_UNCOUNTED is the beam search whose list keeps L allowed candidates,
 * excluded nodes traversed but not counted into L; EXACT scores every
 * allowed row by PQ in RAM and re-ranks the best max(L, k) by exact
 * distance read from SSD. AUTO picks by the allowed fraction: EXACT at or
 * below 20% (up to 2^20 allowed rows), else BEAM_UNCOUNTED. */
enum dann_filter_plan {
	DANN_PLAN_AUTO = 0,
	DANN_PLAN_BEAM = 1,
	DANN_PLAN_EXACT = 2,
	DANN_PLAN_BEAM_UNCOUNTED = 3,
};

/* What a search does with the other nodes of each sector it reads (they
 * arrive with the read: their vectors and neighbour lists cost no I/O).
 * ON expands those already in the candidate list, or that would enter it
 * by PQ distance; EXACT (Starling's in-block search) takes the exact
 * distance of every one into the results and expands those that would
 * enter the list at that distance. AUTO: EXACT with a slot-mapped order
 * (locality, shuffle), OFF with the plain order. At equal L, EXACT reads
 * what ON reads and its recall is as high or higher (bench/layout.py:
 * 0.78x ON's reads at recall 0.99 on `dann gen` 100k x 128). */
enum dann_sector_expand {
	DANN_SECTOR_AUTO = -1,
	DANN_SECTOR_OFF = 0,
	DANN_SECTOR_ON = 1,
	DANN_SECTOR_EXACT = 2,
};

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
	int sector_expand;        /* enum dann_sector_expand (default AUTO) */
	int filter_plan;          /* enum dann_filter_plan; used only with a mask */
	/* Optional: once *cancel is nonzero the search stops (DANN_ECANCELED;
	 * the library reads it with an atomic load, so set it from another
	 * thread with an atomic store, e.g. __atomic_store_n(&flag, 1,
	 * __ATOMIC_RELAXED));
	 * past deadline_ns on CLOCK_MONOTONIC (0 = none) it stops with
	 * DANN_ETIMEDOUT. Checked before the first read and between beam
	 * rounds, so a search stops within one round's reads; a stopped batch
	 * leaves the outputs of unfinished queries undefined. */
	const volatile int *cancel;
	uint64_t deadline_ns;
	/* Seeds from the index's entry graph (if it has one) in place of the
	 * medoid: -1 auto (2 W), 0 none (start at the medoid), N seeds (<= 64). */
	int entry_seeds;
};

void dann_search_params_default(struct dann_search_params *p);

struct dann_search_stats {
	uint32_t reads;       /* node reads from SSD */
	uint32_t hops;        /* nodes expanded */
	uint32_t cache_hits;  /* expansions served from the node cache */
	/* Sector use (locality layout with sector expansion): the other nodes
	 * in the sectors read, and how many of them were expanded with the
	 * read (in, or entering, the candidate list) instead of costing a read
	 * of their own. */
	uint32_t sector_peers;
	uint32_t sector_used;
	uint32_t rounds;      /* beam rounds */
	uint32_t plan;        /* enum dann_filter_plan that ran (0: no mask) */
	uint64_t latency_ns;
};

/* One query (dim float32s): up to k results ascending by exact distance
 * into ids (internal ids; dann_index_key maps them) and dists, their number
 * into *found. stats may be NULL. Thread-safe; each calling thread borrows
 * a searcher (one I/O ring) from the index's pool; a searcher sized for a
 * large L is sized down again by the next query with a much smaller L, so
 * one large query does not slow or bloat the ones after it.
 * DANN_EINVAL for k = 0, k > L, W out of range, or a query component that
 * is NaN or infinite (naming the component); every block read from
 * disk.index is checked against its CRC32C, and a mismatch is
 * DANN_ECORRUPT naming the file and the sector; read failures name the
 * file; DANN_ECANCELED / DANN_ETIMEDOUT as the params say. */
int dann_search(struct dann_index *ix, const float *query, const struct dann_search_params *p,
		uint32_t *ids, float *dists, uint32_t *found, struct dann_search_stats *stats);

/* nq queries (nq * dim float32s) on p->threads threads with p->inflight
 * queries in flight on each: query i's results at ids[i*k], dists[i*k],
 * found[i], stats[i] (stats may be NULL). Equal to nq dann_search calls.
 * Every parameter and every query is checked before the first read:
 * DANN_EINVAL also for inflight x W past one I/O ring (32768 reads). The
 * first failing thread's code and message are returned. */
int dann_search_batch(struct dann_index *ix, const float *queries, uint64_t nq,
		      const struct dann_search_params *p, uint32_t *ids, float *dists,
		      uint32_t *found, struct dann_search_stats *stats);

/* The I/O backend the last search on this index used ("io_uring: ..."; ""
 * before the first search). Safe to call while other threads search: the
 * text is copied into a per-thread buffer, valid until the next call on
 * the same thread. */
const char *dann_index_io(const struct dann_index *ix);


/* ---- Collections (engine/segment/seg_*) -----------------------------------
 *
 * A data directory holds any number of collections. A collection takes
 * inserts, upserts and deletes in batches; each write is durable (in the
 * write-ahead log, fsynced with group commit) and visible to searches when
 * the call returns. Rows gather in a growing segment in RAM; at the seal
 * threshold (or on dann_coll_flush) it is sealed and built into a disk
 * index in the background, then swapped in atomically. Compaction rewrites
 * segments with many deletes and runs of small ones. See DESIGN.md, "Data
 * flow" and "Durability and failure".
 *
 * Thread safety: a struct dann_db and the collections opened from it may
 * be used from any number of threads at once. One process holds a data
 * directory at a time (a lock file; a second opener gets DANN_EBUSY). */

#define DANN_NAME_MAX 255        /* bytes of a collection or field name */
#define DANN_MAX_FIELDS 64       /* scalar fields per collection */
#define DANN_MAX_DIM 65536

/* Scalar field types (values in struct dann_column). */
enum dann_field_type {
	DANN_FIELD_BOOL = 1,     /* uint8_t, 0 or 1 */
	DANN_FIELD_INT8 = 2,     /* int8_t */
	DANN_FIELD_INT16 = 3,    /* int16_t */
	DANN_FIELD_INT32 = 4,    /* int32_t */
	DANN_FIELD_INT64 = 5,    /* int64_t */
	DANN_FIELD_FLOAT = 6,    /* float */
	DANN_FIELD_DOUBLE = 7,   /* double */
	DANN_FIELD_VARCHAR = 8,  /* UTF-8 bytes, at most max_length */
	DANN_FIELD_JSON = 9,     /* a JSON document as UTF-8 text */
};

#define DANN_DEFAULT_MAX 255     /* bytes of a VARCHAR default */

/* A field's default value (Milvus's FieldSchema.default_value): a row
 * that omits the field, or gives it as null, stores this value instead.
 * type 0: no default; else it must equal the field's type (JSON fields
 * take none). */
struct dann_default {
	enum dann_field_type type;
	int64_t i;               /* BOOL (0 or 1), INT8..INT64, within the type */
	double d;                /* FLOAT, DOUBLE: finite (FLOAT: within float) */
	uint32_t len;            /* VARCHAR: bytes of s, at most max_length */
	char s[DANN_DEFAULT_MAX + 1];  /* VARCHAR: UTF-8, no NUL inside */
};

struct dann_field {
	char name[DANN_NAME_MAX + 1];
	enum dann_field_type type;
	uint32_t max_length;     /* VARCHAR: bytes (1..65535) */
	int nullable;            /* 1: rows may omit it (null) */
	struct dann_default def; /* def.type 0: none */
};

/* How each sealed segment's disk index is built (see dann_build_params). */
struct dann_index_params {
	enum dann_metric metric;
	uint32_t R, L;
	float alpha;
	uint32_t pq_bytes;       /* 0: dim / 8 */
	/* 1: every segment build (seal, compaction, metric change) learns an
	 * OPQ rotation before PQ (dann_build_params.opq; dim at most 4096);
	 * 0 (default): plain PQ. Applies to segments built from then on. */
	int opq;
	double build_ram_gib;    /* 0: no limit */
};

struct dann_schema {
	char name[DANN_NAME_MAX + 1];
	char description[DANN_NAME_MAX + 1];
	char pk_field[DANN_NAME_MAX + 1];      /* primary key's name (default "id") */
	char vector_field[DANN_NAME_MAX + 1];  /* vector field's name (default "vector") */
	uint32_t dim;                /* 1..DANN_MAX_DIM */
	enum dann_dtype dtype;       /* F32, U8 or I8 */
	int auto_id;                 /* 1: keys assigned by the collection */
	int dynamic_field;           /* 1: a JSON column "$meta" keeps keys not in the schema */
	uint32_t nfields;            /* scalar fields beside the key and the vector */
	struct dann_field fields[DANN_MAX_FIELDS];
	struct dann_index_params index;
	uint64_t seal_rows;          /* seal the growing segment at this many rows (0: default) */
	uint64_t seal_bytes;         /* ... or this many vector bytes (0: default) */
};

/* Fills s with defaults: pk "id", vector "vector", F32, L2, R 64, L 100,
 * alpha 1.2, pq_bytes 0, no fields, default seal thresholds. */
void dann_schema_default(struct dann_schema *s);

/* Values of one scalar field for the n rows of a batch.
 *   fixed-width types: values is n elements of the type's C type;
 *   VARCHAR / JSON: values is bytes, offsets n + 1 ascending byte offsets
 *   (row i is values[offsets[i] .. offsets[i+1]), no NUL needed);
 *   valid: NULL (every row has a value) or n bytes, 0 meaning null. */
struct dann_column {
	const char *name;
	enum dann_field_type type;
	const void *values;
	const uint64_t *offsets;
	const uint8_t *valid;
};

/* One write: n rows. keys is NULL for an auto-id collection (the assigned
 * keys are written to out_keys when it is not NULL), else n distinct keys.
 * vectors: n * dim elements of the schema's dtype. cols: ncols columns,
 * each naming a field of the schema (or "$meta"); a nullable field, or
 * one with a default, may be left out (null, or its default). */
struct dann_batch {
	uint64_t n;
	const int64_t *keys;
	const void *vectors;
	const struct dann_column *cols;
	uint32_t ncols;
};

enum dann_seg_state {
	DANN_SEG_GROWING = 0,
	DANN_SEG_SEALED = 1,     /* immutable, its disk index being built */
	DANN_SEG_FLUSHED = 2,    /* a disk index */
	DANN_SEG_DROPPED = 3,    /* replaced; files go when no search uses them */
};

/* ---- The catalog interface ---------------------------------------------------
 *
 * Where a data directory records its collections and segments. The default
 * (dann_db_params.catalog == NULL) keeps it in a checksummed file in the
 * data dir; dannd's meta/ replicates it with Raft. Every mutating call is
 * one atomic, durable change: when it returns 0 the change is committed and
 * a later list sees it; when it fails nothing changed. The segment layer
 * calls it from any thread, never with its own locks held across a call
 * that another of its threads needs. */

#define DANN_CAT_PROPS_MAX 4096
#define DANN_CAT_FILES_MAX 512

struct dann_cat_coll {
	uint64_t id;
	struct dann_schema schema;
	char props[DANN_CAT_PROPS_MAX];     /* "key=value\n" lines */
};

struct dann_cat_segment {
	uint64_t id;
	uint64_t coll_id;
	enum dann_seg_state state;
	uint64_t rows;
	uint64_t first_lsn, last_lsn;       /* WAL records whose rows it holds */
	uint32_t manifest_crc;              /* CRC32C of its MANIFEST once flushed */
	char files[DANN_CAT_FILES_MAX];     /* its directory, relative to the data dir */
	char object_key[DANN_CAT_FILES_MAX]; /* object-store prefix once uploaded ("" if not) */
};

enum dann_cat_counter {
	DANN_CAT_COLL_ID = 0,
	DANN_CAT_SEGMENT_ID = 1,
	DANN_CAT_AUTO_ID = 2,               /* auto-id primary keys, handed out in blocks */
	DANN_CAT_TIMESTAMP = 3,
};

struct dann_catalog_ops {
	/* DANN_EEXIST if the name is taken; *id is the new collection's id. */
	int (*coll_create)(void *ctx, const struct dann_schema *s, uint64_t *id);
	/* Marks the collection and its segments dropped. */
	int (*coll_drop)(void *ctx, uint64_t id);
	/* Replaces the schema (index parameters) and properties of id. */
	int (*coll_update)(void *ctx, const struct dann_cat_coll *c);
	/* Every live collection (one malloc'd array). */
	int (*coll_list)(void *ctx, struct dann_cat_coll **out, size_t *n);
	/* Inserts or replaces n segment records by id, all at once. */
	int (*seg_apply)(void *ctx, const struct dann_cat_segment *segs, size_t n);
	/* The segments of a collection that are not DROPPED (malloc'd). */
	int (*seg_list)(void *ctx, uint64_t coll_id, struct dann_cat_segment **out, size_t *n);
	/* Reserves count values of a counter: first .. first + count - 1. */
	int (*alloc)(void *ctx, enum dann_cat_counter which, uint64_t count, uint64_t *first);
	/* The value the next alloc of a counter would hand out first; changes
	 * nothing. Opening a data directory asks it for DANN_CAT_COLL_ID: a
	 * collection directory c<id> that coll_list lacks is removed only when
	 * id is below it (allocated by this catalog, so dropped); any other is
	 * refused, never deleted (it may belong to another catalog). NULL:
	 * every such directory is refused. */
	int (*counter)(void *ctx, enum dann_cat_counter which, uint64_t *next);
};

struct dann_db;
struct dann_coll;

struct obj_config;
struct dann_db_params {
	uint32_t threads;            /* background build / compaction threads (0: all cores) */
	int buffered;                /* 1: segment reads through the page cache */
	/* Node-cache budget per open disk segment: DANN_CACHE_AUTO (the
	 * default) is DANN_CACHE_DEFAULT_FRAC of its node file; 0: none;
	 * else bytes. cache_policy: enum dann_cache_policy (default
	 * DANN_CACHE_DEFAULT_POLICY). */
	uint64_t cache_bytes;
	int cache_policy;
	int no_background;           /* 1: seal builds and compaction only run when asked (tests) */
	const struct dann_catalog_ops *catalog; /* NULL: the local catalog in the data dir */
	void *catalog_ctx;
	/* Tiering (engine/segment/tier.h). With a store, flushed segments are
	 * uploaded in the background (every sync_interval_ms, and at once after
	 * a flush, a compaction or a drop) and the data dir is a cache of them:
	 * beyond tier_cache_bytes of local segment files, the least recently
	 * used uploaded segments lose their local copy (keys and delete bits
	 * stay in RAM) and are downloaded again when a search needs them. */
	const char *store_uri;       /* "s3://bucket/prefix", "file:///dir" or NULL: none */
	const struct obj_config *store_config; /* engine/io/obj.h; NULL: defaults */
	uint64_t tier_cache_bytes;   /* local bytes of uploaded segments (0: no limit) */
	uint32_t sync_interval_ms;   /* 0: DANN_DEFAULT_SYNC_INTERVAL_MS */
};
#define DANN_DEFAULT_SYNC_INTERVAL_MS 10000u
#define DANN_CACHE_AUTO UINT64_MAX
void dann_db_params_default(struct dann_db_params *p);

/* Opens (creating if needed) the data directory dir: takes its lock,
 * recovers every collection (WAL replay past the last checkpoint, leftover
 * temporary files removed, no half-built segment visible). p may be NULL. */
int dann_db_open(const char *dir, const struct dann_db_params *p, struct dann_db **out);
/* Stops background work (a running build is abandoned, its files removed),
 * makes every acknowledged write durable, releases the lock. NULL: no-op.
 * No other call on db or its collections may be running. */
void dann_db_close(struct dann_db *db);

/* DANN_EEXIST naming a duplicate name; DANN_EINVAL naming a bad field. */
int dann_coll_create(struct dann_db *db, const struct dann_schema *s);
/* Drops the collection and removes its files (once no search uses them).
 * DANN_ENOTFOUND naming an unknown collection. */
int dann_coll_drop(struct dann_db *db, const char *name);
/* Names of every collection, sorted; *names is one malloc'd block (free it). */
int dann_coll_list(struct dann_db *db, char ***names, size_t *n);
/* Handle of a collection, valid until it is dropped or db closes (a dropped
 * collection's handle returns DANN_ENOTFOUND). Handles need no closing. */
int dann_coll_get(struct dann_db *db, const char *name, struct dann_coll **out);
/* dann_coll_get that never waits: DANN_EBUSY while another thread holds
 * the database's lock (a collection being created commits its catalog
 * record under it), for a caller that must not block, such as a server's
 * network thread. */
int dann_coll_get_nowait(struct dann_db *db, const char *name, struct dann_coll **out);
int dann_coll_schema(struct dann_coll *c, struct dann_schema *out);
/* Changes the index parameters for segments sealed from now on; when the
 * metric changes, existing flushed segments are rebuilt in the background
 * with the new parameters while searches (and dann_coll_schema) keep the
 * old metric; when all are rebuilt, one step swaps them in and the whole
 * collection answers by the new metric. dann_coll_flush waits for it. A
 * call keeping the current metric calls off a change still pending. */
int dann_coll_set_index(struct dann_coll *c, const struct dann_index_params *ip);
/* Small durable key/value properties of a collection (the server keeps its
 * index name, load state and such here). get: DANN_ENOTFOUND if unset;
 * the value is copied into buf (NUL-terminated, truncated to cap). */
int dann_coll_set_prop(struct dann_coll *c, const char *key, const char *value);
int dann_coll_get_prop(struct dann_coll *c, const char *key, char *buf, size_t cap);
/* dann_coll_get_prop that never waits: DANN_EBUSY while another thread
 * holds the collection's lock (a property write commits the catalog under
 * it). */
int dann_coll_get_prop_nowait(struct dann_coll *c, const char *key, char *buf, size_t cap);

/* Inserts b->n rows; durable and searchable on return. DANN_EEXIST naming
 * the first key already present (nothing of the batch is written). */
int dann_coll_insert(struct dann_coll *c, const struct dann_batch *b, int64_t *out_keys);
/* Inserts or replaces b->n rows by key (delete + insert in one WAL record). */
int dann_coll_upsert(struct dann_coll *c, const struct dann_batch *b);
/* Deletes the rows with these keys; missing keys are not an error.
 * *deleted (optional) counts the rows removed. */
int dann_coll_delete(struct dann_coll *c, const int64_t *keys, uint64_t n, uint64_t *deleted);

struct dann_coll_search_params {
	uint32_t k;                  /* results per query (default 10) */
	uint32_t L;                  /* list size for disk and graph segments (default 100) */
	uint32_t W;                  /* beam width (default 4) */
	uint32_t threads;            /* search_batch threads (default 1) */
	uint32_t inflight;           /* search_batch queries in flight per thread (default 16) */
	const char *filter;          /* a filter expression over scalar fields, or NULL */
	uint64_t deadline_ns;        /* CLOCK_MONOTONIC; 0 = none (DANN_ETIMEDOUT past it) */
	const volatile int *cancel;  /* optional: nonzero stops the search (DANN_ECANCELED) */
};
void dann_coll_search_params_default(struct dann_coll_search_params *p);

struct dann_coll_search_stats {
	uint32_t segments;           /* segments the search visited */
	uint32_t reads;              /* SSD node reads */
	uint64_t latency_ns;
};

/* One query (dim float32s): up to k results ascending by distance (dann.h's
 * conventions) into keys and dists, their number into *found. Sees every
 * write acknowledged before the call. stats may be NULL. */
int dann_coll_search(struct dann_coll *c, const float *query, const struct dann_coll_search_params *p,
		     int64_t *keys, float *dists, uint32_t *found, struct dann_coll_search_stats *stats);
/* nq queries: query i's results at keys[i*k], dists[i*k], found[i]; the
 * same as nq dann_coll_search calls, faster: each flushed segment takes
 * the queries in one disk batch (p->threads threads, p->inflight queries
 * in flight on each), and p->filter is compiled once and evaluated once
 * per segment for the whole batch. stats[i].latency_ns is the time of the part of the
 * batch (up to 1024 queries) that held query i. */
int dann_coll_search_batch(struct dann_coll *c, const float *queries, uint64_t nq,
			   const struct dann_coll_search_params *p, int64_t *keys, float *dists,
			   uint32_t *found, struct dann_coll_search_stats *stats);

/* A searcher: long-lived search threads that keep many single queries in
 * flight from a stream of them (a server's concurrent Search calls), any
 * collection's. Each thread keeps up to `inflight` queries on its own I/O
 * ring and starts the next waiting query the moment one of them finishes
 * (or one segment of it: a query goes through its version's segments one
 * after another, RAM ones by the CPU at once, flushed ones as slots of the
 * ring), so the SSD stays busy without batches. A query's results equal
 * dann_coll_search's (and dann_coll_search_batch's). */
struct dann_searcher;

struct dann_searcher_params {
	uint32_t threads;    /* search threads, each its own I/O ring (default 1; 1..64) */
	uint32_t inflight;   /* queries in flight per thread (default 64; 1..1024) */
	uint32_t queue_max;  /* queries waiting for a slot, beyond which submit says
	                        DANN_EBUSY (default 1024; >= 1) */
};
void dann_searcher_params_default(struct dann_searcher_params *p);
int dann_searcher_new(const struct dann_searcher_params *p, struct dann_searcher **out);
/* Queries still waiting end with DANN_ECANCELED; those in flight finish
 * or stop first. No submit may run concurrently. NULL: no-op. */
void dann_searcher_free(struct dann_searcher *s);

/* Called once per submitted query, on a search thread: rc 0 with the
 * results in place, or the error and its message. */
typedef void (*dann_search_done_fn)(void *arg, int rc, const char *msg);

/* Queues one query of collection c (copied) with p (k, L, W, filter,
 * deadline_ns, cancel; threads and inflight unused) for s; its results go
 * to keys, dists (p->k each) and *found, which, like *p->cancel, must stay
 * valid until done(arg, ...) is called, and c must stay open until then.
 * A query past its deadline or cancelled stops where it is and frees its
 * slot (DANN_ETIMEDOUT / DANN_ECANCELED). Errors, done not called: those
 * of dann_coll_search for bad parameters, query or filter (compiled here),
 * DANN_EBUSY when queue_max queries wait already. */
int dann_searcher_submit(struct dann_searcher *s, struct dann_coll *c, const float *query,
			 const struct dann_coll_search_params *p, int64_t *keys, float *dists,
			 uint32_t *found, dann_search_done_fn done, void *arg);
/* dann_searcher_submit and waiting for it: dann_coll_search's contract. A
 * query still waiting for a slot when its deadline passes or *p->cancel
 * is set is taken back at once (checked every 20 ms for cancel). */
int dann_searcher_search(struct dann_searcher *s, struct dann_coll *c, const float *query,
			 const struct dann_coll_search_params *p, int64_t *keys, float *dists,
			 uint32_t *found);
/* Queries finished since start and queries waiting or in flight now. */
void dann_searcher_counts(struct dann_searcher *s, uint64_t *done, uint64_t *pending);

/* The stored vector of key (dim elements of the dtype) into vec.
 * DANN_ENOTFOUND if the key is absent or deleted. */
int dann_coll_get_vector(struct dann_coll *c, int64_t key, void *vec);
/* Rows fetched by key, owned by the library (dann_rows_free). */
struct dann_rows {
	uint64_t n;                  /* keys asked for */
	uint8_t *found;              /* n bytes: 1 if the key is live */
	void *vectors;               /* n * dim elements (NULL unless asked for);
	                                rows not found are zero */
	uint32_t ncols;
	struct dann_column *cols;    /* the asked fields, n rows each (rows not
	                                found are null) */
};
void dann_rows_free(struct dann_rows *r);
/* The vectors (with_vectors) and the named scalar fields ("$meta" for the
 * dynamic field; a key inside it by its name) of n keys. DANN_EINVAL
 * naming an unknown field. */
int dann_coll_fetch(struct dann_coll *c, const int64_t *keys, uint64_t n, const char *const *fields,
		    uint32_t nfields, int with_vectors, struct dann_rows **out);


/* Live rows. */
int dann_coll_count(struct dann_coll *c, uint64_t *rows);

/* Query by expression (Milvus's Query): the live rows whose scalar fields
 * pass filter (a filter expression, see engine/segment/expr.h; NULL or ""
 * passes every row), in ascending primary-key order, `offset` of them
 * skipped and at most `limit` returned (0: no limit). *keys (malloc'd,
 * *n of them) gets their keys and, when out is not NULL, *out their
 * fields and vectors as dann_coll_fetch gives them. DANN_EINVAL with a
 * positioned message for a bad filter, naming an unknown output field. */
struct dann_coll_query_params {
	const char *filter;
	uint64_t offset, limit;
	const char *const *fields;   /* output fields (nfields of them) */
	uint32_t nfields;
	int with_vectors;
};
int dann_coll_query(struct dann_coll *c, const struct dann_coll_query_params *p, int64_t **keys,
		    uint64_t *n, struct dann_rows **out);
/* count(*) with a filter: live rows passing it (NULL or "": all). */
int dann_coll_count_filter(struct dann_coll *c, const char *filter, uint64_t *rows);
/* Seals the growing segment and waits until every sealed segment is a
 * flushed disk index (and the WAL is checkpointed past them). */
int dann_coll_flush(struct dann_coll *c);
/* Compacts now and waits: segments with deletes and runs of segments not
 * yet full (a compacted segment holds up to 8 seal thresholds) are
 * rewritten, merged, without their deleted rows. */
int dann_coll_compact(struct dann_coll *c);


struct dann_seg_info {
	uint64_t id;
	enum dann_seg_state state;
	uint64_t rows;               /* rows stored, deleted included */
	uint64_t deleted;
	uint64_t disk_bytes;
};
/* The collection's segments (one malloc'd array; free it). */
int dann_coll_segments(struct dann_coll *c, struct dann_seg_info **out, size_t *n);

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif
#endif
