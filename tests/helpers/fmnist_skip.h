/*
 * fmnist_skip.h — where the tests find Fashion-MNIST, and skipping (not
 * failing) a test when it is not there, with a message saying what is
 * missing. Criterion-only: benchmarks use fmnist.h alone.
 */
#ifndef DANN_TEST_FMNIST_SKIP_H
#define DANN_TEST_FMNIST_SKIP_H

/* The data set's directory: $DANN_FMNIST_DIR if set, else the one the
 * build was configured with (/usr/share/datasets/fashion-mnist). */
const char *fmnist_dir(void);

/* "<fmnist_dir()>/<file>" (valid until the next call). If that file cannot
 * be read the calling test is skipped (cr_skip_test) with a message that
 * names it and says how to provide it. */
const char *fmnist_require(const char *file);

#endif
