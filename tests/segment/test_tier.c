/*
 * test_tier.c — tiering of segment directories (engine/segment/tier_*):
 * real disk indexes built by `dann build`, uploaded to the file:// store or
 * to s3rver, evicted from a local cache smaller than the data, fetched back
 * and searched with the same answers; concurrent pins share one download;
 * a process killed during a download or an upload leaves nothing that is
 * taken for a segment; dropping a segment deletes its objects.
 */
#include <glob.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "helpers/cli.h"
#include "helpers/s3rver.h"
#include "io/obj_test.h"
#include "fsutil.h"
#include "segment/tier.h"
#include "vf.h"

#define NSEG 3
#define N 1500
#define DIM 32
#define NQ 20
#define K 10

static struct s3rver srv;
static int srv_up;

static void setup(void)
{
	tmpdir_make("tier");
	setenv("OMP_WAIT_POLICY", "passive", 0);
}

static void teardown(void)
{
	if (srv_up)
		s3rver_stop(&srv);
	tmpdir_remove();
}

TestSuite(tier, .init = setup, .fini = teardown, .timeout = 240);

static const char *seg_dir(unsigned i)
{
	static char p[NSEG + 1][256];

	snprintf(p[i], sizeof p[i], "%s/local/seg%u", tmpdir_get(), i);
	return p[i];
}

/* NSEG disk indexes of N rows each (different seeds), and the queries. */
static void build_segments(void)
{
	char data[256], q[256], seed[16], *err = NULL;
	unsigned i;

	snprintf(q, sizeof q, "%s/local", tmpdir_get());
	mkdir(q, 0755);
	for (i = 0; i < NSEG; i++) {
		snprintf(data, sizeof data, "%s/data%u.fbin", tmpdir_get(), i);
		snprintf(q, sizeof q, "%s/queries.fbin", tmpdir_get());
		snprintf(seed, sizeof seed, "%u", 100 + i);
		cr_assert_eq(cli_run(NULL, &err, "gen", "--n", "1500", "--dim", "32", "--out", data, "--queries", "20",
				     "--queries-out", q, "--seed", seed, "--clusters", "30", NULL),
			     0, "dann gen: %s", err);
		free(err);
		cr_assert_eq(cli_run(NULL, &err, "build", "--data", data, "--out", seg_dir(i), "-R", "16", "-L", "32",
				     "--pq-bytes", "8", "--threads", "1", NULL),
			     0, "dann build: %s", err);
		free(err);
	}
}

static uint32_t manifest_crc_of(const char *dir)
{
	char p[512];
	uint32_t crc;

	snprintf(p, sizeof p, "%s/MANIFEST", dir);
	cr_assert_eq(crc32c_file(p, 0, UINT64_MAX, &crc), 0, "%s", dann_errmsg());
	return crc;
}

/* The K nearest of every query, searched in the index at dir. */
static void search_all(const char *dir, uint32_t *ids)
{
	char q[256];
	struct dann_index *ix;
	struct dann_search_params sp;
	struct vf *f;
	float *qs = malloc(sizeof(float) * NQ * DIM), dists[K];
	uint32_t found;
	unsigned i;

	snprintf(q, sizeof q, "%s/queries.fbin", tmpdir_get());
	cr_assert_eq(vf_open(q, &f), 0, "%s", dann_errmsg());
	cr_assert_eq(vf_read_f32(f, 0, NQ, qs), 0);
	vf_close(f);
	cr_assert_eq(dann_index_open(dir, NULL, &ix), 0, "%s", dann_errmsg());
	dann_search_params_default(&sp);
	sp.k = K;
	for (i = 0; i < NQ; i++) {
		cr_assert_eq(dann_search(ix, qs + (size_t)i * DIM, &sp, ids + i * K, dists, &found, NULL), 0, "%s",
			     dann_errmsg());
		cr_assert_eq(found, K);
	}
	dann_index_close(ix);
	free(qs);
}

static struct obj_store *file_store(void)
{
	char uri[512];
	struct obj_store *s;

	snprintf(uri, sizeof uri, "file://%s/bucket", tmpdir_get());
	cr_assert_eq(obj_open(uri, NULL, &s), 0, "%s", dann_errmsg());
	return s;
}

static struct obj_store *s3_store(unsigned retry_base_ms)
{
	struct obj_config c;
	struct obj_store *s;

