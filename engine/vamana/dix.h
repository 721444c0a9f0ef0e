/*
 * dix.h — an open disk index: the loader's contract and the state the beam
 * search (dix_search.c) reads. Internal to libdann; programs use dann.h.
 *
 * The dix_ half of engine/vamana (the vam_ half is vamana.h): the disk
 * index from its files to search results. dix_format.h is the layout,
 * dix_write.c / dix_order.c / dix_manifest.c write and stage it,
 * dix_build.c drives a build (PQ, graph, layout), dix_open.c / dix_cache.c
 * open it, dix_search.c is the beam search over engine/io, and dix_api.c
 * is where dann.h's dann_index_* and dann_search begin.
 *
 * An open index is read-only: any number of threads search it at once, each
 * with its own search context; nothing in struct dix_index changes after
 * dix_open returns.
 */
#ifndef DANN_DIX_H
#define DANN_DIX_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include "../dann.h"
#include "../dist.h"
#include "dix_cache.h"
#include "dix_format.h"

struct pq;
struct dix_entry;

/* Which nodes the cache holds (dix_open.c, dix_warm.h). */
enum dix_cache_policy {
	DIX_CACHE_BFS = 0,    /* breadth-first from the entry points */
	DIX_CACHE_VISITS = 1, /* most read by warm-up searches, then breadth-first */
};

struct dix_open_params {
	uint64_t cache_nodes;  /* hot nodes to cache (0 = none) ... */
	uint64_t cache_bytes;  /* ... or a byte budget ... */
	double cache_frac;     /* ... or a fraction of disk.index's bytes; the smallest set wins */
	bool buffered;         /* read through the page cache instead of O_DIRECT */
	bool verify_all;       /* also checksum disk.index (slow: reads all of it) */
	enum dix_cache_policy cache_policy;
};

struct dix_index {
	char dir[PATH_MAX];
	struct dix_header h;
	uint32_t vec_bytes;      /* padded vector part of a record */
	uint32_t read_bytes;     /* bytes one node read fetches */
	uint64_t *keys;          /* id map: primary key of each internal id */
	uint32_t *slot_of;       /* disk slot of each id; NULL for the plain layout */
	uint32_t *id_of_slot;    /* its inverse (sector expansion); NULL for plain */
	float *norms;            /* IP: squared norm of each id's vector; else NULL */
	uint64_t serial;         /* unique per open in this process (searchers key on it) */
	int fd;                  /* disk.index, O_DIRECT unless buffered */
	bool direct;
	/* Check every block read from disk.index against its CRC32C (true
	 * after dix_open; only the checksum-cost benchmark turns it off). */
	bool verify_blocks;
	struct pq *pq;           /* pivots + codes, in RAM */
	struct dix_cache cache;
	dist_fn dist;            /* exact distance: f32 query vs stored dtype */
	struct dix_entry *entry; /* in-RAM entry graph (dix_entry.h); NULL: the medoid */
};

/* Opens the index in dir: reads MANIFEST, checks every file's size and the
 * checksum of every file but disk.index (all of them with verify_all),
 * validates the header sector (magic, version, CRC, fields, geometry, file
 * size), loads the id map, slot map and PQ into RAM and fills the cache.
 * A missing, truncated or corrupt file is DANN_ECORRUPT/DANN_ENOTFOUND
 * with a message naming it. p may be NULL (no cache, O_DIRECT). */
int dix_open(const char *dir, const struct dix_open_params *p, struct dix_index **out);
void dix_close(struct dix_index *ix);

/* Disk slot of node id. */
static inline uint64_t dix_slot(const struct dix_index *ix, uint32_t id)
{
	return ix->slot_of ? ix->slot_of[id] : id;
}

/* Checks a block of read_bytes read from file offset off against the
 * checksum at its end (when verify_blocks is set): DANN_ECORRUPT naming
 * disk.index and the sector otherwise. Every read from SSD goes through it
 * before any byte of the block is used. */
int dix_block_check(const struct dix_index *ix, const void *block, uint64_t off);

/* Reads node id's record synchronously into rec (node_bytes), through a
 * sector-aligned bounce buffer buf of read_bytes, checking the block's
 * checksum. For the cache fill and tools, not the search's hot path. */
int dix_read_node(const struct dix_index *ix, uint32_t id, void *buf, void *rec);

/* Reads and validates a header sector from disk.index in dir without
 * opening the rest (for `dann info`): magic, version, CRC, field ranges,
 * geometry, and the file's size. DANN_ECORRUPT naming the file. */
int dix_read_header(const char *dir, struct dix_header *h);
/* The same on an open descriptor of the file at path. */
int dix_read_header_fd(int fd, const char *path, struct dix_header *h);
/* The same checks on a header read elsewhere (a ranged read from the
 * object store) of a file of size bytes; path names it in messages. */
int dix_header_check(const char *path, const struct dix_header *h, uint64_t size);

/* Human-readable name of a layout ("plain", "locality"). */
const char *dix_layout_name(uint32_t layout);

/* RAM the open index holds: PQ codes and pivots, id and slot maps, cache. */
uint64_t dix_ram_bytes(const struct dix_index *ix);

#endif
