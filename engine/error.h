/*
 * error.h — setting the per-thread failure message.
 *
 * A failure is reported where it is found, with everything a user needs to
 * act on it, and the code is passed up unchanged: callers return rc as is
 * unless they can add context (dann_fail_wrap prefixes the message).
 */
#ifndef DANN_ERROR_H
#define DANN_ERROR_H

#include "dann.h"

/* Sets this thread's message from printf-style arguments; returns code so
 * that `return dann_fail(DANN_EINVAL, "...")` reads as one step. */
int dann_fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Like dann_fail, with strerror(errnum) appended: "<msg>: <strerror>". */
int dann_fail_errno(int code, int errnum, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Prefixes the current message with more context ("<ctx>: <old message>")
 * and returns code. */
int dann_fail_wrap(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Clears this thread's message. */
void dann_clear_error(void);

/*
 * The first failure among parallel workers (OpenMP threads), carried to
 * the thread that waits for them: the message is per-thread, so a code
 * passed up alone would reach the caller with an empty or stale message.
 * A worker that fails calls dann_first_err_set(e, rc) (the first call wins
 * and copies the worker's message); after the workers are joined the
 * caller returns dann_first_err_raise(e), which sets its own message.
 */
#define DANN_FIRST_ERR_BYTES 1024
struct dann_first_err {
	int code;                 /* 0 until a worker fails; set once (atomic) */
	char msg[DANN_FIRST_ERR_BYTES];
};
/* Records rc (< 0) with this thread's message if no failure was recorded
 * yet; returns rc. Safe from any number of threads at once. */
int dann_first_err_set(struct dann_first_err *e, int rc);
/* 1 once a failure was recorded: workers use it to stop early. */
int dann_first_err_seen(const struct dann_first_err *e);
/* After the workers are joined: 0, or the first code with its message set
 * on the calling thread. */
int dann_first_err_raise(const struct dann_first_err *e);

#endif