	s3rver_start(&srv, tmpdir_path("s3rver"), "tier", 0, 0);
	srv_up = 1;
	obj_config_default(&c);
	c.endpoint = srv.endpoint;
	c.access_key = c.secret_key = "S3RVER";
	c.path_style = 1;
	c.retry_base_ms = retry_base_ms;
	c.retry_max_ms = retry_base_ms;
	cr_assert_eq(obj_open("s3://tier/node1", &c, &s), 0, "%s", dann_errmsg());
	return s;
}

static void prefix_of(unsigned i, char *out, size_t cap)
{
	snprintf(out, cap, "coll/7/seg/%u", i);
}

static void upload_all(struct obj_store *s)
{
	char prefix[64];
	unsigned i;

	for (i = 0; i < NSEG; i++) {
		prefix_of(i, prefix, sizeof prefix);
		cr_assert_eq(tier_upload_dir(s, seg_dir(i), prefix), 0, "%s", dann_errmsg());
	}
}

static uint64_t dir_size(const char *dir)
{
	char cmd[600], *out = NULL;
	uint64_t kb;
	FILE *p;

	snprintf(cmd, sizeof cmd, "du -sb %s", dir);
	p = popen(cmd, "r");
	cr_assert(p && fscanf(p, "%llu", (unsigned long long *)&kb) == 1);
	pclose(p);
	free(out);
	return kb;
}

struct evicted {
	unsigned n;
	uint64_t ids[16];
};

static int on_evict(void *arg, uint64_t id, const char *dir)
{
	struct evicted *e = arg;

	cr_assert_eq(access(dir, F_OK), 0, "the callback runs before the directory goes");
	if (e->n < 16)
		e->ids[e->n++] = id;
	return 0;
}

Test(tier, the_cache_keeps_to_its_budget_and_evicts_the_least_recently_used)
{
	struct obj_store *s = file_store();
	struct tier_cache_params p = { 0 };
	struct tier_cache *c;
	struct tier_cache_stats st;
	struct evicted ev = { 0 };
	uint32_t before[NQ * K], after[NQ * K], crc[NSEG];
	uint64_t one;
	char prefix[64];
	unsigned i;

	build_segments();
	one = dir_size(seg_dir(0));
	for (i = 0; i < NSEG; i++)
		crc[i] = manifest_crc_of(seg_dir(i));
	search_all(seg_dir(0), before);
	p.store = s;
	p.evict = on_evict;
	p.evict_arg = &ev;
	/* not uploaded yet: never evicted, whatever the budget */
	p.budget_bytes = one / 2;
	cr_assert_eq(tier_cache_open(&p, &c), 0, "%s", dann_errmsg());
	for (i = 0; i < NSEG; i++)
		cr_assert_eq(tier_cache_add(c, i, seg_dir(i), "", crc[i]), 0, "%s", dann_errmsg());
	tier_cache_stats_get(c, &st);
	cr_assert_eq(st.local, NSEG);
	cr_assert_eq(ev.n, 0);
	tier_cache_close(c);

	/* uploaded, with room for two and a half segments */
	upload_all(s);
	p.budget_bytes = 2 * one + one / 2;
	cr_assert_eq(tier_cache_open(&p, &c), 0, "%s", dann_errmsg());
	for (i = 0; i < NSEG; i++) {
		prefix_of(i, prefix, sizeof prefix);
		cr_assert_eq(tier_cache_add(c, i, seg_dir(i), prefix, crc[i]), 0, "%s", dann_errmsg());
	}
	cr_assert_eq(ev.n, 1, "%u evicted", ev.n);
	cr_assert_eq(ev.ids[0], 0, "the oldest went");
	cr_assert_neq(access(seg_dir(0), F_OK), 0, "evicted directory removed");
	tier_cache_stats_get(c, &st);
	cr_assert_leq(st.local_bytes, p.budget_bytes);

	/* a search needs 0 again: fetched, checked, same answers; 1 makes room */
	cr_assert_eq(tier_cache_pin(c, 0), 0, "%s", dann_errmsg());
	search_all(seg_dir(0), after);
	cr_assert(memcmp(before, after, sizeof before) == 0, "a fetched segment answers as before");
	cr_assert_eq(ev.n, 2);
	cr_assert_eq(ev.ids[1], 1);
	tier_cache_unpin(c, 0);
	/* 2 is searched, then 1 is needed: 0 is now the least recently used */
	cr_assert_eq(tier_cache_pin(c, 2), 0);
	tier_cache_unpin(c, 2);
	cr_assert_eq(tier_cache_pin(c, 1), 0, "%s", dann_errmsg());
	cr_assert_eq(ev.n, 3);
	cr_assert_eq(ev.ids[2], 0);
	cr_assert_eq(tier_cache_is_local(c, 0), 0);
	cr_assert_eq(tier_cache_is_local(c, 2), 1);

	/* pinned segments stay, even above the budget, until unpinned */
	cr_assert_eq(tier_cache_pin(c, 2), 0);
	cr_assert_eq(tier_cache_pin(c, 0), 0, "%s", dann_errmsg());
	tier_cache_stats_get(c, &st);
	cr_assert_eq(st.local, 3);
	cr_assert_eq(st.pinned, 3);
	cr_assert_gt(st.local_bytes, p.budget_bytes);
	tier_cache_unpin(c, 1);
	tier_cache_unpin(c, 2);
	tier_cache_unpin(c, 0);
	tier_cache_stats_get(c, &st);
	cr_assert_eq(st.local, 2, "back within the budget once unpinned");
	cr_assert_eq(st.fetches, 3);
	cr_assert_eq(st.evictions, 4);
	tier_cache_close(c);
	obj_close(s);
}

