/*
 * error.c — per-thread failure messages and the names of codes and enums.
 *
 * The message buffer is thread-local so that concurrent searches and builds
 * never see each other's errors; it is fixed-size so that reporting a
 * failure (including ENOMEM) never allocates.
 */
#include "error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define ERRMSG_BYTES 1024

static _Thread_local char errmsg[ERRMSG_BYTES];

const char *dann_errmsg(void)
{
	return errmsg;
}

void dann_clear_error(void)
{
	errmsg[0] = '\0';
}

int dann_fail(int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(errmsg, sizeof errmsg, fmt, ap);
	va_end(ap);
	return code;
}

int dann_fail_errno(int code, int errnum, const char *fmt, ...)
{
	char err[128];
	va_list ap;
	size_t n;

	va_start(ap, fmt);
	vsnprintf(errmsg, sizeof errmsg, fmt, ap);
	va_end(ap);
	/* strerror_r (XSI or GNU) differ; strerror of a known errno is safe here
	 * because only this thread formats into its own buffer afterwards. */
	snprintf(err, sizeof err, "%s", strerror(errnum));
	n = strlen(errmsg);
	if (n < sizeof errmsg)
		snprintf(errmsg + n, sizeof errmsg - n, ": %s", err);
	return code;
}

int dann_fail_wrap(int code, const char *fmt, ...)
{
	char old[ERRMSG_BYTES];
	va_list ap;
	size_t n;

	memcpy(old, errmsg, sizeof old);
	va_start(ap, fmt);
	vsnprintf(errmsg, sizeof errmsg, fmt, ap);
	va_end(ap);
	/* Copied by hand: snprintf of a buffer as large as errmsg into its
	 * tail trips -Wformat-truncation at -O1 (the asan build). */
	n = strlen(errmsg);
	if (old[0] && n + 3 <= sizeof errmsg) {
		size_t len = strnlen(old, sizeof errmsg - n - 3);
		memcpy(errmsg + n, ": ", 2);
		memcpy(errmsg + n + 2, old, len);
		errmsg[n + 2 + len] = '\0';
	}
	return code;
}

const char *dann_errname(int code)
{
	switch (code) {
	case DANN_OK: return "DANN_OK";
	case DANN_EINVAL: return "DANN_EINVAL";
	case DANN_ENOMEM: return "DANN_ENOMEM";
	case DANN_EIO: return "DANN_EIO";
	case DANN_ECORRUPT: return "DANN_ECORRUPT";
	case DANN_ENOTFOUND: return "DANN_ENOTFOUND";
	case DANN_EUNSUPPORTED: return "DANN_EUNSUPPORTED";
	case DANN_EBUSY: return "DANN_EBUSY";
	case DANN_ECANCELED: return "DANN_ECANCELED";
	case DANN_EEXIST: return "DANN_EEXIST";
	case DANN_ETIMEDOUT: return "DANN_ETIMEDOUT";
	}
	return "DANN_E?";
}

size_t dann_dtype_size(enum dann_dtype t)
{
	switch (t) {
	case DANN_DTYPE_F32: return 4;
	case DANN_DTYPE_U8: return 1;
	case DANN_DTYPE_I8: return 1;
	case DANN_DTYPE_I32: return 4;
	}
	return 0;
}

const char *dann_dtype_name(enum dann_dtype t)
{
	switch (t) {
	case DANN_DTYPE_F32: return "float32";
	case DANN_DTYPE_U8: return "uint8";
	case DANN_DTYPE_I8: return "int8";
	case DANN_DTYPE_I32: return "int32";
	}
	return "?";
}

const char *dann_metric_name(enum dann_metric m)
{
	switch (m) {
	case DANN_METRIC_L2: return "l2";
	case DANN_METRIC_IP: return "ip";
	case DANN_METRIC_COSINE: return "cosine";
	}
	return "?";
}

int dann_metric_parse(const char *s, enum dann_metric *out)
{
	if (!s)
		return dann_fail(DANN_EINVAL, "metric missing: expected l2, ip or cosine");
	if (!strcasecmp(s, "l2"))
		*out = DANN_METRIC_L2;
	else if (!strcasecmp(s, "ip"))
		*out = DANN_METRIC_IP;
	else if (!strcasecmp(s, "cosine"))
		*out = DANN_METRIC_COSINE;
	else
		return dann_fail(DANN_EINVAL, "unknown metric '%s': expected l2, ip or cosine", s);
	return 0;
}

/* The code doubles as the claim: the worker whose compare-and-swap moves it
 * from 0 writes msg, and the joining thread reads msg only after the join
 * (a barrier), so the copy needs no lock. Waiting workers see the code
 * before the message is complete, which is all they need. */
int dann_first_err_set(struct dann_first_err *e, int rc)
{
	int zero = 0;

	if (rc < 0 && __atomic_compare_exchange_n(&e->code, &zero, rc, 0, __ATOMIC_ACQ_REL,
						  __ATOMIC_RELAXED))
		snprintf(e->msg, sizeof e->msg, "%s", errmsg);
	return rc;
}

int dann_first_err_seen(const struct dann_first_err *e)
{
	return __atomic_load_n(&e->code, __ATOMIC_RELAXED) != 0;
}

int dann_first_err_raise(const struct dann_first_err *e)
{
	int code = __atomic_load_n(&e->code, __ATOMIC_ACQUIRE);

	return code ? dann_fail(code, "%s", e->msg) : 0;
}
