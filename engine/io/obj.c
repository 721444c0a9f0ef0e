/*
 * obj.c — the object store's front: opening a URI onto a backend, checking
 * keys and arguments once for every backend, and what is the same whichever
 * backend holds the bytes (reading into buffers, whole-file downloads that
 * are checked against a CRC32C and renamed into place only when right).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../crc.h"
#include "../error.h"
#include "../fsutil.h"
#include "obj_impl.h"

void obj_config_default(struct obj_config *c)
{
	memset(c, 0, sizeof *c);
}

/* Copies a config string into the store so the caller's may go away. */
static int own_str(struct obj_store *s, unsigned slot, const char **field)
{
	if (!*field)
		return 0;
	if (!(s->strs[slot] = strdup(*field)))
		return dann_fail(DANN_ENOMEM, "obj_open: config string");
	*field = s->strs[slot];
	return 0;
}

static int fill_config(struct obj_store *s, const struct obj_config *in)
{
	struct obj_config *c = &s->cfg;
	const char **strs[] = { &c->endpoint, &c->region, &c->access_key, &c->secret_key,
				&c->session_token, &c->test_amz_date, &c->test_connect_to };
	unsigned i;
	int rc;

	if (in)
		*c = *in;
	else
		obj_config_default(c);
	for (i = 0; i < sizeof strs / sizeof strs[0]; i++)
		if ((rc = own_str(s, i, strs[i])) < 0)
			return rc;
	if (!c->region || !*c->region)
		c->region = "us-east-1";
	if (c->part_bytes == 0)
		c->part_bytes = OBJ_DEFAULT_PART_BYTES;
	if (c->part_bytes < OBJ_MIN_PART_BYTES || c->part_bytes > (1ull << 32))
		return dann_fail(DANN_EINVAL, "obj_open: part_bytes %llu, expected %llu..%llu",
				 (unsigned long long)c->part_bytes, (unsigned long long)OBJ_MIN_PART_BYTES,
				 1ull << 32);
	if (c->parallel == 0)
		c->parallel = OBJ_DEFAULT_PARALLEL;
	if (c->parallel > 64)
		return dann_fail(DANN_EINVAL, "obj_open: parallel %u, expected 1..64", c->parallel);
	if (c->list_page == 0)
		c->list_page = OBJ_DEFAULT_LIST_PAGE;
	if (c->list_page > 1000)
		return dann_fail(DANN_EINVAL, "obj_open: list_page %u, expected 1..1000", c->list_page);
	if (c->retries == 0)
		c->retries = OBJ_DEFAULT_RETRIES;
	if (c->retry_base_ms == 0)
		c->retry_base_ms = OBJ_DEFAULT_RETRY_BASE_MS;
	if (c->retry_max_ms == 0)
		c->retry_max_ms = OBJ_DEFAULT_RETRY_MAX_MS;
	if (c->retry_max_ms < c->retry_base_ms)
		c->retry_max_ms = c->retry_base_ms;
	if (c->connect_timeout_ms == 0)
		c->connect_timeout_ms = OBJ_DEFAULT_CONNECT_TIMEOUT_MS;
	if (c->stall_timeout_ms == 0)
		c->stall_timeout_ms = OBJ_DEFAULT_STALL_TIMEOUT_MS;
	return 0;
}

