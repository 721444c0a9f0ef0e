/*
 * meta_rpc.c — the request port: server threads and the blocking client
 * (meta_rpc.h).
 *
 * The server is one accept thread polling the listening socket and a stop
 * pipe, and a thread per connection reading one request at a time. A
 * request is handed to the loop thread like any local call, so the Raft
 * instance still has one owner. Connections are counted and bounded; at
 * shutdown every connection socket is shut down to unblock its thread.
 */
#include "meta_rpc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "error.h"
#include "log.h"
#include "meta_node.h"

struct rpc_conn {
	struct meta_rpc_server *srv;
	int fd;
	int used;
	pthread_t thread;
};

struct meta_rpc_server {
	struct meta_node *node;
	int lfd;
	int stop_pipe[2];
	pthread_t accept_thread;
	pthread_mutex_t mu;
	int stopping;
	struct rpc_conn conns[META_RPC_CONNS];
};

static int split_addr(const char *addr, struct sockaddr_in *sa)
{
	const char *colon = strrchr(addr, ':');
	char host[META_ADDR_MAX + 1];
	int port;

	if (!colon || (size_t)(colon - addr) >= sizeof host || (port = atoi(colon + 1)) <= 0 || port > 65535)
		return dann_fail(DANN_EINVAL, "meta: '%s' is not HOST:PORT", addr);
	memcpy(host, addr, (size_t)(colon - addr));
	host[colon - addr] = '\0';
	memset(sa, 0, sizeof *sa);
	sa->sin_family = AF_INET;
	sa->sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, host, &sa->sin_addr) != 1)
		return dann_fail(DANN_EINVAL, "meta: '%s': the host must be an IPv4 address", addr);
	return 0;
}

static int io_all(int fd, void *buf, size_t len, int writing)
{
	uint8_t *p = buf;

	while (len) {
		ssize_t k = writing ? send(fd, p, len, MSG_NOSIGNAL) : recv(fd, p, len, 0);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return k == 0 ? -EPIPE : -errno;
		p += k, len -= (size_t)k;
	}
	return 0;
}

/* ---- server --------------------------------------------------------------------- */

static void put_reply(struct meta_wbuf *w, int rc, const struct meta_req *r, const void *extra, size_t elen)
{
	meta_put_u32(w, META_RPC_MAGIC);
	meta_put_u32(w, 0);
	meta_put_u32(w, (uint32_t)rc);
	meta_put_u64(w, r->res.value);
	meta_put_u64(w, r->index);
	meta_put_u64(w, r->leader_id);
	meta_put_str(w, r->leader_addr, META_ADDR_MAX);
	meta_put_str(w, r->rc == 0 && r->res.rc ? r->res.msg : r->msg, 255);
	meta_put_u32(w, (uint32_t)elen);
	meta_put_bytes(w, extra, elen);
	meta_patch_u32(w, 4, (uint32_t)(w->len - 8));
}

static void serve_one(struct meta_node *n, uint32_t type, const uint8_t *body, size_t len, struct meta_wbuf *w)
{
	struct meta_req r;
	struct meta_status st;
	struct meta_wbuf extra;
	struct meta_rbuf rb;
	char addr[META_ADDR_MAX + 1];
	void *snap = NULL;
	size_t slen = 0;
	int rc;

	memset(&r, 0, sizeof r);
	meta_wbuf_init(&extra);
	switch (type) {
	case META_RPC_APPLY:
		r.kind = META_REQ_APPLY, r.buf = body, r.len = len;
		meta_node_call(n, &r);
		rc = r.rc == 0 ? r.res.rc : r.rc;
		put_reply(w, rc, &r, NULL, 0);
		break;
	case META_RPC_STATUS:
		r.kind = META_REQ_STATUS, r.status = &st;
		meta_node_call(n, &r);
		if (r.rc == 0)
			meta_status_encode(&extra, &st);
		put_reply(w, r.rc, &r, extra.p, extra.len);
		break;
	case META_RPC_DUMP:
		rc = meta_fsm_snapshot(&n->fsm, &snap, &slen);
		if (rc < 0)
			snprintf(r.msg, sizeof r.msg, "%s", dann_errmsg());
		put_reply(w, rc, &r, snap, slen);
		free(snap);
		break;
	case META_RPC_ADD:
	case META_RPC_REMOVE:
		meta_rbuf_init(&rb, body, len, "meta request");
		r.id = meta_get_u64(&rb, "id");
		if (type == META_RPC_ADD)
			meta_get_str(&rb, addr, sizeof addr, "address");
		if (meta_rbuf_check(&rb) < 0) {
			snprintf(r.msg, sizeof r.msg, "%s", dann_errmsg());
			put_reply(w, DANN_EINVAL, &r, NULL, 0);
			break;
		}
		r.kind = type == META_RPC_ADD ? META_REQ_ADD : META_REQ_REMOVE;
		r.addr = addr;
		meta_node_call(n, &r);
		put_reply(w, r.rc, &r, NULL, 0);
		break;
	default:
		snprintf(r.msg, sizeof r.msg, "unknown request type %u", type);
		put_reply(w, DANN_EINVAL, &r, NULL, 0);
	}
	meta_wbuf_free(&extra);
}

