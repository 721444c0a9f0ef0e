/*
 * obj_s3_multi.c — S3 multipart upload with parts in parallel.
 *
 * CreateMultipartUpload, then parts of part_bytes (the last one shorter)
 * uploaded by up to `parallel` threads, each part read from the file into
 * its thread's buffer, hashed and PUT with its own retries; then
 * CompleteMultipartUpload with every part's ETag. The object exists only
 * once the completion succeeds, so a failure anywhere leaves no part of it
 * visible; the upload is then aborted so the server can drop its parts.
 *
 * A server that loses the upload itself (NoSuchUpload: restarted without
 * its state, or the upload expired) gets the whole upload again, up to
 * MP_RESTARTS times.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../error.h"
#include "../log.h"
#include "obj_s3.h"

#define MP_RESTARTS 2
#define MP_UPLOAD_ID_MAX 1024
#define MP_ERR_MAX 1024

struct mp_part {
	uint64_t off, len;
	char etag[80];
};

struct mp {
	struct obj_store *s;
	const char *key;
	const struct obj_src *src;
	char name[OBJ_URI_MAX + OBJ_KEY_MAX];
	char id_q[3 * MP_UPLOAD_ID_MAX + 16];   /* "uploadId=<encoded>" */
	struct mp_part *parts;
	uint32_t nparts;
	_Atomic uint32_t next;
	_Atomic int failed;
	pthread_mutex_t lock;
	int rc;                                 /* first failure */
	int lost;                               /* the server said NoSuchUpload */
	char err[MP_ERR_MAX];
};

static void record_failure(struct mp *m, int rc, int lost)
{
	pthread_mutex_lock(&m->lock);
	if (m->rc == 0) {
		m->rc = rc;
		snprintf(m->err, sizeof m->err, "%s", dann_errmsg());
	}
	m->lost |= lost;
	pthread_mutex_unlock(&m->lock);
	atomic_store(&m->failed, 1);
}

static int is_lost(const struct s3_req *r)
{
	return r->status == 404 && r->reply && strstr(r->reply, "NoSuchUpload");
}

static int upload_part(struct mp *m, uint32_t i, void *buf)
{
	struct mp_part *p = &m->parts[i];
	char q[sizeof m->id_q + 32], what[sizeof m->name + 64];
	struct s3_req r = { .method = "PUT", .key = m->key, .body = buf, .body_len = p->len };
	int rc;

	if ((rc = obj_src_read(m->src, p->off, buf, p->len)) < 0)
		return rc;
	/* parameters in canonical (sorted) order: partNumber < uploadId */
	snprintf(q, sizeof q, "partNumber=%u&%s", i + 1, m->id_q);
	r.query = q;
	snprintf(what, sizeof what, "PUT %s part %u of %u", m->name, i + 1, m->nparts);
	rc = s3_request(m->s, &r, what);
	if (rc == 0 && !r.etag[0])
		rc = dann_fail(DANN_EIO, "%s: reply without an ETag", what);
	if (rc == 0)
		snprintf(p->etag, sizeof p->etag, "%s", r.etag);
	else
		record_failure(m, rc, is_lost(&r));
	s3_req_free(&r);
	return rc;
}

static void *part_worker(void *arg)
{
	struct mp *m = arg;
	void *buf = malloc(m->s->cfg.part_bytes);

	if (!buf) {
		record_failure(m, dann_fail(DANN_ENOMEM, "%s: part buffer", m->name), 0);
		return NULL;
	}
	while (!atomic_load(&m->failed)) {
		uint32_t i = atomic_fetch_add(&m->next, 1);

		if (i >= m->nparts)
			break;
		if (upload_part(m, i, buf) < 0)
			break;
	}
	free(buf);
	return NULL;
}

static int create_upload(struct mp *m)
{
	struct s3_req r = { .method = "POST", .key = m->key, .query = "uploads=" };
	char what[sizeof m->name + 64], id[MP_UPLOAD_ID_MAX];
	int rc;

	snprintf(what, sizeof what, "CreateMultipartUpload %s", m->name);
	if ((rc = s3_request(m->s, &r, what)) == 0) {
		rc = r.reply ? obj_xml_text(r.reply, r.reply + r.reply_n, "UploadId", id, sizeof id) : 0;
		if (rc == 0 || (rc == 1 && !id[0]))
			rc = dann_fail(DANN_EIO, "%s: reply without an UploadId", what);
		if (rc == 1) {
			strcpy(m->id_q, "uploadId=");
			rc = obj_uri_encode(id, 0, m->id_q, sizeof m->id_q);
		}
	}
	s3_req_free(&r);
	return rc;
}

