/*
 * meta_node.c — a meta node: the Raft instance on its libuv loop thread.
 *
 * Start: the identity of the directory is checked, libraft is set up on
 * raft_uv (disk) and raft_uv_tcp (network), bootstrapped with the initial
 * members on first start (RAFT_CANTBOOTSTRAP on a restart is expected),
 * started — which loads the snapshot and log, restoring the catalog — and
 * the stored configuration is compared with the members given. Only then
 * does the loop thread start; everything after runs on it.
 *
 * Work from other threads arrives through the queue (meta_node_call); the
 * loop answers each request once. Waits for an index to be applied are
 * checked after every loop iteration (a uv_check handle) and expire on a
 * timer. Closing fails whatever is queued, closes Raft (its pending applies
 * are answered with RAFT_SHUTDOWN) and lets the loop run dry.
 */
#include "meta_node.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "error.h"
#include "log.h"
#include "meta_ident.h"
#include "meta_rpc.h"

#define SWEEP_INTERVAL_MS 50
#define SINGLE_VOTER_ADDR "127.0.0.1:0"

uint64_t meta_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void meta_params_default(struct meta_params *p)
{
	memset(p, 0, sizeof *p);
	p->cluster = "dann";
	p->node_id = 1;
	p->election_timeout_ms = 1000;
	p->heartbeat_timeout_ms = 100;
	p->snapshot_threshold = 1024;
	p->snapshot_trailing = 256;
	p->request_timeout_ms = 10000;
	p->segment_bytes = 1u << 20;
}

int meta_members_parse(const char *s, struct meta_member *out, uint32_t *n)
{
	const char *p = s;

	*n = 0;
	while (p && *p) {
		const char *end = strchr(p, ','), *at, *colon;
		size_t len = end ? (size_t)(end - p) : strlen(p);
		char item[META_ADDR_MAX + 32], *idend;
		unsigned long long id;

		if (len == 0 || len >= sizeof item)
			return dann_fail(DANN_EINVAL, "meta members '%s': entry %u is empty or too long", s, *n + 1);
		memcpy(item, p, len);
		item[len] = '\0';
		if (!(at = strchr(item, '@')))
			return dann_fail(DANN_EINVAL, "meta members: '%s' is not ID@HOST:PORT", item);
		errno = 0;
		id = strtoull(item, &idend, 10);
		if (idend != at || id == 0 || errno)
			return dann_fail(DANN_EINVAL, "meta members: '%s': the id must be a number >= 1", item);
		colon = strrchr(at + 1, ':');
		if (!colon || colon == at + 1 || atoi(colon + 1) <= 0 || atoi(colon + 1) >= 65535)
			return dann_fail(DANN_EINVAL, "meta members: '%s': HOST:PORT with PORT 1..65534 expected", item);
		if (*n == META_MEMBERS_MAX)
			return dann_fail(DANN_EINVAL, "meta members: more than %d", META_MEMBERS_MAX);
		for (uint32_t i = 0; i < *n; i++)
			if (out[i].id == id || strcmp(out[i].addr, at + 1) == 0)
				return dann_fail(DANN_EINVAL, "meta members: '%s' repeats an id or an address", item);
		out[*n].id = id;
		snprintf(out[*n].addr, sizeof out[*n].addr, "%s", at + 1);
		out[*n].voter = 1;
		(*n)++;
		p = end ? end + 1 : NULL;
	}
	if (*n == 0)
		return dann_fail(DANN_EINVAL, "meta members: the list is empty");
	return 0;
}

int meta_rpc_addr(const char *member_addr, char *out, size_t cap)
{
	const char *colon = strrchr(member_addr, ':');
	int port;

	if (!colon || (port = atoi(colon + 1)) <= 0 || port >= 65535)
		return dann_fail(DANN_EINVAL, "meta: '%s' is not HOST:PORT", member_addr);
	snprintf(out, cap, "%.*s:%d", (int)(colon - member_addr), member_addr, port + 1);
	return 0;
}

/* ---- the loop thread ---------------------------------------------------------- */

