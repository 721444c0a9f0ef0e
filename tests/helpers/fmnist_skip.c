/*
 * fmnist_skip.c — finding Fashion-MNIST or skipping (see fmnist_skip.h).
 */
#include "fmnist_skip.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

const char *fmnist_dir(void)
{
	const char *env = getenv("DANN_FMNIST_DIR");

	return env && *env ? env : DANN_FMNIST_DIR;
}

const char *fmnist_require(const char *file)
{
	static char path[4096];

	snprintf(path, sizeof path, "%s/%s", fmnist_dir(), file);
	if (access(path, R_OK) != 0)
		cr_skip_test("Fashion-MNIST is missing: %s cannot be read (install the data set "
			     "there, or set DANN_FMNIST_DIR to its directory)", path);
	return path;
}