static void *conn_main(void *arg)
{
	struct rpc_conn *c = arg;
	struct meta_node *n = c->srv->node;
	uint8_t hdr[12], *body = NULL;

	for (;;) {
		struct meta_wbuf w;
		uint32_t type, len;

		if (io_all(c->fd, hdr, sizeof hdr, 0) < 0)
			break;
		type = meta_le32(hdr + 4), len = meta_le32(hdr + 8);
		if (meta_le32(hdr) != META_RPC_MAGIC || len > META_RPC_BODY_MAX) {
			dann_log(DANN_LOG_WARN, "meta", "node %llu: a request with a bad frame; closing the connection",
				 (unsigned long long)n->id);
			break;
		}
		if (!(body = malloc(len ? len : 1)) || io_all(c->fd, body, len, 0) < 0)
			break;
		meta_wbuf_init(&w);
		serve_one(n, type, body, len, &w);
		free(body);
		body = NULL;
		if (w.err || io_all(c->fd, w.p, w.len, 1) < 0) {
			meta_wbuf_free(&w);
			break;
		}
		meta_wbuf_free(&w);
	}
	free(body);
	pthread_mutex_lock(&c->srv->mu);
	close(c->fd);
	c->fd = -1;
	pthread_mutex_unlock(&c->srv->mu);
	return NULL;
}

/* Joins connection threads that have finished, so their slots are reused. */
static void reap(struct meta_rpc_server *s, int all)
{
	for (int i = 0; i < META_RPC_CONNS; i++) {
		struct rpc_conn *c = &s->conns[i];
		int done;

		pthread_mutex_lock(&s->mu);
		done = c->used && c->fd < 0;
		pthread_mutex_unlock(&s->mu);
		if (c->used && (done || all)) {
			pthread_join(c->thread, NULL);
			c->used = 0;
		}
	}
}

static void *accept_main(void *arg)
{
	struct meta_rpc_server *s = arg;
	struct pollfd pf[2] = { { .fd = s->lfd, .events = POLLIN }, { .fd = s->stop_pipe[0], .events = POLLIN } };

	for (;;) {
		int fd, slot = -1, one = 1;

		if (poll(pf, 2, 1000) < 0 && errno != EINTR)
			break;
		if (pf[1].revents)
			break;
		reap(s, 0);
		if (!(pf[0].revents & POLLIN))
			continue;
		if ((fd = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC)) < 0)
			continue;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		pthread_mutex_lock(&s->mu);
		for (int i = 0; i < META_RPC_CONNS && slot < 0; i++)
			if (!s->conns[i].used && !s->stopping)
				slot = i;
		if (slot >= 0) {
			s->conns[slot].used = 1;
			s->conns[slot].fd = fd;
			s->conns[slot].srv = s;
		}
		pthread_mutex_unlock(&s->mu);
		if (slot < 0 || pthread_create(&s->conns[slot].thread, NULL, conn_main, &s->conns[slot]) != 0) {
			dann_log(DANN_LOG_WARN, "meta", "node %llu: refusing a connection: %d already open",
				 (unsigned long long)s->node->id, META_RPC_CONNS);
			close(fd);
			if (slot >= 0)
				s->conns[slot].used = 0;
		}
	}
	return NULL;
}

