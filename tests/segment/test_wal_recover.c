/*
 * test_wal_recover.c — opening a log after a crash or damage: a torn tail
 * (cut at every offset inside the last record, or a bad checksum with
 * nothing after it) is cut, logged, and appends continue; a bad record
 * with valid ones after it is corruption named by file and offset unless
 * salvage is asked for; a missing file is corruption too.
 */
#include "wal_testutil.h"

#include "helpers/tmpdir.h"
#include "log.h"

static void make_dir(void)
{
	tmpdir_make("walrec");
}

TestSuite(wal_recover, .init = make_dir, .fini = tmpdir_remove);

#define NREC 5
#define REC_BYTES 100

/* Writes NREC records of REC_BYTES (payload seeded by the LSN) into dir;
 * offs[i] is where record i+1 starts, offs[NREC] the file size. */
static void write_log(const char *dir, uint64_t offs[NREC + 1])
{
	struct wal *w = wt_open(dir, NULL);
	uint8_t buf[REC_BYTES];

	for (uint64_t i = 0; i < NREC; i++) {
		offs[i] = i * (16 + REC_BYTES);
		wt_fill(buf, sizeof buf, i + 1);
		cr_assert_eq(wal_append(w, buf, sizeof buf, NULL), 0, "%s", dann_errmsg());
	}
	offs[NREC] = NREC * (16 + REC_BYTES);
	wal_close(w);
	cr_assert_eq(wt_size(wt_file(dir, 1)), offs[NREC]);
}

/* Reopens dir and checks that it holds records 1..n intact. */
static void expect_records(const char *dir, const struct wal_params *p, uint64_t n)
{
	struct wal *w = wt_open(dir, p);
	struct wt_replay *rp = wt_replay_all(w, 0);
	uint8_t buf[REC_BYTES];

	cr_assert_eq(wal_last_lsn(w), n);
	cr_assert_eq(rp->n, n);
	for (uint64_t i = 0; i < n; i++) {
		wt_fill(buf, sizeof buf, i + 1);
		cr_assert_eq(rp->r[i].lsn, i + 1);
		cr_assert_eq(rp->r[i].len, REC_BYTES);
		cr_assert_eq(memcmp(rp->r[i].data, buf, REC_BYTES), 0, "record %llu", (unsigned long long)i + 1);
	}
	wt_replay_free(rp);
	wal_close(w);
}

struct seen {
	char text[4096];
	size_t len;
};

static void hook(void *arg, enum dann_log_level level, const char *module, const char *msg)
{
	struct seen *s = arg;
	int n = snprintf(s->text + s->len, sizeof s->text - s->len, "%s/%s/%s;", dann_log_level_name(level),
			 module, msg);
	if (n > 0 && s->len + (size_t)n < sizeof s->text)
		s->len += (size_t)n;
}

Test(wal_recover, a_tail_cut_at_every_offset_of_the_last_record_is_cut_and_appends_continue)
{
	const char *gold = tmpdir_path("gold");
	uint64_t offs[NREC + 1], size;
	uint8_t *image, buf[REC_BYTES];
	char dir[512];

	write_log(gold, offs);
	image = wt_read(wt_file(gold, 1), &size);
	dann_log_set(hook, &(struct seen){ .len = 0 }, DANN_LOG_DEBUG);
	for (uint64_t cut = offs[NREC - 1]; cut < offs[NREC]; cut++) {
		struct wal *w;
		uint64_t lsn;

		snprintf(dir, sizeof dir, "%s/cut%llu", tmpdir_get(), (unsigned long long)cut);
		cr_assert_eq(mkdir(dir, 0755), 0);
		wt_write(wt_file(dir, 1), image, cut);
		w = wt_open(dir, NULL);
		cr_assert_eq(wal_last_lsn(w), NREC - 1, "cut at %llu", (unsigned long long)cut);
		cr_assert_eq(wt_size(wt_file(dir, 1)), offs[NREC - 1], "the file is truncated to the last good record");
		wt_fill(buf, sizeof buf, NREC);
		cr_assert_eq(wal_append(w, buf, sizeof buf, &lsn), 0, "%s", dann_errmsg());
		cr_assert_eq(lsn, NREC);
		wal_close(w);
		expect_records(dir, NULL, NREC);
	}
	dann_log_set(NULL, NULL, DANN_LOG_WARN);
	free(image);
}