/* "s3://bucket[/prefix]" -> bucket, prefix ("" or ending in '/'). */
static int parse_s3(struct obj_store *s, const char *rest)
{
	const char *slash = strchr(rest, '/');
	size_t blen = slash ? (size_t)(slash - rest) : strlen(rest);
	size_t i;

	if (blen < 3 || blen > 63)
		return dann_fail(DANN_EINVAL, "obj_open: %s: bucket name of %zu bytes, expected 3..63", s->uri,
				 blen);
	for (i = 0; i < blen; i++) {
		char ch = rest[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' || ch == '.'))
			return dann_fail(DANN_EINVAL,
					 "obj_open: %s: bucket name may hold only a-z, 0-9, '-' and '.', not '%c'",
					 s->uri, ch);
	}
	memcpy(s->bucket, rest, blen);
	s->bucket[blen] = 0;
	if (slash) {
		const char *p = slash + 1;
		size_t plen = strlen(p);

		while (plen && p[plen - 1] == '/')
			plen--;
		if (plen) {
			char tmp[OBJ_URI_MAX];
			int rc;

			memcpy(tmp, p, plen);
			tmp[plen] = 0;
			if ((rc = obj_key_check(tmp)) < 0)
				return dann_fail_wrap(rc, "obj_open: %s: prefix", s->uri);
			memcpy(s->prefix, tmp, plen);
			s->prefix[plen] = '/';
			s->prefix[plen + 1] = 0;
		}
	}
	return 0;
}

static int parse_file(struct obj_store *s, const char *rest)
{
	size_t n = strlen(rest);

	if (rest[0] != '/')
		return dann_fail(DANN_EINVAL, "obj_open: %s: file:// needs an absolute path (file:///dir)", s->uri);
	while (n > 1 && rest[n - 1] == '/')
		n--;
	memcpy(s->prefix, rest, n);
	s->prefix[n] = 0;
	return 0;
}

int obj_open(const char *uri, const struct obj_config *cfg, struct obj_store **out)
{
	struct obj_store *s;
	int rc;

	*out = NULL;
	if (!uri || strlen(uri) >= OBJ_URI_MAX - 2)
		return dann_fail(DANN_EINVAL, "obj_open: URI missing or longer than %d bytes", OBJ_URI_MAX - 3);
	if (!(s = calloc(1, sizeof *s)))
		return dann_fail(DANN_ENOMEM, "obj_open: %s", uri);
	strcpy(s->uri, uri);
	atomic_init(&s->rng, (uint64_t)time(NULL) ^ (uint64_t)(uintptr_t)s ^ ((uint64_t)getpid() << 32));
	if ((rc = fill_config(s, cfg)) < 0)
		goto fail;
	if (strncmp(uri, "s3://", 5) == 0) {
		s->ops = &obj_s3_ops;
		rc = parse_s3(s, uri + 5);
	} else if (strncmp(uri, "file://", 7) == 0) {
		s->ops = &obj_file_ops;
		rc = parse_file(s, uri + 7);
	} else {
		rc = dann_fail(DANN_EINVAL, "obj_open: '%s': expected s3://bucket/prefix or file:///dir", uri);
	}
	if (rc < 0)
		goto fail;
	if ((rc = s->ops->open(s)) < 0)
		goto fail;
	*out = s;
	return 0;
fail:
	s->ops = NULL;
	obj_close(s);
	return rc;
}

void obj_close(struct obj_store *s)
{
	unsigned i;

	if (!s)
		return;
	if (s->ops)
		s->ops->close(s);
	for (i = 0; i < sizeof s->strs / sizeof s->strs[0]; i++)
		free(s->strs[i]);
	free(s);
}

const char *obj_backend_name(const struct obj_store *s)
{
	return s->ops->name;
}

const char *obj_uri(const struct obj_store *s)
{
	return s->uri;
}

void obj_stats_get(const struct obj_store *s, struct obj_stats *o)
{
	o->requests = atomic_load(&s->st.requests);
	o->retries = atomic_load(&s->st.retries);
	o->bytes_up = atomic_load(&s->st.bytes_up);
	o->bytes_down = atomic_load(&s->st.bytes_down);
	o->crc_refetches = atomic_load(&s->st.crc_refetches);
	o->multipart_restarts = atomic_load(&s->st.multipart_restarts);
}

int obj_key_check(const char *key)
{
	size_t n, i, seg = 0;

	if (!key || !*key)
		return dann_fail(DANN_EINVAL, "object key is empty");
	n = strlen(key);
	if (n > OBJ_KEY_MAX)
		return dann_fail(DANN_EINVAL, "object key '%.40s...' is %zu bytes, at most %d", key, n, OBJ_KEY_MAX);
	for (i = 0; i <= n; i++) {
		unsigned char ch = (unsigned char)key[i];

		if (ch == '/' || ch == 0) {
			size_t len = i - seg;

			if (len == 0 || (len == 1 && key[seg] == '.') ||
			    (len == 2 && key[seg] == '.' && key[seg + 1] == '.'))
				return dann_fail(DANN_EINVAL,
						 "object key '%s': empty, '.' or '..' path segment at byte %zu", key, seg);
			if (len > 255)
				return dann_fail(DANN_EINVAL, "object key '%s': path segment over 255 bytes", key);
			seg = i + 1;
			continue;
		}
		if (ch < 0x20 || ch > 0x7e)
			return dann_fail(DANN_EINVAL, "object key '%s': byte 0x%02x at %zu is not printable ASCII",
					 key, ch, i);
	}
	if (strstr(key, ".obj-tmp-"))
		return dann_fail(DANN_EINVAL, "object key '%s': '.obj-tmp-' is reserved for partial files", key);
	return 0;
}

int obj_uri_encode(const char *in, int keep_slash, char *out, size_t cap)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = strlen(out);

	for (; *in; in++) {
		unsigned char ch = (unsigned char)*in;
		int plain = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
			    ch == '-' || ch == '.' || ch == '_' || ch == '~' || (keep_slash && ch == '/');

		if (o + (plain ? 1 : 3) >= cap)
			return dann_fail(DANN_EINVAL, "URI longer than %zu bytes", cap - 1);
		if (plain) {
			out[o++] = (char)ch;
		} else {
			out[o++] = '%';
			out[o++] = hex[ch >> 4];
			out[o++] = hex[ch & 15];
		}
	}
	out[o] = 0;
	return 0;
}

