/*
 * dann.h — the public contract of libdann, the disk-first vector engine.
 *
 * Everything a program linking libdann may rely on is declared here, once.
 * Conventions that hold for every function in the library:
 *   - a function returns int: 0 on success, a negative DANN_E* code on
 *     failure; the detail ("which file, which field, what was expected") is
 *     kept in a per-thread message that dann_errmsg() returns;
 *   - the library never exits, aborts or prints on its own behalf;
 *   - whoever opens/creates/news a thing closes/destroys/frees it.
 */
#ifndef DANN_H
#define DANN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define DANN_VERSION_MAJOR 0
#define DANN_VERSION_MINOR 1

/* Error codes: a small closed set. The message says the rest. */
enum dann_err {
	DANN_OK = 0,
	DANN_EINVAL = -1,      /* bad argument or bad input from the caller */
	DANN_ENOMEM = -2,      /* an allocation failed */
	DANN_EIO = -3,         /* the OS failed a read, write, open, sync */
	DANN_ECORRUPT = -4,    /* a file's contents are not what they claim */
	DANN_ENOTFOUND = -5,   /* a named file, collection or id does not exist */
	DANN_EUNSUPPORTED = -6, /* a valid request this build or machine cannot do */
	DANN_EBUSY = -7,       /* a resource is full; retry later */
	DANN_ECANCELED = -8,   /* an operation stopped because it was asked to */
};

/* The message of the last failure on this thread ("" if none). The pointer
 * stays valid until the next failure on the same thread. */
const char *dann_errmsg(void);

/* Short fixed name of an error code ("DANN_ECORRUPT"). */
const char *dann_errname(int code);

/* Distance conventions: every distance is "smaller is closer".
 *   L2     squared Euclidean distance;
 *   IP     negative inner product (maximum inner product search);
 *   COSINE 1 - cos(a, b); zero vectors have cosine distance 1. */
enum dann_metric {
	DANN_METRIC_L2 = 0,
	DANN_METRIC_IP = 1,
	DANN_METRIC_COSINE = 2,
};

/* Element types of stored vectors. Queries are always float32. */
enum dann_dtype {
	DANN_DTYPE_F32 = 0,
	DANN_DTYPE_U8 = 1,
	DANN_DTYPE_I8 = 2,
	DANN_DTYPE_I32 = 3, /* ids in ground-truth files only */
};

/* Bytes per element of a dtype (4, 1, 1, 4). */
size_t dann_dtype_size(enum dann_dtype t);
const char *dann_dtype_name(enum dann_dtype t);
const char *dann_metric_name(enum dann_metric m);
/* Parses "l2" / "ip" / "cosine"; DANN_EINVAL naming the text otherwise. */
int dann_metric_parse(const char *s, enum dann_metric *out);

/* Progress hook for long operations (build, ground truth, encode): called
 * from the thread that drives the operation, never concurrently, with
 * done <= total. A phase name says which part is running. */
typedef void (*dann_progress_fn)(void *arg, const char *phase, uint64_t done, uint64_t total);

#ifdef __cplusplus
}
#endif
#endif
