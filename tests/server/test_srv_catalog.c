/*
 * test_srv_catalog.c — one data directory, two ways in: collections made
 * by the dann CLI (the library's local catalog, D/CATALOG) are imported
 * into dannd's Raft catalog (D/meta) when dannd starts, and served; an
 * import killed midway completes on the next start; a collection
 * directory no catalog knows stops dannd and is kept; the CLI on a data
 * directory dannd has used opens that Raft catalog itself, and refuses
 * while dannd runs. Searches go through the server's RPC (Python grpcio,
 * tests/python/dannd_meta.py).
 */
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "srvpy.h"
#include "srvtest.h"

#define MORE_ROWS "2000"

static char data[256], vecs[256], addr[64];

static void setup(void)
{
	tmpdir_make("srv_catalog");
	srvpy_make_stubs();
	snprintf(data, sizeof data, "%s", tmpdir_path("data"));
	snprintf(vecs, sizeof vecs, "%s", tmpdir_path("rows.fbin"));
	cr_assert_eq(srvpy_run((char *[]){ "vectors", vecs, MORE_ROWS, NULL }), 0);
}

TestSuite(srv_catalog, .init = setup, .fini = tmpdir_remove, .timeout = 300);

static int exists(const char *rel)
{
	char path[512];
	struct stat st;

	snprintf(path, sizeof path, "%s/%s", data, rel);
	return stat(path, &st) == 0;
}

/* Runs the dann CLI; asserts its exit status and returns stdout + stderr. */
static char *dann(int want, char *a1, char *a2, char *a3, char *a4, char *a5, char *a6, char *a7, char *a8)
{
	char *out = NULL, *err = NULL, *both;
	int rc = cli_run(&out, &err, a1, a2, a3, a4, a5, a6, a7, a8, NULL);

	cr_assert_eq(rc, want, "dann %s %s: exit %d, expected %d\nstdout: %s\nstderr: %s", a1, a2 ? a2 : "", rc, want,
		     out ? out : "", err ? err : "");
	both = malloc(strlen(out ? out : "") + strlen(err ? err : "") + 1);
	strcpy(both, out ? out : "");
	strcat(both, err ? err : "");
	free(out);
	free(err);
	return both;
}

static void start(struct proc_dannd *d)
{
	srvtest_start(d, data);
	snprintf(addr, sizeof addr, "127.0.0.1:%d", d->port);
}

static char *stop_log(struct proc_dannd *d)
{
	char *log = cli_slurp(d->log);

	srvtest_stop(d);
	return log ? log : strdup("");
}

Test(srv_catalog, a_collection_made_by_the_cli_is_served_by_dannd_and_kept)
{
	struct proc_dannd d;
	char *log, *out;

	free(dann(0, "collection", "create", "--data-dir", data, "--name", "lib", "--dim=16", NULL));
	free(dann(0, "insert", "--data-dir", data, "--name", "lib", "--vectors", vecs, "--first-id=0"));
	free(dann(0, "flush", "--data-dir", data, "--name", "lib", NULL, NULL, NULL));
	cr_assert(exists("c1/wal"), "the CLI's collection is not in c1");
	cr_assert(exists("CATALOG"));

	start(&d);
	cr_assert_eq(srvpy_run((char *[]){ "serve", addr, "lib", MORE_ROWS, NULL }), 0);
	/* dannd holds the catalog: the CLI says so and changes nothing */
	out = dann(1, "collection", "list", "--data-dir", data, NULL, NULL, NULL, NULL);
	cr_assert(strstr(out, "catalog is dannd's Raft catalog") && strstr(out, "stop dannd or use the server"), "%s",
		  out);
	free(out);
	log = stop_log(&d);
	cr_assert(strstr(log, "imported 1 collection(s) [lib]"), "dannd's log: %s", log);
	free(log);
	cr_assert(exists("c1/wal"), "the collection's directory is gone");
	cr_assert(!exists("CATALOG") && exists("CATALOG.imported"), "the local catalog is still authoritative");

	/* Restarted: served from the Raft catalog, nothing imported again. */
	start(&d);
	cr_assert_eq(srvpy_run((char *[]){ "verify", addr, "lib", MORE_ROWS, NULL }), 0);
	log = stop_log(&d);
	cr_assert_null(strstr(log, "imported"), "imported again: %s", log);
	free(log);

	/* dannd stopped: the CLI opens the same Raft catalog, and what it
	 * writes is what dannd serves next. */
	out = dann(0, "collection", "list", "--data-dir", data, NULL, NULL, NULL, NULL);
	cr_assert(strstr(out, "lib"), "%s", out);
	free(out);
	free(dann(0, "collection", "create", "--data-dir", data, "--name", "cli2", "--dim=16", NULL));
	free(dann(0, "insert", "--data-dir", data, "--name", "cli2", "--vectors", vecs, "--first-id=0"));
	free(dann(0, "flush", "--data-dir", data, "--name", "cli2", NULL, NULL, NULL));
	cr_assert(!exists("CATALOG"), "the CLI made a local catalog beside dannd's");
	start(&d);
	cr_assert_eq(srvpy_run((char *[]){ "serve", addr, "cli2", MORE_ROWS, NULL }), 0);
	cr_assert_eq(srvpy_run((char *[]){ "verify", addr, "lib", MORE_ROWS, NULL }), 0);
	free(stop_log(&d));
}

