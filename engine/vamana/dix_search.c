/*
 * dix_search.c — the disk beam search and its many-queries-per-thread
 * engine (see dix_search.h).
 *
 * Per query (DiskANN's BeamSearch): the candidate list holds the L closest
 * ids by PQ distance; each round takes its W closest unvisited entries,
 * expands the cached ones at once and reads the others (one node = its
 * sector) in the same submission as every other slot's round; when a
 * slot's reads are all back each fetched node gets its exact distance
 * (into the top-k) and its neighbours are scored by PQ ADC into the list.
 * The query ends when the list holds no unvisited entry.
 *
 * The engine loop of one thread: fill free slots with new queries, run each
 * ready slot until it has reads outstanding (or finishes), submit all the
 * queued reads with one dio_submit, reap at least one completion, repeat.
 * A slot is a state machine, so no thread ever blocks on one query's read
 * while another query could use the CPU. The stream loop, which takes
 * tasks from a source instead of an array, is dix_stream.c; the searcher
 * and slot structures both loops use are in dix_search_impl.h.
 */
#include "dix_search.h"
#include "dix_search_impl.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../aligned.h"
#include "../error.h"
#include "../pq/pq.h"
#include "../stop.h"
#include "../topk.h"
#include "dix_entry.h"
#include "dix_threads.h"

#define VSET_MIN 1024u
/* A searcher sized for a list more than SHRINK_FACTOR times the query's L
 * (and above SHRINK_MIN_L) is sized down: each query clears its visited
 * set whole, so one query at L = 100000 would otherwise make every later
 * small query pay for a table of millions of entries (62 ms against
 * 77 us), and the pool would keep that memory for good. */
#define SHRINK_FACTOR 4u
#define SHRINK_MIN_L 256u

void dix_search_params_default(struct dix_search_params *p)
{
	memset(p, 0, sizeof *p);
	p->k = 10;
	p->L = 100;
	p->W = 4;
	p->sector_expand = -1;
	p->entry_seeds = -1;
}

int dix_search_params_check(const struct dix_search_params *p)
{
	if (p->k == 0)
		return dann_fail(DANN_EINVAL, "search: k must be at least 1");
	if (p->L == 0 || p->L > DIX_MAX_L)
		return dann_fail(DANN_EINVAL, "search: L = %u, expected 1..%u", p->L, DIX_MAX_L);
	if (p->k > p->L)
		return dann_fail(DANN_EINVAL, "search: k = %u is larger than L = %u (L must be >= k)",
				 p->k, p->L);
	if (p->W == 0 || p->W > DIX_MAX_W)
		return dann_fail(DANN_EINVAL, "search: W = %u, expected 1..%u", p->W, DIX_MAX_W);
	if (p->sector_expand < DANN_SECTOR_AUTO || p->sector_expand > DANN_SECTOR_EXACT)
		return dann_fail(DANN_EINVAL, "search: sector expansion %d, expected -1 (auto), 0 (off), "
				 "1 (on) or 2 (exact)", p->sector_expand);
	if (p->entry_seeds < -1 || p->entry_seeds > (int)DIX_ENTRY_MAX_SEEDS)
		return dann_fail(DANN_EINVAL, "search: entry seeds = %d, expected -1 (auto), 0 (none) "
				 "or 1..%u", p->entry_seeds, DIX_ENTRY_MAX_SEEDS);
	if (p->excluded_uncounted && (p->list_max < p->L || p->list_max > DIX_MAX_L))
		return dann_fail(DANN_EINVAL, "search: list_max = %u, expected L (%u)..%u", p->list_max,
				 p->L, DIX_MAX_L);
	return 0;
}

