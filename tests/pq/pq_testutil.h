/*
 * pq_testutil.h — fixtures for the PQ tests: clustered random data,
 * temporary directories, file damage, exact brute-force distances.
 */
#ifndef DANN_PQ_TESTUTIL_H
#define DANN_PQ_TESTUTIL_H

#include <criterion/criterion.h>
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static inline float pt_gauss(unsigned *seed)
{
	double u = (rand_r(seed) + 1.0) / (RAND_MAX + 2.0);
	double v = (rand_r(seed) + 1.0) / (RAND_MAX + 2.0);
	return (float)(sqrt(-2 * log(u)) * cos(2 * M_PI * v));
}

/* n x dim floats from a mixture of `clusters` Gaussians (centres spread
 * by 4, unit spread), malloc'd. */
static inline float *pt_mixture(uint64_t n, uint32_t dim, uint32_t clusters, unsigned seed)
{
	float *c = malloc((size_t)clusters * dim * sizeof *c);
	float *x = malloc(n * dim * sizeof *x);

	cr_assert(c && x);
	for (size_t i = 0; i < (size_t)clusters * dim; i++)
		c[i] = 4 * pt_gauss(&seed);
	for (uint64_t i = 0; i < n; i++) {
		uint32_t k = (uint32_t)rand_r(&seed) % clusters;
		for (uint32_t d = 0; d < dim; d++)
			x[i * dim + d] = c[(size_t)k * dim + d] + pt_gauss(&seed);
	}
	free(c);
	return x;
}

static inline void pt_mkdtemp(char *buf, size_t cap)
{
	snprintf(buf, cap, "/tmp/dann-pq-XXXXXX");
	cr_assert_not_null(mkdtemp(buf));
}

/* Removes the files in dir, then dir (one level: the tests make no subdirectories). */
static inline void pt_rmtree(const char *dir)
{
	char path[PATH_MAX];
	struct dirent *de;
	DIR *d = opendir(dir);

	if (!d)
		return;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
		unlink(path);
	}
	closedir(d);
	rmdir(dir);
}

/* Flips one byte of path at offset (negative: from the end). */
static inline void pt_flip_byte(const char *path, long offset)
{
	struct stat st;
	unsigned char b;
	int fd = open(path, O_RDWR);

	cr_assert(fd >= 0, "open %s", path);
	cr_assert_eq(fstat(fd, &st), 0);
	if (offset < 0)
		offset += st.st_size;
	cr_assert_eq(pread(fd, &b, 1, offset), 1);
	b ^= 0x5a;
	cr_assert_eq(pwrite(fd, &b, 1, offset), 1);
	close(fd);
}

static inline void pt_truncate(const char *path, long drop)
{
	struct stat st;

	cr_assert_eq(stat(path, &st), 0);
	cr_assert_eq(truncate(path, st.st_size - drop), 0);
}

/* Exact distance in dann's convention (smaller is closer), in double. */
static inline double pt_dist(int metric, const float *a, const float *b, uint32_t dim)
{
	double s = 0, na = 0, nb = 0;

	for (uint32_t j = 0; j < dim; j++) {
		if (metric == 0)
			s += ((double)a[j] - b[j]) * ((double)a[j] - b[j]);
		else
			s += (double)a[j] * b[j];
		na += (double)a[j] * a[j];
		nb += (double)b[j] * b[j];
	}
	if (metric == 0)
		return s;
	if (metric == 1)
		return -s;
	return na > 0 && nb > 0 ? 1 - s / sqrt(na * nb) : 1;
}

#endif
