/*
 * test_wal.c — the write-ahead log's framing, rotation, replay and
 * checkpoints: what is appended comes back byte for byte in LSN order,
 * across files and reopenings, and the bytes on disk are the documented
 * frame (u32 length, u64 LSN, u32 CRC32C over LSN and payload).
 */
#include "wal_testutil.h"

#include <dirent.h>

#include "crc.h"
#include "helpers/tmpdir.h"

static void make_dir(void)
{
	tmpdir_make("wal");
}

TestSuite(wal, .init = make_dir, .fini = tmpdir_remove);

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const uint8_t *p)
{
	return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

static const size_t sizes[] = { 0, 1, 7, 100, 4096, 100000 };
#define NSIZES (sizeof sizes / sizeof sizes[0])

Test(wal, records_come_back_byte_for_byte_in_lsn_order)
{
	const char *dir = tmpdir_path("log");
	struct wal *w = wt_open(dir, NULL);
	uint8_t *buf = malloc(100000);
	struct wt_replay *rp;
	uint64_t lsn;

	cr_assert_eq(wal_last_lsn(w), 0);
	for (size_t i = 0; i < NSIZES; i++) {
		wt_fill(buf, sizes[i], i);
		if (i % 2 == 0) {
			cr_assert_eq(wal_append(w, buf, sizes[i], &lsn), 0, "%s", dann_errmsg());
		} else { /* the same bytes as two pieces */
			size_t h = sizes[i] / 3;
			cr_assert_eq(wal_append2(w, buf, h, buf + h, sizes[i] - h, &lsn), 0, "%s", dann_errmsg());
		}
		cr_assert_eq(lsn, i + 1);
	}
	cr_assert_eq(wal_last_lsn(w), NSIZES);
	wal_close(w);

	w = wt_open(dir, NULL);
	cr_assert_eq(wal_last_lsn(w), NSIZES);
	rp = wt_replay_all(w, 0);
	cr_assert_eq(rp->n, NSIZES);
	for (size_t i = 0; i < NSIZES; i++) {
		wt_fill(buf, sizes[i], i);
		cr_assert_eq(rp->r[i].lsn, i + 1);
		cr_assert_eq(rp->r[i].len, sizes[i]);
		cr_assert_eq(memcmp(rp->r[i].data, buf, sizes[i]), 0, "record %zu differs", i + 1);
	}
	wt_replay_free(rp);
	rp = wt_replay_all(w, 3);
	cr_assert_eq(rp->n, NSIZES - 3);
	cr_assert_eq(rp->r[0].lsn, 4);
	wt_replay_free(rp);
	cr_assert_eq(wal_append(w, "x", 1, &lsn), 0);
	cr_assert_eq(lsn, NSIZES + 1, "appends continue after the last record");
	wal_close(w);
	free(buf);
}

Test(wal, the_bytes_on_disk_are_the_documented_frame)
{
	const char *dir = tmpdir_path("log");
	struct wal *w = wt_open(dir, NULL);
	const char *a = "hello", *b = "durable world";
	uint64_t size, off = 0;
	uint8_t *f;

	cr_assert_eq(wal_append(w, a, strlen(a), NULL), 0);
	cr_assert_eq(wal_append(w, b, strlen(b), NULL), 0);
	wal_close(w);
	f = wt_read(wt_file(dir, 1), &size);
	cr_assert_eq(size, 2 * 16 + strlen(a) + strlen(b));
	for (uint64_t lsn = 1; lsn <= 2; lsn++) {
		const char *p = lsn == 1 ? a : b;
		uint32_t len = le32(f + off), crc;
		uint8_t lsnb[8];
		memcpy(lsnb, f + off + 4, 8);
		crc = crc32c(crc32c(0, lsnb, 8), p, strlen(p));
		cr_assert_eq(len, strlen(p));
		cr_assert_eq(le64(f + off + 4), lsn);
		cr_assert_eq(le32(f + off + 12), crc, "CRC32C over the LSN bytes and the payload");
		cr_assert_eq(memcmp(f + off + 16, p, len), 0);
		off += 16 + len;
	}
	free(f);
}

Test(wal, many_records_span_rotated_files_and_replay_in_order)
{
	const char *dir = tmpdir_path("log");
	struct wal_params p;
	struct wal_stats st;
	struct wt_replay *rp;
	struct wal *w;
	uint8_t buf[600];
	const size_t n = 3000;
	uint64_t lsn;
	size_t nfiles = 0;
	DIR *d;
	struct dirent *e;

	wt_params(&p, 8192);
	w = wt_open(dir, &p);
	for (size_t i = 0; i < n; i++) {
		size_t len = (i * 37) % sizeof buf;
		wt_fill(buf, len, i);
		cr_assert_eq(wal_append(w, buf, len, &lsn), 0, "%s", dann_errmsg());
		cr_assert_eq(lsn, i + 1);
	}
	wal_stats(w, &st);
	cr_assert_gt(st.files, 50, "8 KiB files: %llu", (unsigned long long)st.files);
	cr_assert_eq(st.appends, n);
	wal_close(w);

	cr_assert_not_null(d = opendir(dir));
	while ((e = readdir(d)))
		nfiles += strncmp(e->d_name, "wal-", 4) == 0;
	closedir(d);
	cr_assert_eq(nfiles, st.files);
	cr_assert(wt_exists(wt_file(dir, 1)));

	w = wt_open(dir, &p);
	cr_assert_eq(wal_last_lsn(w), n);
	rp = wt_replay_all(w, 0);
	cr_assert_eq(rp->n, n);
	for (size_t i = 0; i < n; i++) {
		size_t len = (i * 37) % sizeof buf;
		wt_fill(buf, len, i);
		cr_assert_eq(rp->r[i].lsn, i + 1);
		cr_assert_eq(rp->r[i].len, len);
		cr_assert_eq(memcmp(rp->r[i].data, buf, len), 0, "record %zu", i + 1);
	}
	wt_replay_free(rp);
	rp = wt_replay_all(w, 1234);
	cr_assert_eq(rp->n, n - 1234);
	cr_assert_eq(rp->r[0].lsn, 1235, "replay starts right after the given LSN, mid-file");
	wt_replay_free(rp);
	wal_close(w);
}

static int stop_at_5(void *arg, uint64_t lsn, const void *payload, size_t len)
{
	(void)payload, (void)len;
	*(uint64_t *)arg = lsn;
	return lsn == 5 ? 42 : 0;
}

Test(wal, replay_stops_at_the_first_nonzero_return_and_passes_it_back)
{
	const char *dir = tmpdir_path("log");
	struct wal *w = wt_open(dir, NULL);
	uint64_t seen = 0;

	for (int i = 0; i < 10; i++)
		cr_assert_eq(wal_append(w, &i, sizeof i, NULL), 0);
	cr_assert_eq(wal_replay(w, 0, stop_at_5, &seen), 42);
	cr_assert_eq(seen, 5);
	wal_close(w);
}

Test(wal, checkpoint_removes_old_files_and_replay_starts_past_it)
{
	const char *dir = tmpdir_path("log");
	struct wal_params p;
	struct wal_stats before, after;
	struct wt_replay *rp;
	struct wal *w;
	uint8_t buf[200];
	const uint64_t n = 1000, ck = 700;

	wt_params(&p, 4096);
	w = wt_open(dir, &p);
	for (uint64_t i = 0; i < n; i++) {
		wt_fill(buf, sizeof buf, i);
		cr_assert_eq(wal_append(w, buf, sizeof buf, NULL), 0);
	}
	wal_stats(w, &before);
	cr_assert_eq(wal_checkpoint(w, n + 1), DANN_EINVAL, "a checkpoint past the last record");
	cr_assert_eq(wal_checkpoint(w, ck), 0, "%s", dann_errmsg());
	wal_stats(w, &after);
	cr_assert_lt(after.files, before.files);
	cr_assert_not(wt_exists(wt_file(dir, 1)), "the first file held only records <= %llu",
		      (unsigned long long)ck);
	rp = wt_replay_all(w, 0);
	cr_assert_gt(rp->r[0].lsn, ck - 4096 / (sizeof buf + 16), "every file wholly <= %llu is gone",
		     (unsigned long long)ck);
	cr_assert_leq(rp->r[0].lsn, ck + 1, "no record past the checkpoint is gone");
	wt_replay_free(rp);
	wal_close(w);

	w = wt_open(dir, &p);
	cr_assert_eq(wal_last_lsn(w), n);
	rp = wt_replay_all(w, ck);
	cr_assert_eq(rp->n, n - ck);
	for (uint64_t i = 0; i < rp->n; i++) {
		wt_fill(buf, sizeof buf, ck + i);
		cr_assert_eq(rp->r[i].lsn, ck + 1 + i);
		cr_assert_eq(memcmp(rp->r[i].data, buf, sizeof buf), 0);
	}
	wt_replay_free(rp);
	/* Checkpointing everything keeps the current file and the LSN. */
	cr_assert_eq(wal_checkpoint(w, n), 0);
	wal_stats(w, &after);
	cr_assert_eq(after.files, 1);
	wal_close(w);
	w = wt_open(dir, &p);
	cr_assert_eq(wal_last_lsn(w), n);
	cr_assert_eq(wal_append(w, "z", 1, NULL), 0);
	cr_assert_eq(wal_last_lsn(w), n + 1);
	wal_close(w);
}

Test(wal, an_empty_file_left_by_a_crash_during_rotation_is_where_appends_go)
{
	const char *dir = tmpdir_path("log");
	struct wal *w = wt_open(dir, NULL);
	struct wt_replay *rp;
	uint64_t lsn;

	for (int i = 0; i < 3; i++)
		cr_assert_eq(wal_append(w, &i, sizeof i, NULL), 0);
	wal_close(w);
	wt_write(wt_file(dir, 4), NULL, 0);
	w = wt_open(dir, NULL);
	cr_assert_eq(wal_last_lsn(w), 3);
	cr_assert_eq(wal_append(w, "x", 1, &lsn), 0);
	cr_assert_eq(lsn, 4);
	cr_assert_eq(wt_size(wt_file(dir, 4)), 17, "the record went into the empty newest file");
	wal_close(w);
	w = wt_open(dir, NULL);
	rp = wt_replay_all(w, 0);
	cr_assert_eq(rp->n, 4);
	wt_replay_free(rp);
	wal_close(w);
}

Test(wal, rejects_a_record_over_the_limit_and_keeps_going)
{
	const char *dir = tmpdir_path("log");
	struct wal *w = wt_open(dir, NULL);
	char b = 0;

	cr_assert_eq(wal_append2(w, &b, WAL_MAX_RECORD, &b, 1, NULL), DANN_EINVAL);
	cr_assert(strstr(dann_errmsg(), "limit"), "%s", dann_errmsg());
	cr_assert_eq(wal_append(w, NULL, 5, NULL), DANN_EINVAL);
	cr_assert_eq(wal_append(w, &b, 1, NULL), 0);
	cr_assert_eq(wal_last_lsn(w), 1);
	wal_close(w);
}

Test(wal, ignores_other_files_in_its_directory)
{
	const char *dir = tmpdir_path("log");
	struct wal *w = wt_open(dir, NULL);
	char other[600];

	cr_assert_eq(wal_append(w, "a", 1, NULL), 0);
	wal_close(w);
	snprintf(other, sizeof other, "%s/wal-notanumber.log", dir);
	wt_write(other, (const uint8_t *)"junk", 4);
	w = wt_open(dir, NULL);
	cr_assert_eq(wal_last_lsn(w), 1);
	wal_close(w);
}

Test(wal, an_empty_log_starts_after_a_given_lsn_and_a_log_with_records_refuses)
{
	const char *dir = tmpdir_path("log");
	struct wal *w = wt_open(dir, NULL);
	struct wt_replay *rp;
	uint64_t lsn;

	cr_assert_eq(wal_start_after(w, 41), 0, "%s", dann_errmsg());
	cr_assert_eq(wal_last_lsn(w), 41);
	cr_assert_neq(access(wt_file(dir, 1), F_OK), 0, "the empty first file is gone");
	cr_assert_eq(wal_append(w, "x", 1, &lsn), 0, "%s", dann_errmsg());
	cr_assert_eq(lsn, 42);
	wal_close(w);
	w = wt_open(dir, NULL);
	cr_assert_eq(wal_last_lsn(w), 42);
	rp = wt_replay_all(w, 41);
	cr_assert_eq(rp->n, 1);
	wt_replay_free(rp);
	cr_assert_eq(wal_start_after(w, 100), DANN_EINVAL);
	cr_assert(strstr(dann_errmsg(), "holds records"), "%s", dann_errmsg());
	cr_assert_eq(wal_last_lsn(w), 42, "a refused call changes nothing");
	wal_close(w);
}