Test(wal_recover, a_torn_tail_is_logged_naming_the_file_and_offset)
{
	const char *dir = tmpdir_path("log");
	struct seen s = { .len = 0 };
	uint64_t offs[NREC + 1];
	char want[600];
	struct wal *w;

	write_log(dir, offs);
	cr_assert_eq(truncate(wt_file(dir, 1), (off_t)(offs[NREC] - 3)), 0);
	dann_log_set(hook, &s, DANN_LOG_DEBUG);
	w = wt_open(dir, NULL);
	dann_log_set(NULL, NULL, DANN_LOG_WARN);
	snprintf(want, sizeof want, "warning/wal/%s: torn tail at offset %llu", wt_file(dir, 1),
		 (unsigned long long)offs[NREC - 1]);
	cr_assert(strstr(s.text, want), "log: %s", s.text);
	wal_close(w);
}

Test(wal_recover, zeros_after_the_last_record_are_cut)
{
	const char *dir = tmpdir_path("log");
	uint64_t offs[NREC + 1];

	write_log(dir, offs);
	cr_assert_eq(truncate(wt_file(dir, 1), (off_t)(offs[NREC] + 4096)), 0);
	expect_records(dir, NULL, NREC);
	cr_assert_eq(wt_size(wt_file(dir, 1)), offs[NREC]);
}

Test(wal_recover, a_bad_checksum_in_the_last_record_is_a_torn_tail)
{
	const char *dir = tmpdir_path("log");
	uint64_t offs[NREC + 1];

	write_log(dir, offs);
	wt_flip(wt_file(dir, 1), offs[NREC - 1] + 16 + 50);
	expect_records(dir, NULL, NREC - 1);
	cr_assert_eq(wt_size(wt_file(dir, 1)), offs[NREC - 1]);
}

Test(wal_recover, a_corrupt_middle_record_fails_naming_file_and_offset_and_changes_nothing)
{
	const char *dir = tmpdir_path("log");
	uint64_t offs[NREC + 1];
	struct wal *w = NULL;
	char want[600];

	write_log(dir, offs);
	/* In the payload, in the LSN and in the length of record 2. */
	const uint64_t where[] = { offs[1] + 16 + 10, offs[1] + 5, offs[1] + 1 };
	for (size_t k = 0; k < 3; k++) {
		wt_flip(wt_file(dir, 1), where[k]);
		cr_assert_eq(wal_open(dir, NULL, &w), DANN_ECORRUPT, "flip at %llu", (unsigned long long)where[k]);
		cr_assert_null(w);
		snprintf(want, sizeof want, "%s: offset %llu", wt_file(dir, 1), (unsigned long long)offs[1]);
		cr_assert(strstr(dann_errmsg(), want), "%s", dann_errmsg());
		cr_assert(strstr(dann_errmsg(), "salvage"), "the message says the way out: %s", dann_errmsg());
		cr_assert_eq(wt_size(wt_file(dir, 1)), offs[NREC], "a failed open cuts nothing");
		wt_flip(wt_file(dir, 1), where[k]);
	}
	expect_records(dir, NULL, NREC);
}

Test(wal_recover, salvage_cuts_at_the_corrupt_record)
{
	const char *dir = tmpdir_path("log");
	uint64_t offs[NREC + 1], lsn;
	struct wal_params p;
	struct wal *w;

	write_log(dir, offs);
	wt_flip(wt_file(dir, 1), offs[2] + 16);
	wt_params(&p, 0);
	p.salvage = 1;
	dann_log_set(hook, &(struct seen){ .len = 0 }, DANN_LOG_DEBUG);
	w = wt_open(dir, &p);
	dann_log_set(NULL, NULL, DANN_LOG_WARN);
	cr_assert_eq(wal_last_lsn(w), 2);
	cr_assert_eq(wt_size(wt_file(dir, 1)), offs[2]);
	cr_assert_eq(wal_append(w, "n", 1, &lsn), 0);
	cr_assert_eq(lsn, 3);
	wal_close(w);
}

/* Two files: records 1..a in the first, the rest in the second. */
static uint64_t write_two_files(const char *dir, struct wal_params *p)
{
	uint8_t buf[REC_BYTES];
	struct wal_stats st;
	struct wal *w;
	uint64_t i;

	wt_params(p, 3 * (16 + REC_BYTES));
	w = wt_open(dir, p);
	for (i = 0; i < 5; i++) {
		wt_fill(buf, sizeof buf, i + 1);
		cr_assert_eq(wal_append(w, buf, sizeof buf, NULL), 0);
	}
	wal_stats(w, &st);
	cr_assert_eq(st.files, 2);
	wal_close(w);
	cr_assert(wt_exists(wt_file(dir, 4)));
	return 3;
}

