/*
 * wal_testutil.h — what the WAL tests share: payloads that say which
 * record they are, collecting a replay, and reading/writing log files by
 * hand to cut, corrupt or inspect them.
 */
#ifndef DANN_TEST_WAL_TESTUTIL_H
#define DANN_TEST_WAL_TESTUTIL_H

#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dann.h"
#include "segment/wal.h"

#define WT_MAX_RECORDS 20000

/* A payload of len bytes derived from seed, so that a replay can tell
 * which record it got and whether its bytes are intact. */
static inline void wt_fill(uint8_t *buf, size_t len, uint64_t seed)
{
	uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
	for (size_t i = 0; i < len; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		buf[i] = (uint8_t)x;
	}
}

/* One replayed record, copied. */
struct wt_rec {
	uint64_t lsn;
	size_t len;
	uint8_t *data;
};

struct wt_replay {
	struct wt_rec r[WT_MAX_RECORDS];
	size_t n;
};

static inline int wt_collect(void *arg, uint64_t lsn, const void *payload, size_t len)
{
	struct wt_replay *rp = arg;
	cr_assert_lt(rp->n, WT_MAX_RECORDS);
	rp->r[rp->n].lsn = lsn;
	rp->r[rp->n].len = len;
	rp->r[rp->n].data = malloc(len ? len : 1);
	memcpy(rp->r[rp->n].data, payload, len);
	rp->n++;
	return 0;
}

static inline struct wt_replay *wt_replay_all(struct wal *w, uint64_t after)
{
	struct wt_replay *rp = calloc(1, sizeof *rp);
	int rc = wal_replay(w, after, wt_collect, rp);
	cr_assert_eq(rc, 0, "replay: %s", dann_errmsg());
	return rp;
}

static inline void wt_replay_free(struct wt_replay *rp)
{
	for (size_t i = 0; i < rp->n; i++)
		free(rp->r[i].data);
	free(rp);
}

static inline void wt_params(struct wal_params *p, uint64_t segment_bytes)
{
	wal_params_default(p);
	if (segment_bytes)
		p->segment_bytes = segment_bytes;
}

static inline struct wal *wt_open(const char *dir, const struct wal_params *p)
{
	struct wal *w = NULL;
	int rc = wal_open(dir, p, &w);
	cr_assert_eq(rc, 0, "wal_open %s: %s", dir, dann_errmsg());
	return w;
}

/* "<dir>/wal-<lsn>.log". */
static inline char *wt_file(const char *dir, uint64_t first_lsn)
{
	static char paths[4][512];
	static int next;
	char *p = paths[next++ % 4];
	snprintf(p, sizeof paths[0], "%.400s/wal-%020llu.log", dir, (unsigned long long)first_lsn);
	return p;
}

static inline uint64_t wt_size(const char *path)
{
	struct stat st;
	cr_assert_eq(stat(path, &st), 0, "stat %s", path);
	return (uint64_t)st.st_size;
}

static inline int wt_exists(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0;
}

/* The whole file (malloc'd) and its size. */
static inline uint8_t *wt_read(const char *path, uint64_t *size)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf;
	cr_assert_not_null(f, "open %s", path);
	*size = wt_size(path);
	buf = malloc(*size ? *size : 1);
	cr_assert_eq(fread(buf, 1, *size, f), *size);
	fclose(f);
	return buf;
}

static inline void wt_write(const char *path, const uint8_t *buf, uint64_t size)
{
	FILE *f = fopen(path, "wb");
	cr_assert_not_null(f, "create %s", path);
	if (size)
		cr_assert_eq(fwrite(buf, 1, size, f), size);
	fclose(f);
}

/* XORs one byte of path at off. */
static inline void wt_flip(const char *path, uint64_t off)
{
	int fd = open(path, O_RDWR);
	uint8_t b;
	cr_assert_geq(fd, 0);
	cr_assert_eq(pread(fd, &b, 1, (off_t)off), 1);
	b ^= 0x5a;
	cr_assert_eq(pwrite(fd, &b, 1, (off_t)off), 1);
	close(fd);
}

#endif