static void answer(struct meta_req *r, int rc)
{
	r->rc = rc;
	sem_post(&r->done);
}

static void fill_leader(struct meta_node *n, struct meta_req *r)
{
	const char *addr = NULL;
	raft_id id = 0;

	raft_leader(&n->raft, &id, &addr);
	r->leader_id = id;
	snprintf(r->leader_addr, sizeof r->leader_addr, "%s", addr ? addr : "");
}

static void answer_notleader(struct meta_node *n, struct meta_req *r)
{
	fill_leader(n, r);
	snprintf(r->msg, sizeof r->msg, "node %llu is not the leader (leader: %llu %s)", (unsigned long long)n->id,
		 (unsigned long long)r->leader_id, r->leader_addr);
	answer(r, META_RC_NOTLEADER);
}

static void answer_raft(struct meta_node *n, struct meta_req *r, int status, const char *what)
{
	snprintf(r->msg, sizeof r->msg, "%s: %s", what, raft_strerror(status));
	switch (status) {
	case RAFT_NOTLEADER: answer_notleader(n, r); return;
	case RAFT_SHUTDOWN: answer(r, DANN_ECANCELED); return;
	case RAFT_DUPLICATEID:
	case RAFT_DUPLICATEADDRESS: answer(r, DANN_EEXIST); return;
	case RAFT_BADID:
	case RAFT_NOTFOUND: answer(r, DANN_ENOTFOUND); return;
	case RAFT_NOMEM: answer(r, DANN_ENOMEM); return;
	default: answer(r, META_RC_RETRY); return;  /* LEADERSHIPLOST, CANTCHANGE, BUSY, ... */
	}
}

static void apply_cb(struct raft_apply *a, int status, void *result)
{
	struct meta_applying *ap = a->data, **pp;
	struct meta_req *r = ap->req;
	struct meta_node *n = r ? r->node : NULL;
	uint64_t index = a->index;

	if (n)
		for (pp = &n->applying; *pp; pp = &(*pp)->next)
			if (*pp == ap) {
				*pp = ap->next;
				break;
			}
	free(ap);
	if (!r)
		return;  /* answered already (halted) */
	if (status == 0) {
		r->res = *(const struct meta_result *)result;
		r->index = index;
		answer(r, 0);
		return;
	}
	snprintf(r->msg, sizeof r->msg, "apply: %s", raft_strerror(status));
	answer(r, status == RAFT_SHUTDOWN ? DANN_ECANCELED : META_RC_RETRY);
}

static void do_apply(struct meta_node *n, struct meta_req *r)
{
	struct meta_applying *ap;
	struct raft_buffer buf;
	int rv;

	if (meta_fsm_check(&n->fsm) < 0) {
		snprintf(r->msg, sizeof r->msg, "%s", dann_errmsg());
		return answer(r, DANN_EUNSUPPORTED);
	}
	if (raft_state(&n->raft) != RAFT_LEADER)
		return answer_notleader(n, r);
	buf.len = meta_raftfsm_padded(r->len);
	ap = calloc(1, sizeof *ap);
	if (!ap || !(buf.base = raft_calloc(1, buf.len))) {
		free(ap);
		snprintf(r->msg, sizeof r->msg, "out of memory");
		return answer(r, DANN_ENOMEM);
	}
	memcpy(buf.base, r->buf, r->len);
	r->node = n;
	ap->req = r;
	ap->a.data = ap;
	rv = raft_apply(&n->raft, &ap->a, &buf, 1, apply_cb);
	if (rv != 0) {
		/* Refused before the entry entered the log: the buffer is ours. */
		if (rv == RAFT_NOTLEADER)
			raft_free(buf.base);
		free(ap);
		return answer_raft(n, r, rv, "apply");
	}
	ap->next = n->applying;
	n->applying = ap;
}

/* A halted catalog (meta_fsm_apply) applies nothing more: whoever waits
 * for an apply or an index is told why now, not at the deadline. */
