/*
 * seg_record.c — the payload of a collection's WAL record: one insert,
 * upsert or delete batch. wal_append2 writes the head and the vectors as
 * one record without copying them together.
 *
 * Head (little-endian, each part padded to 8 bytes so decoded arrays are
 * aligned in the payload buffer):
 *   u32 type, u32 ncols, u64 n, u64 head bytes
 *   i64 keys[n]
 *   per column: u32 name bytes, u32 type, u32 has validity, u32 0,
 *     name, validity[n] if present, then n fixed-width values or
 *     u64 offsets[n + 1] (from 0) and the bytes
 * then the vectors, n * dim elements of the dtype (not for a delete).
 * Decoding checks every length against the payload, so a record that
 * passed the WAL's checksum but does not parse is DANN_ECORRUPT.
 */
#include <stdlib.h>
#include <string.h>

#include "../error.h"
#include "seg_impl.h"
#include "wal.h"

#define PAD8(x) (((x) + 7) & ~(size_t)7)

struct rec_head {
	uint32_t type, ncols;
	uint64_t n, head_len;
};

struct col_head {
	uint32_t name_len, type, has_valid, pad;
};

static size_t col_bytes(const struct dann_column *col, uint64_t n)
{
	size_t b = sizeof(struct col_head) + PAD8(strlen(col->name));
	size_t esz = seg_field_size(col->type);

	if (col->valid)
		b += PAD8(n);
	if (esz)
		return b + PAD8(n * esz);
	return b + (n + 1) * 8 + PAD8(col->offsets[n] - col->offsets[0]);
}

int seg_rec_encode(const struct dann_coll *c, enum seg_rec_type t, const struct dann_batch *b,
		   const int64_t *keys, void **head, size_t *head_len)
{
	uint32_t ncols = t == SEG_REC_DELETE ? 0 : b->ncols;
	size_t len = sizeof(struct rec_head) + PAD8(b->n * 8);
	struct rec_head h = { .type = t, .ncols = ncols, .n = b->n };
	uint8_t *buf, *p;

	for (uint32_t j = 0; j < ncols; j++)
		len += col_bytes(&b->cols[j], b->n);
	if (len + b->n * c->row_bytes > WAL_MAX_RECORD)
		return dann_fail(DANN_EINVAL, "%s: a batch of %llu rows is too large for one record",
				 c->schema.name, (unsigned long long)b->n);
	if (!(buf = calloc(1, len)))
		return dann_fail(DANN_ENOMEM, "%s: record of %zu bytes", c->schema.name, len);
	h.head_len = len;
	p = buf;
	memcpy(p, &h, sizeof h);
	p += sizeof h;
	memcpy(p, keys, b->n * 8);
	p += PAD8(b->n * 8);
	for (uint32_t j = 0; j < ncols; j++) {
		const struct dann_column *col = &b->cols[j];
		struct col_head ch = { .name_len = (uint32_t)strlen(col->name), .type = col->type,
				       .has_valid = col->valid != NULL };
		size_t esz = seg_field_size(col->type);
		memcpy(p, &ch, sizeof ch);
		p += sizeof ch;
		memcpy(p, col->name, ch.name_len);
		p += PAD8(ch.name_len);
		if (col->valid) {
			memcpy(p, col->valid, b->n);
			p += PAD8(b->n);
		}
		if (esz) {
			memcpy(p, col->values, b->n * esz);
			p += PAD8(b->n * esz);
			continue;
		}
		uint64_t base = col->offsets[0], bytes = col->offsets[b->n] - base;
		for (uint64_t r = 0; r <= b->n; r++) {
			uint64_t o = col->offsets[r] - base;
			memcpy(p, &o, 8);
			p += 8;
		}
		memcpy(p, (const char *)col->values + base, bytes);
		p += PAD8(bytes);
	}
	*head = buf;
	*head_len = len;
	return 0;
}

static int take(const uint8_t **p, const uint8_t *end, size_t n, const void **out)
{
	if ((size_t)(end - *p) < n)
		return -1;
	*out = *p;
	*p += n;
	return 0;
}

int seg_rec_decode(const struct dann_coll *c, const void *payload, size_t len, struct seg_rec *r)
{
	const uint8_t *p = payload, *end;
	const void *v;
	struct rec_head h;

	memset(r, 0, sizeof *r);
	if (len < sizeof h)
		goto bad;
	memcpy(&h, p, sizeof h);
	if (h.type < SEG_REC_INSERT || h.type > SEG_REC_DELETE || h.ncols > DANN_MAX_FIELDS + 1 ||
	    h.head_len > len || h.n > len)
		goto bad;
	if (h.type == SEG_REC_DELETE ? h.head_len != len : len - h.head_len != h.n * c->row_bytes)
		goto bad;
	end = p + h.head_len;
	p += sizeof h;
	r->type = h.type;
	r->b.n = h.n;
	r->b.ncols = h.ncols;
	r->b.cols = r->cols;
	if (take(&p, end, PAD8(h.n * 8), &v) < 0)
		goto bad;
	r->b.keys = v;
	for (uint32_t j = 0; j < h.ncols; j++) {
		struct dann_column *col = &r->cols[j];
		struct col_head ch;
		size_t esz;
		if (take(&p, end, sizeof ch, &v) < 0)
			goto bad;
		memcpy(&ch, v, sizeof ch);
		if (ch.name_len == 0 || ch.name_len > DANN_NAME_MAX || take(&p, end, PAD8(ch.name_len), &v) < 0)
			goto bad;
		/* the name in the payload has no NUL of its own when its length
		 * is a multiple of 8: decode into the record's own copy */
		memcpy(r->names[j], v, ch.name_len);
		r->names[j][ch.name_len] = '\0';
		col->name = r->names[j];
		col->type = ch.type;
		if (ch.has_valid) {
			if (take(&p, end, PAD8(h.n), &v) < 0)
				goto bad;
			col->valid = v;
		}
		esz = seg_field_size(ch.type);
		if (ch.type < DANN_FIELD_BOOL || ch.type > DANN_FIELD_JSON)
			goto bad;
		if (esz) {
			if (take(&p, end, PAD8(h.n * esz), &v) < 0)
				goto bad;
			col->values = v;
			continue;
		}
		if (take(&p, end, (h.n + 1) * 8, &v) < 0)
			goto bad;
		col->offsets = v;
		for (uint64_t i = 0; i < h.n; i++)
			if (col->offsets[i] > col->offsets[i + 1])
				goto bad;
		if (col->offsets[0] != 0 || take(&p, end, PAD8(col->offsets[h.n]), &v) < 0)
			goto bad;
		col->values = v;
	}
	if (p != end)
		goto bad;
	r->b.vectors = h.type == SEG_REC_DELETE ? NULL : (const uint8_t *)payload + h.head_len;
	return 0;
bad:
	return dann_fail(DANN_ECORRUPT, "%s/wal: a record does not parse as a %s batch",
			 c->dir, c->schema.name);
}
