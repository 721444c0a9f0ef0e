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

#endif