static void answer_halted(struct meta_node *n)
{
	char msg[sizeof n->fsm.halt_msg + 16];

	if (meta_fsm_check(&n->fsm) == 0)
		return;
	snprintf(msg, sizeof msg, "%s", dann_errmsg());
	for (struct meta_applying *ap = n->applying; ap; ap = ap->next) {
		snprintf(ap->req->msg, sizeof ap->req->msg, "%s", msg);
		answer(ap->req, DANN_EUNSUPPORTED);
		ap->req = NULL;
	}
	n->applying = NULL;
	for (struct meta_req *r = n->waits, *next; r; r = next) {
		next = r->next;
		snprintf(r->msg, sizeof r->msg, "%s", msg);
		answer(r, DANN_EUNSUPPORTED);
	}
	n->waits = NULL;
}

static void change_cb(struct raft_change *c, int status)
{
	struct meta_req *r = c->data;
	struct meta_node *n = r->node;

	if (status != 0)
		return answer_raft(n, r, status, r->kind == META_REQ_ADD ? "add" : "remove");
	answer(r, 0);
}

static void add_cb(struct raft_change *c, int status)
{
	struct meta_req *r = c->data;
	struct meta_node *n = r->node;
	int rv;

	if (status != 0)
		return change_cb(c, status);
	/* Added as a non-voter that catches up; now make it a voter. */
	rv = raft_assign(&n->raft, &r->change, r->id, RAFT_VOTER, change_cb);
	if (rv != 0)
		change_cb(c, rv);
}

static void do_change(struct meta_node *n, struct meta_req *r)
{
	int rv;

	if (raft_state(&n->raft) != RAFT_LEADER)
		return answer_notleader(n, r);
	r->change.data = r;
	r->node = n;
	if (r->kind == META_REQ_ADD)
		rv = raft_add(&n->raft, &r->change, r->id, r->addr, add_cb);
	else
		rv = raft_remove(&n->raft, &r->change, r->id, change_cb);
	if (rv != 0)
		answer_raft(n, r, rv, r->kind == META_REQ_ADD ? "add" : "remove");
}

static void do_status(struct meta_node *n, struct meta_req *r)
{
	struct meta_status *s = r->status;
	const struct raft_configuration *conf = &n->raft.configuration;

	memset(s, 0, sizeof *s);
	s->id = n->id;
	snprintf(s->cluster, sizeof s->cluster, "%s", n->cluster);
	switch (raft_state(&n->raft)) {
	case RAFT_FOLLOWER: s->role = META_FOLLOWER; break;
	case RAFT_CANDIDATE: s->role = META_CANDIDATE; break;
	case RAFT_LEADER: s->role = META_LEADER; break;
	default: s->role = META_UNAVAILABLE; break;
	}
	s->term = n->raft.current_term;
	fill_leader(n, r);
	s->leader_id = r->leader_id;
	snprintf(s->leader_addr, sizeof s->leader_addr, "%s", r->leader_addr);
	s->commit_index = n->raft.commit_index;
	s->applied_index = raft_last_applied(&n->raft);
	s->last_index = raft_last_index(&n->raft);
	for (unsigned i = 0; i < conf->n && s->nmembers < META_MEMBERS_MAX; i++) {
		struct meta_member *m = &s->members[s->nmembers++];

		m->id = conf->servers[i].id;
		snprintf(m->addr, sizeof m->addr, "%s", conf->servers[i].address);
		m->voter = conf->servers[i].role == RAFT_VOTER;
	}
	pthread_rwlock_rdlock(&n->fsm.lock);
	s->ncolls = n->fsm.ncolls;
	s->nsegs = n->fsm.nsegs;
	pthread_rwlock_unlock(&n->fsm.lock);
	pthread_mutex_lock(&n->mu);
	snprintf(s->service_addr, sizeof s->service_addr, "%s", n->service_addr);
	pthread_mutex_unlock(&n->mu);
	answer(r, 0);
}