struct pinner {
	struct tier_cache *c;
	pthread_barrier_t *bar;
	int rc;
};

static void *pin_one(void *arg)
{
	struct pinner *p = arg;

	pthread_barrier_wait(p->bar);
	p->rc = tier_cache_pin(p->c, 0);
	return NULL;
}

Test(tier, concurrent_pins_share_one_download)
{
	struct obj_store *s;
	struct tier_cache_params p = { 0 };
	struct tier_cache *c;
	struct tier_cache_stats st;
	struct pinner pins[4];
	pthread_t th[4];
	pthread_barrier_t bar;
	char prefix[64];
	uint32_t crc;
	unsigned i;

	build_segments();
	s = s3_store(300);
	crc = manifest_crc_of(seg_dir(0));
	prefix_of(0, prefix, sizeof prefix);
	cr_assert_eq(tier_upload_dir(s, seg_dir(0), prefix), 0, "%s", dann_errmsg());
	cr_assert_eq(fsu_rmtree(seg_dir(0)), 0);
	p.store = s;
	p.budget_bytes = 1ull << 30;
	cr_assert_eq(tier_cache_open(&p, &c), 0);
	cr_assert_eq(tier_cache_add(c, 0, seg_dir(0), prefix, crc), 0, "%s", dann_errmsg());
	cr_assert_eq(tier_cache_is_local(c, 0), 0);
	/* the first MANIFEST GET fails once: the download lasts past a 300 ms backoff */
	s3rver_clear(&srv);
	s3rver_fault(&srv, "{\"method\":\"GET\",\"match\":\"seg/0/MANIFEST\",\"action\":\"status\",\"status\":503}");
	pthread_barrier_init(&bar, NULL, 4);
	for (i = 0; i < 4; i++) {
		pins[i] = (struct pinner){ c, &bar, -99 };
		cr_assert_eq(pthread_create(&th[i], NULL, pin_one, &pins[i]), 0);
	}
	for (i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		cr_assert_eq(pins[i].rc, 0);
	}
	tier_cache_stats_get(c, &st);
	cr_assert_eq(st.fetches, 1, "one download for four pins");
	cr_assert_eq(st.shared + st.hits, 3);
	cr_assert_eq(s3rver_count(&srv, "GET", "seg/0/MANIFEST"), 2, "the failed attempt and its retry only");
	for (i = 0; i < 4; i++)
		tier_cache_unpin(c, 0);
	pthread_barrier_destroy(&bar);
	tier_cache_close(c);
	obj_close(s);
}

static int stage_exists(const char *dir)
{
	char pat[512];
	glob_t g;
	int n;

	snprintf(pat, sizeof pat, "%s.obj-tmp-*", dir);
	if (glob(pat, 0, NULL, &g) != 0)
		return 0;
	n = (int)g.gl_pathc;
	globfree(&g);
	return n;
}