static void abort_upload(struct mp *m)
{
	struct s3_req r = { .method = "DELETE", .key = m->key, .query = m->id_q };
	char what[sizeof m->name + 64];

	snprintf(what, sizeof what, "AbortMultipartUpload %s", m->name);
	if (s3_request(m->s, &r, what) < 0)
		dann_log(DANN_LOG_WARN, "obj", "%s", dann_errmsg());
	s3_req_free(&r);
}

static int complete_upload(struct mp *m)
{
	size_t cap = 128 + (size_t)m->nparts * 160, n = 0;
	char *xml = malloc(cap), what[sizeof m->name + 64], code[128];
	struct s3_req r = { .method = "POST", .key = m->key, .query = m->id_q, .content_type = "application/xml" };
	uint32_t i;
	int rc;

	if (!xml)
		return dann_fail(DANN_ENOMEM, "%s: completion request", m->name);
	n += (size_t)snprintf(xml + n, cap - n, "<CompleteMultipartUpload>");
	for (i = 0; i < m->nparts; i++)
		n += (size_t)snprintf(xml + n, cap - n, "<Part><PartNumber>%u</PartNumber><ETag>\"%s\"</ETag></Part>",
				      i + 1, m->parts[i].etag);
	n += (size_t)snprintf(xml + n, cap - n, "</CompleteMultipartUpload>");
	r.body = xml;
	r.body_len = n;
	snprintf(what, sizeof what, "CompleteMultipartUpload %s", m->name);
	rc = s3_request(m->s, &r, what);
	/* S3 may answer 200 and put an <Error> in the body */
	if (rc == 0 && r.reply && obj_xml_text(r.reply, r.reply + r.reply_n, "Code", code, sizeof code) == 1 &&
	    strstr(r.reply, "<Error"))
		rc = dann_fail(strcmp(code, "NoSuchUpload") == 0 ? DANN_ENOTFOUND : DANN_EIO, "%s: %s", what, code);
	if (rc < 0)
		record_failure(m, rc, is_lost(&r) || (r.reply && strstr(r.reply, "NoSuchUpload")));
	s3_req_free(&r);
	free(xml);
	return rc;
}

static int upload_once(struct mp *m)
{
	pthread_t th[64];
	unsigned nth = m->s->cfg.parallel < m->nparts ? m->s->cfg.parallel : m->nparts, started = 0, i;
	int rc;

	atomic_store(&m->next, 0);
	atomic_store(&m->failed, 0);
	m->rc = 0;
	m->lost = 0;
	if ((rc = create_upload(m)) < 0)
		return rc;
	for (i = 0; i < nth; i++)
		if (pthread_create(&th[started], NULL, part_worker, m) == 0)
			started++;
	if (started == 0)
		part_worker(m); /* no thread to be had: upload the parts here */
	for (i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	if (m->rc == 0)
		complete_upload(m);
	if (m->rc < 0) {
		abort_upload(m);
		return dann_fail(m->rc, "%s", m->err);
	}
	return 0;
}

int s3_put_multipart(struct obj_store *s, const char *key, const struct obj_src *src)
{
	struct mp m = { .s = s, .key = key, .src = src };
	uint64_t part = s->cfg.part_bytes, nparts = (src->len + part - 1) / part;
	unsigned restarts;
	uint32_t i;
	int rc;

	s3_name(s, key, m.name, sizeof m.name);
	if (nparts > OBJ_MAX_PARTS)
		return dann_fail(DANN_EINVAL, "PUT %s: %llu bytes need %llu parts of %llu, over S3's %u (raise part_bytes)",
				 m.name, (unsigned long long)src->len, (unsigned long long)nparts,
				 (unsigned long long)part, OBJ_MAX_PARTS);
	if (!(m.parts = calloc(nparts, sizeof *m.parts)))
		return dann_fail(DANN_ENOMEM, "PUT %s: %llu parts", m.name, (unsigned long long)nparts);
	m.nparts = (uint32_t)nparts;
	for (i = 0; i < m.nparts; i++) {
		m.parts[i].off = (uint64_t)i * part;
		m.parts[i].len = i + 1 < m.nparts ? part : src->len - m.parts[i].off;
	}
	pthread_mutex_init(&m.lock, NULL);
	for (restarts = 0;; restarts++) {
		rc = upload_once(&m);
		if (rc == 0 || !m.lost || restarts >= MP_RESTARTS)
			break;
		atomic_fetch_add(&s->st.multipart_restarts, 1);
		dann_log(DANN_LOG_WARN, "obj", "%s: the server lost the multipart upload (%s); starting it again",
			 m.name, dann_errmsg());
	}
	pthread_mutex_destroy(&m.lock);
	free(m.parts);
	return rc;
}
