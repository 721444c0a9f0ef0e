/*
 * bench/dannd.c — load generator for dannd on the gRPC core client API,
 * against in-process search on the same collection, in one run.
 *
 *   bench_dannd --dannd BIN --work DIR --base F --queries F --gt F.ibin
 *               [--clients 64] [--batch 100] [--seconds 10] [-L 100] [-k 10]
 *               [--dannd-config FILE]... [--base-dannd BIN] [--client-threads N]
 *               [--rounds 1]
 *
 * 1. In process: opens DIR/data, creates collection "bench" from the base
 *    file (once; kept for later runs), flushes it, and runs --clients
 *    threads of single-query dann_coll_search for --seconds. The first
 *    run makes it in the local catalog, which dannd imports into its Raft
 *    catalog (D/meta) when it starts; later runs open that catalog
 *    (tools/datadir.h).
 * 2. Starts dannd on DIR/data (a free loopback port; --dannd-config passed
 *    to it as --config, e.g. "search_inflight = 0" for one blocking search
 *    per RPC) and drives it with --clients threads, each on its own
 *    channel, one Search RPC with one query at a time (blocking unary calls
 *    on a pluck queue); then (first round only) with two threads sending
 *    --batch queries per RPC. --dannd-config given several times (up to
 *    4): one dannd after the other, each with its own config, so that
 *    configurations compare in one run. --base-dannd adds one more: the
 *    previous build's dannd with its defaults, so a change to dannd is
 *    measured against the build before it in the same run.
 * --rounds N repeats 1 and 2 (the configs in reverse order every other
 * round, so none always runs first) and ends with each mode's medians.
 * Prints one JSON object per mode: QPS, p50/p99 latency (ms), recall@k
 * against the ground truth, and the ratio of dannd's single-query QPS to
 * in-process QPS. Figures only: nothing passes or fails on them. dannd
 * never outlives the run: every exit kills it (atexit), and it dies with
 * the benchmark if that is killed (PR_SET_PDEATHSIG).
 */
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/support/alloc.h>
#include <grpc/support/time.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/prctl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common.pb-c.h"
#include "dann.h"
#include "datadir.h"
#include "milvus.pb-c.h"
#include "vf.h"

#define COLL "bench"
#define INSERT_BATCH 10000
#define MAX_CLIENTS 1024
#define SEARCH_PATH "/milvus.proto.milvus.MilvusService/Search"
#define RPC_TIMEOUT_S 60
#define DANND_STOP_S 30
#define MAX_CONFIGS 4
#define MAX_ROUNDS 15

/* The dannd this run started (0: none), for the exit handler. */
static pid_t dannd_pid;

struct opts {
	const char *dannd, *work, *base, *queries, *gt;
	const char *configs[MAX_CONFIGS + 1]; /* --dannd-config, in order */
	const char *bins[MAX_CONFIGS + 1];    /* the dannd of each (--dannd, or --base-dannd last) */
	const char *base_dannd;
	uint32_t nconfigs, rounds;
	uint32_t clients, batch, seconds, L, k;
	uint32_t client_threads;           /* 0: a thread per client (blocking calls) */
};

struct data {
	float *q;                  /* nq * dim */
	int32_t *gt;               /* nq * gt_k */
	uint32_t nq, dim, gt_k;
};

