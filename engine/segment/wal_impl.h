/*
 * wal_impl.h — what wal.c (appends, group commit, rotation, checkpoints)
 * and wal_recover.c (reading files back: recovery on open and replay)
 * share: the in-memory state of an open log and the record framing.
 *
 * Invariants kept under w->mu:
 *   synced_lsn <= last_lsn; every record with LSN <= synced_lsn is on disk;
 *   files[] is sorted by first_lsn, contiguous (files[i+1].first_lsn ==
 *   files[i].last_lsn + 1), and its last entry is the file appended to;
 *   once failed is set it stays set until the log is closed.
 */
#ifndef DANN_WAL_IMPL_H
#define DANN_WAL_IMPL_H

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>

#include "wal.h"

#define WAL_HDR_BYTES 16                        /* u32 len, u64 lsn, u32 crc */
#define WAL_NAME_DIGITS 20
#define WAL_DEFAULT_SEGMENT_BYTES (64ull << 20)
#define WAL_ERR_BYTES 512

struct wal_file {
	uint64_t first_lsn;   /* from the name: the LSN of its first record */
	uint64_t last_lsn;    /* first_lsn - 1 while it holds no record */
	uint64_t size;        /* bytes of whole records */
};

struct wal {
	char dir[PATH_MAX - 64];    /* room for "/wal-<20 digits>.log" in PATH_MAX */
	struct wal_params p;

	pthread_mutex_t mu;
	pthread_cond_t cv;
	int fd;                     /* the last file, open for writing */
	struct wal_file *files;
	size_t nfiles, cap_files;
	_Atomic uint64_t last_lsn;  /* last record written to the file */
	uint64_t synced_lsn;        /* last record known durable */
	int syncing;                /* a leader is in fdatasync outside mu */
	int failed;                 /* a DANN_E* code once a write or sync failed */
	char err[WAL_ERR_BYTES];    /* the failure's message, for later appenders */

	_Atomic uint64_t appends, syncs, bytes;
};

/* "<dir>/wal-<lsn, 20 digits>.log" into out (PATH_MAX bytes). */
void wal_file_path(const struct wal *w, uint64_t first_lsn, char *out);

/* Header of a record of len payload bytes whose CRC32C over the LSN and
 * the payload is crc. */
void wal_encode_header(uint8_t hdr[WAL_HDR_BYTES], uint32_t len, uint64_t lsn, uint32_t crc);
/* CRC32C of the record's LSN (8 bytes little-endian) followed by payload. */
uint32_t wal_lsn_crc(uint64_t lsn);

/* Finds the log's files in w->dir, checks and recovers them (cuts a torn
 * tail, fails or salvages at corruption), fills w->files, opens the last
 * one into w->fd (creating the first file of an empty log). */
int wal_recover(struct wal *w);

#endif
