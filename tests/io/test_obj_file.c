/*
 * test_obj_file.c — the file:// object store: the operations every backend
 * has, durable whole-or-nothing objects, CRC-checked downloads, and whole
 * directories up and down.
 */
#include <dirent.h>
#include <sys/stat.h>

#include "obj_test.h"

static struct obj_store *open_store(void)
{
	char uri[512];
	struct obj_store *s;

	snprintf(uri, sizeof uri, "file://%s", tmpdir_path("store"));
	cr_assert_eq(obj_open(uri, NULL, &s), 0, "%s", dann_errmsg());
	cr_assert_str_eq(obj_backend_name(s), "file");
	return s;
}

static void setup(void)
{
	tmpdir_make("obj_file");
}

TestSuite(obj_file, .init = setup, .fini = tmpdir_remove);

Test(obj_file, every_operation_behaves_as_on_s3)
{
	struct obj_store *s = open_store();

	obj_check_basic_ops(s);
	obj_close(s);
}

Test(obj_file, large_files_round_trip_with_checked_crc)
{
	struct obj_store *s = open_store();

	obj_check_large_file(s, (6u << 20) + 12345, 5u << 20);
	obj_close(s);
}

Test(obj_file, rejects_bad_uris)
{
	struct obj_store *s;

	cr_assert_eq(obj_open("file://relative/dir", NULL, &s), DANN_EINVAL);
	cr_assert(strstr(dann_errmsg(), "absolute"), "%s", dann_errmsg());
	cr_assert_eq(obj_open("ftp://x/y", NULL, &s), DANN_EINVAL);
	cr_assert(strstr(dann_errmsg(), "s3://"), "%s", dann_errmsg());
	cr_assert_eq(obj_open("s3://Bad_Bucket/p", NULL, &s), DANN_EINVAL);
	cr_assert_eq(obj_open("s3://ab", NULL, &s), DANN_EINVAL);
	cr_assert(strstr(dann_errmsg(), "bucket"), "%s", dann_errmsg());
}

Test(obj_file, a_corrupted_object_is_detected_and_named)
{
	struct obj_store *s = open_store();
	const char *src = tmpdir_path("f.src"), *dst = tmpdir_path("f.dst");
	uint32_t crc = pat_file(src, 3, 100000);
	char path[512];
	int fd;

	cr_assert_eq(obj_put_file(s, "seg/1/data", src), 0, "%s", dann_errmsg());
	/* flip one byte of the stored object on disk */
	snprintf(path, sizeof path, "%s/seg/1/data", tmpdir_path("store"));
	fd = open(path, O_RDWR);
	cr_assert(fd >= 0);
	cr_assert_eq(pwrite(fd, "\x00\x01", 2, 5000), 2);
	close(fd);
	cr_assert_eq(obj_get_file(s, "seg/1/data", dst, &crc), DANN_ECORRUPT);
	cr_assert(strstr(dann_errmsg(), "seg/1/data"), "%s", dann_errmsg());
	cr_assert_neq(access(dst, F_OK), 0);
	/* without an expected CRC the bytes are handed over as they are */
	cr_assert_eq(obj_get_file(s, "seg/1/data", dst, NULL), 0, "%s", dann_errmsg());
	obj_close(s);
}

Test(obj_file, a_partial_put_is_never_an_object)
{
	struct obj_store *s = open_store();
	struct key_seen k = { 0 };
	struct obj_stat st;
	char path[512];
	int fd;

	/* what a crash mid-PUT leaves: a temporary file beside the name */
	cr_assert_eq(obj_put(s, "x/keep", "1", 1), 0);
	snprintf(path, sizeof path, "%s/x/new.obj-tmp-AbCdEf", tmpdir_path("store"));
	fd = open(path, O_WRONLY | O_CREAT, 0644);
	cr_assert(fd >= 0);
	cr_assert_eq(write(fd, "half", 4), 4);
	close(fd);
	cr_assert_eq(obj_list(s, "", note_key, &k), 0);
	cr_assert_eq(k.n, 1);
	cr_assert_str_eq(k.keys[0], "x/keep");
	cr_assert_eq(obj_head(s, "x/new", &st), DANN_ENOTFOUND);
	obj_close(s);
}

static int manifest_crc(void *arg, const char *stage, const char *name, uint32_t *crc)
{
	/* the "manifest" in this test: lines "<name> <crc hex>" */
	char path[512], line[256], n[128];
	unsigned v;
	FILE *f;

	(void)arg;
	snprintf(path, sizeof path, "%s/MANIFEST", stage);
	cr_assert_not_null(f = fopen(path, "r"), "MANIFEST is in the stage before the other files");
	while (fgets(line, sizeof line, f))
		if (sscanf(line, "%127s %x", n, &v) == 2 && strcmp(n, name) == 0) {
			fclose(f);
			*crc = v;
			return 1;
		}
	fclose(f);
	return dann_fail(DANN_ECORRUPT, "%s is not in the manifest", name);
}