int obj_src_read(const struct obj_src *src, uint64_t rel, void *buf, size_t len)
{
	if (src->buf) {
		memcpy(buf, (const char *)src->buf + src->off + rel, len);
		return 0;
	}
	return fsu_pread_all(src->fd, src->path, buf, len, src->off + rel);
}

/* ---- public operations ---- */

int obj_put(struct obj_store *s, const char *key, const void *buf, size_t len)
{
	struct obj_src src = { .buf = buf, .fd = -1, .path = key, .off = 0, .len = len };
	int rc;

	if ((rc = obj_key_check(key)) < 0)
		return rc;
	if (!buf && len)
		return dann_fail(DANN_EINVAL, "obj_put %s: NULL buffer of %zu bytes", key, len);
	return s->ops->put(s, key, &src);
}

int obj_put_file(struct obj_store *s, const char *key, const char *path)
{
	struct obj_src src = { .fd = -1, .path = path };
	struct obj_stat st;
	struct stat sb;
	int rc;

	if ((rc = obj_key_check(key)) < 0)
		return rc;
	if ((src.fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return dann_fail_errno(errno == ENOENT ? DANN_ENOTFOUND : DANN_EIO, errno, "obj_put_file: %s",
				       path);
	if (fstat(src.fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
		rc = dann_fail(DANN_EINVAL, "obj_put_file: %s is not a regular file", path);
		goto out;
	}
	src.len = (uint64_t)sb.st_size;
	if ((rc = s->ops->put(s, key, &src)) < 0)
		goto out;
	/* the store says how big the object it kept is: a server or a disk
	 * that lost bytes on the way shows here, before the caller records it */
	if ((rc = s->ops->head(s, key, &st)) < 0)
		goto out;
	if (st.size != src.len)
		rc = dann_fail(DANN_EIO, "obj_put_file: %s: stored object %s is %llu bytes, the file %llu", path,
			       key, (unsigned long long)st.size, (unsigned long long)src.len);
out:
	close(src.fd);
	return rc;
}

struct buf_sink {
	char *buf;
	size_t cap, n;
	const char *key;
};

static int buf_write(void *arg, const void *data, size_t n)
{
	struct buf_sink *b = arg;

	if (n > b->cap - b->n)
		return dann_fail(DANN_EIO, "object %s: server sent more bytes than asked for", b->key);
	memcpy(b->buf + b->n, data, n);
	b->n += n;
	return 0;
}

int obj_get(struct obj_store *s, const char *key, uint64_t off, size_t len, void *buf, size_t *got)
{
	struct buf_sink b = { buf, len, 0, key };
	struct obj_sink sink = { buf_write, &b };
	uint64_t n = 0;
	int rc;

	*got = 0;
	if ((rc = obj_key_check(key)) < 0)
		return rc;
	if (len == 0)
		return 0;
	if ((rc = s->ops->get(s, key, off, len, &sink, &n)) < 0)
		return rc;
	*got = b.n;
	return 0;
}

int obj_get_all(struct obj_store *s, const char *key, size_t max_bytes, void **out, size_t *len)
{
	struct obj_stat st;
	size_t got;
	char *buf;
	int rc;

	*out = NULL;
	*len = 0;
	if ((rc = obj_key_check(key)) < 0 || (rc = s->ops->head(s, key, &st)) < 0)
		return rc;
	if (st.size > max_bytes)
		return dann_fail(DANN_EINVAL, "object %s is %llu bytes, over the %zu allowed here", key,
				 (unsigned long long)st.size, max_bytes);
	if (!(buf = malloc(st.size + 1)))
		return dann_fail(DANN_ENOMEM, "object %s: %llu bytes", key, (unsigned long long)st.size);
	if ((rc = obj_get(s, key, 0, st.size, buf, &got)) < 0) {
		free(buf);
		return rc;
	}
	if (got != st.size) {
		free(buf);
		return dann_fail(DANN_EIO, "object %s: %zu bytes read, %llu expected (changed while read?)", key,
				 got, (unsigned long long)st.size);
	}
	buf[got] = 0;
	*out = buf;
	*len = got;
	return 0;
}

struct file_sink {
	int fd;
	const char *tmp;
	uint32_t crc;
	uint64_t n;
};

static int file_write(void *arg, const void *data, size_t n)
{
	struct file_sink *f = arg;
	int rc;

	if ((rc = fsu_write_all(f->fd, f->tmp, data, n)) < 0)
		return rc;
	f->crc = crc32c(f->crc, data, n);
	f->n += n;
	return 0;
}

/* One download of key into the open temporary file, from its start. */
static int fetch_once(struct obj_store *s, const char *key, struct file_sink *f)
{
	struct obj_sink sink = { file_write, f };
	uint64_t got = 0;

	if (ftruncate(f->fd, 0) != 0 || lseek(f->fd, 0, SEEK_SET) != 0)
		return dann_fail_errno(DANN_EIO, errno, "%s: truncate", f->tmp);
	f->crc = 0;
	f->n = 0;
	return s->ops->get(s, key, 0, UINT64_MAX, &sink, &got);
}

int obj_get_file(struct obj_store *s, const char *key, const char *path, const uint32_t *crc32c_want)
{
	char tmp[4096];
	struct file_sink f = { .fd = -1, .tmp = tmp };
	unsigned attempt;
	int rc;

	if ((rc = obj_key_check(key)) < 0)
		return rc;
	if ((size_t)snprintf(tmp, sizeof tmp, "%s.obj-tmp-XXXXXX", path) >= sizeof tmp)
		return dann_fail(DANN_EINVAL, "obj_get_file: path %s too long", path);
	if ((f.fd = mkostemp(tmp, O_CLOEXEC)) < 0)
		return dann_fail_errno(DANN_EIO, errno, "obj_get_file: create %s", tmp);
	for (attempt = 0;; attempt++) {
		if ((rc = fetch_once(s, key, &f)) < 0)
			goto fail;
		if (!crc32c_want || f.crc == *crc32c_want)
			break;
		if (attempt >= OBJ_CRC_REFETCHES) {
			rc = dann_fail(DANN_ECORRUPT,
				       "object %s in %s: CRC32C %08x after %u downloads, expected %08x (%llu bytes)",
				       key, s->uri, f.crc, attempt + 1, *crc32c_want,
				       (unsigned long long)f.n);
			goto fail;
		}
		atomic_fetch_add(&s->st.crc_refetches, 1);
	}
	if ((rc = fsu_fsync(f.fd, tmp)) < 0)
		goto fail;
	close(f.fd);
	f.fd = -1;
	if ((rc = fsu_rename_replace(tmp, path)) < 0)
		goto fail;
	return 0;
fail:
	if (f.fd >= 0)
		close(f.fd);
	unlink(tmp);
	return rc;
}

int obj_head(struct obj_store *s, const char *key, struct obj_stat *st)
{
	int rc;

	memset(st, 0, sizeof *st);
	if ((rc = obj_key_check(key)) < 0)
		return rc;
	return s->ops->head(s, key, st);
}

int obj_delete(struct obj_store *s, const char *key)
{
	int rc;

	if ((rc = obj_key_check(key)) < 0)
		return rc;
	return s->ops->del(s, key);
}

int obj_list(struct obj_store *s, const char *prefix, obj_list_fn fn, void *arg)
{
	if (!prefix)
		prefix = "";
	if (strlen(prefix) > OBJ_KEY_MAX)
		return dann_fail(DANN_EINVAL, "obj_list: prefix of %zu bytes, at most %d", strlen(prefix),
				 OBJ_KEY_MAX);
	return s->ops->list(s, prefix, fn, arg);
}

struct key_list {
	char **keys;
	size_t n, cap;
};

static int collect_key(void *arg, const char *key, uint64_t size)
{
	struct key_list *l = arg;

	(void)size;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		char **k = realloc(l->keys, cap * sizeof *k);

		if (!k)
			return dann_fail(DANN_ENOMEM, "obj_delete_prefix: key list");
		l->keys = k;
		l->cap = cap;
	}
	if (!(l->keys[l->n] = strdup(key)))
		return dann_fail(DANN_ENOMEM, "obj_delete_prefix: key list");
	l->n++;
	return 0;
}

int obj_delete_prefix(struct obj_store *s, const char *prefix, uint64_t *n)
{
	struct key_list l = { 0 };
	size_t i;
	int rc;

	if (n)
		*n = 0;
	/* list first, then delete: deleting while paging would move the
	 * continuation point under the listing */
	rc = obj_list(s, prefix, collect_key, &l);
	for (i = 0; rc == 0 && i < l.n; i++) {
		if ((rc = s->ops->del(s, l.keys[i])) == 0 && n)
			(*n)++;
	}
	for (i = 0; i < l.n; i++)
		free(l.keys[i]);
	free(l.keys);
	return rc;
}
