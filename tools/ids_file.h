/*
 * ids_file.h — primary keys for `dann insert/upsert/delete` from a file.
 *
 * Two formats:
 *   .ibin (or .ivecs) of count x 1 int32, as `dann convert` writes labels;
 *   the int64 key file (--ids-i64): int64 count, then count int64 keys,
 *   little-endian, nothing after them.
 */
#ifndef DANN_IDS_FILE_H
#define DANN_IDS_FILE_H

#include <stdint.h>

/* Reads every key of path into a malloc'd array. i64: the int64 format,
 * else a vector file of int32 with dim 1. DANN_ECORRUPT / DANN_EINVAL
 * naming the file and what is wrong. */
int ids_file_load(const char *path, int i64, int64_t **out, uint64_t *n);

/* Writes keys as an int64 key file (for tests and tools). */
int ids_file_write_i64(const char *path, const int64_t *keys, uint64_t n);

#endif