Test(tier, a_process_killed_during_a_download_leaves_no_segment)
{
	struct obj_store *s;
	struct tier_cache_params p = { 0 };
	struct tier_cache *c;
	uint32_t before[NQ * K], after[NQ * K], crc;
	char prefix[64];
	pid_t child;
	int i;

	build_segments();
	search_all(seg_dir(0), before);
	s = s3_store(10000);
	crc = manifest_crc_of(seg_dir(0));
	prefix_of(0, prefix, sizeof prefix);
	cr_assert_eq(tier_upload_dir(s, seg_dir(0), prefix), 0, "%s", dann_errmsg());
	cr_assert_eq(fsu_rmtree(seg_dir(0)), 0);
	p.store = s;
	p.budget_bytes = 1ull << 30;
	/* the graph file's GET fails: the child sits in a 10 s backoff mid-download */
	s3rver_fault(&srv, "{\"method\":\"GET\",\"match\":\"seg/0/\",\"action\":\"status\",\"status\":503,\"skip\":2}");
	child = fork();
	cr_assert_geq(child, 0);
	if (child == 0) {
		if (tier_cache_open(&p, &c) == 0 && tier_cache_add(c, 0, seg_dir(0), prefix, crc) == 0)
			tier_cache_pin(c, 0);
		_exit(0);
	}
	for (i = 0; i < 3000 && !stage_exists(seg_dir(0)); i++)
		usleep(10000);
	cr_assert(stage_exists(seg_dir(0)), "the download started");
	usleep(200000);
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	cr_assert_neq(access(seg_dir(0), F_OK), 0, "no segment directory under its name");
	cr_assert(stage_exists(seg_dir(0)), "the partial download is left in its stage");
	/* a restart: the leftover goes, the segment comes back whole */
	s3rver_clear(&srv);
	cr_assert_eq(tier_cache_open(&p, &c), 0);
	cr_assert_eq(tier_cache_add(c, 0, seg_dir(0), prefix, crc), 0, "%s", dann_errmsg());
	cr_assert_eq(stage_exists(seg_dir(0)), 0);
	cr_assert_eq(tier_cache_pin(c, 0), 0, "%s", dann_errmsg());
	search_all(seg_dir(0), after);
	cr_assert(memcmp(before, after, sizeof before) == 0);
	tier_cache_unpin(c, 0);
	tier_cache_close(c);
	obj_close(s);
}

Test(tier, a_process_killed_during_an_upload_leaves_nothing_a_download_accepts)
{
	struct obj_store *s;
	struct tier_cache_params p = { 0 };
	struct tier_cache *c;
	char prefix[64], saved[512];
	uint32_t crc;
	pid_t child;
	int i, status;

	build_segments();
	s = s3_store(10000);
	crc = manifest_crc_of(seg_dir(0));
	prefix_of(0, prefix, sizeof prefix);
	/* the MANIFEST's PUT fails: the child waits in backoff after the other files */
	s3rver_fault(&srv, "{\"method\":\"PUT\",\"match\":\"seg/0/MANIFEST\",\"action\":\"status\",\"status\":503}");
	child = fork();
	cr_assert_geq(child, 0);
	if (child == 0)
		_exit(tier_upload_dir(s, seg_dir(0), prefix) == 0 ? 0 : 1);
	for (i = 0; i < 3000 && s3rver_count(&srv, "PUT", "seg/0/MANIFEST") == 0; i++)
		usleep(10000);
	cr_assert_eq(s3rver_count(&srv, "PUT", "seg/0/MANIFEST"), 1, "the upload reached its last file");
	kill(child, SIGKILL);
	waitpid(child, &status, 0);
	/* the data files are in the bucket, the MANIFEST is not */
	snprintf(saved, sizeof saved, "%s.saved", seg_dir(0));
	cr_assert_eq(rename(seg_dir(0), saved), 0);
	p.store = s;
	p.budget_bytes = 1ull << 30;
	cr_assert_eq(tier_cache_open(&p, &c), 0);
	cr_assert_eq(tier_cache_add(c, 0, seg_dir(0), prefix, crc), 0, "%s", dann_errmsg());
	cr_assert_eq(tier_cache_pin(c, 0), DANN_ENOTFOUND);
	cr_assert(strstr(dann_errmsg(), "never finished"), "%s", dann_errmsg());
	cr_assert_neq(access(seg_dir(0), F_OK), 0);
	/* uploaded again from the local copy, it comes back */
	cr_assert_eq(tier_upload_dir(s, saved, prefix), 0, "%s", dann_errmsg());
	cr_assert_eq(tier_cache_pin(c, 0), 0, "%s", dann_errmsg());
	tier_cache_unpin(c, 0);
	tier_cache_close(c);
	obj_close(s);
}

