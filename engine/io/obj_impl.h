/*
 * obj_impl.h — what the object-store front (obj.c) and its backends
 * (obj_s3*.c, obj_file.c) share: the store, the backend table, the sink a
 * download writes into, and the retry policy (obj_retry.c).
 *
 * The front validates keys and arguments, and owns what is the same for
 * every backend (whole-file downloads with CRC checks, directories); a
 * backend does one request's worth of work and its own retries.
 */
#ifndef DANN_OBJ_IMPL_H
#define DANN_OBJ_IMPL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "obj.h"

/* Where downloaded bytes go, in order. A backend that resumes after a
 * failure continues from the byte after the last one written. Returns 0
 * or a DANN_E* code that stops the download. */
struct obj_sink {
	int (*write)(void *arg, const void *data, size_t n);
	void *arg;
};

/* Where uploaded bytes come from: a buffer, or bytes [off, off+len) of an
 * open file (path names it in errors). */
struct obj_src {
	const void *buf;
	int fd;
	const char *path;
	uint64_t off, len;
};

struct obj_ops {
	const char *name;
	int (*open)(struct obj_store *s);
	void (*close)(struct obj_store *s);
	int (*put)(struct obj_store *s, const char *key, const struct obj_src *src);
	/* Bytes [off, off+len) (len UINT64_MAX: to the end) into sink; *got
	 * counts them. Reading at or past the end is 0 bytes, not an error. */
	int (*get)(struct obj_store *s, const char *key, uint64_t off, uint64_t len,
		   const struct obj_sink *sink, uint64_t *got);
	int (*head)(struct obj_store *s, const char *key, struct obj_stat *st);
	int (*del)(struct obj_store *s, const char *key);
	/* keys handed to fn have the store's prefix removed */
	int (*list)(struct obj_store *s, const char *prefix, obj_list_fn fn, void *arg);
};

extern const struct obj_ops obj_s3_ops;
extern const struct obj_ops obj_file_ops;

struct obj_store {
	const struct obj_ops *ops;
	char uri[OBJ_URI_MAX];
	char bucket[256];           /* s3 only */
	char prefix[OBJ_URI_MAX];   /* "" or ends with '/'; file://: the directory */
	/* the config, with defaults filled and strings owned here */
	struct obj_config cfg;
	char *strs[8];
	void *impl;                 /* backend state */
	_Atomic uint64_t rng;       /* jitter state (splitmix64 counter) */
	struct {
		_Atomic uint64_t requests, retries, bytes_up, bytes_down, crc_refetches,
			multipart_restarts;
	} st;
};

/* ---- retry policy (obj_retry.c) ---- */

/* What one attempt's outcome calls for. */
enum obj_verdict {
	OBJ_DONE = 0,     /* success, or a failure that retrying cannot fix */
	OBJ_RETRY = 1,    /* transient: try again after a backoff */
};

/* HTTP status of an answered request: 5xx and 429 are transient, the rest
 * is final. */
enum obj_verdict obj_retry_http(long status);
/* curl's result of a request that got no usable answer (CURLcode as int):
 * connection, send/receive, timeout and empty-reply errors are transient. */
enum obj_verdict obj_retry_curl(int curl_code);
/* Sleeps before attempt (1 = the first retry): a uniformly random time in
 * [d/2, d] where d = min(retry_max_ms, retry_base_ms * 2^(attempt-1)). */
void obj_retry_sleep(struct obj_store *s, unsigned attempt);
/* The backoff obj_retry_sleep would choose (for tests of the policy). */
uint32_t obj_retry_delay_ms(struct obj_store *s, unsigned attempt);
/* Number of retries the config allows. */
unsigned obj_retry_limit(const struct obj_store *s);

/* ---- shared helpers (obj.c) ---- */

/* AWS's URI encoding: unreserved bytes kept, '/' kept when keep_slash,
 * every other byte %XX (upper case). Appends to out (cap bytes, NUL
 * terminated); DANN_EINVAL if it does not fit. */
int obj_uri_encode(const char *in, int keep_slash, char *out, size_t cap);

/* Reads exactly len bytes of a source at byte rel (relative to src->off). */
int obj_src_read(const struct obj_src *src, uint64_t rel, void *buf, size_t len);

/* ---- minimal XML reading for S3 replies (obj_xml.c) ---- */

/* Finds the next element <tag>..</tag> (or an empty <tag/>) in [p, end): its text
 * between the tags in *val and *vlen, and the position after its end tag in
 * *next. Returns 1 if found, 0 if not. Elements nested in it are part of
 * its text. */
int obj_xml_find(const char *p, const char *end, const char *tag, const char **val, size_t *vlen,
		 const char **next);
/* Copies the text of the first <tag> in [p, end) into out, with XML's
 * entities (&amp; &lt; &gt; &quot; &apos; &#N; &#xN;) decoded. Returns 1 if
 * found, 0 if not, DANN_ECORRUPT for a bad entity or text longer than cap-1. */
int obj_xml_text(const char *p, const char *end, const char *tag, char *out, size_t cap);
/* Decodes the entities of [v, v+n) into out (cap bytes with the NUL). */
int obj_xml_unescape(const char *v, size_t n, char *out, size_t cap);

#endif