Test(wal_recover, a_bad_last_record_of_a_file_with_a_later_file_is_corruption)
{
	const char *dir = tmpdir_path("log");
	struct wal_params p;
	struct wal *w = NULL;
	uint64_t a = write_two_files(dir, &p);
	char want[600];

	wt_flip(wt_file(dir, 1), (a - 1) * (16 + REC_BYTES) + 20);
	cr_assert_eq(wal_open(dir, &p, &w), DANN_ECORRUPT);
	snprintf(want, sizeof want, "%s: offset %llu", wt_file(dir, 1), (unsigned long long)(a - 1) * (16 + REC_BYTES));
	cr_assert(strstr(dann_errmsg(), want), "%s", dann_errmsg());
	p.salvage = 1;
	dann_log_set(hook, &(struct seen){ .len = 0 }, DANN_LOG_DEBUG);
	w = wt_open(dir, &p);
	dann_log_set(NULL, NULL, DANN_LOG_WARN);
	cr_assert_eq(wal_last_lsn(w), a - 1);
	cr_assert_not(wt_exists(wt_file(dir, a + 1)), "salvage removes the files past the cut");
	wal_close(w);
	p.salvage = 0;
	expect_records(dir, &p, a - 1);
}

Test(wal_recover, a_torn_first_record_of_the_newest_file_is_cut)
{
	const char *dir = tmpdir_path("log");
	struct wal_params p;
	uint64_t a = write_two_files(dir, &p);

	/* Zeros where the first record should be: its header never got there. */
	cr_assert_eq(truncate(wt_file(dir, a + 1), 0), 0);
	cr_assert_eq(truncate(wt_file(dir, a + 1), 30), 0);
	expect_records(dir, &p, a);
	cr_assert_eq(wt_size(wt_file(dir, a + 1)), 0);
}

Test(wal_recover, a_torn_older_file_with_only_an_empty_newer_one_is_cut_there)
{
	const char *dir = tmpdir_path("log");
	struct wal_params p;
	uint64_t a = write_two_files(dir, &p), lsn;
	struct wal *w;

	cr_assert_eq(truncate(wt_file(dir, 1), (off_t)(a * (16 + REC_BYTES) - 7)), 0);
	cr_assert_eq(truncate(wt_file(dir, a + 1), 0), 0);
	dann_log_set(hook, &(struct seen){ .len = 0 }, DANN_LOG_DEBUG);
	w = wt_open(dir, &p);
	dann_log_set(NULL, NULL, DANN_LOG_WARN);
	cr_assert_eq(wal_last_lsn(w), a - 1);
	cr_assert_not(wt_exists(wt_file(dir, a + 1)), "the newer file, past the end, is removed");
	cr_assert_eq(wal_append(w, "n", 1, &lsn), 0, "%s", dann_errmsg());
	cr_assert_eq(lsn, a);
	wal_close(w);
}

Test(wal_recover, a_missing_file_in_the_middle_is_corruption)
{
	const char *dir = tmpdir_path("log");
	struct wal_params p;
	struct wal *w = NULL;
	uint8_t buf[REC_BYTES];
	char want[600];

	wt_params(&p, 2 * (16 + REC_BYTES));
	w = wt_open(dir, &p);
	for (uint64_t i = 0; i < 6; i++)
		cr_assert_eq(wal_append(w, buf, sizeof buf, NULL), 0);
	wal_close(w);
	cr_assert_eq(unlink(wt_file(dir, 3)), 0);
	w = NULL;
	cr_assert_eq(wal_open(dir, &p, &w), DANN_ECORRUPT);
	snprintf(want, sizeof want, "%s: starts at LSN 5, expected 3", wt_file(dir, 5));
	cr_assert(strstr(dann_errmsg(), want), "%s", dann_errmsg());
}

Test(wal_recover, a_file_named_for_lsn_zero_is_corruption)
{
	const char *dir = tmpdir_path("log");
	struct wal *w = NULL;

	cr_assert_eq(mkdir(dir, 0755), 0);
	wt_write(wt_file(dir, 0), NULL, 0);
	cr_assert_eq(wal_open(dir, NULL, &w), DANN_ECORRUPT);
	cr_assert(strstr(dann_errmsg(), "LSN 0"), "%s", dann_errmsg());
}