static int count_keys(void *arg, const char *key, uint64_t size)
{
	(void)key, (void)size;
	(*(unsigned *)arg)++;
	return 0;
}

Test(tier, a_wrong_catalog_crc_is_refused_and_removal_deletes_the_objects)
{
	struct obj_store *s = file_store();
	struct tier_cache_params p = { .store = s, .budget_bytes = 1ull << 30 };
	struct tier_cache *c;
	char prefix[64];
	unsigned n = 0;
	uint32_t crc;

	build_segments();
	crc = manifest_crc_of(seg_dir(0));
	prefix_of(0, prefix, sizeof prefix);
	cr_assert_eq(tier_upload_dir(s, seg_dir(0), prefix), 0, "%s", dann_errmsg());
	cr_assert_eq(fsu_rmtree(seg_dir(0)), 0);
	cr_assert_eq(tier_cache_open(&p, &c), 0);
	cr_assert_eq(tier_cache_add(c, 0, seg_dir(0), prefix, crc ^ 1), 0, "%s", dann_errmsg());
	cr_assert_eq(tier_cache_pin(c, 0), DANN_ECORRUPT);
	cr_assert(strstr(dann_errmsg(), "MANIFEST"), "%s", dann_errmsg());
	cr_assert_neq(access(seg_dir(0), F_OK), 0);
	cr_assert_eq(tier_cache_add(c, 0, seg_dir(0), prefix, crc), 0);
	cr_assert_eq(tier_cache_pin(c, 0), 0, "%s", dann_errmsg());
	tier_cache_unpin(c, 0);
	/* never-uploaded and not local: nothing to serve */
	cr_assert_eq(tier_cache_add(c, 9, tmpdir_path("nothing"), "", 0), DANN_ENOTFOUND);
	cr_assert_eq(tier_cache_remove(c, 0, 1), 0, "%s", dann_errmsg());
	cr_assert_neq(access(seg_dir(0), F_OK), 0);
	cr_assert_eq(obj_list(s, "coll/7/seg/0/", count_keys, &n), 0);
	cr_assert_eq(n, 0, "%u objects left", n);
	cr_assert_eq(tier_cache_pin(c, 0), DANN_ENOTFOUND);
	tier_cache_close(c);
	obj_close(s);
}

static void example_coll(struct dann_cat_coll *c)
{
	memset(c, 0, sizeof *c);
	c->id = 7;
	snprintf(c->props, sizeof c->props, "index_name=vec_idx\nloaded=1\n");
	snprintf(c->schema.name, sizeof c->schema.name, "docs \"quoted\" \\ name");
	snprintf(c->schema.pk_field, sizeof c->schema.pk_field, "id");
	snprintf(c->schema.vector_field, sizeof c->schema.vector_field, "vector");
	c->schema.dim = DIM;
	c->schema.dtype = DANN_DTYPE_F32;
	c->schema.dynamic_field = 1;
	c->schema.nfields = 2;
	snprintf(c->schema.fields[0].name, sizeof c->schema.fields[0].name, "title");
	c->schema.fields[0].type = DANN_FIELD_VARCHAR;
	c->schema.fields[0].max_length = 200;
	snprintf(c->schema.fields[1].name, sizeof c->schema.fields[1].name, "year");
	c->schema.fields[1].type = DANN_FIELD_INT32;
	c->schema.fields[1].nullable = 1;
	c->schema.fields[1].def = (struct dann_default){ .type = DANN_FIELD_INT32, .i = -9007199254740993ll };
	c->schema.index.metric = DANN_METRIC_L2;
	c->schema.index.R = 16;
	c->schema.index.L = 32;
	c->schema.index.alpha = 1.2f;
	c->schema.seal_rows = 1500;
}

