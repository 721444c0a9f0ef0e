/*
 * obj_s3.c — the S3 backend: addressing, and the operations that are one
 * request each (PUT of one part's worth, GET, HEAD, DELETE). Larger PUTs go
 * to obj_s3_multi.c, listing to obj_s3_list.c, the request itself to
 * obj_s3_req.c.
 *
 * Addressing: path style puts the bucket in the path (what s3rver, MinIO
 * and most local servers want); virtual-host style puts it in the host
 * name (AWS's default). The endpoint defaults to AWS's regional one.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../error.h"
#include "obj_s3.h"

static int s3_open(struct obj_store *s)
{
	const struct obj_config *c = &s->cfg;
	char ep[OBJ_URI_MAX];
	const char *hostport;
	struct s3 *b;
	size_t n;

	if (c->endpoint && *c->endpoint)
		snprintf(ep, sizeof ep, "%s", c->endpoint);
	else
		snprintf(ep, sizeof ep, "https://s3.%s.amazonaws.com", c->region);
	n = strlen(ep);
	while (n && ep[n - 1] == '/')
		ep[--n] = 0;
	if (strncmp(ep, "http://", 7) != 0 && strncmp(ep, "https://", 8) != 0)
		return dann_fail(DANN_EINVAL, "obj_open: endpoint '%s': expected http://host[:port] or https://...",
				 ep);
	hostport = strstr(ep, "://") + 3;
	if (!*hostport || strchr(hostport, '/') || strchr(hostport, '?'))
		return dann_fail(DANN_EINVAL, "obj_open: endpoint '%s': expected scheme://host[:port] with no path",
				 ep);
	if (strlen(c->region) > 64 || strchr(c->region, ':'))
		return dann_fail(DANN_EINVAL, "obj_open: region '%s' is not a region name", c->region);
	if (c->access_key && *c->access_key && (!c->secret_key || !*c->secret_key))
		return dann_fail(DANN_EINVAL, "obj_open: %s: an access key without a secret key", s->uri);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return dann_fail(DANN_EIO, "obj_open: curl_global_init failed");
	if (!(b = calloc(1, sizeof *b))) {
		curl_global_cleanup();
		return dann_fail(DANN_ENOMEM, "obj_open: %s", s->uri);
	}
	pthread_mutex_init(&b->lock, NULL);
	s->impl = b;
	if (c->path_style) {
		n = (size_t)snprintf(b->bucket_url, sizeof b->bucket_url, "%s/%s", ep, s->bucket);
		n |= (size_t)snprintf(b->object_url, sizeof b->object_url, "%s/%s/", ep, s->bucket);
	} else {
		n = (size_t)snprintf(b->bucket_url, sizeof b->bucket_url, "%.*s%s.%s/", (int)(hostport - ep), ep,
				     s->bucket, hostport);
		n |= (size_t)snprintf(b->object_url, sizeof b->object_url, "%s", b->bucket_url);
	}
	if (n >= sizeof b->bucket_url)
		return dann_fail(DANN_EINVAL, "obj_open: endpoint '%s' too long", ep);
	snprintf(b->sigv4, sizeof b->sigv4, "aws:amz:%s:s3", c->region);
	if (c->test_connect_to && !(b->connect_to = curl_slist_append(NULL, c->test_connect_to)))
		return dann_fail(DANN_ENOMEM, "obj_open: connect_to");
	return 0;
}

static void s3_close(struct obj_store *s)
{
	struct s3 *b = s->impl;
	unsigned i;

	if (!b)
		return;
	for (i = 0; i < b->nidle; i++)
		curl_easy_cleanup(b->idle[i]);
	curl_slist_free_all(b->connect_to);
	pthread_mutex_destroy(&b->lock);
	free(b);
	s->impl = NULL;
	curl_global_cleanup();
}

static int s3_put(struct obj_store *s, const char *key, const struct obj_src *src)
{
	struct s3_req r = { .method = "PUT", .key = key };
	char what[OBJ_URI_MAX + OBJ_KEY_MAX + 16], name[OBJ_URI_MAX + OBJ_KEY_MAX];
	void *tmp = NULL;
	int rc;

	if (src->len > s->cfg.part_bytes)
		return s3_put_multipart(s, key, src);
	if (src->buf) {
		r.body = (const char *)src->buf + src->off;
	} else {
		if (!(tmp = malloc(src->len ? src->len : 1)))
			return dann_fail(DANN_ENOMEM, "PUT %s: %llu bytes", key, (unsigned long long)src->len);
		if ((rc = obj_src_read(src, 0, tmp, src->len)) < 0)
			goto out;
		r.body = tmp;
	}
	r.body_len = src->len;
	s3_name(s, key, name, sizeof name);
	snprintf(what, sizeof what, "PUT %s", name);
	rc = s3_request(s, &r, what);
out:
	s3_req_free(&r);
	free(tmp);
	return rc;
}

static int s3_get(struct obj_store *s, const char *key, uint64_t off, uint64_t len, const struct obj_sink *sink,
		  uint64_t *got)
{
	struct s3_req r = { .method = "GET", .key = key, .sink = sink, .off = off, .len = len };
	char what[OBJ_URI_MAX + OBJ_KEY_MAX + 16], name[OBJ_URI_MAX + OBJ_KEY_MAX];
	int rc;

	s3_name(s, key, name, sizeof name);
	snprintf(what, sizeof what, "GET %s", name);
	rc = s3_request(s, &r, what);
	*got = r.delivered;
	s3_req_free(&r);
	return rc;
}

static int s3_head(struct obj_store *s, const char *key, struct obj_stat *st)
{
	struct s3_req r = { .method = "HEAD", .key = key };
	char what[OBJ_URI_MAX + OBJ_KEY_MAX + 16], name[OBJ_URI_MAX + OBJ_KEY_MAX];
	int rc;

	s3_name(s, key, name, sizeof name);
	snprintf(what, sizeof what, "HEAD %s", name);
	if ((rc = s3_request(s, &r, what)) == 0) {
		if (!r.have_length)
			rc = dann_fail(DANN_EIO, "%s: reply without Content-Length", what);
		st->size = r.content_length;
		snprintf(st->etag, sizeof st->etag, "%s", r.etag);
	}
	s3_req_free(&r);
	return rc;
}

static int s3_del(struct obj_store *s, const char *key)
{
	struct s3_req r = { .method = "DELETE", .key = key };
	char what[OBJ_URI_MAX + OBJ_KEY_MAX + 16], name[OBJ_URI_MAX + OBJ_KEY_MAX];
	int rc;

	s3_name(s, key, name, sizeof name);
	snprintf(what, sizeof what, "DELETE %s", name);
	rc = s3_request(s, &r, what);
	/* S3 answers 204 for a missing key too; a server that says 404 (but
	 * not for a missing bucket) means the same */
	if (rc == DANN_ENOTFOUND && !(r.reply && strstr(r.reply, "NoSuchBucket"))) {
		dann_clear_error();
		rc = 0;
	}
	s3_req_free(&r);
	return rc;
}

const struct obj_ops obj_s3_ops = {
	.name = "s3",
	.open = s3_open,
	.close = s3_close,
	.put = s3_put,
	.get = s3_get,
	.head = s3_head,
	.del = s3_del,
	.list = s3_list,
};