static void check_waits(struct meta_node *n, int expire)
{
	raft_index applied = raft_last_applied(&n->raft);
	uint64_t now = expire ? meta_now_ms() : 0;
	struct meta_req **pp = &n->waits;

	while (*pp) {
		struct meta_req *r = *pp;

		if (r->index <= applied) {
			*pp = r->next;
			answer(r, 0);
		} else if (expire && now >= r->deadline_ms) {
			*pp = r->next;
			snprintf(r->msg, sizeof r->msg, "node %llu has applied up to %llu, not yet %llu",
				 (unsigned long long)n->id, (unsigned long long)applied,
				 (unsigned long long)r->index);
			answer(r, DANN_ETIMEDOUT);
		} else {
			pp = &r->next;
		}
	}
}

static void on_check(uv_check_t *h)
{
	struct meta_node *n = h->data;

	if (n->waits)
		check_waits(n, 0);
	if (n->waits || n->applying)
		answer_halted(n);
}

static void on_sweep(uv_timer_t *t)
{
	struct meta_node *n = t->data;

	if (n->waits)
		check_waits(n, 1);
}

static void on_raft_closed(struct raft *r)
{
	struct meta_node *n = r->data;

	raft_uv_close(&n->io);
	raft_uv_tcp_close(&n->transport);
	uv_close((uv_handle_t *)&n->wake, NULL);
	uv_close((uv_handle_t *)&n->sweep, NULL);
	uv_close((uv_handle_t *)&n->check, NULL);
}

static void fail_all(struct meta_node *n, struct meta_req *list)
{
	while (list) {
		struct meta_req *next = list->next;

		snprintf(list->msg, sizeof list->msg, "meta node %llu is closing", (unsigned long long)n->id);
		answer(list, DANN_ECANCELED);
		list = next;
	}
}

static void on_wake(uv_async_t *h)
{
	struct meta_node *n = h->data;
	struct meta_req *list;
	int closing;

	pthread_mutex_lock(&n->mu);
	list = n->queue;
	n->queue = n->queue_tail = NULL;
	closing = n->closing;
	pthread_mutex_unlock(&n->mu);
	if (closing) {
		fail_all(n, list);
		if (n->raft_ready) {
			fail_all(n, n->waits);
			n->waits = NULL;
			n->raft_ready = 0;
			raft_close(&n->raft, on_raft_closed);
		}
		return;
	}
	while (list) {
		struct meta_req *r = list;

		list = r->next;
		r->next = NULL;
		switch (r->kind) {
		case META_REQ_APPLY: do_apply(n, r); break;
		case META_REQ_STATUS: do_status(n, r); break;
		case META_REQ_ADD:
		case META_REQ_REMOVE: do_change(n, r); break;
		case META_REQ_WAIT:
			r->next = n->waits;
			n->waits = r;
			check_waits(n, 1);
			break;
		}
	}
}

static void *loop_main(void *arg)
{
	struct meta_node *n = arg;

	uv_run(&n->loop, UV_RUN_DEFAULT);
	return NULL;
}

void meta_node_call(struct meta_node *n, struct meta_req *r)
{
	int closing;

	sem_init(&r->done, 0, 0);
	r->next = NULL;
	pthread_mutex_lock(&n->mu);
	closing = n->closing;
	if (!closing) {
		if (n->queue_tail)
			n->queue_tail->next = r;
		else
			n->queue = r;
		n->queue_tail = r;
		/* Under the mutex: the loop closes the wake handle only after it
		 * has seen closing, which meta_close sets under the same mutex. */
		uv_async_send(&n->wake);
	}
	pthread_mutex_unlock(&n->mu);
	if (closing) {
		snprintf(r->msg, sizeof r->msg, "meta node %llu is closing", (unsigned long long)n->id);
		r->rc = DANN_ECANCELED;
	} else {
		while (sem_wait(&r->done) != 0 && errno == EINTR)
			;
	}
	sem_destroy(&r->done);
}

/* ---- start and stop --------------------------------------------------------- */

static void tracer_emit(struct raft_tracer *t, const char *file, int line, const char *message)
{
	struct meta_node *n = t->impl;

	dann_log(DANN_LOG_DEBUG, "raft", "node %llu %s:%d %s", (unsigned long long)n->id, file, line, message);
}