static void make_segment_dir(const char *dir, uint32_t *manifest_crc_out, int corrupt_listed_crc)
{
	char p[512], m[512];
	uint32_t c1, c2;
	FILE *f;

	mkdir(dir, 0755);
	snprintf(p, sizeof p, "%s/graph", dir);
	c1 = pat_file(p, 11, 300000);
	snprintf(p, sizeof p, "%s/pq", dir);
	c2 = pat_file(p, 12, 4096);
	snprintf(m, sizeof m, "%s/MANIFEST", dir);
	f = fopen(m, "w");
	fprintf(f, "graph %08x\npq %08x\n", corrupt_listed_crc ? c1 ^ 1 : c1, c2);
	fclose(f);
	cr_assert_eq(crc32c_file(m, 0, UINT64_MAX, manifest_crc_out), 0);
}

Test(obj_file, directories_go_up_and_come_back_whole)
{
	struct obj_store *s = open_store();
	const char *src = tmpdir_path("seg"), *dst = tmpdir_path("restored");
	struct key_seen k = { 0 };
	uint32_t mcrc;
	char p[512];

	make_segment_dir(src, &mcrc, 0);
	cr_assert_eq(obj_put_dir(s, src, "coll/1/seg/5", "MANIFEST"), 0, "%s", dann_errmsg());
	cr_assert_eq(obj_list(s, "coll/1/seg/5/", note_key, &k), 0);
	cr_assert_eq(k.n, 3);
	cr_assert_eq(obj_get_dir(s, "coll/1/seg/5", dst, "MANIFEST", &mcrc, manifest_crc, NULL), 0, "%s",
		     dann_errmsg());
	snprintf(p, sizeof p, "%s/graph", dst);
	pat_check_file(p, 11, 300000);
	snprintf(p, sizeof p, "%s/pq", dst);
	pat_check_file(p, 12, 4096);
	/* the target exists now: refused, not merged */
	cr_assert_eq(obj_get_dir(s, "coll/1/seg/5", dst, "MANIFEST", &mcrc, manifest_crc, NULL), DANN_EEXIST);
	obj_close(s);
}

static int count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	cr_assert_not_null(d);
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

Test(obj_file, a_directory_download_that_fails_leaves_nothing)
{
	struct obj_store *s = open_store();
	const char *src = tmpdir_path("seg"), *dst = tmpdir_path("restored");
	uint32_t mcrc, wrong;
	int before;

	make_segment_dir(src, &mcrc, 1); /* the manifest lists a wrong CRC for graph */
	cr_assert_eq(obj_put_dir(s, src, "seg/9", "MANIFEST"), 0, "%s", dann_errmsg());
	before = count_entries(tmpdir_get());
	cr_assert_eq(obj_get_dir(s, "seg/9", dst, "MANIFEST", &mcrc, manifest_crc, NULL), DANN_ECORRUPT);
	cr_assert(strstr(dann_errmsg(), "seg/9/graph"), "%s", dann_errmsg());
	cr_assert_neq(access(dst, F_OK), 0);
	cr_assert_eq(count_entries(tmpdir_get()), before, "no stage directory left behind");
	/* the manifest itself does not match what the catalog says */
	wrong = mcrc ^ 0x100;
	cr_assert_eq(obj_get_dir(s, "seg/9", dst, "MANIFEST", &wrong, manifest_crc, NULL), DANN_ECORRUPT);
	/* an upload that never finished: files but no MANIFEST */
	cr_assert_eq(obj_delete(s, "seg/9/MANIFEST"), 0);
	cr_assert_eq(obj_get_dir(s, "seg/9", dst, "MANIFEST", NULL, manifest_crc, NULL), DANN_ENOTFOUND);
	cr_assert(strstr(dann_errmsg(), "never finished"), "%s", dann_errmsg());
	cr_assert_eq(count_entries(tmpdir_get()), before);
	obj_close(s);
}

Test(obj_file, put_dir_needs_its_last_file)
{
	struct obj_store *s = open_store();
	const char *src = tmpdir_path("seg");
	uint32_t mcrc;
	char m[512];

	make_segment_dir(src, &mcrc, 0);
	snprintf(m, sizeof m, "%s/MANIFEST", src);
	unlink(m);
	cr_assert_eq(obj_put_dir(s, src, "seg/2", "MANIFEST"), DANN_ENOTFOUND);
	cr_assert(strstr(dann_errmsg(), "MANIFEST"), "%s", dann_errmsg());
	obj_close(s);
}
