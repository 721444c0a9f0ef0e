/*
 * log.c — the log hook and its stderr default (see log.h).
 *
 * The hook, its argument and the level are process-wide configuration set
 * once at start by the program; a mutex keeps a change of hook from racing a
 * message and keeps messages whole. Logging is rare (fallbacks, choices), so
 * the lock costs nothing that matters.
 */
#include "log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>

#define LOG_MSG_BYTES 1024

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static dann_log_fn log_fn;
static void *log_arg;
static atomic_int log_max = DANN_LOG_WARN;

const char *dann_log_level_name(enum dann_log_level level)
{
	switch (level) {
	case DANN_LOG_ERROR: return "error";
	case DANN_LOG_WARN: return "warning";
	case DANN_LOG_INFO: return "info";
	case DANN_LOG_DEBUG: return "debug";
	}
	return "?";
}

void dann_log_set(dann_log_fn fn, void *arg, enum dann_log_level max_level)
{
	pthread_mutex_lock(&log_lock);
	log_fn = fn;
	log_arg = arg;
	atomic_store(&log_max, fn ? (int)max_level : DANN_LOG_WARN);
	pthread_mutex_unlock(&log_lock);
}

enum dann_log_level dann_log_level(void)
{
	return (enum dann_log_level)atomic_load(&log_max);
}

static void log_emit(enum dann_log_level level, const char *module, const char *fmt, va_list ap)
{
	char msg[LOG_MSG_BYTES];

	if ((int)level > atomic_load(&log_max))
		return;
	vsnprintf(msg, sizeof msg, fmt, ap);
	pthread_mutex_lock(&log_lock);
	if (log_fn)
		log_fn(log_arg, level, module, msg);
	else
		fprintf(stderr, "dann: %s: %s: %s\n", dann_log_level_name(level), module, msg);
	pthread_mutex_unlock(&log_lock);
}

void dann_log(enum dann_log_level level, const char *module, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_emit(level, module, fmt, ap);
	va_end(ap);
}

void dann_log_once(atomic_int *flag, enum dann_log_level level, const char *module,
		   const char *fmt, ...)
{
	va_list ap;

	if (atomic_exchange(flag, 1))
		level = DANN_LOG_DEBUG;
	va_start(ap, fmt);
	log_emit(level, module, fmt, ap);
	va_end(ap);
}