static int check_members(struct meta_node *n)
{
	const struct raft_configuration *conf = &n->raft.configuration;
	char have[1024] = "", given[1024] = "";
	int same = conf->n == n->nmembers;

	for (unsigned i = 0; i < conf->n; i++) {
		size_t l = strlen(have);

		snprintf(have + l, sizeof have - l, "%s%llu@%s", i ? "," : "", (unsigned long long)conf->servers[i].id,
			 conf->servers[i].address);
	}
	for (uint32_t i = 0; i < n->nmembers; i++) {
		size_t l = strlen(given);
		int found = 0;

		snprintf(given + l, sizeof given - l, "%s%llu@%s", i ? "," : "", (unsigned long long)n->members[i].id,
			 n->members[i].addr);
		for (unsigned k = 0; k < conf->n; k++)
			found |= conf->servers[k].id == n->members[i].id &&
				 strcmp(conf->servers[k].address, n->members[i].addr) == 0;
		same &= found;
	}
	if (same)
		return 0;
	return dann_fail(DANN_EINVAL, "meta: %s: members given (%s) disagree with the stored configuration (%s); "
			 "start the node with the stored members or change membership with dann cluster add|remove",
			 n->dir, given, have);
}

static int start_raft(struct meta_node *n, int fresh)
{
	struct raft_configuration conf;
	int rv;

	if ((rv = uv_loop_init(&n->loop)) != 0)
		return dann_fail(DANN_EIO, "meta: uv_loop_init: %s", uv_strerror(rv));
	n->loop_ready = 1;
	if ((rv = raft_uv_tcp_init(&n->transport, &n->loop)) != 0)
		return dann_fail(DANN_EIO, "meta: raft_uv_tcp_init: %s", raft_strerror(rv));
	n->transport_ready = 1;
	if ((rv = raft_uv_init(&n->io, &n->loop, n->dir, &n->transport)) != 0)
		return dann_fail(DANN_EIO, "meta: %s: raft_uv_init: %s (%s)", n->dir, raft_strerror(rv),
				 n->io.errmsg);
	n->io_ready = 1;
	raft_uv_set_segment_size(&n->io, n->p.segment_bytes);
	/* The catalog's snapshot carries its own checksum, which names what is
	 * wrong; LZ4 framing would hide that behind a decompression error, and
	 * a catalog is small. */
	raft_uv_set_snapshot_compression(&n->io, false);
	n->tracer.impl = n;
	n->tracer.enabled = dann_log_level() >= DANN_LOG_DEBUG;
	n->tracer.emit = tracer_emit;
	raft_uv_set_tracer(&n->io, &n->tracer);
	meta_raftfsm_init(&n->rfsm, &n->fsm);
	if ((rv = raft_init(&n->raft, &n->io, &n->rfsm.raft, n->id, n->addr)) != 0)
		return dann_fail(DANN_EIO, "meta: raft_init: %s (%s)", raft_strerror(rv), raft_errmsg(&n->raft));
	n->raft.data = n;
	n->raft.tracer = &n->tracer;
	n->raft_ready = 1;
	raft_set_election_timeout(&n->raft, n->p.election_timeout_ms);
	raft_set_heartbeat_timeout(&n->raft, n->p.heartbeat_timeout_ms);
	raft_set_snapshot_threshold(&n->raft, n->p.snapshot_threshold);
	raft_set_snapshot_trailing(&n->raft, n->p.snapshot_trailing);
	raft_set_pre_vote(&n->raft, true);  /* a node back from a partition does not depose a healthy leader */

	if (!n->p.join) {
		raft_configuration_init(&conf);
		for (uint32_t i = 0; i < n->nmembers && rv == 0; i++)
			rv = raft_configuration_add(&conf, n->members[i].id, n->members[i].addr, RAFT_VOTER);
		if (rv == 0)
			rv = raft_bootstrap(&n->raft, &conf);
		raft_configuration_close(&conf);
		if (rv == RAFT_CANTBOOTSTRAP && fresh)
			return dann_fail(DANN_EINVAL, "meta: %s: new identity but Raft state already present", n->dir);
		if (rv != 0 && rv != RAFT_CANTBOOTSTRAP)
			return dann_fail(DANN_EIO, "meta: %s: bootstrap: %s (%s)", n->dir, raft_strerror(rv),
					 raft_errmsg(&n->raft));
	}
	n->rfsm.error[0] = '\0';
	if ((rv = raft_start(&n->raft)) != 0) {
		const char *rm = raft_errmsg(&n->raft);

		if (meta_fsm_check(&n->fsm) < 0)  /* halted at a newer build's entry */
			return dann_fail(DANN_EUNSUPPORTED, "meta: %s: %s", n->dir, n->rfsm.error);
		return dann_fail(rv == RAFT_CORRUPT || n->rfsm.error[0] ? DANN_ECORRUPT : DANN_EIO,
				 "meta: %s: cannot load its Raft state: %s%s%s", n->dir, rm,
				 rm[0] && n->rfsm.error[0] ? ": " : "", n->rfsm.error);
	}
	if (!n->p.join && (rv = check_members(n)) < 0)
		return rv;
	return 0;
}