Test(tier, a_data_dir_is_restored_from_the_bucket_alone)
{
	struct obj_store *s = file_store();
	struct dann_cat_coll coll;
	struct dann_cat_segment segs[NSEG + 2];
	struct tier_snapshot snap;
	uint32_t before[NSEG][NQ * K], after[NQ * K];
	char restored_dir[512], d[600];
	uint64_t n;
	unsigned i;

	build_segments();
	upload_all(s);
	example_coll(&coll);
	memset(segs, 0, sizeof segs);
	for (i = 0; i < NSEG; i++) {
		search_all(seg_dir(i), before[i]);
		segs[i].id = 100 + i;
		segs[i].coll_id = 7;
		segs[i].state = DANN_SEG_FLUSHED;
		segs[i].rows = N;
		segs[i].first_lsn = 10 * i + 1;
		segs[i].last_lsn = 10 * i + 9;
		segs[i].manifest_crc = manifest_crc_of(seg_dir(i));
		snprintf(segs[i].files, sizeof segs[i].files, "c7/s%u", 100 + i);
		prefix_of(i, segs[i].object_key, sizeof segs[i].object_key);
	}
	/* left out of the snapshot: a growing segment, a flushed one not yet uploaded */
	segs[NSEG] = (struct dann_cat_segment){ .id = 200, .coll_id = 7, .state = DANN_SEG_GROWING };
	segs[NSEG + 1] = (struct dann_cat_segment){ .id = 201, .coll_id = 7, .state = DANN_SEG_FLUSHED };
	cr_assert_eq(tier_snapshot_put(s, "coll/7/" TIER_SNAPSHOT, &coll, segs, NSEG + 2), 0, "%s", dann_errmsg());

	cr_assert_eq(tier_snapshot_get(s, "coll/7/" TIER_SNAPSHOT, &snap), 0, "%s", dann_errmsg());
	cr_assert_eq(snap.coll.id, 7);
	cr_assert_str_eq(snap.coll.props, coll.props);
	cr_assert_str_eq(snap.coll.schema.name, coll.schema.name);
	cr_assert_eq(snap.coll.schema.dim, DIM);
	cr_assert_eq(snap.coll.schema.nfields, 2);
	cr_assert_str_eq(snap.coll.schema.fields[1].name, "year");
	cr_assert_eq(snap.coll.schema.fields[1].type, DANN_FIELD_INT32);
	cr_assert_eq(snap.coll.schema.fields[1].nullable, 1);
	cr_assert_eq(snap.coll.schema.fields[1].def.type, DANN_FIELD_INT32);
	cr_assert_eq(snap.coll.schema.fields[1].def.i, -9007199254740993ll, "an int64 default kept exactly");
	cr_assert_eq(snap.coll.schema.fields[0].def.type, 0, "no default stays none");
	cr_assert_float_eq(snap.coll.schema.index.alpha, 1.2f, 1e-6);
	cr_assert_eq(snap.nsegs, NSEG);
	for (i = 0; i < NSEG; i++) {
		cr_assert_eq(snap.segs[i].id, segs[i].id);
		cr_assert_eq(snap.segs[i].last_lsn, segs[i].last_lsn);
		cr_assert_eq(snap.segs[i].manifest_crc, segs[i].manifest_crc);
		cr_assert_str_eq(snap.segs[i].files, segs[i].files);
		cr_assert_str_eq(snap.segs[i].object_key, segs[i].object_key);
	}

	/* a fresh data dir from the bucket: the same answers */
	snprintf(restored_dir, sizeof restored_dir, "%s/fresh", tmpdir_get());
	cr_assert_eq(tier_restore(s, &snap, restored_dir, &n), 0, "%s", dann_errmsg());
	cr_assert_eq(n, NSEG);
	for (i = 0; i < NSEG; i++) {
		snprintf(d, sizeof d, "%s/c7/s%u", restored_dir, 100 + i);
		search_all(d, after);
		cr_assert(memcmp(before[i], after, sizeof after) == 0, "restored segment %u answers as the original", i);
	}
	cr_assert_eq(tier_restore(s, &snap, restored_dir, &n), 0, "%s", dann_errmsg());
	cr_assert_eq(n, 0, "segments already there are kept");
	tier_snapshot_free(&snap);
	obj_close(s);
}

