/*
 * seg_impl.h — the state shared by the files of engine/segment: a data
 * directory (struct dann_db), its collections, their segments and the
 * reference-counted version (the list of segments a search reads).
 *
 * Invariants:
 *   - every write is one WAL record; records are applied to memory in LSN
 *     order (coll->applied_lsn), so replay after a crash rebuilds exactly
 *     the state the acknowledged writes built;
 *   - a key is live in at most one segment; the PK index maps it there;
 *   - the rows of LSNs <= coll->ckpt_lsn live in flushed segments whose
 *     delete bitmaps on disk hold every delete up to that LSN, so the WAL
 *     may drop them; sealed segments are built and swapped in seal order;
 *   - a version (struct seg_ver) never changes once published: a search
 *     holds one, so it sees a segment before a swap or after it, never
 *     both; a dropped segment's files go when its last reference does
 *     (LevelDB's version set, in small).
 *
 * Locks, outermost first: coll->mu (writers, PK index, segment states,
 * delete bitmaps, seals and swaps), then coll->vmu (publishing the version),
 * then a RAM segment's rw (its arrays while they grow). Searches take only
 * vmu (briefly) and rw (read).
 */
#ifndef DANN_SEG_IMPL_H
#define DANN_SEG_IMPL_H

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "../dann.h"
#include "../dist.h"
#include "seg_pk.h"
#include "seg_catalog.h"

#define SEG_DEFAULT_SEAL_ROWS 200000u            /* ~ a few seconds of build on 2 cores */
#define SEG_DEFAULT_SEAL_BYTES (512ull << 20)    /* vector bytes of one growing segment */
#define SEG_EXACT_ROWS 20000u                    /* growing: exact scan below, Vamana above */
#define SEG_GRAPH_STEP_ROWS 4096u               /* rows the graph thread adds per step */
#define SEG_AUTO_ID_BLOCK 4096u                  /* auto-id keys reserved per catalog call */
#define SEG_COMPACT_DELETED 0.2                  /* background: rewrite past this deleted fraction */
#define SEG_SEARCH_RETRIES 3                     /* reruns of a search that crossed a metric flip */
#define SEG_COMPACT_GROWTH 8u                    /* a compacted segment holds up to 8 seal thresholds */
#define SEG_COMPACT_MIN_RUN 4u                   /* background: small segments before they are merged */
#define SEG_META_FIELD "$meta"

struct vam;
struct dann_index;
struct roaring_bitmap_s;
struct seg_tier;

/* One scalar column of a RAM segment: values grow with the rows. */
struct seg_col {
	enum dann_field_type type;
	size_t esz;              /* bytes per value; 0 for VARCHAR / JSON */
	uint8_t *vals;           /* fixed: n * esz; varlen: the bytes */
	size_t vals_cap, bytes;  /* varlen: bytes used */
	uint64_t *offs;          /* varlen: n + 1 offsets into vals */
	uint8_t *valid;          /* n bytes, 0 = null */
};

/* Rows held in RAM (growing and sealed segments). */
struct seg_mem {
	pthread_rwlock_t rw;     /* write: the arrays grow; read: a scan or copy */
	uint64_t n, cap;
	int64_t *keys;
	uint8_t *vecs;           /* n * row_bytes */
	_Atomic uint64_t *delw;  /* deleted bits, cap/64 words */
	uint32_t ncols;
	struct seg_col *cols;
	struct vam *vam;         /* once n >= SEG_EXACT_ROWS: ids are rows */
	uint32_t vam_epoch;      /* the metric epoch it was built under (rw) */
	_Atomic uint64_t graph_n; /* rows [0, graph_n) are in the graph */
};

/* A flushed segment: its directory is a disk index plus the segment's
 * files (vectors, keys, columns) under one MANIFEST. Keys and delete bits
 * stay in RAM; with tiering (seg_tier.c) the files (ix, vfd, colfd) are
 * opened on first use and closed when the tier cache evicts the directory,
 * and every reader brackets its use with seg_disk_use / seg_disk_done. */
struct seg_disk {
	struct dann_index *ix;
	enum dann_metric metric; /* its index's */
	int vfd;                 /* the vector file, for get and compaction */
	int64_t *keys;           /* row -> primary key */
	_Atomic uint64_t *delw;  /* deleted bits for the search's mask */
	struct roaring_bitmap_s *del; /* the same set, persisted (under coll->mu) */
	bool dirty;              /* del changed since it was last written */
	uint32_t manifest_crc;
	uint64_t disk_bytes;
	uint32_t ncols;
	int (*colfd)[3];         /* per column: .nul, .val, .off (-1 if none) */
	struct seg_fcols *_Atomic fcols; /* columns read whole for filters (seg_filter.c);
	                                    kept in RAM when the files are evicted */
	/* tiering; the generations and obj_key under coll->mu */
	pthread_mutex_t fmu;     /* opening and closing the files */
	bool files_open;
	bool tiered;             /* registered with the tier cache */
	uint64_t del_gen;        /* delete-bitmap file versions written (1: one at open) */
	uint64_t del_synced;     /* the version the store holds */
	char obj_key[DANN_CAT_FILES_MAX]; /* its object prefix once uploaded */
};

