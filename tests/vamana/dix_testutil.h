/*
 * dix_testutil.h — small fixtures shared by the disk index tests: temporary
 * directories, random vectors and graphs, file damage.
 */
#ifndef DANN_DIX_TESTUTIL_H
#define DANN_DIX_TESTUTIL_H

#include <criterion/criterion.h>
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* snprintf that fails the test instead of truncating. */
#define TU_FMT(buf, ...) cr_assert_lt(snprintf(buf, sizeof buf, __VA_ARGS__), (int)sizeof buf)

static inline void tu_mkdtemp(char *buf, size_t cap)
{
	snprintf(buf, cap, "/tmp/dann-dix-XXXXXX");
	cr_assert_not_null(mkdtemp(buf));
}

/* Removes dir and everything below it (two levels: index dirs in a temp dir). */
static inline void tu_rmtree(const char *dir)
{
	char path[PATH_MAX];
	struct dirent *de;
	struct stat st;
	DIR *d = opendir(dir);

	if (!d)
		return;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		TU_FMT(path, "%s/%s", dir, de->d_name);
		if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode))
			tu_rmtree(path);
		else
			unlink(path);
	}
	closedir(d);
	rmdir(dir);
}

/* Flips one byte of dir/name at offset. */
static inline void tu_flip_byte(const char *dir, const char *name, long offset)
{
	char path[PATH_MAX];
	unsigned char b;
	int fd;

	TU_FMT(path, "%s/%s", dir, name);
	cr_assert((fd = open(path, O_RDWR)) >= 0, "open %s", path);
	cr_assert_eq(pread(fd, &b, 1, offset), 1);
	b ^= 0x5a;
	cr_assert_eq(pwrite(fd, &b, 1, offset), 1);
	close(fd);
}

static inline void tu_truncate(const char *dir, const char *name, long drop)
{
	char path[PATH_MAX];
	struct stat st;

	TU_FMT(path, "%s/%s", dir, name);
	cr_assert_eq(stat(path, &st), 0);
	cr_assert_eq(truncate(path, st.st_size - drop), 0);
}

/* A random graph: each node gets deg in [1, R] distinct random neighbours
 * other than itself (n >= 2), or none for n = 1. */
static inline void tu_random_graph(uint64_t n, uint32_t R, unsigned seed, uint32_t *nbrs,
				   uint32_t *degree)
{
	memset(nbrs, 0, sizeof *nbrs * n * R);
	for (uint64_t i = 0; i < n; i++) {
		uint32_t want = n > 1 ? 1 + (uint32_t)(rand_r(&seed) % R) : 0, d = 0;
		if (want > n - 1)
			want = (uint32_t)(n - 1);
		while (d < want) {
			uint32_t v = (uint32_t)(rand_r(&seed) % n), dup = 0;
			if (v == i)
				continue;
			for (uint32_t j = 0; j < d; j++)
				dup |= nbrs[i * R + j] == v;
			if (!dup)
				nbrs[i * R + d++] = v;
		}
		degree[i] = d;
	}
}

#endif
