/*
 * seg_files.h — the files of a flushed segment's directory and the code
 * that writes and reads them.
 *
 *   MANIFEST            every file below (but deletes.roar): size, CRC32C
 *   disk.index, pq_*, ids.bin, slots.bin   the disk index (dix_format.h);
 *                       ids.bin holds each row's primary key
 *   vectors.<fbin|u8bin|i8bin>   the rows (vf.h format), row i = index id i
 *   keys.bin            int64 primary key of each row
 *   col<i>.nul          one byte per row, 0 = null (every column)
 *   col<i>.val          fixed-width: n values; VARCHAR/JSON: the bytes
 *   col<i>.off          VARCHAR/JSON: n + 1 u64 offsets into col<i>.val
 *   deletes.roar        the delete bitmap (the one file rewritten in place)
 */
#ifndef DANN_SEG_FILES_H
#define DANN_SEG_FILES_H

#include <stdint.h>

#include "seg_impl.h"

#define SEG_KEYS_FILE "keys.bin"
#define SEG_DELETES_FILE "deletes.roar"
#define SEG_VF_HEADER 8u   /* int32 count, int32 dim */

enum seg_col_part { SEG_COL_NUL = 0, SEG_COL_VAL = 1, SEG_COL_OFF = 2 };

const char *seg_vectors_file(enum dann_dtype t);
/* "col<i>.nul|val|off" into buf (at least 32 bytes). */
void seg_col_file(char *buf, uint32_t ci, enum seg_col_part part);

/* One row of a new segment: row `row` of segment s (RAM or flushed). */
struct seg_rowref {
	struct seg *s;
	uint64_t row;
};

/* Writes a segment of the n rows refs (keys[i] their keys) into final_dir:
 * staged beside it, the disk index built in the stage, MANIFEST written,
 * renamed into place. The failpoint `fp` fires once the stage is written
 * and before it commits. */
int seg_write_segment(struct dann_coll *c, const char *final_dir, const struct seg_rowref *refs,
		      const int64_t *keys, uint64_t n, const char *fp);
/* The same with index parameters other than the collection's (a metric
 * change rebuilds segments with the new ones before they apply). */
int seg_write_segment_ip(struct dann_coll *c, const char *final_dir, const struct seg_rowref *refs,
			 const int64_t *keys, uint64_t n, const char *fp,
			 const struct dann_index_params *ip);

/* One scalar value. */
struct seg_val {
	int valid;
	uint64_t fixed;          /* fixed-width value in its first bytes */
	char *var;               /* VARCHAR / JSON bytes (malloc'd), len bytes */
	size_t len;
};
int seg_col_get(const struct dann_coll *c, struct seg *s, uint32_t ci, uint64_t row,
		struct seg_val *v);
/* Opens / closes a flushed segment's column files. */
int seg_cols_open(const struct dann_coll *c, struct seg *s);
void seg_cols_close(struct seg_disk *d);

#endif
