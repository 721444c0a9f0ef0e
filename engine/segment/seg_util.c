/*
 * seg_util.c — small helpers the segment files share: paths, the finite
 * check on vectors, and a segment's catalog record.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "../error.h"
#include "seg_impl.h"

int seg_join(char *out, const char *a, const char *b)
{
	if (snprintf(out, PATH_MAX, "%s/%s", a, b) >= PATH_MAX)
		return dann_fail(DANN_EINVAL, "%s/%s: path too long", a, b);
	return 0;
}

bool seg_finite(const float *v, size_t n, size_t *bad)
{
	for (size_t i = 0; i < n; i++)
		if (!isfinite(v[i])) {
			*bad = i;
			return false;
		}
	return true;
}

void seg_cat_record(const struct seg *s, struct dann_cat_segment *r)
{
	const struct dann_coll *c = s->coll;

	memset(r, 0, sizeof *r);
	r->id = s->id;
	r->coll_id = c->id;
	r->state = (enum dann_seg_state)atomic_load(&s->state);
	r->rows = s->disk ? s->nrows : (s->mem ? s->mem->n : 0);
	r->first_lsn = s->first_lsn;
	r->last_lsn = s->last_lsn;
	if (s->disk) {
		r->manifest_crc = s->disk->manifest_crc;
		snprintf(r->files, sizeof r->files, "c%llu/s%llu", (unsigned long long)c->id,
			 (unsigned long long)s->id);
	}
}
