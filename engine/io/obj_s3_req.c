/*
 * obj_s3_req.c — one S3 request over libcurl, signed, with retries.
 *
 * Signing is curl's (CURLOPT_AWS_SIGV4 "aws:amz:<region>:s3"); we never
 * compute a signature. What curl 7.88 leaves to the caller, done here:
 *   - x-amz-content-sha256: curl signs the payload hash given in this
 *     header, but does not add the header, which S3 requires. We send the
 *     body's real SHA-256 (S3 then rejects a body altered on the way), or
 *     UNSIGNED-PAYLOAD when the config asks;
 *   - the canonical URI and query: curl signs the path and query exactly as
 *     they appear in the URL, so the URL is built already in canonical form
 *     (AWS URI encoding, query parameters sorted, "name=" for a bare name);
 *   - every header passed here is signed (curl signs all custom headers),
 *     so none is passed that curl might drop or rewrite on the wire.
 *
 * Retries: see obj_retry.c. A GET resumes after a failure from the first
 * byte it has not yet handed on, so a download that broke after 900 MB
 * does not start again from zero; the resumed request carries If-Match
 * with the first answer's ETag, so the bytes are never a splice of two
 * versions of the object.
 */
#include <inttypes.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../error.h"
#include "../log.h"
#include "obj_s3.h"

void s3_sha256_hex(const void *buf, size_t len, char out[S3_SHA256_HEX])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0, i;

	EVP_Digest(buf, len, md, &n, EVP_sha256(), NULL);
	for (i = 0; i < n && i < 32; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[64] = 0;
}

void s3_name(const struct obj_store *s, const char *key, char *out, size_t cap)
{
	snprintf(out, cap, "s3://%s/%s%s", s->bucket, s->prefix, key ? key : "");
}

void s3_req_free(struct s3_req *r)
{
	free(r->reply);
	r->reply = NULL;
	r->reply_n = 0;
}

static CURL *handle_take(struct s3 *b)
{
	CURL *c = NULL;

	pthread_mutex_lock(&b->lock);
	if (b->nidle)
		c = b->idle[--b->nidle];
	pthread_mutex_unlock(&b->lock);
	return c ? c : curl_easy_init();
}

static void handle_give(struct s3 *b, CURL *c)
{
	curl_easy_reset(c);
	pthread_mutex_lock(&b->lock);
	if (b->nidle < S3_HANDLE_POOL) {
		b->idle[b->nidle++] = c;
		c = NULL;
	}
	pthread_mutex_unlock(&b->lock);
	if (c)
		curl_easy_cleanup(c);
}

static void note_status(struct s3_req *r)
{
	if (!r->status_known) {
		curl_easy_getinfo(r->curl, CURLINFO_RESPONSE_CODE, &r->status);
		r->status_known = 1;
		/* a server that ignores Range answers 200 with the whole object */
		if (r->status == 200 && r->ranged)
			r->skip = r->range_start;
	}
}

static int keep_reply(struct s3_req *r, const char *p, size_t n)
{
	char *nb;

	if (r->reply_n + n > S3_REPLY_MAX)
		return -1;
	if (!(nb = realloc(r->reply, r->reply_n + n + 1)))
		return -1;
	memcpy(nb + r->reply_n, p, n);
	r->reply = nb;
	r->reply_n += n;
	r->reply[r->reply_n] = 0;
	return 0;
}

static size_t on_body(char *p, size_t size, size_t nmemb, void *arg)
{
	struct s3_req *r = arg;
	size_t n = size * nmemb, give;
	uint64_t want;

	note_status(r);
	if (!r->sink || (r->status != 200 && r->status != 206))
		return keep_reply(r, p, n) == 0 ? n : 0;
	if (r->skip) {
		size_t drop = r->skip < n ? (size_t)r->skip : n;

		r->skip -= drop;
		p += drop;
		n -= drop;
		if (!n)
			return size * nmemb;
	}
	want = r->len == UINT64_MAX ? UINT64_MAX : r->len - r->delivered;
	give = (uint64_t)n < want ? n : (size_t)want;
	if (give && (r->sink_rc = r->sink->write(r->sink->arg, p, give)) < 0)
		return 0;
	r->delivered += give;
	return size * nmemb;
}

