/*
 * obj_s3.h — the S3 backend's inside, shared by its files: one request
 * (obj_s3_req.c: URL, SigV4 signing by curl, headers, retries), the simple
 * operations (obj_s3.c), multipart upload (obj_s3_multi.c) and listing
 * (obj_s3_list.c).
 */
#ifndef DANN_OBJ_S3_H
#define DANN_OBJ_S3_H

#include <curl/curl.h>

#include "obj_impl.h"

#define S3_HANDLE_POOL 64            /* idle curl handles kept (their connections stay open) */
#define S3_REPLY_MAX (8u << 20)      /* bytes of an XML reply we keep */
#define S3_SHA256_HEX 65

struct s3 {
	pthread_mutex_t lock;
	CURL *idle[S3_HANDLE_POOL];
	unsigned nidle;
	char bucket_url[OBJ_URI_MAX];   /* requests on the bucket (list, no trailing '/') */
	char object_url[OBJ_URI_MAX];   /* requests on an object: this + encoded key */
	char sigv4[160];                /* "aws:amz:<region>:s3" */
	struct curl_slist *connect_to;
};

/* One request and what came back. The caller fills the first block; the
 * rest is set by s3_request. */
struct s3_req {
	const char *method;             /* "GET", "PUT", "HEAD", "DELETE", "POST" */
	const char *key;                /* relative to the store's prefix; NULL: the bucket */
	const char *query;              /* canonical query string (sorted, encoded) or NULL */
	const void *body;               /* PUT / POST payload */
	size_t body_len;
	const char *payload_sha256;     /* hex of body's SHA-256 (NULL: computed here) */
	const char *content_type;
	/* GET: bytes [off, off + len) go to sink (len UINT64_MAX: to the end);
	 * a retry asks for the rest from where the last attempt stopped */
	const struct obj_sink *sink;
	uint64_t off, len;
	/* the answer */
	long status;
	char *reply;                    /* body of non-GET or failed requests, NUL terminated */
	size_t reply_n;
	char etag[80];
	uint64_t content_length;
	int have_length;
	uint64_t total;                 /* object size from Content-Range (have_total) */
	int have_total;
	uint64_t delivered;             /* bytes handed to sink over all attempts */
	char first_etag[80];            /* ETag of the answer the first bytes came from */
	/* state of the attempt in flight */
	CURL *curl;
	size_t body_pos;
	uint64_t skip;                  /* bytes to drop from a 200 answer to a ranged GET */
	uint64_t range_start;
	int ranged;
	int status_known;
	int sink_rc;
};

/* Runs r with retries. 0 when the server answered 2xx; otherwise a DANN_E*
 * code with a message naming what (e.g. "PUT s3://b/p/key") and the
 * server's error code and text. 404 is DANN_ENOTFOUND. r->reply must be
 * freed with s3_req_free either way. */
int s3_request(struct obj_store *s, struct s3_req *r, const char *what);
void s3_req_free(struct s3_req *r);

/* Lowercase hex SHA-256 of buf. */
void s3_sha256_hex(const void *buf, size_t len, char out[S3_SHA256_HEX]);

/* "<prefix><key>" as the store names it in messages ("s3://b/p/key"). */
void s3_name(const struct obj_store *s, const char *key, char *out, size_t cap);

/* Multipart upload of src (larger than one part) as key (obj_s3_multi.c). */
int s3_put_multipart(struct obj_store *s, const char *key, const struct obj_src *src);
/* ListObjectsV2 over every page (obj_s3_list.c). */
int s3_list(struct obj_store *s, const char *prefix, obj_list_fn fn, void *arg);

#endif
