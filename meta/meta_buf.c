/*
 * meta_buf.c — little-endian writer and bounds-checked reader (meta_buf.h).
 */
#include "meta_buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"

void meta_wbuf_init(struct meta_wbuf *w)
{
	memset(w, 0, sizeof *w);
}

void meta_wbuf_free(struct meta_wbuf *w)
{
	free(w->p);
	memset(w, 0, sizeof *w);
}

static uint8_t *wbuf_room(struct meta_wbuf *w, size_t n)
{
	if (w->err)
		return NULL;
	if (w->len + n > w->cap) {
		size_t cap = w->cap ? w->cap : 256;
		uint8_t *p;

		while (cap < w->len + n)
			cap *= 2;
		if (!(p = realloc(w->p, cap))) {
			w->err = DANN_ENOMEM;
			return NULL;
		}
		w->p = p, w->cap = cap;
	}
	w->len += n;
	return w->p + w->len - n;
}

void meta_put_u8(struct meta_wbuf *w, uint8_t v)
{
	uint8_t *p = wbuf_room(w, 1);

	if (p)
		p[0] = v;
}

void meta_put_u16(struct meta_wbuf *w, uint16_t v)
{
	uint8_t *p = wbuf_room(w, 2);

	if (p)
		p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8);
}

void meta_put_u32(struct meta_wbuf *w, uint32_t v)
{
	uint8_t *p = wbuf_room(w, 4);

	if (p)
		meta_st32(p, v);
}

void meta_put_u64(struct meta_wbuf *w, uint64_t v)
{
	meta_put_u32(w, (uint32_t)v);
	meta_put_u32(w, (uint32_t)(v >> 32));
}

void meta_put_bytes(struct meta_wbuf *w, const void *src, size_t n)
{
	uint8_t *p = wbuf_room(w, n);

	if (p && n)
		memcpy(p, src, n);
}

void meta_put_str(struct meta_wbuf *w, const char *s, size_t max)
{
	size_t n = s ? strnlen(s, max) : 0;

	if (n > UINT16_MAX)
		n = UINT16_MAX;
	meta_put_u16(w, (uint16_t)n);
	meta_put_bytes(w, s, n);
}

void meta_patch_u32(struct meta_wbuf *w, size_t off, uint32_t v)
{
	if (!w->err && off + 4 <= w->len)
		meta_st32(w->p + off, v);
}

void meta_rbuf_init(struct meta_rbuf *r, const void *p, size_t len, const char *src)
{
	memset(r, 0, sizeof *r);
	r->p = p, r->len = len, r->src = src;
}

void meta_rbuf_bad(struct meta_rbuf *r, const char *fmt, ...)
{
	va_list ap;

	if (r->err)
		return;
	r->err = DANN_ECORRUPT;
	va_start(ap, fmt);
	vsnprintf(r->msg, sizeof r->msg, fmt, ap);
	va_end(ap);
}

static const uint8_t *rbuf_take(struct meta_rbuf *r, size_t n, const char *what)
{
	if (r->err)
		return NULL;
	if (n > r->len - r->off) {
		meta_rbuf_bad(r, "%s: %zu bytes needed at offset %zu, %zu left", what, n, r->off,
			      r->len - r->off);
		return NULL;
	}
	r->off += n;
	return r->p + r->off - n;
}

uint8_t meta_get_u8(struct meta_rbuf *r, const char *what)
{
	const uint8_t *p = rbuf_take(r, 1, what);

	return p ? p[0] : 0;
}

uint16_t meta_get_u16(struct meta_rbuf *r, const char *what)
{
	const uint8_t *p = rbuf_take(r, 2, what);

	return p ? (uint16_t)(p[0] | p[1] << 8) : 0;
}

uint32_t meta_get_u32(struct meta_rbuf *r, const char *what)
{
	const uint8_t *p = rbuf_take(r, 4, what);

	return p ? meta_le32(p) : 0;
}

uint64_t meta_get_u64(struct meta_rbuf *r, const char *what)
{
	uint64_t lo = meta_get_u32(r, what);

	return lo | (uint64_t)meta_get_u32(r, what) << 32;
}

void meta_get_str(struct meta_rbuf *r, char *dst, size_t cap, const char *what)
{
	uint16_t n = meta_get_u16(r, what);
	const uint8_t *p;

	dst[0] = '\0';
	if (r->err)
		return;
	if ((size_t)n >= cap) {
		meta_rbuf_bad(r, "%s: length %u, at most %zu allowed", what, n, cap - 1);
		return;
	}
	if (!(p = rbuf_take(r, n, what)))
		return;
	if (memchr(p, '\0', n)) {
		meta_rbuf_bad(r, "%s: NUL byte inside the string", what);
		return;
	}
	memcpy(dst, p, n);
	dst[n] = '\0';
}

int meta_rbuf_check(struct meta_rbuf *r)
{
	if (!r->err)
		return 0;
	return dann_fail(r->err, "%s: %s", r->src, r->msg);
}