static size_t on_upload(char *p, size_t size, size_t nmemb, void *arg)
{
	struct s3_req *r = arg;
	size_t n = size * nmemb, left = r->body_len - r->body_pos;

	if (n > left)
		n = left;
	memcpy(p, (const char *)r->body + r->body_pos, n);
	r->body_pos += n;
	return n;
}

/* Header lines: ETag and Content-Length are kept. */
static size_t on_header(char *p, size_t size, size_t nmemb, void *arg)
{
	struct s3_req *r = arg;
	size_t n = size * nmemb, vlen;
	const char *v;

	if (n > 5 && strncmp(p, "HTTP/", 5) == 0) {
		/* a new response (after 100 Continue, say): forget the last one */
		r->etag[0] = 0;
		r->have_length = 0;
		r->have_total = 0;
		return n;
	}
	v = memchr(p, ':', n);
	if (!v)
		return n;
	vlen = n - (size_t)(v + 1 - p);
	for (v++; vlen && (*v == ' ' || *v == '\t'); v++, vlen--)
		;
	while (vlen && (v[vlen - 1] == '\r' || v[vlen - 1] == '\n' || v[vlen - 1] == ' '))
		vlen--;
	if (strncasecmp(p, "etag:", 5) == 0) {
		if (vlen >= 2 && v[0] == '"' && v[vlen - 1] == '"') {
			v++;
			vlen -= 2;
		}
		if (vlen < sizeof r->etag) {
			memcpy(r->etag, v, vlen);
			r->etag[vlen] = 0;
		}
	} else if (strncasecmp(p, "content-range:", 14) == 0) {
		const char *slash = memchr(v, '/', vlen);

		/* "bytes 0-99/1234": the object's size, unless "*" */
		if (slash && slash + 1 < v + vlen && slash[1] >= '0' && slash[1] <= '9') {
			r->total = strtoull(slash + 1, NULL, 10);
			r->have_total = 1;
		}
	} else if (strncasecmp(p, "content-length:", 15) == 0) {
		char num[32];

		if (vlen && vlen < sizeof num) {
			memcpy(num, v, vlen);
			num[vlen] = 0;
			r->content_length = strtoull(num, NULL, 10);
			r->have_length = 1;
		}
	}
	return n;
}

static int build_url(struct obj_store *s, const struct s3_req *r, char *url, size_t cap)
{
	struct s3 *b = s->impl;
	int rc;

	if (!r->key) {
		if ((size_t)snprintf(url, cap, "%s", b->bucket_url) >= cap)
			return dann_fail(DANN_EINVAL, "S3 URL too long");
	} else {
		char full[OBJ_URI_MAX + OBJ_KEY_MAX + 2];

		snprintf(full, sizeof full, "%s%s", s->prefix, r->key);
		if ((size_t)snprintf(url, cap, "%s", b->object_url) >= cap)
			return dann_fail(DANN_EINVAL, "S3 URL too long");
		if ((rc = obj_uri_encode(full, 1, url, cap)) < 0)
			return rc;
	}
	if (r->query) {
		size_t n = strlen(url);

		if ((size_t)snprintf(url + n, cap - n, "?%s", r->query) >= cap - n)
			return dann_fail(DANN_EINVAL, "S3 URL too long");
	}
	return 0;
}

static int add_header(struct curl_slist **h, const char *fmt, const char *v)
{
	char line[4096];
	struct curl_slist *n;

	if ((size_t)snprintf(line, sizeof line, fmt, v) >= sizeof line)
		return dann_fail(DANN_EINVAL, "S3 header too long: %.40s", line);
	if (!(n = curl_slist_append(*h, line)))
		return dann_fail(DANN_ENOMEM, "S3 request headers");
	*h = n;
	return 0;
}

/* Sets up and performs one attempt; the CURLcode, or a negative DANN_E*
 * for a failure before sending. */