Test(srv_catalog, an_import_killed_midway_completes_on_the_next_start)
{
	struct proc_dannd d;
	char *log;
	int rc;

	free(dann(0, "collection", "create", "--data-dir", data, "--name", "first", "--dim=16", NULL));
	free(dann(0, "insert", "--data-dir", data, "--name", "first", "--vectors", vecs, "--first-id=0"));
	free(dann(0, "flush", "--data-dir", data, "--name", "first", NULL, NULL, NULL));
	free(dann(0, "collection", "create", "--data-dir", data, "--name", "second", "--dim=16", NULL));
	free(dann(0, "insert", "--data-dir", data, "--name", "second", "--vectors", vecs, "--first-id=0"));

	/* killed (SIGKILL) after the first collection's import */
	setenv("DANN_FAILPOINT", "import", 1);
	rc = proc_dannd_start(&d, DANND_BIN, SRVTEST_START_S, "--data-dir", data, "--listen", "127.0.0.1:0",
			      "--metrics", "", NULL);
	unsetenv("DANN_FAILPOINT");
	unlink(d.log);
	cr_assert_eq(rc, -1, "dannd started through the failpoint");
	cr_assert(exists("CATALOG"), "the local catalog was retired before the import completed");

	start(&d);
	cr_assert_eq(srvpy_run((char *[]){ "serve", addr, "first", MORE_ROWS, NULL }), 0);
	cr_assert_eq(srvpy_run((char *[]){ "serve", addr, "second", MORE_ROWS, NULL }), 0);
	log = stop_log(&d);
	cr_assert(strstr(log, "imported 2 collection(s) [first, second]") &&
		  strstr(log, "(1 already there from an interrupted import)"), "dannd's log: %s", log);
	free(log);
	cr_assert(exists("c1/wal") && exists("c2/wal"));
}

Test(srv_catalog, a_collection_directory_no_catalog_has_stops_dannd_and_is_kept)
{
	struct proc_dannd d;
	char path[512], *log;
	FILE *f;
	int rc;

	cr_assert_eq(mkdir(data, 0755), 0);
	snprintf(path, sizeof path, "%s/c5", data);
	cr_assert_eq(mkdir(path, 0755), 0);
	snprintf(path, sizeof path, "%s/c5/rows", data);
	cr_assert_not_null(f = fopen(path, "w"));
	fputs("x\n", f);
	fclose(f);
	rc = proc_dannd_start(&d, DANND_BIN, SRVTEST_START_S, "--data-dir", data, "--listen", "127.0.0.1:0",
			      "--metrics", "", NULL);
	log = cli_slurp(d.log);
	unlink(d.log);
	if (rc == 0)
		proc_dannd_stop(&d, SIGTERM, SRVTEST_STOP_S);
	cr_assert_eq(rc, -1, "dannd started beside an unknown c5");
	cr_assert(log && strstr(log, "/c5: a collection directory") && strstr(log, "nothing was removed"), "log: %s",
		  log ? log : "");
	free(log);
	cr_assert(exists("c5/rows"), "c5 was deleted");
}
