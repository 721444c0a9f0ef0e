/*
 * meta_testutil.h — commands the meta tests build again and again.
 */
#ifndef META_TESTUTIL_H
#define META_TESTUTIL_H

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "meta_cmd.h"

static inline void mt_schema(struct dann_schema *s, const char *name, uint32_t dim)
{
	/* dann_schema_default's values, written out: the segment layer that
	 * defines it is not needed here. */
	memset(s, 0, sizeof *s);
	snprintf(s->pk_field, sizeof s->pk_field, "id");
	snprintf(s->vector_field, sizeof s->vector_field, "vector");
	s->index.R = 64, s->index.L = 100, s->index.alpha = 1.2f;
	snprintf(s->name, sizeof s->name, "%s", name);
	s->dim = dim;
}

/* Encodes c (with request id client/seq); the test owns *buf. */
static inline void mt_encode(struct meta_cmd *c, uint64_t client, uint64_t seq, void **buf, size_t *len)
{
	c->req.client = client;
	c->req.seq = seq;
	cr_assert_eq(meta_cmd_encode(c, buf, len), 0, "encode %s: %s", meta_cmd_name(c->type), dann_errmsg());
}

static inline void mt_segment(struct dann_cat_segment *s, uint64_t id, uint64_t coll, enum dann_seg_state st)
{
	memset(s, 0, sizeof *s);
	s->id = id;
	s->coll_id = coll;
	s->state = st;
	s->rows = id * 10;
	s->first_lsn = id;
	s->last_lsn = id + 5;
	s->manifest_crc = (uint32_t)(0xabc00000u + id);
	snprintf(s->files, sizeof s->files, "coll_%llu/seg_%llu", (unsigned long long)coll,
		 (unsigned long long)id);
}

#endif
