/*
 * test_dix_stream.c — the stream engine (dix_stream_run): tasks taken from
 * a source as slots free, with different parameters in flight at once,
 * return what dann_search returns for each; a task cancelled while its
 * reads are out ends DANN_ECANCELED once they are back and the others
 * still finish right; a bad task goes back with its error and the run goes
 * on; a run with nothing to do returns at once.
 */
#include <criterion/criterion.h>

#include "dann.h"
#include "dix_fx.h"
#include "vamana/dix_search.h"

#define N 2000
#define DIM 16
#define NQ 40
#define MAXK 10

struct task_out {
	uint32_t ids[MAXK];
	float dists[MAXK];
	uint32_t found;
	int rc;
	int done;
};

/* The source: NQ queries, even ones at (k 10, L 20), odd ones at (k 5,
 * L 64); task 0 watches `cancel`, which the source sets when it gives
 * out task `cancel_at` (so task 0 has started and has reads out). */
struct src {
	struct dann_index *di;
	const float *q;
	uint32_t next, n;
	struct task_out out[NQ];
	volatile int cancel;
	int cancel_at;           /* -1: never */
	int bad;                 /* task given with k > L, -1: none */
};

static void params_of(uint32_t i, struct dann_search_params *p)
{
	dann_search_params_default(p);
	p->k = i % 2 ? 5 : 10;
	p->L = i % 2 ? 64 : 20;
}

static int src_next(void *arg, struct dix_task *t)
{
	struct src *s = arg;
	struct dann_search_params p;
	uint32_t i = s->next;
	int rc;

	if (i == s->n)
		return 0;
	s->next++;
	params_of(i, &p);
	if (i == 0 && s->cancel_at >= 0)
		p.cancel = &s->cancel;
	rc = dix_task_of(s->di, &p, t);
	cr_assert_eq(rc, 1, "task %u: %d %s", i, rc, dann_errmsg());
	if ((int)i == s->bad)
		t->p.k = t->p.L + 1;
	if ((int)i == s->cancel_at)
		s->cancel = 1;
	t->query = s->q + (size_t)i * DIM;
	t->ids = s->out[i].ids;
	t->dists = s->out[i].dists;
	t->found = &s->out[i].found;
	t->cookie = &s->out[i];
	return 1;
}

static void src_done(void *arg, struct dix_task *t, int rc, const char *msg)
{
	struct task_out *o = t->cookie;

	(void)arg;
	(void)msg;
	o->rc = rc;
	o->done++;
}

static void expect_single(struct src *s, uint32_t i)
{
	struct dann_search_params p;
	uint32_t ids[MAXK], found;
	float dists[MAXK];

	params_of(i, &p);
	cr_assert_eq(dann_search(s->di, s->q + (size_t)i * DIM, &p, ids, dists, &found, NULL), 0, "%s",
		     dann_errmsg());
	cr_assert_eq(s->out[i].rc, 0, "task %u: %d", i, s->out[i].rc);
	cr_assert_eq(s->out[i].found, found, "task %u: found %u, single %u", i, s->out[i].found, found);
	for (uint32_t j = 0; j < found; j++) {
		cr_assert_eq(s->out[i].ids[j], ids[j], "task %u result %u", i, j);
		cr_assert_eq(s->out[i].dists[j], dists[j], "task %u result %u: distance", i, j);
	}
}

static void run(struct src *s, struct dix_searcher *dx)
{
	struct dix_source src = { .next = src_next, .done = src_done, .arg = s };

	cr_assert_eq(dix_stream_run(dx, &src), 0, "%s", dann_errmsg());
	cr_assert_eq(s->next, s->n);
	for (uint32_t i = 0; i < s->n; i++)
		cr_assert_eq(s->out[i].done, 1, "task %u ended %d times", i, s->out[i].done);
}

static void fx_open(struct dix_fx *f, struct src *s)
{
	dix_fx_build(f, N, DIM, NQ);
	memset(s, 0, sizeof *s);
	cr_assert_eq(dann_index_open(f->dir, NULL, &s->di), 0, "%s", dann_errmsg());
	s->q = f->q;
	s->n = NQ;
	s->cancel_at = -1;
	s->bad = -1;
}

Test(dix_stream, tasks_with_mixed_parameters_return_the_single_search_answers, .timeout = 120)
{
	struct dix_searcher_params sp = { .inflight = 8, .backend = DIO_BACKEND_AUTO };
	struct dix_searcher *dx;
	struct dix_fx f;
	struct src s;

	fx_open(&f, &s);
	cr_assert_eq(dix_searcher_new(&sp, &dx), 0);
	run(&s, dx);
	for (uint32_t i = 0; i < NQ; i++)
		expect_single(&s, i);
	/* the same searcher again, now sized: same answers */
	memset(s.out, 0, sizeof s.out);
	s.next = 0;
	run(&s, dx);
	for (uint32_t i = 0; i < NQ; i++)
		expect_single(&s, i);
	/* nothing to do: back at once */
	s.next = s.n;
	run(&s, dx);
	dix_searcher_free(dx);
	dann_index_close(s.di);
	dix_fx_free(&f);
}

Test(dix_stream, a_task_cancelled_with_reads_out_ends_and_the_rest_finish, .timeout = 120)
{
	struct dix_searcher_params sp = { .inflight = 4, .backend = DIO_BACKEND_AUTO };
	struct dix_searcher *dx;
	struct dix_fx f;
	struct src s;

	fx_open(&f, &s);
	s.cancel_at = 1; /* task 0 is in its first round's reads when task 1 is given */
	s.bad = 5;
	cr_assert_eq(dix_searcher_new(&sp, &dx), 0);
	run(&s, dx);
	cr_assert_eq(s.out[0].rc, DANN_ECANCELED, "task 0: %d", s.out[0].rc);
	cr_assert_eq(s.out[5].rc, DANN_EINVAL, "task 5 (k > L): %d", s.out[5].rc);
	for (uint32_t i = 1; i < NQ; i++)
		if (i != 5)
			expect_single(&s, i);
	dix_searcher_free(dx);
	dann_index_close(s.di);
	dix_fx_free(&f);
}