int meta_rpc_start(struct meta_node *n)
{
	struct meta_rpc_server *s = calloc(1, sizeof *s);
	struct sockaddr_in sa;
	char addr[META_ADDR_MAX + 8];
	int one = 1, rc;

	if (!s)
		return dann_fail(DANN_ENOMEM, "meta: request port");
	s->node = n;
	s->lfd = -1;
	s->stop_pipe[0] = s->stop_pipe[1] = -1;
	pthread_mutex_init(&s->mu, NULL);
	if ((rc = meta_rpc_addr(n->addr, addr, sizeof addr)) < 0 || (rc = split_addr(addr, &sa)) < 0)
		goto fail;
	if ((s->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
	    setsockopt(s->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
	    bind(s->lfd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(s->lfd, 64) != 0) {
		rc = dann_fail_errno(DANN_EIO, errno, "meta: listening on %s (node %llu's request port)", addr,
				     (unsigned long long)n->id);
		goto fail;
	}
	if (pipe2(s->stop_pipe, O_CLOEXEC) != 0) {
		rc = dann_fail_errno(DANN_EIO, errno, "meta: pipe");
		goto fail;
	}
	if (pthread_create(&s->accept_thread, NULL, accept_main, s) != 0) {
		rc = dann_fail(DANN_ENOMEM, "meta: starting the request thread");
		goto fail;
	}
	n->rpc = s;
	return 0;
fail:
	if (s->lfd >= 0)
		close(s->lfd);
	if (s->stop_pipe[0] >= 0)
		close(s->stop_pipe[0]), close(s->stop_pipe[1]);
	pthread_mutex_destroy(&s->mu);
	free(s);
	return rc;
}

void meta_rpc_shutdown(struct meta_node *n)
{
	struct meta_rpc_server *s = n->rpc;

	if (!s)
		return;
	pthread_mutex_lock(&s->mu);
	if (!s->stopping) {
		s->stopping = 1;
		if (write(s->stop_pipe[1], "x", 1) < 0)
			dann_log(DANN_LOG_WARN, "meta", "stopping the request thread: %s", strerror(errno));
		for (int i = 0; i < META_RPC_CONNS; i++)
			if (s->conns[i].used && s->conns[i].fd >= 0)
				shutdown(s->conns[i].fd, SHUT_RDWR);
	}
	pthread_mutex_unlock(&s->mu);
}

void meta_rpc_stop(struct meta_node *n)
{
	struct meta_rpc_server *s = n->rpc;

	if (!s)
		return;
	meta_rpc_shutdown(n);
	pthread_join(s->accept_thread, NULL);
	reap(s, 1);
	close(s->lfd);
	close(s->stop_pipe[0]);
	close(s->stop_pipe[1]);
	pthread_mutex_destroy(&s->mu);
	free(s);
	n->rpc = NULL;
}

/* ---- client --------------------------------------------------------------------- */

static int connect_within(const char *addr, const struct sockaddr_in *sa, unsigned timeout_ms)
{
	struct timeval tv = { .tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000 };
	struct pollfd pf;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0), err = 0, one = 1;
	socklen_t el = sizeof err;

	if (fd < 0)
		return dann_fail_errno(DANN_EIO, errno, "meta: socket for %s", addr);
	if (connect(fd, (const struct sockaddr *)sa, sizeof *sa) != 0) {
		if (errno != EINPROGRESS) {
			err = errno;
			goto fail;
		}
		pf.fd = fd, pf.events = POLLOUT;
		if (poll(&pf, 1, (int)timeout_ms) <= 0) {
			err = ETIMEDOUT;
			goto fail;
		}
		getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el);
		if (err)
			goto fail;
	}
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	return fd;
fail:
	close(fd);
	return dann_fail_errno(DANN_EIO, err, "meta: cannot reach %s", addr);
}

static int read_reply(int fd, const char *addr, struct meta_rpc_reply *rep)
{
	uint8_t hdr[8], *body = NULL;
	struct meta_rbuf r;
	uint32_t len, elen;
	int rc;

	if ((rc = io_all(fd, hdr, sizeof hdr, 0)) < 0)
		return dann_fail_errno(DANN_EIO, -rc, "meta: reading the reply of %s", addr);
	len = meta_le32(hdr + 4);
	if (meta_le32(hdr) != META_RPC_MAGIC || len > META_RPC_BODY_MAX)
		return dann_fail(DANN_ECORRUPT, "meta: %s answered with a bad frame", addr);
	if (!(body = malloc(len ? len : 1)))
		return dann_fail(DANN_ENOMEM, "meta: reply of %s", addr);
	if ((rc = io_all(fd, body, len, 0)) < 0) {
		free(body);
		return dann_fail_errno(DANN_EIO, -rc, "meta: reading the reply of %s", addr);
	}
	meta_rbuf_init(&r, body, len, "meta reply");
	rep->rc = (int32_t)meta_get_u32(&r, "rc");
	rep->value = meta_get_u64(&r, "value");
	rep->index = meta_get_u64(&r, "index");
	rep->leader_id = meta_get_u64(&r, "leader id");
	meta_get_str(&r, rep->leader_addr, sizeof rep->leader_addr, "leader address");
	meta_get_str(&r, rep->msg, sizeof rep->msg, "message");
	elen = meta_get_u32(&r, "extra");
	if (!r.err && elen != len - r.off)
		meta_rbuf_bad(&r, "extra: %u bytes announced, %zu present", elen, len - r.off);
	if ((rc = meta_rbuf_check(&r)) < 0) {
		free(body);
		return rc;
	}
	if (elen) {
		memmove(body, body + r.off, elen);
		rep->extra = body;
		rep->extra_len = elen;
	} else {
		free(body);
	}
	return 0;
}

int meta_rpc_call(const char *addr, enum meta_rpc_type type, const void *body, size_t len, unsigned timeout_ms,
		  struct meta_rpc_reply *reply)
{
	char raddr[META_ADDR_MAX + 8];
	struct sockaddr_in sa;
	uint8_t hdr[12];
	int fd, rc;

	memset(reply, 0, sizeof *reply);
	if ((rc = meta_rpc_addr(addr, raddr, sizeof raddr)) < 0 || (rc = split_addr(raddr, &sa)) < 0)
		return rc;
	if ((fd = connect_within(raddr, &sa, timeout_ms)) < 0)
		return fd;
	meta_st32(hdr, META_RPC_MAGIC);
	meta_st32(hdr + 4, type);
	meta_st32(hdr + 8, (uint32_t)len);
	if ((rc = io_all(fd, hdr, sizeof hdr, 1)) < 0 || (len && (rc = io_all(fd, (void *)body, len, 1)) < 0)) {
		close(fd);
		return dann_fail_errno(DANN_EIO, -rc, "meta: sending to %s", raddr);
	}
	rc = read_reply(fd, raddr, reply);
	close(fd);
	return rc;
}

/* ---- status encoding ------------------------------------------------------------- */

void meta_status_encode(struct meta_wbuf *w, const struct meta_status *s)
{
	meta_put_u64(w, s->id);
	meta_put_str(w, s->cluster, META_CLUSTER_MAX);
	meta_put_u8(w, (uint8_t)s->role);
	meta_put_u64(w, s->term);
	meta_put_u64(w, s->leader_id);
	meta_put_str(w, s->leader_addr, META_ADDR_MAX);
	meta_put_u64(w, s->commit_index);
	meta_put_u64(w, s->applied_index);
	meta_put_u64(w, s->last_index);
	meta_put_u64(w, s->ncolls);
	meta_put_u64(w, s->nsegs);
	meta_put_u32(w, s->nmembers);
	for (uint32_t i = 0; i < s->nmembers; i++) {
		meta_put_u64(w, s->members[i].id);
		meta_put_str(w, s->members[i].addr, META_ADDR_MAX);
		meta_put_u8(w, (uint8_t)s->members[i].voter);
	}
	meta_put_str(w, s->service_addr, META_ADDR_MAX);
}

int meta_status_decode(const void *buf, size_t len, struct meta_status *s)
{
	struct meta_rbuf r;

	memset(s, 0, sizeof *s);
	meta_rbuf_init(&r, buf, len, "meta status");
	s->id = meta_get_u64(&r, "id");
	meta_get_str(&r, s->cluster, sizeof s->cluster, "cluster");
	s->role = (enum meta_role)meta_get_u8(&r, "role");
	s->term = meta_get_u64(&r, "term");
	s->leader_id = meta_get_u64(&r, "leader id");
	meta_get_str(&r, s->leader_addr, sizeof s->leader_addr, "leader address");
	s->commit_index = meta_get_u64(&r, "commit index");
	s->applied_index = meta_get_u64(&r, "applied index");
	s->last_index = meta_get_u64(&r, "last index");
	s->ncolls = meta_get_u64(&r, "collections");
	s->nsegs = meta_get_u64(&r, "segments");
	s->nmembers = meta_get_u32(&r, "members");
	if (s->nmembers > META_MEMBERS_MAX)
		meta_rbuf_bad(&r, "members: %u, at most %d", s->nmembers, META_MEMBERS_MAX);
	for (uint32_t i = 0; i < s->nmembers && !r.err; i++) {
		s->members[i].id = meta_get_u64(&r, "member id");
		meta_get_str(&r, s->members[i].addr, sizeof s->members[i].addr, "member address");
		s->members[i].voter = meta_get_u8(&r, "member role");
	}
	meta_get_str(&r, s->service_addr, sizeof s->service_addr, "service address");
	return meta_rbuf_check(&r);
}
