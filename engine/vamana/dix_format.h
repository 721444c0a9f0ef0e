/*
 * dix_format.h — the on-disk layout of a dann disk index (DESIGN.md, "The
 * disk index"): file names, the header sector, and where a node lives.
 *
 * An index is a directory that never changes after it is renamed into place:
 *   disk.index   sector 0: the header (struct dix_header, then zeros);
 *                sectors 1..: blocks of sectors_per_node sectors (the unit
 *                one node read fetches), each ending in DIX_BLOCK_CRC_BYTES
 *                of CRC32C over the rest of the block (version 2 on), so
 *                every read from SSD is checked before a byte of it is
 *                used. A block holds node records, node_bytes each:
 *                  dim elements of the stored dtype (the full vector),
 *                  zero-padded to a multiple of 4 bytes,
 *                  uint32 degree, R uint32 neighbour ids (unused ones 0).
 *                nodes_per_sector records share a one-sector block and
 *                never straddle one; a record too large for one sector
 *                (with the checksum) takes a block of sectors_per_node
 *                whole sectors of its own.
 *   ids.bin      uint64 primary key of every internal id (the id map).
 *   slots.bin    only with the locality order: uint32 disk slot of every
 *                internal id (the node at id i is stored in slot slots[i]).
 *   norms.bin    only for inner product: float32 squared norm of every
 *                internal id's vector; with it the search turns the PQ
 *                estimate of |q - x|^2, whose error shrinks near the query,
 *                into -q.x = (|q - x|^2 - |q|^2 - |x|^2) / 2.
 *   pq_*         PQ pivots and codes, written and read by engine/pq.
 *   MANIFEST     text: one line per other file, "name size crc32c", then a
 *                last line "crc <crc32c of the lines above>"; written last,
 *                so an index with a valid manifest is complete.
 *
 * Node ids inside the records are internal ids (build order, the order of
 * the PQ codes); the slot map is the only place the disk order shows.
 * Every integer is little-endian (the only byte order dann builds for:
 * fsutil.h asserts it).
 */
#ifndef DANN_DIX_FORMAT_H
#define DANN_DIX_FORMAT_H

#include <stdint.h>

#include "../aligned.h"

#define DIX_DATA_FILE "disk.index"
#define DIX_IDS_FILE "ids.bin"
#define DIX_SLOTS_FILE "slots.bin"
#define DIX_NORMS_FILE "norms.bin"
#define DIX_MANIFEST_FILE "MANIFEST"

#define DIX_MAGIC "DANNDIX\0"
#define DIX_MAGIC_BYTES 8
/* Version 2 added the per-block checksum; version 1 indexes are refused
 * with a message asking for a rebuild. */
#define DIX_VERSION 2
#define DIX_BLOCK_CRC_BYTES 4u
#define DIX_MAX_ENTRY 8       /* entry points kept in the header */
#define DIX_MAX_R 1024        /* largest max degree the format accepts */
#define DIX_SECTOR DANN_SECTOR_BYTES

enum dix_layout {
	DIX_LAYOUT_PLAIN = 0,    /* slot = internal id */
	DIX_LAYOUT_LOCALITY = 1, /* neighbours packed into the same sector (slots.bin) */
	DIX_LAYOUT_SHUFFLE = 2,  /* locality, then block shuffling (slots.bin) */
};

/* The header, at offset 0 of disk.index; the rest of sector 0 is zero.
 * `crc` is the CRC32C of this struct with crc set to 0. */
struct dix_header {
	char magic[DIX_MAGIC_BYTES];
	uint32_t version;
	uint32_t metric;           /* enum dann_metric */
	uint32_t dtype;            /* enum dann_dtype of the stored vectors */
	uint32_t dim;
	uint64_t n;                /* number of points */
	uint32_t R;                /* max degree */
	uint32_t n_entry;          /* 1..DIX_MAX_ENTRY */
	uint32_t entry[DIX_MAX_ENTRY];
	uint32_t node_bytes;       /* vector + degree + R ids */
	uint32_t nodes_per_sector; /* >= 1 */
	uint32_t sectors_per_node; /* 1 unless node_bytes > DIX_SECTOR */
	uint32_t layout;           /* enum dix_layout */
	uint64_t node_sectors;     /* sectors after the header */
	uint64_t file_bytes;       /* (1 + node_sectors) * DIX_SECTOR */
	uint32_t reserved[8];      /* zero */
	uint32_t crc;
	uint32_t pad;
};