struct run {
	const struct opts *o;
	const struct data *d;
	struct dann_coll *coll;    /* in-process */
	char target[64];           /* dannd */
	uint8_t **req;             /* encoded SearchRequest per query (or per batch) */
	size_t *req_len;
	uint32_t nreq;
	uint32_t per_req;          /* queries per request */
	atomic_uint next;
	uint64_t end_ns;
	/* results */
	pthread_mutex_t mu;
	double *lat_ms;
	size_t nlat, cap;
	int64_t *first;            /* nq * k: the first answer to each query */
	uint8_t *have;
	atomic_int failed;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Every exit path (die, a failed measure, main's end) stops dannd. */
static void stop_dannd_at_exit(void)
{
	if (dannd_pid > 0) {
		kill(dannd_pid, SIGKILL);
		waitpid(dannd_pid, NULL, 0);
		dannd_pid = 0;
	}
}

/* SIGTERM, then SIGKILL after DANND_STOP_S; dannd's exit status (1 if killed). */
static int stop_dannd(void)
{
	int status = 0;

	kill(dannd_pid, SIGTERM);
	for (int i = 0; i < DANND_STOP_S * 10; i++) {
		if (waitpid(dannd_pid, &status, WNOHANG) == dannd_pid) {
			dannd_pid = 0;
			return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
		}
		usleep(100000);
	}
	fprintf(stderr, "bench_dannd: dannd did not stop within %d s of SIGTERM: killed\n", DANND_STOP_S);
	stop_dannd_at_exit();
	return 1;
}

static void die(const char *what)
{
	fprintf(stderr, "bench_dannd: %s: %s\n", what, dann_errmsg());
	exit(1);
}

static void record(struct run *r, uint32_t q0, uint32_t nq, const int64_t *keys, const uint32_t *found,
		   double ms)
{
	pthread_mutex_lock(&r->mu);
	if (r->nlat == r->cap) {
		r->cap = r->cap ? 2 * r->cap : 1 << 16;
		r->lat_ms = realloc(r->lat_ms, r->cap * sizeof *r->lat_ms);
	}
	r->lat_ms[r->nlat++] = ms;
	for (uint32_t i = 0; i < nq; i++) {
		uint32_t q = q0 + i;
		if (r->have[q])
			continue;
		r->have[q] = 1;
		for (uint32_t j = 0; j < r->o->k; j++)
			r->first[(size_t)q * r->o->k + j] = j < found[i] ? keys[(size_t)i * r->o->k + j] : -1;
	}
	pthread_mutex_unlock(&r->mu);
}

static void *inproc_client(void *arg)
{
	struct run *r = arg;
	struct dann_coll_search_params sp;
	int64_t keys[1024];
	float dists[1024];
	uint32_t found;

	dann_coll_search_params_default(&sp);
	sp.k = r->o->k;
	sp.L = r->o->L;
	while (now_ns() < r->end_ns) {
		uint32_t q = atomic_fetch_add(&r->next, 1) % r->d->nq;
		uint64_t t0 = now_ns();
		if (dann_coll_search(r->coll, r->d->q + (size_t)q * r->d->dim, &sp, keys, dists, &found, NULL) < 0) {
			atomic_store(&r->failed, 1);
			break;
		}
		record(r, q, 1, keys, &found, (double)(now_ns() - t0) / 1e6);
	}
	return NULL;
}

/* A finished call's answer: its ids and topks into keys/found. 0, or -1
 * with the reason on stderr. */
static int parse_results(grpc_status_code status, grpc_slice details, grpc_byte_buffer *recv, uint32_t nq,
			 uint32_t k, int64_t *keys, uint32_t *found)
{
	int rc = -1;

	if (status == GRPC_STATUS_OK && recv) {
		grpc_byte_buffer_reader rd;
		grpc_slice all;
		Milvus__Proto__Milvus__SearchResults *res;
		grpc_byte_buffer_reader_init(&rd, recv);
		all = grpc_byte_buffer_reader_readall(&rd);
		grpc_byte_buffer_reader_destroy(&rd);
		res = milvus__proto__milvus__search_results__unpack(NULL, GRPC_SLICE_LENGTH(all), GRPC_SLICE_START_PTR(all));
		if (res && res->status && res->status->code == 0 && res->results && res->results->n_topks == nq &&
		    res->results->ids && res->results->ids->int_id) {
			size_t at = 0;
			for (uint32_t i = 0; i < nq; i++) {
				found[i] = (uint32_t)res->results->topks[i];
				for (uint32_t j = 0; j < found[i] && j < k; j++)
					keys[(size_t)i * k + j] = res->results->ids->int_id->data[at + j];
				at += found[i];
			}
			rc = 0;
		} else if (res && res->status) {
			fprintf(stderr, "bench_dannd: search: %s\n", res->status->reason);
		}
		if (res)
			milvus__proto__milvus__search_results__free_unpacked(res, NULL);
		grpc_slice_unref(all);
	} else if (status != GRPC_STATUS_OK) {
		char *msg = grpc_slice_to_c_string(details);
		fprintf(stderr, "bench_dannd: search: grpc %d %s\n", status, msg);
		gpr_free(msg);
	}
	return rc;
}

/* One unary call in flight: its buffers and where its status goes. */
struct call_state {
	grpc_call *call;
	grpc_byte_buffer *send, *recv;
	grpc_metadata_array init_md, trail_md;
	grpc_status_code status;
	grpc_slice details;
	int started;                       /* the batch was accepted: details will be set */
};

/* Starts a Search call with req on ch, its completion tagged tag on cq. */
static int call_start(struct call_state *c, grpc_channel *ch, grpc_completion_queue *cq, const uint8_t *req,
		      size_t len, void *tag)
{
	grpc_slice method = grpc_slice_from_static_string(SEARCH_PATH);
	gpr_timespec deadline = gpr_time_add(gpr_now(GPR_CLOCK_REALTIME), gpr_time_from_seconds(RPC_TIMEOUT_S, GPR_TIMESPAN));
	grpc_slice body = grpc_slice_from_copied_buffer((const char *)req, len);
	grpc_op ops[6];

	memset(c, 0, sizeof *c);
	c->call = grpc_channel_create_call(ch, NULL, GRPC_PROPAGATE_DEFAULTS, cq, method, NULL, deadline, NULL);
	c->send = grpc_raw_byte_buffer_create(&body, 1);
	c->status = GRPC_STATUS_UNKNOWN;
	grpc_slice_unref(body);
	grpc_metadata_array_init(&c->init_md);
	grpc_metadata_array_init(&c->trail_md);
	memset(ops, 0, sizeof ops);
	ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
	ops[1].op = GRPC_OP_SEND_MESSAGE;
	ops[1].data.send_message.send_message = c->send;
	ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
	ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
	ops[3].data.recv_initial_metadata.recv_initial_metadata = &c->init_md;
	ops[4].op = GRPC_OP_RECV_MESSAGE;
	ops[4].data.recv_message.recv_message = &c->recv;
	ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
	ops[5].data.recv_status_on_client.trailing_metadata = &c->trail_md;
	ops[5].data.recv_status_on_client.status = &c->status;
	ops[5].data.recv_status_on_client.status_details = &c->details;
	c->started = grpc_call_start_batch(c->call, ops, 6, tag, NULL) == GRPC_CALL_OK;
	return c->started ? 0 : -1;
}

/* The call's answer (ok: its batch completed) into keys/found; frees it. */
static int call_finish(struct call_state *c, int ok, uint32_t nq, uint32_t k, int64_t *keys, uint32_t *found)
{
	int rc = ok ? parse_results(c->status, c->details, c->recv, nq, k, keys, found) : -1;

	if (c->started)
		grpc_slice_unref(c->details);
	if (c->recv)
		grpc_byte_buffer_destroy(c->recv);
	grpc_byte_buffer_destroy(c->send);
	grpc_metadata_array_destroy(&c->init_md);
	grpc_metadata_array_destroy(&c->trail_md);
	grpc_call_unref(c->call);
	return rc;
}

/* One blocking unary Search call. */
static int rpc_search(grpc_channel *ch, grpc_completion_queue *cq, const uint8_t *req, size_t len,
		      uint32_t nq, uint32_t k, int64_t *keys, uint32_t *found)
{
	struct call_state c;
	grpc_event ev;
	char tag;

	if (call_start(&c, ch, cq, req, len, &tag) < 0) {
		call_finish(&c, 0, nq, k, keys, found);
		return -1;
	}
	ev = grpc_completion_queue_pluck(cq, &tag, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
	return call_finish(&c, ev.type == GRPC_OP_COMPLETE && ev.success, nq, k, keys, found);
}

static void *rpc_client(void *arg)
{
	struct run *r = arg;
	grpc_channel_credentials *creds = grpc_insecure_credentials_create();
	grpc_channel *ch = grpc_channel_create(r->target, creds, NULL);
	grpc_completion_queue *cq = grpc_completion_queue_create_for_pluck(NULL);
	uint32_t per = r->per_req, k = r->o->k, nreq = r->d->nq / per;
	int64_t *keys = malloc((size_t)per * k * sizeof *keys);
	uint32_t *found = malloc(per * sizeof *found);

	while (now_ns() < r->end_ns && !atomic_load(&r->failed)) {
		uint32_t i = atomic_fetch_add(&r->next, 1) % nreq;
		uint64_t t0 = now_ns();
		if (rpc_search(ch, cq, r->req[i], r->req_len[i], per, k, keys, found) < 0) {
			atomic_store(&r->failed, 1);
			break;
		}
		record(r, i * per, per, keys, found, (double)(now_ns() - t0) / 1e6);
	}
	free(keys);
	free(found);
	grpc_completion_queue_shutdown(cq);
	while (grpc_completion_queue_pluck(cq, NULL, gpr_inf_future(GPR_CLOCK_REALTIME), NULL).type != GRPC_QUEUE_SHUTDOWN)
		;
	grpc_completion_queue_destroy(cq);
	grpc_channel_destroy(ch);
	grpc_channel_credentials_release(creds);
	return NULL;
}

/* --client-threads N: the --clients clients as calls on one completion
 * queue that N threads poll, each client starting its next call when its
 * last one is answered. Still --clients single-query clients, each on its
 * own channel with one call at a time, but without a thread blocked in
 * each: on a 2-core machine the load generator shares the cores with
 * dannd, and 64 threads switching per call cost it a share that a client
 * on another machine would not take. */
struct aslot {
	grpc_channel *ch;
	struct call_state c;
	uint32_t req;
	uint64_t t0;
	int64_t *keys;
	uint32_t *found;
};

struct async_run {
	struct run *r;
	grpc_completion_queue *cq;
	atomic_uint live;                  /* slots with a call in flight */
};

/* Starts sl's next call unless time is up: 1 started, 0 not. */
static int slot_next(struct async_run *a, struct aslot *sl)
{
	struct run *r = a->r;

	if (now_ns() >= r->end_ns || atomic_load(&r->failed))
		return 0;
	sl->req = atomic_fetch_add(&r->next, 1) % (r->d->nq / r->per_req);
	sl->t0 = now_ns();
	if (call_start(&sl->c, sl->ch, a->cq, r->req[sl->req], r->req_len[sl->req], sl) < 0) {
		call_finish(&sl->c, 0, r->per_req, r->o->k, sl->keys, sl->found);
		atomic_store(&r->failed, 1);
		return 0;
	}
	return 1;
}

static void *async_poller(void *arg)
{
	struct async_run *a = arg;
	struct run *r = a->r;

	for (;;) {
		grpc_event ev = grpc_completion_queue_next(a->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
		struct aslot *sl;
		if (ev.type == GRPC_QUEUE_SHUTDOWN)
			break;
		if (ev.type != GRPC_OP_COMPLETE)
			continue;
		sl = ev.tag;
		if (call_finish(&sl->c, ev.success, r->per_req, r->o->k, sl->keys, sl->found) < 0)
			atomic_store(&r->failed, 1);
		else
			record(r, sl->req * r->per_req, r->per_req, sl->keys, sl->found,
			       (double)(now_ns() - sl->t0) / 1e6);
		if (!slot_next(a, sl) && atomic_fetch_sub(&a->live, 1) == 1)
			grpc_completion_queue_shutdown(a->cq);
	}
	return NULL;
}

/* measure()'s one "thread" in async mode: sets up the clients, polls with
 * --client-threads threads until every client's last call is answered. */
static void *async_client(void *arg)
{
	struct run *r = arg;
	uint32_t n = r->o->clients, nthreads = r->o->client_threads;
	grpc_channel_credentials *creds = grpc_insecure_credentials_create();
	struct aslot *slots = calloc(n, sizeof *slots);
	struct async_run a = { .r = r, .cq = grpc_completion_queue_create_for_next(NULL) };
	pthread_t th[MAX_CLIENTS];

	for (uint32_t i = 0; i < n; i++) {
		slots[i].ch = grpc_channel_create(r->target, creds, NULL);
		slots[i].keys = malloc((size_t)r->per_req * r->o->k * sizeof *slots[i].keys);
		slots[i].found = malloc(r->per_req * sizeof *slots[i].found);
	}
	atomic_store(&a.live, n);
	for (uint32_t i = 0; i < n; i++)
		if (!slot_next(&a, &slots[i]) && atomic_fetch_sub(&a.live, 1) == 1)
			grpc_completion_queue_shutdown(a.cq);
	for (uint32_t i = 1; i < nthreads; i++)
		pthread_create(&th[i], NULL, async_poller, &a);
	async_poller(&a);
	for (uint32_t i = 1; i < nthreads; i++)
		pthread_join(th[i], NULL);
	grpc_completion_queue_destroy(a.cq);
	for (uint32_t i = 0; i < n; i++) {
		grpc_channel_destroy(slots[i].ch);
		free(slots[i].keys);
		free(slots[i].found);
	}
	free(slots);
	grpc_channel_credentials_release(creds);
	return NULL;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

struct figures {
	double qps, p50_ms, p99_ms, recall;
};

/* Runs nthreads of fn for the time set, prints the JSON row. */
static struct figures measure(struct run *r, void *(*fn)(void *), uint32_t nthreads, const char *mode)
{
	pthread_t th[MAX_CLIENTS];
	uint64_t t0;
	double secs, qps, recall = 0;
	size_t hits = 0, counted = 0;

	r->nlat = 0;
	atomic_store(&r->next, 0);
	atomic_store(&r->failed, 0);
	memset(r->have, 0, r->d->nq);
	t0 = now_ns();
	r->end_ns = t0 + (uint64_t)r->o->seconds * 1000000000ull;
	for (uint32_t i = 0; i < nthreads; i++)
		pthread_create(&th[i], NULL, fn, r);
	for (uint32_t i = 0; i < nthreads; i++)
		pthread_join(th[i], NULL);
	secs = (double)(now_ns() - t0) / 1e9;
	if (atomic_load(&r->failed) || !r->nlat) {
		fprintf(stderr, "bench_dannd: %s: a search failed\n", mode);
		exit(1);
	}
	qsort(r->lat_ms, r->nlat, sizeof *r->lat_ms, cmp_double);
	for (uint32_t q = 0; q < r->d->nq; q++) {
		if (!r->have[q])
			continue;
		counted++;
		for (uint32_t j = 0; j < r->o->k; j++)
			for (uint32_t g = 0; g < r->o->k && g < r->d->gt_k; g++)
				if (r->first[(size_t)q * r->o->k + j] == r->d->gt[(size_t)q * r->d->gt_k + g]) {
					hits++;
					break;
				}
	}
	recall = counted ? (double)hits / (double)(counted * r->o->k) : 0;
	qps = (double)r->nlat * r->per_req / secs;
	printf("{\"mode\": \"%s\", \"threads\": %u, \"queries_per_rpc\": %u, \"L\": %u, \"qps\": %.1f, "
	       "\"p50_ms\": %.3f, \"p99_ms\": %.3f, \"recall_at_%u\": %.4f}\n",
	       mode, fn == async_client ? r->o->clients : nthreads, r->per_req, r->o->L, qps, r->lat_ms[r->nlat / 2],
	       r->lat_ms[(size_t)((double)r->nlat * 0.99)], r->o->k, recall);
	fflush(stdout);
	return (struct figures){ qps, r->lat_ms[r->nlat / 2], r->lat_ms[(size_t)((double)r->nlat * 0.99)], recall };
}

static double median(double *v, uint32_t n)
{
	qsort(v, n, sizeof *v, cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* One JSON row of the medians over n rounds of f, and of ratio. */
static void print_medians(const char *mode, const struct figures *f, const double *ratio, uint32_t n)
{
	double q[MAX_ROUNDS], a[MAX_ROUNDS], b[MAX_ROUNDS], c[MAX_ROUNDS], x[MAX_ROUNDS];

	for (uint32_t i = 0; i < n; i++) {
		q[i] = f[i].qps;
		a[i] = f[i].p50_ms;
		b[i] = f[i].p99_ms;
		c[i] = f[i].recall;
		x[i] = ratio ? ratio[i] : 1;
	}
	printf("{\"mode\": \"median of %u rounds: %s\", \"qps\": %.1f, \"p50_ms\": %.3f, \"p99_ms\": %.3f, "
	       "\"recall\": %.4f, \"over_inprocess\": %.3f}\n", n, mode, median(q, n), median(a, n), median(b, n),
	       median(c, n), median(x, n));
}

static void load_data(const struct opts *o, struct data *d)
{
	struct vf *qf, *gf;

	if (vf_open(o->queries, &qf) < 0 || vf_open(o->gt, &gf) < 0)
		die("queries / ground truth");
	d->nq = (uint32_t)vf_count(qf);
	d->dim = vf_dim(qf);
	d->gt_k = vf_dim(gf);
	d->q = malloc((size_t)d->nq * d->dim * sizeof *d->q);
	d->gt = malloc((size_t)d->nq * d->gt_k * sizeof *d->gt);
	if (vf_read_f32(qf, 0, d->nq, d->q) < 0 || vf_read(gf, 0, d->nq, d->gt) < 0)
		die("reading queries / ground truth");
	vf_close(qf);
	vf_close(gf);
}

/* The collection, built from the base file on the first run. */
static void prepare(const struct opts *o, struct dann_db *db, struct dann_coll **out)
{
	struct dann_schema s;
	struct vf *bf;
	void *rows;
	int64_t *keys;

	if (dann_coll_get(db, COLL, out) == 0)
		return;
	if (vf_open(o->base, &bf) < 0)
		die("base");
	dann_schema_default(&s);
	snprintf(s.name, sizeof s.name, COLL);
	s.dim = vf_dim(bf);
	s.dtype = DANN_DTYPE_F32;
	if (dann_coll_create(db, &s) < 0 || dann_coll_get(db, COLL, out) < 0)
		die("create");
	rows = malloc((size_t)INSERT_BATCH * s.dim * sizeof(float));
	keys = malloc(INSERT_BATCH * sizeof *keys);
	for (uint64_t first = 0; first < vf_count(bf); first += INSERT_BATCH) {
		uint64_t n = vf_count(bf) - first < INSERT_BATCH ? vf_count(bf) - first : INSERT_BATCH;
		struct dann_batch b = { .n = n, .keys = keys, .vectors = rows };
		for (uint64_t i = 0; i < n; i++)
			keys[i] = (int64_t)(first + i);
		if (vf_read_f32(bf, first, n, rows) < 0 || dann_coll_insert(*out, &b, NULL) < 0)
			die("insert");
	}
	if (dann_coll_flush(*out) < 0 || dann_coll_set_prop(*out, "srv.index_name", "vector") < 0 ||
	    dann_coll_set_prop(*out, "srv.index_type", "DISKANN") < 0 || dann_coll_set_prop(*out, "srv.loaded", "1") < 0)
		die("flush");
	free(rows);
	free(keys);
	vf_close(bf);
}

/* SearchRequests of per queries each, encoded once. */
static void encode_requests(struct run *r, uint32_t per)
{
	uint32_t nreq = r->d->nq / per;
	char topk[16], params[64];

	snprintf(topk, sizeof topk, "%u", r->o->k);
	snprintf(params, sizeof params, "{\"search_list\": %u}", r->o->L);
	for (uint32_t i = 0; i < r->nreq; i++)
		free(r->req[i]);
	free(r->req);
	free(r->req_len);
	r->nreq = nreq;
	r->per_req = per;
	r->req = calloc(nreq, sizeof *r->req);
	r->req_len = calloc(nreq, sizeof *r->req_len);
	for (uint32_t i = 0; i < nreq; i++) {
		Milvus__Proto__Common__PlaceholderValue pv = MILVUS__PROTO__COMMON__PLACEHOLDER_VALUE__INIT, *pvs[1] = { &pv };
		Milvus__Proto__Common__PlaceholderGroup pg = MILVUS__PROTO__COMMON__PLACEHOLDER_GROUP__INIT;
		Milvus__Proto__Common__KeyValuePair kv1 = MILVUS__PROTO__COMMON__KEY_VALUE_PAIR__INIT, kv2 = kv1;
		Milvus__Proto__Common__KeyValuePair *kvs[2] = { &kv1, &kv2 };
		Milvus__Proto__Milvus__SearchRequest q = MILVUS__PROTO__MILVUS__SEARCH_REQUEST__INIT;
		ProtobufCBinaryData *vals = calloc(per, sizeof *vals);
		uint8_t *pgbuf;

		for (uint32_t j = 0; j < per; j++) {
			vals[j].data = (uint8_t *)(r->d->q + (size_t)(i * per + j) * r->d->dim);
			vals[j].len = r->d->dim * sizeof(float);
		}
		pv.type = MILVUS__PROTO__COMMON__PLACEHOLDER_TYPE__FloatVector;
		pv.values = vals;
		pv.n_values = per;
		pg.placeholders = pvs;
		pg.n_placeholders = 1;
		pgbuf = malloc(protobuf_c_message_get_packed_size(&pg.base));
		q.placeholder_group.len = protobuf_c_message_pack(&pg.base, pgbuf);
		q.placeholder_group.data = pgbuf;
		q.collection_name = COLL;
		kv1.key = "topk";
		kv1.value = topk;
		kv2.key = "params";
		kv2.value = params;
		q.search_params = kvs;
		q.n_search_params = 2;
		q.nq = per;
		r->req[i] = malloc(protobuf_c_message_get_packed_size(&q.base));
		r->req_len[i] = protobuf_c_message_pack(&q.base, r->req[i]);
		free(pgbuf);
		free(vals);
	}
}

static void start_dannd(const struct opts *o, const char *bin, const char *config, const char *data, char *target,
			size_t cap)
{
	int pfd[2], port = 0, mport;
	char line[256] = "", workers[16];
	size_t len = 0;
	pid_t pid;

	snprintf(workers, sizeof workers, "%u", o->clients < 64 ? o->clients : 64);
	if (pipe(pfd) < 0)
		die("pipe");
	fflush(NULL);
	if ((pid = fork()) == 0) {
		/* dies with the benchmark, however that ends */
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() == 1)
			_exit(127);
		dup2(pfd[1], STDOUT_FILENO);
		close(pfd[0]);
		execl(bin, bin, "--data-dir", data, "--listen", "127.0.0.1:0", "--metrics", "",
		      "--workers", workers, "--queue-max", "4096", "--slow-ms", "0", "--log-level", "warning",
		      config ? "--config" : (char *)NULL, config, (char *)NULL);
		_exit(127);
	}
	close(pfd[1]);
	if (pid < 0)
		die("fork");
	dannd_pid = pid;
	while (len + 1 < sizeof line) {
		ssize_t n = read(pfd[0], line + len, sizeof line - 1 - len);
		if (n <= 0)
			break;
		len += (size_t)n;
		line[len] = 0;
		if (sscanf(line, "dannd: listening on port %d, metrics port %d", &port, &mport) == 2)
			break;
	}
	close(pfd[0]);
	if (port <= 0) {
		fprintf(stderr, "bench_dannd: dannd did not start\n");
		exit(1); /* stop_dannd_at_exit reaps it */
	}
	snprintf(target, cap, "127.0.0.1:%d", port);
}

static void usage(void)
{
	fprintf(stderr, "usage: bench_dannd --dannd BIN --work DIR --base F --queries F --gt F.ibin\n"
			"                   [--clients 64] [--batch 100] [--seconds 10] [-L 100] [-k 10]\n"
			"                   [--dannd-config FILE]... [--base-dannd BIN] [--client-threads N]\n"
			"                   [--rounds 1]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct opts o = { .clients = 64, .batch = 100, .seconds = 10, .L = 100, .k = 10, .rounds = 1 };
	static struct figures inproc[MAX_ROUNDS], single[MAX_CONFIGS + 1][MAX_ROUNDS];
	static double ratio[MAX_CONFIGS + 1][MAX_ROUNDS];
	struct data d;
	struct run r;
	struct datadir dd;
	char data[4096], mode[MAX_CONFIGS + 1][512];
	uint32_t ncfg;
	int rc = 0;

	for (int i = 1; i + 1 < argc; i += 2) {
		const char *a = argv[i], *v = argv[i + 1];
		if (!strcmp(a, "--dannd")) o.dannd = v;
		else if (!strcmp(a, "--work")) o.work = v;
		else if (!strcmp(a, "--base")) o.base = v;
		else if (!strcmp(a, "--queries")) o.queries = v;
		else if (!strcmp(a, "--gt")) o.gt = v;
		else if (!strcmp(a, "--clients")) o.clients = (uint32_t)atoi(v);
		else if (!strcmp(a, "--batch")) o.batch = (uint32_t)atoi(v);
		else if (!strcmp(a, "--dannd-config") && o.nconfigs < MAX_CONFIGS) o.configs[o.nconfigs++] = v;
		else if (!strcmp(a, "--base-dannd")) o.base_dannd = v;
		else if (!strcmp(a, "--client-threads")) o.client_threads = (uint32_t)atoi(v);
		else if (!strcmp(a, "--rounds")) o.rounds = (uint32_t)atoi(v);
		else if (!strcmp(a, "--seconds")) o.seconds = (uint32_t)atoi(v);
		else if (!strcmp(a, "-L")) o.L = (uint32_t)atoi(v);
		else if (!strcmp(a, "-k")) o.k = (uint32_t)atoi(v);
		else usage();
	}
	if (!o.dannd || !o.work || !o.base || !o.queries || !o.gt || !o.clients || o.clients > MAX_CLIENTS ||
	    !o.batch || !o.k || o.k > o.L || o.k > 1024 || !o.rounds || o.rounds > MAX_ROUNDS ||
	    o.client_threads > MAX_CLIENTS)
		usage();
	load_data(&o, &d);
	if (o.batch > d.nq)
		o.batch = d.nq;
	mkdir(o.work, 0755);
	snprintf(data, sizeof data, "%s/data", o.work);
	memset(&r, 0, sizeof r);
	r.o = &o;
	r.d = &d;
	pthread_mutex_init(&r.mu, NULL);
	r.first = malloc((size_t)d.nq * o.k * sizeof *r.first);
	r.have = malloc(d.nq);

	ncfg = o.nconfigs ? o.nconfigs : 1;
	for (uint32_t c = 0; c < ncfg; c++)
		o.bins[c] = o.dannd;
	if (o.base_dannd) {
		o.bins[ncfg] = o.base_dannd;
		o.configs[ncfg++] = NULL;
	}
	for (uint32_t c = 0; c < ncfg; c++)
		snprintf(mode[c], sizeof mode[c], "dannd single-query RPCs%s%s%s%s%s", o.configs[c] ? " (config " : "",
			 o.configs[c] ? o.configs[c] : "", o.configs[c] ? ")" : "",
			 o.bins[c] != o.dannd ? " (base build)" : "",
			 o.client_threads ? " (async client)" : "");
	atexit(stop_dannd_at_exit);
	grpc_init();
	for (uint32_t round = 0; round < o.rounds && !rc; round++) {
		if (datadir_open(data, NULL, &dd) < 0)
			die("open data dir");
		prepare(&o, dd.db, &r.coll);
		r.per_req = 1;
		inproc[round] = measure(&r, inproc_client, o.clients, "in-process dann_coll_search");
		datadir_close(&dd);
		for (uint32_t n = 0; n < ncfg && !rc; n++) {
			uint32_t c = round % 2 ? ncfg - 1 - n : n;
			start_dannd(&o, o.bins[c], o.configs[c], data, r.target, sizeof r.target);
			encode_requests(&r, 1);
			single[c][round] = o.client_threads ? measure(&r, async_client, 1, mode[c])
							    : measure(&r, rpc_client, o.clients, mode[c]);
			if (round == 0) {
				encode_requests(&r, o.batch);
				measure(&r, rpc_client, 2, "dannd batched RPCs");
			}
			ratio[c][round] = single[c][round].qps / inproc[round].qps;
			printf("{\"mode\": \"ratio\", \"config\": \"%s%s\", \"dannd_single_over_inprocess\": %.3f}\n",
			       o.configs[c] ? o.configs[c] : "", o.bins[c] != o.dannd ? "base build" : "",
			       ratio[c][round]);
			if ((rc = stop_dannd()))
				fprintf(stderr, "bench_dannd: dannd exited with status %d\n", rc);
		}
	}
	if (o.rounds > 1 && !rc) {
		print_medians("in-process dann_coll_search", inproc, NULL, o.rounds);
		for (uint32_t c = 0; c < ncfg; c++)
			print_medians(mode[c], single[c], ratio[c], o.rounds);
	}
	grpc_shutdown();
	return rc ? 1 : 0;
}