/* Closes whatever start_raft set up, on the calling thread (the loop thread
 * is not running). */
static void stop_inline(struct meta_node *n)
{
	if (n->raft_ready) {
		n->raft_ready = 0;
		raft_close(&n->raft, on_raft_closed);
	} else {
		if (n->io_ready)
			raft_uv_close(&n->io);
		if (n->transport_ready)
			raft_uv_tcp_close(&n->transport);
		uv_close((uv_handle_t *)&n->wake, NULL);
		uv_close((uv_handle_t *)&n->sweep, NULL);
		uv_close((uv_handle_t *)&n->check, NULL);
	}
	uv_run(&n->loop, UV_RUN_DEFAULT);
}

static int node_params(struct meta_node *n, const struct meta_params *p)
{
	int rc;

	n->p = *p;
	if (!p->dir || !p->dir[0])
		return dann_fail(DANN_EINVAL, "meta: no directory given");
	if (p->node_id == 0)
		return dann_fail(DANN_EINVAL, "meta: node id 0; ids start at 1");
	snprintf(n->dir, sizeof n->dir, "%s", p->dir);
	snprintf(n->cluster, sizeof n->cluster, "%s", p->cluster && p->cluster[0] ? p->cluster : "dann");
	n->id = p->node_id;
	if (p->members) {
		if ((rc = meta_members_parse(p->members, n->members, &n->nmembers)) < 0)
			return rc;
	} else {
		if (p->join)
			return dann_fail(DANN_EINVAL, "meta: joining needs this node's address in the members");
		n->members[0].id = n->id;
		snprintf(n->members[0].addr, sizeof n->members[0].addr, "%s", SINGLE_VOTER_ADDR);
		n->nmembers = 1;
	}
	for (uint32_t i = 0; i < n->nmembers; i++)
		if (n->members[i].id == n->id)
			snprintf(n->addr, sizeof n->addr, "%s", n->members[i].addr);
	if (!n->addr[0])
		return dann_fail(DANN_EINVAL, "meta: node %llu is not among the members '%s'",
				 (unsigned long long)n->id, p->members);
	if (!n->p.election_timeout_ms)
		n->p.election_timeout_ms = 1000;
	if (!n->p.heartbeat_timeout_ms)
		n->p.heartbeat_timeout_ms = 100;
	if (!n->p.request_timeout_ms)
		n->p.request_timeout_ms = 10000;
	if (!n->p.segment_bytes)
		n->p.segment_bytes = 1u << 20;
	return 0;
}

/* libuv writes to peer sockets with write(2); a peer that died makes it
 * raise SIGPIPE, whose default action kills the whole process. A process
 * that left the default in place gets it ignored (and is told). */
