/*
 * wal.h — the write-ahead log of one collection.
 *
 * Every insert, upsert and delete batch is one record, appended and made
 * durable before the write is acknowledged. Concurrent appenders share one
 * fdatasync (group commit). A record is framed as
 *   u32 length of payload, u64 LSN, u32 CRC32C (over LSN and payload), payload
 * (little-endian), in files "wal-<first LSN, 20 digits>.log" in the WAL
 * directory, a new file once the current one passes segment_bytes. LSNs
 * start at 1 and increase by one per record, across files.
 *
 * Recovery: wal_open reads every file in order. A torn tail (a record cut
 * short, or a bad checksum with nothing valid after it) is what a crash
 * during an append leaves: it is cut off, logged, and the log continues
 * from the last good record. A bad record followed by valid ones is real
 * corruption of acknowledged writes: DANN_ECORRUPT naming the file and the
 * offset, unless the caller asked to salvage (then it is cut there too).
 *
 * Checkpoints: once the records up to an LSN live in flushed segments, the
 * files wholly at or below it are removed.
 */
#ifndef DANN_WAL_H
#define DANN_WAL_H

#include <stddef.h>
#include <stdint.h>

#define WAL_MAX_RECORD (1u << 30)   /* payload bytes of one record */

struct wal;

/* Tests only: called before each write and each sync of the log; a
 * nonzero errno makes that operation fail with it (a write first writes
 * half of its bytes, as a full disk would). */
enum wal_fault_op { WAL_FAULT_WRITE = 0, WAL_FAULT_SYNC = 1 };
typedef int (*wal_fault_fn)(void *arg, enum wal_fault_op op);

struct wal_params {
	uint64_t segment_bytes;     /* start a new file past this size (default 64 MiB) */
	uint32_t group_wait_us;     /* a syncer waits this long for more appenders (default 0) */
	int salvage;                /* 1: cut at a corrupt middle record instead of failing */
	wal_fault_fn fault;         /* tests only (NULL) */
	void *fault_arg;
};
void wal_params_default(struct wal_params *p);

/* Opens (creating) the log in dir, recovering it as above. p may be NULL. */
int wal_open(const char *dir, const struct wal_params *p, struct wal **out);
/* Closes w; every append that returned is durable. NULL is a no-op. */
void wal_close(struct wal *w);

/* Calls fn for every record with LSN > after in order, stopping at the
 * first nonzero return (passed back). Run after open, before appends. */
typedef int (*wal_replay_fn)(void *arg, uint64_t lsn, const void *payload, size_t len);
int wal_replay(struct wal *w, uint64_t after, wal_replay_fn fn, void *arg);

/* Appends one record; returns once it is on disk (fdatasync, shared with
 * concurrent appenders). *lsn (optional) gets its LSN. Thread-safe. On an
 * I/O error the log refuses further appends (DANN_EIO) until reopened, so
 * no later write is acknowledged after a lost one. */
int wal_append(struct wal *w, const void *payload, size_t len, uint64_t *lsn);
/* Two pieces written as one record (a header and a vector block) without
 * copying them together. */
int wal_append2(struct wal *w, const void *a, size_t alen, const void *b, size_t blen,
		uint64_t *lsn);

/* Records up to lsn are no longer needed: removes the files that hold only
 * such records (the current file stays). */
int wal_checkpoint(struct wal *w, uint64_t lsn);

/* Makes a log that never held a record continue after lsn: the next
 * append gets lsn + 1 (a data dir whose flushed segments came from the
 * object store, up to lsn, with its log lost). The empty first file is
 * removed before the new one is created, so a crash in between leaves an
 * empty log again. DANN_EINVAL if the log holds records. */
int wal_start_after(struct wal *w, uint64_t lsn);

/* LSN of the last record (0 when empty). */
uint64_t wal_last_lsn(const struct wal *w);

struct wal_stats {
	uint64_t appends, syncs, bytes, files;
};
void wal_stats(const struct wal *w, struct wal_stats *st);

#endif
