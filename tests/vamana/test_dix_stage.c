/*
 * test_dix_stage.c — an index directory appears whole under its final name
 * or not at all, and never replaces anything already there: not at begin
 * (a clear early error) and not at commit, when a name taken during the
 * build (a directory another process made meanwhile) must survive. A plain
 * rename() would replace an empty directory there.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "error.h"
#include "vamana/dix_manifest.h"
#include "helpers/tmpdir.h"

static void setup(void)
{
	tmpdir_make("dix_stage");
}

TestSuite(dix_stage, .init = setup, .fini = tmpdir_remove);

/* Entries in the test directory other than "." and "..". */
static int entries(void)
{
	DIR *d = opendir(tmpdir_get());
	struct dirent *de;
	int n = 0;

	cr_assert_not_null(d);
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

static int is_empty_dir(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *de;
	int n = 0;

	if (!d)
		return 0;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			n++;
	closedir(d);
	return n == 0;
}

Test(dix_stage, a_commit_never_replaces_a_directory_made_during_the_build)
{
	char *final = tmpdir_path("index");
	struct dix_stage *st;

	cr_assert_eq(dix_stage_begin(final, &st), 0, "%s", dann_errmsg());
	cr_assert_eq(dix_write_small_file(dix_stage_dir(st), "ids", "12345678", 8), 0);
	cr_assert_eq(mkdir(final, 0755), 0); /* another process takes the name */
	cr_assert_eq(dix_stage_commit(st), DANN_EEXIST);
	cr_assert_not_null(strstr(dann_errmsg(), final), "%s", dann_errmsg());
	cr_assert_not_null(strstr(dann_errmsg(), "never overwritten"), "%s", dann_errmsg());
	cr_assert(is_empty_dir(final), "the directory made meanwhile was replaced");
	cr_assert_eq(entries(), 1, "the stage was left behind");
}

Test(dix_stage, a_commit_never_replaces_a_file_made_during_the_build)
{
	char *final = tmpdir_path("index");
	struct dix_stage *st;
	struct stat sb;
	FILE *fp;

	cr_assert_eq(dix_stage_begin(final, &st), 0, "%s", dann_errmsg());
	cr_assert_not_null(fp = fopen(final, "w"));
	fclose(fp);
	cr_assert_eq(dix_stage_commit(st), DANN_EEXIST);
	cr_assert_eq(stat(final, &sb), 0);
	cr_assert(S_ISREG(sb.st_mode));
	cr_assert_eq(entries(), 1);
}

Test(dix_stage, a_commit_makes_the_directory_with_its_manifest)
{
	char *final = tmpdir_path("index/");
	struct dix_manifest m;
	struct dix_stage *st;

	cr_assert_eq(dix_stage_begin(final, &st), 0, "%s", dann_errmsg());
	cr_assert_eq(dix_write_small_file(dix_stage_dir(st), "ids", "12345678", 8), 0);
	cr_assert_eq(dix_stage_commit(st), 0, "%s", dann_errmsg());
	cr_assert_eq(dix_manifest_read(tmpdir_path("index"), &m), 0, "%s", dann_errmsg());
	cr_assert_eq(m.n, 1);
	cr_assert_str_eq(m.e[0].name, "ids");
	cr_assert_eq(dix_manifest_verify(tmpdir_path("index"), &m, NULL), 0, "%s", dann_errmsg());
	cr_assert_eq(entries(), 1);
	cr_assert_eq(dix_stage_begin(final, &st), DANN_EINVAL, "begin over an existing index");
	cr_assert_not_null(strstr(dann_errmsg(), "already exists"), "%s", dann_errmsg());
}
