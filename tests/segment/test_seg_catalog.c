/*
 * test_seg_catalog.c — what opening a data directory may remove: only the
 * directory of a collection its catalog dropped (an id the catalog handed
 * out and no longer holds). A c<id> the catalog never had — another
 * catalog's collection, or a catalog lost — stops the open with an error
 * naming it, and nothing is deleted. A data directory whose catalog is
 * dannd's (D/meta) is never opened with a local CATALOG.
 */
#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#include "seg_testutil.h"

static void setup(void) { tmpdir_make("seg_catalog"); }
static void teardown(void) { tmpdir_remove(); }
TestSuite(seg_catalog, .init = setup, .fini = teardown, .timeout = 60);

static int exists(const char *rel)
{
	char path[512];
	struct stat st;

	snprintf(path, sizeof path, "%s/%s", tmpdir_path("data"), rel);
	return stat(path, &st) == 0;
}

static void touch(const char *rel)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof path, "%s/%s", tmpdir_path("data"), rel);
	cr_assert_not_null(f = fopen(path, "w"), "%s: %s", path, strerror(errno));
	fputs("x\n", f);
	fclose(f);
}

static void mkdir_in(const char *rel)
{
	char path[512];

	snprintf(path, sizeof path, "%s/%s", tmpdir_path("data"), rel);
	cr_assert_eq(mkdir(path, 0755), 0, "%s: %s", path, strerror(errno));
}

/* "a" with 100 rows, closed: its directory is c1. */
static void make_a(void)
{
	struct dann_db *db = st_open(0);
	struct dann_schema s;
	struct dann_coll *c;

	st_schema(&s, "a", ST_DIM);
	c = st_create(db, &s);
	st_insert_range(c, 0, 100, ST_DIM);
	dann_db_close(db);
	cr_assert(exists("c1/wal"), "collection a is not in c1");
}

static int reopen(void)
{
	struct dann_db *db = NULL;
	int rc = dann_db_open(tmpdir_path("data"), NULL, &db);

	dann_db_close(db);
	return rc;
}

Test(seg_catalog, a_collection_directory_the_catalog_never_had_is_refused_and_kept)
{
	int rc;

	make_a();
	mkdir_in("c7");
	touch("c7/rows");
	rc = reopen();
	cr_assert_eq(rc, DANN_ECORRUPT, "rc %d: %s", rc, dann_errmsg());
	cr_assert(strstr(dann_errmsg(), "/c7: a collection directory") && strstr(dann_errmsg(), "nothing was removed") &&
		  strstr(dann_errmsg(), "move c7 out of"), "%s", dann_errmsg());
	cr_assert(exists("c7/rows"), "c7 was deleted");
	cr_assert(exists("c1/wal"), "a's directory was touched");
}

/* A lost CATALOG used to be replaced by an empty one, and every
 * collection directory removed as dropped. */
Test(seg_catalog, a_lost_catalog_deletes_no_collection)
{
	char from[512], to[512];
	int rc;

	make_a();
	snprintf(from, sizeof from, "%s/CATALOG", tmpdir_path("data"));
	snprintf(to, sizeof to, "%s/CATALOG.moved", tmpdir_path("data"));
	cr_assert_eq(rename(from, to), 0);
	rc = reopen();
	cr_assert_eq(rc, DANN_ECORRUPT, "rc %d: %s", rc, dann_errmsg());
	cr_assert(strstr(dann_errmsg(), "/c1: a collection directory"), "%s", dann_errmsg());
	cr_assert(exists("c1/wal"), "c1 was deleted");

	/* With its catalog back, the collection is whole. */
	cr_assert_eq(rename(to, from), 0);
	{
		struct dann_db *db = st_open(0);
		struct dann_coll *c;
		uint64_t rows = 0;

		cr_assert_eq(dann_coll_get(db, "a", &c), 0, "%s", dann_errmsg());
		cr_assert_eq(dann_coll_count(c, &rows), 0);
		cr_assert_eq(rows, 100);
		dann_db_close(db);
	}
}

Test(seg_catalog, a_dropped_collections_leftover_directory_is_removed)
{
	struct dann_db *db;
	struct dann_schema s;

	make_a();
	db = st_open(0);
	st_schema(&s, "b", ST_DIM);
	st_create(db, &s);
	cr_assert_eq(dann_coll_drop(db, "a"), 0, "%s", dann_errmsg());
	dann_db_close(db);
	/* as if the drop had crashed before its files were gone */
	mkdir_in("c1");
	touch("c1/left");
	cr_assert_eq(reopen(), 0, "%s", dann_errmsg());
	cr_assert(!exists("c1"), "the dropped collection's directory is still there");
	cr_assert(exists("c2/wal"), "b's directory went too");
}

Test(seg_catalog, the_local_catalog_is_refused_where_dannd_keeps_the_catalog)
{
	int rc;

	cr_assert_eq(mkdir(tmpdir_path("data"), 0755), 0);
	mkdir_in("meta");
	touch("meta/IDENTITY");
	rc = reopen();
	cr_assert_eq(rc, DANN_EINVAL, "rc %d: %s", rc, dann_errmsg());
	cr_assert(strstr(dann_errmsg(), "its catalog is dannd's Raft catalog") && strstr(dann_errmsg(), "/meta"), "%s",
		  dann_errmsg());
	cr_assert(!exists("CATALOG"), "a local catalog was made");
}
