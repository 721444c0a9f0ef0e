/*
 * meta_buf.h — little-endian byte buffers for meta's encodings.
 *
 * Commands, snapshots and the node-to-node protocol are all written with a
 * growable writer and read with a bounds-checked reader. The reader never
 * reads past its end: the first short or out-of-range field sets an error
 * naming the field (what) and every later get returns zeros, so a decoder
 * checks once at the end.
 */
#ifndef META_BUF_H
#define META_BUF_H

#include <stddef.h>
#include <stdint.h>

struct meta_wbuf {
	uint8_t *p;
	size_t len, cap;
	int err;        /* DANN_ENOMEM once an allocation failed */
};

void meta_wbuf_init(struct meta_wbuf *w);
void meta_wbuf_free(struct meta_wbuf *w);
void meta_put_u8(struct meta_wbuf *w, uint8_t v);
void meta_put_u16(struct meta_wbuf *w, uint16_t v);
void meta_put_u32(struct meta_wbuf *w, uint32_t v);
void meta_put_u64(struct meta_wbuf *w, uint64_t v);
void meta_put_bytes(struct meta_wbuf *w, const void *p, size_t n);
/* A string of at most max bytes (stops at a NUL): u16 length + bytes. */
void meta_put_str(struct meta_wbuf *w, const char *s, size_t max);
/* Overwrites 4 bytes at off (a length or checksum written after the fact). */
void meta_patch_u32(struct meta_wbuf *w, size_t off, uint32_t v);

struct meta_rbuf {
	const uint8_t *p;
	size_t len, off;
	const char *src;        /* what is being decoded, for messages ("command") */
	int err;                /* 0 or DANN_ECORRUPT */
	char msg[200];          /* the first failure */
};

void meta_rbuf_init(struct meta_rbuf *r, const void *p, size_t len, const char *src);
uint8_t meta_get_u8(struct meta_rbuf *r, const char *what);
uint16_t meta_get_u16(struct meta_rbuf *r, const char *what);
uint32_t meta_get_u32(struct meta_rbuf *r, const char *what);
uint64_t meta_get_u64(struct meta_rbuf *r, const char *what);
/* A string into dst (cap bytes with its NUL); longer than cap - 1 is an error. */
void meta_get_str(struct meta_rbuf *r, char *dst, size_t cap, const char *what);
/* Records a failure of a decoder's own check (a value out of range). */
void meta_rbuf_bad(struct meta_rbuf *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* 0, or dann_fail(DANN_ECORRUPT, "<src>: <msg>"). */
int meta_rbuf_check(struct meta_rbuf *r);

static inline uint32_t meta_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline void meta_st32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8), p[2] = (uint8_t)(v >> 16), p[3] = (uint8_t)(v >> 24);
}

#endif
