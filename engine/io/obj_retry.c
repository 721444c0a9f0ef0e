/*
 * obj_retry.c — when an object-store request is tried again, and after how
 * long.
 *
 * Transient: connection failures, timeouts, a reply cut short, HTTP 5xx and
 * 429 (SlowDown / TooManyRequests). Final: every other 4xx — a request the
 * server has understood and refused does not get better by repeating it
 * (wrong credentials, missing bucket, bad key).
 *
 * Backoff is exponential with "equal jitter": half the delay is fixed, half
 * random, so clients that failed together do not retry together, and a
 * restarting server still gets a floor of time to come back. The random
 * numbers come from a per-store splitmix64 counter (no global state).
 */
#include <curl/curl.h>
#include <time.h>

#include "obj_impl.h"

enum obj_verdict obj_retry_http(long status)
{
	if (status >= 500 && status <= 599)
		return OBJ_RETRY;
	if (status == 429)
		return OBJ_RETRY;
	return OBJ_DONE;
}

enum obj_verdict obj_retry_curl(int curl_code)
{
	switch ((CURLcode)curl_code) {
	case CURLE_COULDNT_CONNECT:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
	case CURLE_WEIRD_SERVER_REPLY:
		return OBJ_RETRY;
	default:
		return OBJ_DONE;
	}
}

unsigned obj_retry_limit(const struct obj_store *s)
{
	return s->cfg.retries == OBJ_NO_RETRIES ? 0 : s->cfg.retries;
}

static uint64_t next_random(struct obj_store *s)
{
	uint64_t z = atomic_fetch_add(&s->rng, 0x9e3779b97f4a7c15ull) + 0x9e3779b97f4a7c15ull;

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

uint32_t obj_retry_delay_ms(struct obj_store *s, unsigned attempt)
{
	uint64_t d = s->cfg.retry_base_ms;
	unsigned i;

	for (i = 1; i < attempt && d < s->cfg.retry_max_ms; i++)
		d *= 2;
	if (d > s->cfg.retry_max_ms)
		d = s->cfg.retry_max_ms;
	return (uint32_t)(d / 2 + next_random(s) % (d - d / 2 + 1));
}

void obj_retry_sleep(struct obj_store *s, unsigned attempt)
{
	uint32_t ms = obj_retry_delay_ms(s, attempt);
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0)
		;
}