/* Entries the candidate list may hold. */
static uint32_t list_cap(const struct dix_search_params *p)
{
	return p->excluded_uncounted ? p->list_max : p->L;
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- visited set --------------------------------------------------------- */

static int vset_init(struct vset *v, uint32_t cap)
{
	uint32_t size = VSET_MIN;
	while (size < 2 * cap)
		size <<= 1;
	free(v->keys);
	if (!(v->keys = malloc(sizeof *v->keys * size)))
		return dann_fail(DANN_ENOMEM, "search: no memory for a visited set of %u", size);
	memset(v->keys, 0xff, sizeof *v->keys * size);
	v->mask = size - 1;
	v->count = 0;
	return 0;
}

static void vset_clear(struct vset *v)
{
	memset(v->keys, 0xff, sizeof *v->keys * ((size_t)v->mask + 1));
	v->count = 0;
}

/* Doubles the table: rare (sized for the usual hops * R at configure time),
 * so the hot path stays allocation-free in practice. */
static int vset_grow(struct vset *v)
{
	uint32_t old_size = v->mask + 1, *old = v->keys, size = old_size * 2;

	if (!(v->keys = malloc(sizeof *v->keys * size))) {
		v->keys = old;
		return dann_fail(DANN_ENOMEM, "search: no memory to grow the visited set");
	}
	memset(v->keys, 0xff, sizeof *v->keys * size);
	v->mask = size - 1;
	for (uint32_t i = 0; i < old_size; i++)
		if (old[i] != UINT32_MAX) {
			uint32_t j = (old[i] * 2654435761u) & v->mask;
			while (v->keys[j] != UINT32_MAX)
				j = (j + 1) & v->mask;
			v->keys[j] = old[i];
		}
	free(old);
	return 0;
}

/* 1 if id was added, 0 if it was there, <0 on failure to grow. */
static int vset_add(struct vset *v, uint32_t id)
{
	uint32_t j;

	if (2 * (v->count + 1) > v->mask + 1) {
		int rc = vset_grow(v);
		if (rc < 0)
			return rc;
	}
	for (j = (id * 2654435761u) & v->mask; v->keys[j] != UINT32_MAX; j = (j + 1) & v->mask)
		if (v->keys[j] == id)
			return 0;
	v->keys[j] = id;
	v->count++;
	return 1;
}

static bool vset_has(const struct vset *v, uint32_t id)
{
	for (uint32_t j = (id * 2654435761u) & v->mask; v->keys[j] != UINT32_MAX; j = (j + 1) & v->mask)
		if (v->keys[j] == id)
			return true;
	return false;
}

/* ---- configuration ------------------------------------------------------- */

static void slots_free(struct dix_searcher *s)
{
	if (!s->slots)
		return;
	for (uint32_t i = 0; i < s->p.inflight; i++) {
		struct qslot *q = &s->slots[i];
		free(q->table);
		cand_destroy(&q->cl);
		topk_destroy(&q->best);
		free(q->seen.keys);
		free(q->nb_ids);
		free(q->nb_dist);
	}
	free(s->slots);
	s->slots = NULL;
	s->cap_L = 0;
	s->cap_seen = 0;
}

static int dio_restart(struct dix_searcher *s, size_t region_bytes)
{
	struct dio_buf_region reg;
	struct dio_opts o = { 0 };
	int rc;

	dio_close(s->dio);
	s->dio = NULL;
	dann_aligned_free(s->region);
	memset(s->files, 0, sizeof s->files);
	if (!(s->region = dann_aligned_alloc(region_bytes)))
		return DANN_ENOMEM;
	s->region_bytes = dann_round_up(region_bytes, DIO_ALIGN);
	reg.base = s->region;
	reg.bytes = s->region_bytes;
	o.backend = s->p.backend;
	o.depth = s->p.inflight * s->cap_W;
	if (o.depth < 8)
		o.depth = 8;
	o.bufs = &reg;
	o.nbufs = 1;
	if ((rc = dio_open(&o, &s->dio)) < 0)
		return rc;
	snprintf(s->io_desc, sizeof s->io_desc, "%s", dio_describe(s->dio));
	return 0;
}

/* Sizes every slot for index ix and parameters p, reallocating only when
 * something grew since the last call. */
/* Whether the slots, ring and buffers as sized hold a query of ix with p. */
bool dix_sized_for(const struct dix_searcher *s, const struct dix_index *ix,
		   const struct dix_search_params *p)
{
	return s->slots && list_cap(p) <= s->cap_L && p->L <= s->cap_seen && p->k <= s->cap_k &&
	       p->W <= s->cap_W && ix->read_bytes <= s->cap_read && ix->h.R <= s->cap_R &&
	       ix->h.nodes_per_sector <= s->cap_nps && pq_table_floats(ix->pq) <= s->cap_table;
}

int dix_configure(struct dix_searcher *s, const struct dix_index *ix,
		  const struct dix_search_params *p)
{
	uint32_t L = list_cap(p), W = p->W, k = p->k, R = ix->h.R;
	uint32_t nps = ix->h.nodes_per_sector, rb = ix->read_bytes;
	uint32_t tf = (uint32_t)pq_table_floats(ix->pq);
	bool grow_io = W > s->cap_W || rb > s->cap_read;
	bool shrink = s->slots && s->cap_L > SHRINK_MIN_L && s->cap_L > SHRINK_FACTOR * L;
	int rc;

	if (!shrink && dix_sized_for(s, ix, p))
		return 0;
	slots_free(s);
	if (shrink)
		s->cap_k = 0;
	s->cap_L = L > s->cap_L ? L : s->cap_L;
	s->cap_seen = p->L > s->cap_seen ? p->L : s->cap_seen;
	s->cap_k = k > s->cap_k ? k : s->cap_k;
	s->cap_W = W > s->cap_W ? W : s->cap_W;
	s->cap_R = R > s->cap_R ? R : s->cap_R;
	s->cap_nps = nps > s->cap_nps ? nps : s->cap_nps;
	s->cap_read = rb > s->cap_read ? rb : s->cap_read;
	s->cap_table = tf > s->cap_table ? tf : s->cap_table;
	if (!s->dio || grow_io) {
		size_t per_slot = (size_t)s->cap_W * s->cap_read;
		if ((rc = dio_restart(s, per_slot * s->p.inflight)) < 0)
			goto fail;
	}
	free(s->reqs);
	free(s->cqes);
	s->reqs = malloc(sizeof *s->reqs * s->p.inflight * s->cap_W);
	s->cqes = malloc(sizeof *s->cqes * s->p.inflight * s->cap_W);
	if (!(s->slots = calloc(s->p.inflight, sizeof *s->slots)) || !s->reqs || !s->cqes) {
		rc = dann_fail(DANN_ENOMEM, "search: no memory for %u query slots", s->p.inflight);
		goto fail;
	}
	for (uint32_t i = 0; i < s->p.inflight; i++) {
		struct qslot *q = &s->slots[i];
		uint32_t nb_cap = s->cap_R * s->cap_nps;
		q->buf = s->region + (size_t)i * s->cap_W * s->cap_read;
		q->table = malloc(sizeof *q->table * (s->cap_table ? s->cap_table : 1));
		q->nb_ids = malloc(sizeof *q->nb_ids * nb_cap);
		q->nb_dist = malloc(sizeof *q->nb_dist * nb_cap);
		if (!q->table || !q->nb_ids || !q->nb_dist) {
			rc = dann_fail(DANN_ENOMEM, "search: no memory for query slot %u", i);
			goto fail;
		}
		if ((rc = cand_init(&q->cl, s->cap_L)) < 0 || (rc = topk_init(&q->best, s->cap_k)) < 0 ||
		    (rc = vset_init(&q->seen, s->cap_seen * (s->cap_R / 2 + 1))) < 0)
			goto fail;
	}
	return 0;
fail:
	slots_free(s);
	return rc;
}

/* The dio file slot of ix's data file, adding it (and evicting the least
 * recently added index) if needed. Keyed by the index's serial, never its
 * address, so a reopened index never reads through a stale slot. */
static int file_slot(struct dix_searcher *s, const struct dix_index *ix, uint32_t *slot)
{
	struct file_map *f;
	int rc;

	for (uint32_t i = 0; i < DIO_DEFAULT_FILES; i++)
		if (s->files[i].serial == ix->serial) {
			*slot = s->files[i].slot;
			return 0;
		}
	f = &s->files[s->next_evict];
	s->next_evict = (s->next_evict + 1) % DIO_DEFAULT_FILES;
	if (f->serial && (rc = dio_file_remove(s->dio, f->slot)) < 0)
		return rc;
	f->serial = 0;
	if ((rc = dio_file_add(s->dio, ix->fd, &f->slot)) < 0)
		return rc;
	f->serial = ix->serial;
	*slot = f->slot;
	return 0;
}

int dix_searcher_depth_check(uint32_t inflight, uint32_t W)
{
	if ((uint64_t)inflight * W > DIO_MAX_DEPTH)
		return dann_fail(DANN_EINVAL, "search: inflight %u x W %u = %llu reads in flight, "
				 "more than one I/O ring holds (%u): lower inflight or W", inflight,
				 W, (unsigned long long)inflight * W, DIO_MAX_DEPTH);
	return 0;
}

int dix_searcher_new(const struct dix_searcher_params *p, struct dix_searcher **out)
{
	struct dix_searcher *s;

	*out = NULL;
	if (p->inflight == 0 || p->inflight > DIX_MAX_INFLIGHT)
		return dann_fail(DANN_EINVAL, "search: inflight = %u, expected 1..%u", p->inflight,
				 DIX_MAX_INFLIGHT);
	if (!(s = calloc(1, sizeof *s)))
		return dann_fail(DANN_ENOMEM, "search: no memory for a searcher");
	s->p = *p;
	*out = s;
	return 0;
}

void dix_searcher_free(struct dix_searcher *s)
{
	if (!s)
		return;
	slots_free(s);
	dio_close(s->dio);
	dann_aligned_free(s->region);
	free(s->reqs);
	free(s->cqes);
	free(s);
}

const char *dix_searcher_io(const struct dix_searcher *s)
{
	return s->io_desc;
}

uint64_t dix_searcher_bytes(const struct dix_searcher *s)
{
	uint64_t b = s->region_bytes;

	if (!s->slots)
		return b;
	for (uint32_t i = 0; i < s->p.inflight; i++) {
		const struct qslot *q = &s->slots[i];
		b += sizeof *q + sizeof *q->table * (s->cap_table ? s->cap_table : 1) +
		     sizeof(struct cand) * s->cap_L +
		     (sizeof *q->best.id + sizeof *q->best.dist) * s->cap_k +
		     sizeof *q->seen.keys * ((uint64_t)q->seen.mask + 1) +
		     (sizeof *q->nb_ids + sizeof *q->nb_dist) * s->cap_R * s->cap_nps;
	}
	return b;
}

/* ---- one query ----------------------------------------------------------- */

static inline bool bit_set(const uint64_t *b, uint64_t nbits, uint32_t id)
{
	return id < nbits && (b[id >> 6] >> (id & 63) & 1);
}

static inline bool allowed(const struct dix_search_params *p, uint32_t id)
{
	if (p->allowed && !bit_set(p->allowed, p->allowed_bits, id))
		return false;
	return !(p->deleted && bit_set(p->deleted, p->deleted_bits, id));
}

static int bad_record(const struct dix_index *ix, uint32_t id)
{
	return dann_fail(DANN_ECORRUPT, "%s/%s: record of node %u is corrupt (degree or ids out of range)",
			 ix->dir, DIX_DATA_FILE, id);
}

/* PQ estimates of the distances from q's query to n ids. Inner product
 * (ix->norms set): the table holds the L2 estimate of |q - x|^2, whose
 * error shrinks as x nears the query, turned into -q.x with the stored
 * |x|^2; the inner-product estimate's error does not shrink, and steering
 * by it cost recall (0.940 against L2's 0.997 at L 80 on 20k x 128). */
static void pq_dists(const struct dix_index *ix, const struct qslot *q, const uint32_t *ids,
		     uint32_t n, float *out)
{
	pq_adc_ids(ix->pq, q->table, ids, n, out);
	if (ix->norms)
		for (uint32_t j = 0; j < n; j++)
			out[j] = 0.5f * (out[j] - q->qnorm2 - ix->norms[ids[j]]);
}

/* Keeps q's list ending at its L-th allowed entry: drops the entry that
 * made L + 1 allowed and everything after it, then, once L are held, the
 * excluded entries after the last allowed one. */
static void trim_to_live(struct qslot *q, const struct dix_search_params *p)
{
	struct cand_list *cl = &q->cl;

	if (q->live > p->L) {
		while (cl->size && !allowed(p, cl->c[--cl->size].id))
			;
		q->live--;
	}
	if (q->live == p->L)
		while (cl->size && !allowed(p, cl->c[cl->size - 1].id))
			cl->size--;
	if (cl->cursor > cl->size)
		cl->cursor = cl->size;
}

/* Offers (id, d) to q's candidate list; its position, or -1 if it did not
 * enter. With excluded_uncounted (dix_search.h) only allowed entries count
 * toward L: once L are held, the last entry is the L-th allowed one and
 * nothing after it enters; excluded entries fill the room up to
 * list_max. */
static int list_insert(struct qslot *q, const struct dix_search_params *p, uint32_t id, float d)
{
	struct cand_list *cl = &q->cl;
	bool full;
	int pos;

	if (!p->excluded_uncounted)
		return cand_insert(cl, id, d);
	if (q->live == p->L) {
		const struct cand *w = &cl->c[cl->size - 1];
		if (d > w->dist || (d == w->dist && id >= w->id))
			return -1;
	}
	full = cl->size == cl->cap;
	if ((pos = cand_insert(cl, id, d)) < 0)
		return -1;
	/* a full list dropped its last entry, left at c[size] by the shift */
	if (full && allowed(p, cl->c[cl->size].id))
		q->live--;
	if (allowed(p, id))
		q->live++;
	trim_to_live(q, p);
	return pos;
}

/* Expands node u from its record: exact distance (taken here unless the
 * caller has it in *exact) into the top-k, unseen neighbours scored by PQ
 * into the candidate list. */
static int expand_with(struct qslot *q, uint32_t u, const char *rec, const float *exact)
{
	const struct dix_index *ix = q->ix;
	uint32_t deg = dix_rec_degree(rec, ix->vec_bytes), n = 0;
	const uint32_t *nb = dix_rec_nbrs(rec, ix->vec_bytes);
	int rc;

	if (deg > ix->h.R)
		return bad_record(ix, u);
	q->st.hops++;
	if (allowed(q->sp, u)) {
		float d = exact ? *exact : ix->dist(q->q, rec, ix->h.dim);
		/* EXACT pushes sector peers it does not expand: no id twice */
		if (q->sector_expand == DANN_SECTOR_EXACT)
			topk_push_unique(&q->best, u, d);
		else
			topk_push(&q->best, u, d);
	}
	for (uint32_t j = 0; j < deg; j++) {
		if (nb[j] >= ix->h.n)
			return bad_record(ix, u);
		if ((rc = vset_add(&q->seen, nb[j])) < 0)
			return rc;
		if (rc)
			q->nb_ids[n++] = nb[j];
	}
	pq_dists(ix, q, q->nb_ids, n, q->nb_dist);
	for (uint32_t j = 0; j < n; j++)
		list_insert(q, q->sp, q->nb_ids[j], q->nb_dist[j]);
	return 0;
}

static int expand(struct qslot *q, uint32_t u, const char *rec)
{
	return expand_with(q, u, rec, NULL);
}

/* Another node v in a sector just read for this query: expand it too if
 * it is an unvisited candidate or, once scored, would become one. */
static int co_expand(struct qslot *q, uint32_t v, const char *rec)
{
	int pos = -1, rc;

	if (vset_has(&q->seen, v)) {
		for (uint32_t i = q->cl.cursor; i < q->cl.size; i++)
			if (q->cl.c[i].id == v) {
				pos = q->cl.c[i].visited ? -1 : (int)i;
				break;
			}
	} else {
		float d;
		if ((rc = vset_add(&q->seen, v)) < 0)
			return rc;
		pq_dists(q->ix, q, &v, 1, &d);
		pos = list_insert(q, q->sp, v, d);
	}
	if (pos < 0)
		return 0;
	cand_mark(&q->cl, pos);
	return (rc = expand(q, v, rec)) < 0 ? rc : 1;
}

/* EXACT's co_expand (Starling's in-block search): v's exact distance
 * enters the results whatever follows; v is expanded if it is an
 * unvisited candidate, or unseen and entering the list at its exact
 * distance. */
static int co_expand_exact(struct qslot *q, uint32_t v, const char *rec)
{
	const struct dix_index *ix = q->ix;
	int pos = -1, rc;
	float d = ix->dist(q->q, rec, ix->h.dim);

	if (allowed(q->sp, v))
		topk_push_unique(&q->best, v, d);
	if (vset_has(&q->seen, v)) {
		for (uint32_t i = q->cl.cursor; i < q->cl.size; i++)
			if (q->cl.c[i].id == v) {
				pos = q->cl.c[i].visited ? -1 : (int)i;
				break;
			}
	} else {
		if ((rc = vset_add(&q->seen, v)) < 0)
			return rc;
		pos = list_insert(q, q->sp, v, d);
	}
	if (pos < 0)
		return 0;
	cand_mark(&q->cl, pos);
	return (rc = expand_with(q, v, rec, &d)) < 0 ? rc : 1;
}

/* Seeds the candidate list from the entry graph's sample points nearest
 * the query (dix_entry.h). 1 if it did, 0 if the index has no entry graph
 * or the caller turned seeding off. */
static int entry_seed(struct qslot *q)
{
	const struct dix_index *ix = q->ix;
	uint32_t ids[DIX_ENTRY_MAX_SEEDS], n = 0;
	int want = q->sp->entry_seeds, rc;

	if (!ix->entry || want == 0)
		return 0;
	if (want < 0)
		want = (int)(2 * q->sp->W);
	if ((rc = dix_entry_seeds(ix->entry, q->q, (uint32_t)want, ids, &n)) < 0)
		return rc;
	for (uint32_t i = 0; i < n; i++) {
		float d;
		if ((rc = vset_add(&q->seen, ids[i])) <= 0) {
			if (rc < 0)
				return rc;
			continue;
		}
		pq_dists(ix, q, &ids[i], 1, &d);
		list_insert(q, q->sp, ids[i], d);
	}
	return n > 0;
}

/* Sets up slot q for its query (q->ix, sp, q and outputs set): PQ table,
 * list and visited set reset, entry points scored. */
int dix_slot_begin(struct qslot *q)
{
	const struct dix_index *ix = q->ix;
	int rc;

	memset(&q->st, 0, sizeof q->st);
	q->t0 = now_ns();
	if (q->rot)
		pq_table_build_rotated(ix->pq, ix->norms ? DANN_METRIC_L2 : pq_metric(ix->pq), q->rot,
				       q->table);
	else
		pq_table_build_as(ix->pq, ix->norms ? DANN_METRIC_L2 : pq_metric(ix->pq), q->q,
				  q->table);
	if (ix->norms)
		q->qnorm2 = dist_norm2_f32(q->q, ix->h.dim);
	cand_reset(&q->cl);
	/* The slot's arrays fit the largest L this searcher has served (a
	 * pooled searcher outlives its query); the list holds this query's. */
	q->cl.cap = list_cap(q->sp);
	q->live = 0;
	topk_reset(&q->best);
	vset_clear(&q->seen);
	if ((rc = entry_seed(q)) < 0)
		return rc;
	for (uint32_t e = 0; rc == 0 && e < ix->h.n_entry; e++) {
		uint32_t id = ix->h.entry[e];
		float d;
		if ((rc = vset_add(&q->seen, id)) <= 0) {
			if (rc < 0)
				return rc;
			continue;
		}
		pq_dists(ix, q, &id, 1, &d);
		list_insert(q, q->sp, id, d);
	}
	q->state = Q_READY;
	return 0;
}

/* Query qi of the run into slot q. */
static int query_start(struct dix_searcher *s, struct qslot *q, uint64_t qi)
{
	uint32_t dim = s->ix->h.dim, k = s->sp->k;

	q->qi = qi;
	q->ix = s->ix;
	q->sp = s->sp;
	q->file = s->file;
	q->sector_expand = s->sector_expand;
	q->q = s->queries + qi * dim;
	q->rot = s->sp->rotated ? s->sp->rotated + qi * dim : NULL;
	q->o_ids = s->out_ids + qi * k;
	q->o_dists = s->out_dists + qi * k;
	q->o_found = s->out_found + qi;
	q->o_stats = s->out_stats ? s->out_stats + qi : NULL;
	return dix_slot_begin(q);
}

static void query_finish(struct qslot *q)
{
	uint32_t k = q->sp->k, n = topk_sort(&q->best);

	if (n > k)
		n = k;
	for (uint32_t i = 0; i < n; i++) {
		q->o_ids[i] = q->best.id[i];
		q->o_dists[i] = q->best.dist[i];
	}
	for (uint32_t i = n; i < k; i++) {
		q->o_ids[i] = UINT32_MAX;
		q->o_dists[i] = INFINITY;
	}
	*q->o_found = n;
	q->st.latency_ns = now_ns() - q->t0;
	if (q->o_stats)
		*q->o_stats = q->st;
	q->state = Q_FREE;
}

/* Picks slot q's beam: its W closest unvisited candidates, each a place
 * in the round. With sector expansion on, a candidate in the sector of an
 * earlier beam node that is read (not cached) shares that read and takes
 * no place, so a round still makes W reads. Cached nodes' records into
 * recs (else NULL). */
static void pick_beam(struct qslot *q, const char **recs)
{
	const struct dix_index *ix = q->ix;
	bool share = q->sector_expand != DANN_SECTOR_OFF && ix->h.nodes_per_sector > 1;
	uint64_t off[DIX_MAX_W];
	uint32_t places = 0;
	int i;

	q->nbeam = 0;
	while (places < q->sp->W && q->nbeam < DIX_MAX_W && (i = cand_next_unvisited(&q->cl)) >= 0) {
		uint32_t b = q->nbeam++, u = q->cl.c[i].id;
		cand_mark(&q->cl, i);
		q->beam[b] = u;
		q->src[b] = (uint8_t)b;
		places++;
		if ((recs[b] = dix_cache_get(&ix->cache, u)) || !share)
			continue;
		off[b] = dix_slot_sector_offset(&ix->h, dix_slot(ix, u));
		for (uint32_t c = 0; c < b; c++)
			if (!recs[c] && q->src[c] == c && off[c] == off[b]) {
				q->src[b] = (uint8_t)c;
				places--;
				break;
			}
	}
}

/* Runs slot q's rounds until it has reads outstanding (Q_WAIT) or its query
 * is finished (Q_FREE). Reads are queued in s->reqs. */
int dix_slot_advance(struct dix_searcher *s, struct qslot *q, uint32_t slot_index)
{
	const struct dix_index *ix = q->ix;
	const char *recs[DIX_MAX_W];
	int rc;

	while (q->state == Q_READY) {
		uint32_t nbuf = 0;
		pick_beam(q, recs);
		if (q->nbeam == 0) {
			query_finish(q);
			return 0;
		}
		q->st.rounds++;
		q->pending = 0;
		for (uint32_t b = 0; b < q->nbeam; b++) {
			uint32_t u = q->beam[b];
			if (recs[b]) {
				q->st.cache_hits++;
				if ((rc = expand(q, u, recs[b])) < 0)
					return rc;
				q->beam[b] = UINT32_MAX;
				continue;
			}
			if (q->src[b] != b)
				continue;
			q->bufi[b] = (uint8_t)nbuf++;
			s->reqs[s->nreqs++] = (struct dio_req){
				.tag = (uint64_t)slot_index << TAG_SLOT_SHIFT | b,
				.off = dix_slot_sector_offset(&ix->h, dix_slot(ix, u)),
				.buf = q->buf + (size_t)q->bufi[b] * s->cap_read,
				.len = ix->read_bytes,
				.file = q->file,
			};
			q->pending++;
			q->st.reads++;
			if (q->sp->visits)
				__atomic_fetch_add(&q->sp->visits[u], 1, __ATOMIC_RELAXED);
		}
		if (q->pending)
			q->state = Q_WAIT;
	}
	return 0;
}

/* All of slot q's reads are back: expand each fetched node, then the
 * sector's other nodes if sector expansion is on. */
int dix_slot_reads_done(struct dix_searcher *s, struct qslot *q)
{
	const struct dix_index *ix = q->ix;
	uint32_t nps = ix->h.nodes_per_sector;
	int rc;

	for (uint32_t b = 0; b < q->nbeam; b++) {
		uint32_t u = q->beam[b];
		const char *sec = q->buf + (size_t)q->bufi[q->src[b]] * s->cap_read;
		uint64_t su;
		if (u == UINT32_MAX)
			continue;
		su = dix_slot(ix, u);
		/* a shared read was checked, and its peers offered, with the
		 * earlier beam node that made it */
		if (q->src[b] == b && (rc = dix_block_check(ix, sec, dix_slot_sector_offset(&ix->h, su))) < 0)
			return rc;
		if ((rc = expand(q, u, sec + dix_slot_in_sector(&ix->h, su))) < 0)
			return rc;
		if (!q->sector_expand || nps < 2 || q->src[b] != b)
			continue;
		for (uint64_t sv = su - su % nps; sv < su - su % nps + nps && sv < ix->h.n; sv++) {
			uint32_t v = ix->id_of_slot ? ix->id_of_slot[sv] : (uint32_t)sv;
			if (sv == su)
				continue;
			rc = q->sector_expand == DANN_SECTOR_EXACT
				     ? co_expand_exact(q, v, sec + dix_slot_in_sector(&ix->h, sv))
				     : co_expand(q, v, sec + dix_slot_in_sector(&ix->h, sv));
			if (rc < 0)
				return rc;
			q->st.sector_peers++;
			q->st.sector_used += (uint32_t)rc;
		}
	}
	q->state = Q_READY;
	return 0;
}

/* ---- the engine loop ----------------------------------------------------- */

static bool claim(struct dix_searcher *s, uint64_t *qi)
{
	if (s->next) {
		*qi = atomic_fetch_add(s->next, 1);
		return *qi < s->nq;
	}
	*qi = s->next_local++;
	return *qi < s->nq;
}

int dix_submit_all(struct dix_searcher *s)
{
	uint32_t done = 0;

	while (done < s->nreqs) {
		int r = dio_submit(s->dio, s->reqs + done, s->nreqs - done);
		if (r < 0)
			return r;
		done += (uint32_t)r;
		if (done < s->nreqs)
			return dann_fail(DANN_EBUSY, "search: the I/O ring is full (depth too small)");
	}
	s->nreqs = 0;
	return 0;
}

static int handle_cqe(struct dix_searcher *s, const struct dio_cqe *c)
{
	uint32_t si = (uint32_t)(c->tag >> TAG_SLOT_SHIFT), b = (uint32_t)(c->tag & 0xff);
	struct qslot *q = &s->slots[si];

	if (c->res != (int64_t)q->ix->read_bytes)
		return c->res < 0 ? dann_fail_errno(DANN_EIO, (int)-c->res, "%s/%s: read of node %u",
						    q->ix->dir, DIX_DATA_FILE, q->beam[b])
				  : dann_fail(DANN_ECORRUPT, "%s/%s: short read of node %u (truncated?)",
					      q->ix->dir, DIX_DATA_FILE, q->beam[b]);
	if (--q->pending == 0)
		return dix_slot_reads_done(s, q);
	return 0;
}

static int engine(struct dix_searcher *s)
{
	uint32_t cap = s->p.inflight * s->cap_W;
	int rc;

	for (;;) {
		bool waiting = false;
		if ((rc = stop_check(&s->stop, "search")) < 0)
			return rc;
		for (uint32_t i = 0; i < s->p.inflight; i++) {
			struct qslot *q = &s->slots[i];
			uint64_t qi;
			for (;;) {
				if (q->state == Q_FREE) {
					if (!claim(s, &qi))
						break;
					if ((rc = query_start(s, q, qi)) < 0)
						return rc;
				}
				if (q->state == Q_READY && (rc = dix_slot_advance(s, q, i)) < 0)
					return rc;
				if (q->state != Q_FREE)
					break;
			}
			waiting |= q->state == Q_WAIT;
		}
		if (!waiting)
			return 0;
		if ((rc = dix_submit_all(s)) < 0)
			return rc;
		if ((rc = dio_reap(s->dio, s->cqes, cap, 1, -1)) < 0)
			return rc;
		for (int j = 0, n = rc; j < n; j++)
			if ((rc = handle_cqe(s, &s->cqes[j])) < 0)
				return rc;
	}
}

int dix_search_run(struct dix_searcher *s, const struct dix_index *ix, const float *queries,
		   uint64_t nq, const struct dix_search_params *p, _Atomic uint64_t *next,
		   uint32_t *ids, float *dists, uint32_t *found, struct dann_search_stats *stats)
{
	int rc;

	if ((rc = dix_search_params_check(p)) < 0 ||
	    (rc = dix_searcher_depth_check(s->p.inflight, p->W)) < 0 || (rc = dix_configure(s, ix, p)) < 0 ||
	    (rc = file_slot(s, ix, &s->file)) < 0)
		return rc;
	s->ix = ix;
	s->sp = p;
	s->stop = (struct stop){ .cancel = p->cancel, .deadline_ns = p->deadline_ns };
	s->queries = queries;
	s->nq = nq;
	s->next = next;
	s->next_local = 0;
	s->out_ids = ids;
	s->out_dists = dists;
	s->out_found = found;
	s->out_stats = stats;
	s->nreqs = 0;
	s->sector_expand = p->sector_expand != DANN_SECTOR_AUTO ? p->sector_expand
			   : ix->h.layout != DIX_LAYOUT_PLAIN	  ? DANN_SECTOR_EXACT
								  : DANN_SECTOR_OFF;
	for (uint32_t i = 0; i < s->p.inflight; i++)
		s->slots[i].state = Q_FREE;
	rc = engine(s);
	if (rc < 0) {
		/* Drain reads still in flight: their buffers are reused next call. */
		struct dio_cqe c;
		while (dio_pending(s->dio) > 0 && dio_reap(s->dio, &c, 1, 1, -1) > 0)
			;
		s->nreqs = 0;
	}
	s->ix = NULL;
	return rc;
}

/* ---- threads ------------------------------------------------------------- */

struct batch_job {
	const struct dix_index *ix;
	const float *queries;
	uint64_t nq;
	const struct dix_search_params *p;
	const struct dix_searcher_params *sp;
	_Atomic uint64_t *next;
	uint32_t *ids;
	float *dists;
	uint32_t *found;
	struct dann_search_stats *stats;
};

/* One thread of a batch (dix_threads.h): its own searcher, one ring. */
static int batch_thread(void *arg, char *io, size_t io_cap)
{
	const struct batch_job *j = arg;
	struct dix_searcher *s = NULL;
	int rc;

	rc = dix_searcher_new(j->sp, &s);
	if (rc == 0)
		rc = dix_search_run(s, j->ix, j->queries, j->nq, j->p, j->next, j->ids, j->dists,
				    j->found, j->stats);
	if (s)
		snprintf(io, io_cap, "%s", s->io_desc);
	dix_searcher_free(s);
	return rc;
}

int dix_search_batch(const struct dix_index *ix, const float *queries, uint64_t nq,
		     const struct dix_search_params *p, const struct dix_searcher_params *sp,
		     uint32_t threads, uint32_t *ids, float *dists, uint32_t *found,
		     struct dann_search_stats *stats, char *io_desc, size_t io_desc_cap)
{
	_Atomic uint64_t next = 0;
	struct dix_search_params rp = *p;
	struct batch_job j = { .ix = ix, .queries = queries, .nq = nq, .p = &rp, .sp = sp,
			       .next = &next, .ids = ids, .dists = dists, .found = found,
			       .stats = stats };
	float *rot = NULL;
	int rc;

	if ((rc = dix_search_params_check(p)) < 0)
		return rc;
	/* OPQ: a batch's queries rotated at once (on 784 dims a query's own
	 * rotation reads the whole 2.4 MB matrix). */
	if (pq_rotation(ix->pq) && nq > 1 && !p->rotated) {
		if (!(rot = malloc(nq * ix->h.dim * sizeof *rot)))
			return dann_fail(DANN_ENOMEM, "search: rotating %llu queries",
					 (unsigned long long)nq);
		if ((rc = pq_rotate_queries(ix->pq, queries, nq, rot)) < 0) {
			free(rot);
			return rc;
		}
		rp.rotated = rot;
	}
	rc = dix_run_threads(threads, batch_thread, &j, &next, nq, io_desc, io_desc_cap);
	free(rot);
	return rc;
}
