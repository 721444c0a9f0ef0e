/*
 * test_seg_nowait.c — dann_coll_get_nowait and dann_coll_get_prop_nowait,
 * which dannd's network threads use: the same answers as the waiting
 * calls, and DANN_EBUSY at once, not a wait, while another thread holds
 * the lock a catalog write would hold.
 */
#include <pthread.h>

#include "../engine/segment/seg_impl.h"
#include "seg_testutil.h"

static void setup(void) { tmpdir_make("seg_nowait"); }
static void teardown(void) { tmpdir_remove(); }
TestSuite(seg_nowait, .init = setup, .fini = teardown, .timeout = 60);

Test(seg_nowait, answers_like_the_waiting_calls_and_never_waits)
{
	struct dann_db *db = st_open(0);
	struct dann_schema s;
	struct dann_coll *c, *c2 = NULL;
	char buf[16];

	st_schema(&s, "nw", ST_DIM);
	c = st_create(db, &s);
	cr_assert_eq(dann_coll_set_prop(c, "srv.loaded", "1"), 0, "%s", dann_errmsg());

	cr_expect_eq(dann_coll_get_nowait(db, "nw", &c2), 0, "%s", dann_errmsg());
	cr_expect_eq(c2, c);
	cr_expect_eq(dann_coll_get_nowait(db, "nope", &c2), DANN_ENOTFOUND);
	cr_expect_eq(dann_coll_get_prop_nowait(c, "srv.loaded", buf, sizeof buf), 0, "%s", dann_errmsg());
	cr_expect_str_eq(buf, "1");
	cr_expect_eq(dann_coll_get_prop_nowait(c, "unset", buf, sizeof buf), DANN_ENOTFOUND);

	/* held as a collection create or a property write holds them while
	 * the catalog commits (a Raft round in dannd) */
	pthread_mutex_lock(&db->mu);
	cr_expect_eq(dann_coll_get_nowait(db, "nw", &c2), DANN_EBUSY);
	cr_expect(strstr(dann_errmsg(), "busy"), "%s", dann_errmsg());
	pthread_mutex_unlock(&db->mu);
	pthread_mutex_lock(&c->mu);
	cr_expect_eq(dann_coll_get_prop_nowait(c, "srv.loaded", buf, sizeof buf), DANN_EBUSY);
	cr_expect(strstr(dann_errmsg(), "nw"), "%s", dann_errmsg());
	pthread_mutex_unlock(&c->mu);
	cr_expect_eq(dann_coll_get_prop_nowait(c, "srv.loaded", buf, sizeof buf), 0, "%s", dann_errmsg());
	dann_db_close(db);
}
