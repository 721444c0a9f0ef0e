/*
 * dio_test.h — shared pieces of the engine/io tests: a temporary directory,
 * files whose every byte is known, a log hook that keeps what it hears, and
 * a loop that reaps a given number of completions.
 *
 * Included by each tests/io/test_dio_*.c (static functions, so every test
 * executable gets its own copy and tests/helpers stays untouched).
 */
#ifndef DANN_TEST_DIO_H
#define DANN_TEST_DIO_H

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "aligned.h"
#include "error.h"
#include "io/dio.h"
#include "log.h"

#define T_SECTOR 4096u

#define N_BACKENDS 3
/* io_uring, libaio, pread for i = 0, 1, 2. */
static inline enum dio_backend t_backend(int i)
{
	return (enum dio_backend)(DIO_BACKEND_URING + i);
}

/* The byte at file offset o: a hash of the 8-byte word it sits in, so a
 * read from the wrong offset, a stale buffer or a zeroed one never matches. */
static inline uint64_t t_word(uint64_t i)
{
	uint64_t z = i * 0x9E3779B97F4A7C15ull + 0x1234567ull;

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

static inline uint8_t t_byte(uint64_t off)
{
	uint64_t w = t_word(off / 8);

	return (uint8_t)(w >> (8 * (off % 8)));
}

/* Writes bytes of the pattern to path. */
static inline void t_write_pattern(const char *path, uint64_t bytes)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	uint8_t buf[65536];

	cr_assert(fd >= 0, "create %s: %s", path, strerror(errno));
	for (uint64_t o = 0; o < bytes; o += sizeof buf) {
		size_t n = bytes - o < sizeof buf ? (size_t)(bytes - o) : sizeof buf;

		for (size_t i = 0; i < n; i++)
			buf[i] = t_byte(o + i);
		cr_assert_eq(write(fd, buf, n), (ssize_t)n);
	}
	cr_assert_eq(fsync(fd), 0);
	close(fd);
}

/* 1 if buf holds the pattern bytes [off, off + n). */
static inline int t_matches(const void *buf, uint64_t off, size_t n)
{
	const uint8_t *b = buf;

	for (size_t i = 0; i < n; i++)
		if (b[i] != t_byte(off + i))
			return 0;
	return 1;
}

/* A fresh directory under /tmp (ext4 here: O_DIRECT works). */
static inline void t_mkdtemp(char *dir, size_t bytes, const char *parent)
{
	snprintf(dir, bytes, "%s/dann_dio_XXXXXX", parent);
	cr_assert_not_null(mkdtemp(dir), "mkdtemp %s: %s", dir, strerror(errno));
}

static inline void t_rmdir(const char *dir)
{
	char cmd[512];

	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	cr_assert_eq(system(cmd), 0);
}

/* Opens a context on exactly backend b (the test fails if it falls back). */
static inline struct dio *t_open(enum dio_backend b, unsigned depth, const struct dio_buf_region *bufs, unsigned nbufs)
{
	struct dio_opts o = { .backend = b, .depth = depth, .bufs = bufs, .nbufs = nbufs };
	struct dio *d = NULL;
	int rc = dio_open(&o, &d);

	cr_assert_eq(rc, 0, "dio_open(%s): %s", dio_backend_name(b), dann_errmsg());
	cr_assert_eq(dio_backend_of(d), b, "asked for %s, got %s", dio_backend_name(b), dio_describe(d));
	return d;
}

/* Reaps exactly n completions into out (waiting as needed, 10 s at most). */
static inline void t_reap_n(struct dio *d, struct dio_cqe *out, unsigned n)
{
	unsigned got = 0;

	while (got < n) {
		int k = dio_reap(d, out + got, n - got, 1, 10000);

		cr_assert(k > 0, "reap: %d after %u of %u (%s)", k, got, n, dann_errmsg());
		got += (unsigned)k;
	}
}

/* A log hook that appends "<level>:<module>:<msg>\n" to a buffer. */
struct t_log {
	char text[8192];
	size_t len;
	int warnings;
};

static inline void t_log_hook(void *arg, enum dann_log_level level, const char *module, const char *msg)
{
	struct t_log *l = arg;
	int n = snprintf(l->text + l->len, sizeof l->text - l->len, "%s:%s:%s\n", dann_log_level_name(level),
			 module, msg);

	if (n > 0 && l->len + (size_t)n < sizeof l->text)
		l->len += (size_t)n;
	if (level <= DANN_LOG_WARN)
		l->warnings++;
}

#endif