struct seg {
	uint64_t id;
	_Atomic int state;       /* enum dann_seg_state */
	uint64_t first_lsn, last_lsn;
	uint64_t nrows;          /* flushed: fixed; RAM: see mem->n */
	uint64_t ndel;           /* under coll->mu */
	_Atomic int refs;
	_Atomic bool dropped;    /* remove dir when the last reference goes */
	char dir[PATH_MAX];      /* flushed: its directory; "" for RAM segments */
	struct seg_mem *mem;
	struct seg_disk *disk;
	const struct dann_coll *coll;
	/* Filter masks evaluated over this segment (seg_filter_mask): a
	 * batch with one filter makes one per segment, whatever its size. */
	_Atomic uint64_t filter_evals;
};

struct seg_ver {
	_Atomic int refs;
	size_t n;
	struct seg *s[];
};

struct dann_db {
	char dir[PATH_MAX];
	struct dann_db_params p;
	int lock_fd;
	const struct dann_catalog_ops *cat;
	void *cat_ctx;
	void *local_cat;         /* the local catalog when p.catalog is NULL */
	char failpoint[64];      /* DANN_FAILPOINT: SIGKILL at this named point (tests) */
	pthread_mutex_t mu;      /* the collection list and the worker's queue */
	pthread_cond_t cv;
	struct dann_coll **colls;
	size_t ncolls;
	_Atomic bool stopping;
	bool kicked;
	bool worker_started;
	pthread_t worker;
	struct seg_tier *tier;   /* object store, cache and syncer; NULL: no tiering */
	pthread_cond_t gcv;      /* wakes the graph thread */
	bool graph_kicked;
	pthread_t graph;
};

struct dann_coll {
	struct dann_db *db;
	uint64_t id;
	struct dann_schema schema;
	char props[DANN_CAT_PROPS_MAX];
	char dir[PATH_MAX];      /* <data>/c<id> */
	struct wal *wal;
	size_t esz, row_bytes;
	uint64_t seal_rows, seal_bytes;
	dist_fn dist;

	pthread_mutex_t mu;
	pthread_cond_t cv;       /* applied_lsn moved, claims released, a build ended */
	struct seg_pk pk;        /* key -> segment, row */
	struct seg_pk pending;   /* keys of writes between WAL append and apply */
	uint64_t applied_lsn, ckpt_lsn;
	struct seg *growing;
	uint64_t auto_next, auto_end;
	bool worker_busy;        /* a build or compaction of this collection runs */
	bool want_compact;
	_Atomic bool dropped;
	int failed;              /* an error that stops writes until reopen */
	int bg_err;              /* last background failure, reported by flush */
	struct dann_index_params reindex; /* a metric change's target (seg_reindex.c) */
	bool reindex_pending;
	_Atomic uint32_t metric_epoch; /* moves when the metric changes */

	pthread_mutex_t vmu;
	struct seg_ver *ver;
};

/* ---- seg_schema.c */
int seg_schema_check(const struct dann_schema *s);
uint64_t seg_eff_seal_rows(const struct dann_schema *s);
uint64_t seg_eff_seal_bytes(const struct dann_schema *s);
/* Index of the column named name among the schema's fields ("$meta" is
 * nfields when dynamic), or -1. */
int seg_col_index(const struct dann_schema *s, const char *name);
uint32_t seg_ncols(const struct dann_schema *s);
enum dann_field_type seg_col_type(const struct dann_schema *s, uint32_t i);
size_t seg_field_size(enum dann_field_type t); /* 0 for VARCHAR / JSON */

/* ---- seg_version.c */
struct seg *seg_new(const struct dann_coll *c, uint64_t id, enum dann_seg_state st);
void seg_ref(struct seg *s);
void seg_unref(struct seg *s);
/* The current version, referenced (seg_ver_unref when done). */
struct seg_ver *seg_ver_get(struct dann_coll *c);
void seg_ver_unref(struct seg_ver *v);
/* Publishes a version made of the current one minus `drop` (ndrop) with
 * `add` (nadd) put where the first dropped one was (or before the growing
 * segment). Caller holds c->mu. */