static int attempt(struct obj_store *s, struct s3_req *r, const char *url, const char *sha)
{
	struct s3 *b = s->impl;
	const struct obj_config *c = &s->cfg;
	struct curl_slist *h = NULL;
	char range[96], errbuf[CURL_ERROR_SIZE] = "";
	CURL *cu;
	long stall_s = (long)((c->stall_timeout_ms + 999) / 1000);
	int rc;

	if (!(cu = handle_take(b)))
		return dann_fail(DANN_ENOMEM, "curl_easy_init");
	r->curl = cu;
	r->status = 0;
	r->status_known = 0;
	r->body_pos = 0;
	r->skip = 0;
	r->etag[0] = 0;
	r->have_length = 0;
	r->have_total = 0;
	s3_req_free(r);
	/* the canonical headers curl signs: these and host, x-amz-date */
	if ((rc = add_header(&h, "x-amz-content-sha256: %s", sha)) < 0)
		goto out;
	if (c->test_amz_date && (rc = add_header(&h, "x-amz-date: %s", c->test_amz_date)) < 0)
		goto out;
	if (c->session_token && *c->session_token &&
	    (rc = add_header(&h, "x-amz-security-token: %s", c->session_token)) < 0)
		goto out;
	if (r->content_type && (rc = add_header(&h, "Content-Type: %s", r->content_type)) < 0)
		goto out;
	if (r->sink) {
		uint64_t start = r->off + r->delivered;

		if (r->len != UINT64_MAX)
			snprintf(range, sizeof range, "bytes=%" PRIu64 "-%" PRIu64, start, r->off + r->len - 1);
		else
			snprintf(range, sizeof range, "bytes=%" PRIu64 "-", start);
		/* a resumed read must continue the same object, not a newer one */
		if (r->delivered && r->first_etag[0] && (rc = add_header(&h, "If-Match: \"%s\"", r->first_etag)) < 0)
			goto out;
		r->ranged = start > 0 || r->len != UINT64_MAX;
		r->range_start = start;
		if (r->ranged && (rc = add_header(&h, "Range: %s", range)) < 0)
			goto out;
	}
	curl_easy_setopt(cu, CURLOPT_URL, url);
	curl_easy_setopt(cu, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(cu, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(cu, CURLOPT_CONNECTTIMEOUT_MS, (long)c->connect_timeout_ms);
	curl_easy_setopt(cu, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(cu, CURLOPT_LOW_SPEED_TIME, stall_s);
	curl_easy_setopt(cu, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(cu, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(cu, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(cu, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(cu, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(cu, CURLOPT_HEADERDATA, r);
	if (b->connect_to)
		curl_easy_setopt(cu, CURLOPT_CONNECT_TO, b->connect_to);
	if (c->access_key && *c->access_key) {
		curl_easy_setopt(cu, CURLOPT_AWS_SIGV4, b->sigv4);
		curl_easy_setopt(cu, CURLOPT_USERNAME, c->access_key);
		curl_easy_setopt(cu, CURLOPT_PASSWORD, c->secret_key ? c->secret_key : "");
	}
	if (strcmp(r->method, "HEAD") == 0) {
		curl_easy_setopt(cu, CURLOPT_NOBODY, 1L);
	} else if (strcmp(r->method, "PUT") == 0) {
		curl_easy_setopt(cu, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(cu, CURLOPT_READFUNCTION, on_upload);
		curl_easy_setopt(cu, CURLOPT_READDATA, r);
		curl_easy_setopt(cu, CURLOPT_INFILESIZE_LARGE, (curl_off_t)r->body_len);
	} else if (strcmp(r->method, "POST") == 0) {
		curl_easy_setopt(cu, CURLOPT_POST, 1L);
		curl_easy_setopt(cu, CURLOPT_POSTFIELDS, r->body ? (const char *)r->body : "");
		curl_easy_setopt(cu, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->body_len);
	} else if (strcmp(r->method, "GET") != 0) {
		curl_easy_setopt(cu, CURLOPT_CUSTOMREQUEST, r->method);
	}
	atomic_fetch_add(&s->st.requests, 1);
	rc = (int)curl_easy_perform(cu);
	if (rc == CURLE_OK)
		note_status(r);
	else if (errbuf[0]) {
		dann_fail(DANN_EIO, "%s", errbuf);
	} else {
		dann_fail(DANN_EIO, "%s", curl_easy_strerror((CURLcode)rc));
	}
out:
	curl_slist_free_all(h);
	handle_give(b, cu);
	r->curl = NULL;
	return rc;
}

/* The server's <Code> and <Message> from an error reply, if any. */
static void reply_error(const struct s3_req *r, char *code, size_t ccap, char *msg, size_t mcap)
{
	code[0] = msg[0] = 0;
	if (!r->reply)
		return;
	if (obj_xml_text(r->reply, r->reply + r->reply_n, "Code", code, ccap) != 1)
		code[0] = 0;
	if (obj_xml_text(r->reply, r->reply + r->reply_n, "Message", msg, mcap) != 1)
		msg[0] = 0;
}

static int fail_status(struct obj_store *s, struct s3_req *r, const char *what, unsigned tries)
{
	char code[128], msg[512];
	struct s3 *b = s->impl;

	reply_error(r, code, sizeof code, msg, sizeof msg);
	if (r->status == 404 && strcmp(code, "NoSuchBucket") == 0)
		return dann_fail(DANN_ENOTFOUND, "%s: bucket '%s' does not exist at %s (NoSuchBucket)", what,
				 s->bucket, b->bucket_url);
	if (r->status == 404)
		return dann_fail(DANN_ENOTFOUND, "%s: not found (%s%s%s)", what, code[0] ? code : "HTTP 404",
				 msg[0] ? ": " : "", msg);
	if (r->status == 403 || r->status == 401)
		return dann_fail(DANN_EINVAL, "%s: access denied, HTTP %ld %s%s%s (check the credentials)", what,
				 r->status, code, msg[0] ? ": " : "", msg);
	if (obj_retry_http(r->status) == OBJ_RETRY)
		return dann_fail(DANN_EIO, "%s: HTTP %ld %s%s%s after %u attempts", what, r->status, code,
				 msg[0] ? ": " : "", msg, tries);
	return dann_fail(DANN_EINVAL, "%s: refused, HTTP %ld %s%s%s", what, r->status, code, msg[0] ? ": " : "",
			 msg);
}

int s3_request(struct obj_store *s, struct s3_req *r, const char *what)
{
	char url[OBJ_URI_MAX + 3 * OBJ_KEY_MAX + 2048];
	char sha[S3_SHA256_HEX];
	unsigned tries = 0, limit = obj_retry_limit(s);
	int rc;

	if ((rc = build_url(s, r, url, sizeof url)) < 0)
		return rc;
	if (s->cfg.unsigned_payload)
		strcpy(sha, "UNSIGNED-PAYLOAD");
	else if (r->payload_sha256)
		snprintf(sha, sizeof sha, "%s", r->payload_sha256);
	else
		s3_sha256_hex(r->body ? r->body : "", r->body_len, sha);
	r->delivered = 0;
	for (;;) {
		uint64_t before = r->delivered;

		r->sink_rc = 0;
		rc = attempt(s, r, url, sha);
		tries++;
		if (rc < 0)
			return rc;
		if (r->sink_rc < 0)
			return r->sink_rc;
		if (r->sink && r->delivered > before && !r->first_etag[0])
			snprintf(r->first_etag, sizeof r->first_etag, "%s", r->etag);
		if (r->sink && before > 0 && r->etag[0] && r->first_etag[0] && strcmp(r->etag, r->first_etag) != 0)
			return dann_fail(DANN_EIO, "%s: the object changed while it was read (ETag %s, then %s)", what,
					 r->first_etag, r->etag);
		if (rc == CURLE_OK && r->status >= 200 && r->status <= 299) {
			if (r->sink && r->len != UINT64_MAX && r->delivered < r->len && r->status == 206 &&
			    r->delivered > before && tries <= limit &&
			    (!r->have_total || r->off + r->delivered < r->total)) {
				/* a 206 shorter than asked, not at the object's end:
				 * ask for the rest */
				continue;
			}
			atomic_fetch_add(&s->st.bytes_up, r->body_len);
			atomic_fetch_add(&s->st.bytes_down, r->delivered);
			return 0;
		}
		if (rc == CURLE_OK && r->sink && r->status == 416)
			return 0; /* range starts at or past the end: nothing more to read */
		if (rc == CURLE_OK ? obj_retry_http(r->status) != OBJ_RETRY : obj_retry_curl(rc) != OBJ_RETRY)
			break;
		if (tries > limit)
			break;
		atomic_fetch_add(&s->st.retries, 1);
		dann_log(DANN_LOG_DEBUG, "obj", "%s: attempt %u failed (%s), retrying", what, tries,
			 rc == CURLE_OK ? "HTTP error" : dann_errmsg());
		obj_retry_sleep(s, tries);
	}
	if (rc != CURLE_OK)
		return dann_fail_wrap(rc == CURLE_OPERATION_TIMEDOUT ? DANN_ETIMEDOUT : DANN_EIO,
				      "%s: after %u attempts", what, tries);
	return fail_status(s, r, what, tries);
}