Test(tier, a_damaged_or_hostile_snapshot_is_refused)
{
	struct obj_store *s = file_store();
	struct dann_cat_coll coll;
	struct tier_snapshot snap;
	const char *json = "{\"coll_id\":\"7\",\"props\":\"\",\"schema\":{\"name\":\"x\",\"description\":\"\","
			   "\"pk_field\":\"id\",\"vector_field\":\"v\",\"dim\":4,\"dtype\":0,\"auto_id\":0,"
			   "\"dynamic_field\":0,\"seal_rows\":0,\"seal_bytes\":0,\"index\":{\"metric\":0,\"R\":8,"
			   "\"L\":8,\"alpha\":1.2,\"pq_bytes\":0,\"build_ram_gib\":0},\"fields\":[]},"
			   "\"segments\":[{\"id\":\"1\",\"rows\":\"5\",\"first_lsn\":\"1\",\"last_lsn\":\"2\","
			   "\"manifest_crc\":\"0000abcd\",\"files\":\"../../etc\",\"object_key\":\"coll/7/seg/1\"}]}";
	char buf[2048], path[512];
	int len, fd;

	example_coll(&coll);
	cr_assert_eq(tier_snapshot_put(s, "snap", &coll, NULL, 0), 0, "%s", dann_errmsg());
	cr_assert_eq(tier_snapshot_get(s, "snap", &snap), 0, "%s", dann_errmsg());
	cr_assert_eq(snap.nsegs, 0);
	tier_snapshot_free(&snap);
	/* one byte changed on the store's disk */
	snprintf(path, sizeof path, "%s/bucket/snap", tmpdir_get());
	cr_assert((fd = open(path, O_RDWR)) >= 0);
	cr_assert_eq(pwrite(fd, "X", 1, 40), 1);
	close(fd);
	cr_assert_eq(tier_snapshot_get(s, "snap", &snap), DANN_ECORRUPT);
	cr_assert(strstr(dann_errmsg(), "checksum"), "%s", dann_errmsg());
	/* well formed, checksummed, but pointing outside the data dir */
	len = snprintf(buf, sizeof buf, "DANNSNAP 1 %08x\n%s", crc32c(0, json, strlen(json)), json);
	cr_assert_eq(obj_put(s, "evil", buf, (size_t)len), 0);
	cr_assert_eq(tier_snapshot_get(s, "evil", &snap), DANN_ECORRUPT);
	cr_assert(strstr(dann_errmsg(), "../../etc") && strstr(dann_errmsg(), "relative"), "%s", dann_errmsg());
	cr_assert_eq(tier_snapshot_get(s, "missing", &snap), DANN_ENOTFOUND);
	obj_close(s);
}

/* index.opq in the snapshot (issue 16): kept; a snapshot written before
 * OPQ (no "opq" key) reads as plain PQ; a value other than 0 or 1 is
 * refused. */
Test(tier, a_snapshot_keeps_opq_and_an_older_one_reads_as_plain_pq)
{
	struct obj_store *s = file_store();
	struct dann_cat_coll coll;
	struct tier_snapshot snap;
	const char *fmt = "{\"coll_id\":\"7\",\"props\":\"\",\"schema\":{\"name\":\"x\",\"description\":\"\","
			  "\"pk_field\":\"id\",\"vector_field\":\"v\",\"dim\":4,\"dtype\":0,\"auto_id\":0,"
			  "\"dynamic_field\":0,\"seal_rows\":0,\"seal_bytes\":0,\"index\":{\"metric\":0,\"R\":8,"
			  "\"L\":8,\"alpha\":1.2,\"pq_bytes\":0,\"build_ram_gib\":0%s},\"fields\":[]},"
			  "\"segments\":[]}";
	char json[1024], buf[2048];
	int len;

	example_coll(&coll);
	coll.schema.index.opq = 1;
	cr_assert_eq(tier_snapshot_put(s, "snap", &coll, NULL, 0), 0, "%s", dann_errmsg());
	cr_assert_eq(tier_snapshot_get(s, "snap", &snap), 0, "%s", dann_errmsg());
	cr_assert_eq(snap.coll.schema.index.opq, 1);
	tier_snapshot_free(&snap);

	snprintf(json, sizeof json, fmt, "");
	len = snprintf(buf, sizeof buf, "DANNSNAP 1 %08x\n%s", crc32c(0, json, strlen(json)), json);
	cr_assert_eq(obj_put(s, "old", buf, (size_t)len), 0);
	cr_assert_eq(tier_snapshot_get(s, "old", &snap), 0, "%s", dann_errmsg());
	cr_assert_eq(snap.coll.schema.index.opq, 0);
	tier_snapshot_free(&snap);

	snprintf(json, sizeof json, fmt, ",\"opq\":5");
	len = snprintf(buf, sizeof buf, "DANNSNAP 1 %08x\n%s", crc32c(0, json, strlen(json)), json);
	cr_assert_eq(obj_put(s, "bad", buf, (size_t)len), 0);
	cr_assert_eq(tier_snapshot_get(s, "bad", &snap), DANN_ECORRUPT);
	cr_assert(strstr(dann_errmsg(), "\"opq\""), "%s", dann_errmsg());
	obj_close(s);
}