int seg_ver_swap(struct dann_coll *c, struct seg *const *drop, size_t ndrop,
		 struct seg *const *add, size_t nadd);
/* The segment with id in the current version (caller holds c->mu), or NULL. */
struct seg *seg_find(struct dann_coll *c, uint64_t id);

/* ---- seg_mem.c */
int seg_mem_new(const struct dann_coll *c, struct seg_mem **out);
void seg_mem_free(struct seg_mem *m);
/* Room for n more rows (called before the WAL append, so apply cannot fail
 * for want of memory in the arrays). */
int seg_mem_reserve(const struct dann_coll *c, struct seg_mem *m, const struct dann_batch *b);
/* Appends a batch (already validated); the Vamana graph follows past
 * SEG_EXACT_ROWS. */
int seg_mem_append(const struct dann_coll *c, struct seg_mem *m, const struct dann_batch *b,
		   const int64_t *keys);
void seg_mem_delete(struct seg_mem *m, uint64_t row);
uint64_t seg_mem_exact_rows(const struct dann_coll *c);
/* Adds the next rows to the graph (graph thread; c->mu not held). *did
 * says whether there was anything to add. */
int seg_mem_graph_step(struct dann_coll *c, struct seg_mem *m, int *did);
bool seg_mem_deleted(struct seg_mem *m, uint64_t row);
/* Up to k nearest live rows as (key, dist) pairs; *found how many. */
/* allowed: rows a filter passes (NULL: all; rows >= nallowed excluded). */
int seg_mem_search(const struct dann_coll *c, struct seg_mem *m, const float *q, uint32_t k,
		   uint32_t L, const uint64_t *allowed, uint64_t nallowed, int64_t *keys,
		   float *dists, uint32_t *found);
void seg_mem_vector(const struct dann_coll *c, struct seg_mem *m, uint64_t row, void *out);

/* ---- seg_record.c: WAL payloads */
enum seg_rec_type { SEG_REC_INSERT = 1, SEG_REC_UPSERT = 2, SEG_REC_DELETE = 3 };
struct seg_rec {
	enum seg_rec_type type;
	struct dann_batch b;     /* pointers into the payload */
	struct dann_column cols[DANN_MAX_FIELDS + 1];
	char names[DANN_MAX_FIELDS + 1][DANN_NAME_MAX + 1];
};
/* Encodes the head (everything but the vectors) into a malloc'd buffer. */
int seg_rec_encode(const struct dann_coll *c, enum seg_rec_type t, const struct dann_batch *b,
		   const int64_t *keys, void **head, size_t *head_len);
int seg_rec_decode(const struct dann_coll *c, const void *payload, size_t len, struct seg_rec *r);

/* ---- seg_write.c */
int seg_check_keys(const struct dann_coll *c, const int64_t *keys, uint64_t n);
int seg_validate_batch(const struct dann_coll *c, const struct dann_batch *b, int need_keys);
/* Applies one record in LSN order (caller holds c->mu). */
int seg_apply(struct dann_coll *c, uint64_t lsn, const struct seg_rec *r, uint64_t *deleted);
/* Seals the growing segment if it has rows (caller holds c->mu). */
int seg_seal(struct dann_coll *c);
int seg_growing_new(struct dann_coll *c);

/* ---- seg_disk.c: flushed segments */
int seg_disk_open(struct dann_coll *c, struct seg *s, const char *dir, uint32_t expect_crc);
/* Opens a flushed segment the catalog lists (r) on a tiered data dir:
 * registers it with the cache, reads its keys and delete bitmap (from its
 * directory, or when evicted from its stub, seg_stub.h), and leaves its
 * files to be opened (and downloaded) on use. */
int seg_disk_open_tiered(struct dann_coll *c, struct seg *s, const char *dir,
			 const struct dann_cat_segment *r);
/* Brackets every read of a flushed segment's files: pins it in the tier
 * cache (downloading it if evicted) and opens its files if closed. No-ops
 * for segments the cache does not hold. */
int seg_disk_use(const struct dann_coll *c, struct seg *s);
void seg_disk_done(const struct dann_coll *c, struct seg *s);
/* Whether s's files are in the data dir now (always, untiered). */
bool seg_disk_local(struct seg *s);
/* Reads a delete-bitmap file's bytes (what names them in messages) into
 * s->disk->del; s->nrows must be set. DANN_ECORRUPT for a bad one. */