_Static_assert(sizeof(struct dix_header) <= DIX_SECTOR, "header must fit one sector");

/* Bytes of a record's vector part: padded to 4 so that the degree and the
 * ids that follow are aligned uint32s. */
static inline uint32_t dix_vec_bytes(uint32_t dim, uint32_t elem_bytes)
{
	return (dim * elem_bytes + 3u) & ~3u;
}

/* Bytes of one node record (a multiple of 4). */
static inline uint64_t dix_node_bytes(uint32_t dim, uint32_t elem_bytes, uint32_t R)
{
	return (uint64_t)dix_vec_bytes(dim, elem_bytes) + 4 + (uint64_t)R * 4;
}

/* Fills the derived geometry (node_bytes, nodes_per_sector,
 * sectors_per_node, node_sectors, file_bytes) from dim, dtype, R and n.
 * elem_bytes is dann_dtype_size(dtype). */
static inline void dix_header_geometry(struct dix_header *h, uint32_t elem_bytes)
{
	uint64_t nb = dix_node_bytes(h->dim, elem_bytes, h->R);

	h->node_bytes = (uint32_t)nb;
	if (nb + DIX_BLOCK_CRC_BYTES <= DIX_SECTOR) {
		h->nodes_per_sector = (uint32_t)((DIX_SECTOR - DIX_BLOCK_CRC_BYTES) / nb);
		h->sectors_per_node = 1;
		h->node_sectors = (h->n + h->nodes_per_sector - 1) / h->nodes_per_sector;
	} else {
		h->nodes_per_sector = 1;
		h->sectors_per_node =
			(uint32_t)((nb + DIX_BLOCK_CRC_BYTES + DIX_SECTOR - 1) / DIX_SECTOR);
		h->node_sectors = h->n * h->sectors_per_node;
	}
	h->file_bytes = (1 + h->node_sectors) * DIX_SECTOR;
}

/* File offset of the first sector holding slot s, and the record's offset
 * inside the bytes read from there. */
static inline uint64_t dix_slot_sector_offset(const struct dix_header *h, uint64_t s)
{
	uint64_t sector = h->sectors_per_node > 1 ? s * h->sectors_per_node
						  : s / h->nodes_per_sector;
	return (1 + sector) * DIX_SECTOR;
}

static inline uint32_t dix_slot_in_sector(const struct dix_header *h, uint64_t s)
{
	return h->sectors_per_node > 1 ? 0 : (uint32_t)(s % h->nodes_per_sector) * h->node_bytes;
}

/* Bytes one node read fetches: its whole block (sector or sectors). */
static inline uint32_t dix_read_bytes(const struct dix_header *h)
{
	return h->sectors_per_node * DIX_SECTOR;
}

/* The checksum stored at the end of a block of block_bytes. */
static inline uint32_t dix_block_crc_stored(const void *block, uint32_t block_bytes)
{
	uint32_t c;
	__builtin_memcpy(&c, (const char *)block + block_bytes - DIX_BLOCK_CRC_BYTES, 4);
	return c;
}

/* Parts of a record. */
static inline uint32_t dix_rec_degree(const void *rec, uint32_t vec_bytes)
{
	uint32_t d;
	__builtin_memcpy(&d, (const char *)rec + vec_bytes, 4);
	return d;
}

static inline const uint32_t *dix_rec_nbrs(const void *rec, uint32_t vec_bytes)
{
	return (const uint32_t *)(const void *)((const char *)rec + vec_bytes + 4);
}

#endif
