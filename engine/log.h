/*
 * log.h — the engine's one channel for warnings and notes.
 *
 * The library reports failures through return codes and dann_errmsg(); the
 * log is for things that are not failures but that an operator must be told
 * about: a fallback that was taken (O_DIRECT refused, io_uring unavailable),
 * a feature that was switched on. Every such message goes through one hook
 * that the program sets, so an embedding application decides where they go.
 *
 * Until a program sets a hook, messages at DANN_LOG_WARN and above are
 * written to stderr as "dann: warning: <module>: <message>" — a fallback
 * must never be silent, even in a program that forgot to set a hook.
 *
 * Thread-safe: calls are serialized, so the hook never runs concurrently
 * with itself and lines from two threads never interleave.
 */
#ifndef DANN_LOG_H
#define DANN_LOG_H

#include <stdatomic.h>

#include "dann.h"

/* enum dann_log_level, dann_log_fn and dann_log_set are public: dann.h. */

/* The current most verbose level that reaches the hook. */
enum dann_log_level dann_log_level(void);

/* Formats and passes one message to the hook. */
void dann_log(enum dann_log_level level, const char *module, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Like dann_log, but only the first call with a given flag logs at level;
 * later calls log at DANN_LOG_DEBUG. For warnings that would otherwise
 * repeat for every file or every thread ("O_DIRECT refused on tmpfs").
 * The flag is a static at the call site, zero-initialised. */
void dann_log_once(atomic_int *flag, enum dann_log_level level, const char *module,
		   const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* "error", "warning", "info", "debug". */
const char *dann_log_level_name(enum dann_log_level level);

#endif
