/*
 * fmnist.h — Fashion-MNIST images (idx3-ubyte, gzipped) for tests and
 * benchmarks: 60000 training and 10000 test images of 28x28 uint8.
 */
#ifndef DANN_TEST_FMNIST_H
#define DANN_TEST_FMNIST_H

#include <stdint.h>

/* Reads <dir>/<set>-images-idx3-ubyte.gz (set "train" or "t10k"), at most
 * max_rows images (0 = all), into a malloc'd row-major array of *n rows of
 * *dim (784) bytes. Returns 0, or a DANN_E* code with dann_errmsg() set
 * naming the file and the problem. */
int fmnist_load_u8(const char *dir, const char *set, uint32_t max_rows, uint8_t **data,
		   uint32_t *n, uint32_t *dim);

#endif