static void ignore_sigpipe(void)
{
	struct sigaction old, ign;

	memset(&ign, 0, sizeof ign);
	ign.sa_handler = SIG_IGN;
	if (sigaction(SIGPIPE, NULL, &old) == 0 && old.sa_handler == SIG_DFL && !(old.sa_flags & SA_SIGINFO)) {
		sigaction(SIGPIPE, &ign, NULL);
		dann_log(DANN_LOG_INFO, "meta", "SIGPIPE is now ignored: a peer's closed socket must not kill "
			 "the process");
	}
}

int meta_open(const struct meta_params *p, struct meta_node **out)
{
	struct meta_node *n = calloc(1, sizeof *n);
	int fresh = 0, rc;

	*out = NULL;
	if (!n)
		return dann_fail(DANN_ENOMEM, "meta_open");
	pthread_mutex_init(&n->mu, NULL);
	if ((rc = meta_fsm_init(&n->fsm)) < 0) {
		pthread_mutex_destroy(&n->mu);
		free(n);
		return rc;
	}
	if (getrandom(&n->client_id, sizeof n->client_id, 0) != sizeof n->client_id || n->client_id == 0)
		n->client_id = ((uint64_t)getpid() << 32) ^ meta_now_ms() ^ 1;
	if ((rc = node_params(n, p)) < 0 || (rc = meta_ident_check(n->dir, n->cluster, n->id, &fresh)) < 0)
		goto fail_early;
	ignore_sigpipe();
	if ((rc = start_raft(n, fresh)) < 0)
		goto fail_raft;
	uv_async_init(&n->loop, &n->wake, on_wake);
	n->wake.data = n;
	uv_timer_init(&n->loop, &n->sweep);
	n->sweep.data = n;
	uv_timer_start(&n->sweep, on_sweep, SWEEP_INTERVAL_MS, SWEEP_INTERVAL_MS);
	uv_check_init(&n->loop, &n->check);
	n->check.data = n;
	uv_check_start(&n->check, on_check);
	if (p->members && (rc = meta_rpc_start(n)) < 0)
		goto fail_handles;
	if (pthread_create(&n->thread, NULL, loop_main, n) != 0) {
		rc = dann_fail(DANN_ENOMEM, "meta: starting the loop thread");
		goto fail_rpc;
	}
	n->thread_started = 1;
	dann_log(DANN_LOG_INFO, "meta", "node %llu of cluster '%s' started in %s (%u members)",
		 (unsigned long long)n->id, n->cluster, n->dir, n->nmembers);
	*out = n;
	return 0;
fail_rpc:
	meta_rpc_stop(n);
fail_handles:
	stop_inline(n);
	goto fail_loop;
fail_raft:
	{
		char msg[1024];

		snprintf(msg, sizeof msg, "%s", dann_errmsg());
		if (n->loop_ready) {
			uv_async_init(&n->loop, &n->wake, on_wake);
			uv_timer_init(&n->loop, &n->sweep);
			uv_check_init(&n->loop, &n->check);
			stop_inline(n);
		}
		dann_fail(rc, "%s", msg);
	}
fail_loop:
	if (n->loop_ready)
		uv_loop_close(&n->loop);
fail_early:
	meta_fsm_destroy(&n->fsm);
	pthread_mutex_destroy(&n->mu);
	free(n);
	return rc;
}

void meta_close(struct meta_node *n)
{
	if (!n)
		return;
	pthread_mutex_lock(&n->mu);
	n->closing = 1;
	uv_async_send(&n->wake);
	pthread_mutex_unlock(&n->mu);
	meta_rpc_shutdown(n);
	if (n->thread_started)
		pthread_join(n->thread, NULL);
	meta_rpc_stop(n);
	uv_loop_close(&n->loop);
	meta_fsm_destroy(&n->fsm);
	pthread_mutex_destroy(&n->mu);
	free(n);
}

void meta_set_service_addr(struct meta_node *n, const char *addr)
{
	pthread_mutex_lock(&n->mu);
	snprintf(n->service_addr, sizeof n->service_addr, "%s", addr ? addr : "");
	pthread_mutex_unlock(&n->mu);
}

struct meta_fsm *meta_node_fsm(struct meta_node *n)
{
	return &n->fsm;
}
