/*
 * obj.h — the object-store client: whole objects under one bucket prefix.
 *
 * A store is opened from a URI and a config:
 *   s3://bucket/prefix   the S3 API over libcurl (PUT, multipart upload with
 *                        parallel parts, GET with byte ranges, HEAD, DELETE,
 *                        ListObjectsV2), every request signed with AWS
 *                        Signature V4 by curl (CURLOPT_AWS_SIGV4) and sent
 *                        with the payload's SHA-256 in x-amz-content-sha256;
 *   file:///dir          the same operations on a local directory, each
 *                        object a file written to a temporary name, fsynced,
 *                        renamed and its directory fsynced — so the embedded
 *                        default and every test without a server run the
 *                        code above the store unchanged.
 *
 * Keys are relative to the store's prefix ("seg/17/MANIFEST"). A key is 1 to
 * OBJ_KEY_MAX bytes of printable ASCII without a leading '/', an empty,
 * "." or ".." path segment; anything else is DANN_EINVAL naming the key.
 *
 * What the store promises, whichever backend:
 *   - an object appears whole or not at all: a PUT that fails (however far
 *     it got) leaves the previous object or none, never part of the new one
 *     (a multipart upload that fails is aborted; a file object is renamed
 *     into place only once complete and synced);
 *   - transient failures are retried with exponential backoff and jitter:
 *     connection errors and timeouts, HTTP 5xx and 429; never another 4xx;
 *   - a download with an expected CRC32C is checked; a mismatch is fetched
 *     again (OBJ_CRC_REFETCHES times) and then is DANN_ECORRUPT naming the
 *     object; a downloaded file is written beside its final name and renamed
 *     only when complete and checked;
 *   - errors: DANN_ENOTFOUND for a missing object or bucket (the message
 *     says which), DANN_EINVAL for a request the server refused as wrong
 *     (credentials, permissions, bad key; the server's code and message are
 *     in the text), DANN_EIO / DANN_ETIMEDOUT once retries are spent.
 *
 * Thread safety: any number of threads may use one store at once.
 * Environment variables (AWS_*) are read by the program, not here: see
 * tools/objenv.h.
 */
#ifndef DANN_OBJ_H
#define DANN_OBJ_H

#include <stddef.h>
#include <stdint.h>

#include "../dann.h"

#define OBJ_KEY_MAX 900                          /* bytes of a key (S3 allows 1024 with the prefix) */
#define OBJ_URI_MAX 1024
#define OBJ_CRC_REFETCHES 2                      /* downloads again after a CRC mismatch */
#define OBJ_MIN_PART_BYTES (5ull << 20)          /* S3's smallest part except the last */
#define OBJ_MAX_PARTS 10000u                     /* S3's most parts per upload */
#define OBJ_DEFAULT_PART_BYTES (16ull << 20)
#define OBJ_DEFAULT_PARALLEL 4u                  /* parts uploaded at once */
#define OBJ_DEFAULT_RETRIES 6u                   /* attempts after the first */
#define OBJ_DEFAULT_RETRY_BASE_MS 100u
#define OBJ_DEFAULT_RETRY_MAX_MS 5000u
#define OBJ_DEFAULT_CONNECT_TIMEOUT_MS 5000u
#define OBJ_DEFAULT_STALL_TIMEOUT_MS 30000u      /* no byte moved for this long: a timeout */
#define OBJ_DEFAULT_LIST_PAGE 1000u

struct obj_config {
	/* s3 only (ignored by file://). */
	const char *endpoint;       /* "http://127.0.0.1:4568"; NULL: https://s3.<region>.amazonaws.com */
	const char *region;         /* NULL: "us-east-1" */
	const char *access_key;     /* NULL or "": requests go unsigned */
	const char *secret_key;
	const char *session_token;  /* optional, sent as x-amz-security-token */
	int path_style;             /* 1: <endpoint>/<bucket>/<key>; 0: <bucket>.<endpoint host>/<key> */
	int unsigned_payload;       /* 1: x-amz-content-sha256 UNSIGNED-PAYLOAD instead of hashing */
	uint64_t part_bytes;        /* multipart part size (0: default; >= OBJ_MIN_PART_BYTES);
	                               larger files are uploaded in parts */
	uint32_t parallel;          /* parts in flight (0: default) */
	uint32_t list_page;         /* max-keys per ListObjectsV2 page (0: default, 1..1000) */
	/* both backends */
	uint32_t retries;           /* 0: default; OBJ_NO_RETRIES for none */
	uint32_t retry_base_ms;     /* first backoff (0: default), doubled per attempt */
	uint32_t retry_max_ms;      /* backoff cap (0: default) */
	uint32_t connect_timeout_ms; /* 0: default */
	uint32_t stall_timeout_ms;  /* 0: default */
	/* tests only: sign with this x-amz-date instead of the clock, and send
	 * the connection for "host:port" elsewhere (curl's CONNECT_TO syntax,
	 * "host:port:127.0.0.1:port2"). NULL in production. */
	const char *test_amz_date;
	const char *test_connect_to;
};
#define OBJ_NO_RETRIES UINT32_MAX

/* Fills c with zeros (every field at its default). */
void obj_config_default(struct obj_config *c);