int seg_disk_parse_deletes(struct seg *s, const uint8_t *buf, size_t len, const char *what);
/* Builds the search's delete mask and s->ndel from s->disk->del. */
int seg_disk_del_mask(struct seg *s);
/* Closes the files of a segment (the tier cache's eviction). */
void seg_disk_close_files(struct seg_disk *d);
void seg_disk_close(struct seg_disk *d);
void seg_disk_delete(struct seg *s, uint64_t row);
bool seg_disk_deleted(const struct seg_disk *d, uint64_t row);
/* Writes the delete bitmap if it changed (atomic rewrite). */
int seg_disk_persist_del(struct seg *s);
int seg_disk_vector(const struct dann_coll *c, struct seg *s, uint64_t row, void *out);
int seg_disk_search(const struct dann_coll *c, struct seg *s, const float *q,
		    const struct dann_coll_search_params *p, const uint64_t *allowed,
		    int64_t *keys, float *dists, uint32_t *found, uint32_t *reads);

/* ---- seg_filter.c */
struct expr;
struct seg_fcols;
void seg_fcols_free(struct seg_fcols *f);
/* The rows of s that filter e passes, as a malloc'd word mask over
 * *nrows rows (flushed segments read their columns once and keep them). */
int seg_filter_mask(const struct dann_coll *c, struct seg *s, const struct expr *e,
		    uint64_t **words, uint64_t *nrows);


/* ---- seg_build.c / seg_compact.c */
int seg_segment_dir(const struct dann_coll *c, uint64_t id, char *out);
int seg_persist_deletes(struct dann_coll *c);
/* Builds the oldest sealed segment and swaps it in; 1 if there was none. */
int seg_build_next(struct dann_coll *c);
/* One compaction pass; force: also segments with few deletes. 1 if none. */
int seg_compact_once(struct dann_coll *c, int force);
/* Whether a background compaction would find work (caller holds c->mu). */
bool seg_compact_wanted(struct dann_coll *c);

/* ---- seg_props.c: "key=value" lines of a collection's properties */
#define SEG_PROP_CKPT "dann.wal_checkpoint"
#define SEG_PROP_REINDEX "dann.reindex"
/* Sets key to the decimal value (c->mu held), through the catalog. */
int seg_prop_set_locked(struct dann_coll *c, const char *key, uint64_t value);
/* Sets key to value, or removes it when value is NULL (c->mu held); the
 * catalog record written holds c->schema as it is. */
int seg_prop_set_str_locked(struct dann_coll *c, const char *key, const char *value);
int seg_prop_find(const char *props, const char *key, char *buf, size_t cap);

/* ---- seg_search.c */
int seg_locate(struct dann_coll *c, int64_t key, struct seg **s, uint64_t *row);
/* The single search's checks of the parameters and one query, its
 * cancel / deadline check, and its merge of n (key, distance) hits into
 * the top k (one row per key), for the batch search. */
int seg_search_check(struct dann_coll *c, const float *q, const struct dann_coll_search_params *p);
int seg_search_stop(const struct dann_coll *c, const struct dann_coll_search_params *p);
int seg_search_merge(const int64_t *hkeys, const float *hdists, size_t n, uint32_t k, int64_t *keys,
		     float *dists, uint32_t *found);

/* ---- seg_reindex.c: a metric change rebuilds the flushed segments */
/* Records the target (c->mu held); the worker or a flush does the work. */
int seg_reindex_request(struct dann_coll *c, const struct dann_index_params *ip);
int seg_reindex_cancel(struct dann_coll *c);
/* At open: a pending change resumes, or finishes if its segments are all
 * rebuilt already. */
int seg_reindex_load(struct dann_coll *c);
/* Rebuilds and flips (the caller holds the collection's busy flag); 1 if
 * nothing is pending. */
int seg_reindex_run(struct dann_coll *c);

/* ---- seg_worker.c */
int seg_worker_start(struct dann_db *db);
void seg_worker_stop(struct dann_db *db);
void seg_worker_kick(struct dann_db *db);
void seg_graph_kick(struct dann_db *db);
void seg_busy_enter(struct dann_coll *c);
void seg_busy_leave(struct dann_coll *c);

/* ---- seg_recover.c */
int seg_coll_open(struct dann_db *db, const struct dann_cat_coll *cc, struct dann_coll **out);
void seg_coll_close(struct dann_coll *c);

/* ---- seg_fail.c: failpoints for the crash tests */
void seg_failpoint(const struct dann_db *db, const char *name);

/* ---- seg_catalog_local.c, seg_db.c: seg_catalog.h */

/* ---- seg_util.c */
int seg_join(char *out, const char *a, const char *b);
bool seg_finite(const float *v, size_t n, size_t *bad);
void seg_cat_record(const struct seg *s, struct dann_cat_segment *r);

#endif