struct obj_store;

/* Opens a store for uri ("s3://bucket[/prefix]" or "file:///abs/dir").
 * The config is copied. For file:// the directory is created if missing.
 * Nothing is sent over the network: a missing bucket shows at the first
 * request. DANN_EINVAL naming a malformed URI or option. */
int obj_open(const char *uri, const struct obj_config *cfg, struct obj_store **out);
/* Frees the store. NULL is a no-op. No call may be running on it. */
void obj_close(struct obj_store *s);

/* 0 if key is a valid key (see above), else DANN_EINVAL naming it. */
int obj_key_check(const char *key);

/* "s3" or "file", and the URI the store was opened with. */
const char *obj_backend_name(const struct obj_store *s);
const char *obj_uri(const struct obj_store *s);

/* Stores len bytes as the object key (one request up to part_bytes, a
 * multipart upload above). */
int obj_put(struct obj_store *s, const char *key, const void *buf, size_t len);
/* Stores the file at path as the object key: one request up to part_bytes,
 * a multipart upload of parallel parts above. Returns once the object is
 * complete and its size checked with a HEAD. */
int obj_put_file(struct obj_store *s, const char *key, const char *path);

/* Reads up to len bytes of key starting at byte off into buf; *got is the
 * number read (less than len only at the end of the object; 0 at or past
 * it). */
int obj_get(struct obj_store *s, const char *key, uint64_t off, size_t len, void *buf, size_t *got);
/* Reads the whole object into a malloc'd buffer (plus a NUL after it) of
 * *len bytes, refusing objects over max_bytes (DANN_EINVAL). */
int obj_get_all(struct obj_store *s, const char *key, size_t max_bytes, void **buf, size_t *len);
/* Downloads key to path (which must not be a directory): written to
 * "<path>.obj-tmp-XXXXXX", fsynced, checked against *crc32c when crc32c is
 * not NULL, renamed over path, the directory fsynced. A mismatch is
 * fetched again, then DANN_ECORRUPT naming the object and both CRCs. */
int obj_get_file(struct obj_store *s, const char *key, const char *path, const uint32_t *crc32c);

struct obj_stat {
	uint64_t size;
	char etag[80];              /* as the server gave it, quotes removed ("" if none) */
};
/* Size and ETag of key; DANN_ENOTFOUND if it does not exist. */
int obj_head(struct obj_store *s, const char *key, struct obj_stat *st);
/* Deletes key; a key that does not exist is not an error. */
int obj_delete(struct obj_store *s, const char *key);

/* Called once per object under the listed prefix, in ascending byte order
 * of key (the store's prefix removed); returning nonzero stops the listing
 * and obj_list returns that value. */
typedef int (*obj_list_fn)(void *arg, const char *key, uint64_t size);
/* Lists every object whose key starts with prefix ("" for all), following
 * continuation pages until the end. */
int obj_list(struct obj_store *s, const char *prefix, obj_list_fn fn, void *arg);
/* Deletes every object under prefix; *n (optional) counts them. */
int obj_delete_prefix(struct obj_store *s, const char *prefix, uint64_t *n);

/* Counters since obj_open (all threads). */
struct obj_stats {
	uint64_t requests;          /* attempts sent, retries included */
	uint64_t retries;           /* attempts after a transient failure */
	uint64_t bytes_up, bytes_down; /* payload bytes of successful attempts */
	uint64_t crc_refetches;     /* downloads repeated after a CRC mismatch */
	uint64_t multipart_restarts; /* uploads begun again after the server lost one */
};
void obj_stats_get(const struct obj_store *s, struct obj_stats *out);

/* ---- directories (obj_dir.c) ----------------------------------------------
 *
 * A directory (a segment's, with its MANIFEST) travels as one object per
 * regular file, under "<prefix>/<relative path>". The file named last is
 * uploaded after every other one has succeeded, so its presence in the
 * store means the whole directory is there; a download requires it. */

/* Uploads every regular file below dir under prefix, the one named last
 * (e.g. "MANIFEST"; NULL: no order) after the others. DANN_ENOTFOUND if dir
 * or last does not exist. */
int obj_put_dir(struct obj_store *s, const char *dir, const char *prefix, const char *last);

/* Says which CRC32C the file name (relative path) of a directory being
 * downloaded must have: returns 1 and sets *crc, 0 for "unchecked", or a
 * negative DANN_E* code (e.g. a name the manifest does not list) which
 * stops the download. stage is the directory being filled, in which the
 * file named last is already present and checked. */
typedef int (*obj_crc_fn)(void *arg, const char *stage, const char *name, uint32_t *crc);

/* Downloads every object under prefix into the new directory dir (which
 * must not exist): the file named last first (checked against *last_crc
 * when not NULL), then the others (each checked against what crc_of says;
 * crc_of may be NULL), all into "<dir>.obj-tmp-XXXXXX", fsynced, renamed to
 * dir, the parent fsynced. A failure leaves no dir. DANN_ENOTFOUND if last
 * is not in the store (an upload that never finished). */
int obj_get_dir(struct obj_store *s, const char *prefix, const char *dir, const char *last,
		const uint32_t *last_crc, obj_crc_fn crc_of, void *arg);

#endif
