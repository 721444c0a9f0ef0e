/*
 * srv_fwd.c — forwarding a call to the collection's owner (srv_fwd.h).
 *
 * One gRPC client call per forwarded request (TLS when this node serves
 * TLS: srv_tls_channel_credentials), on a channel kept per owner
 * (a connection per call would add its handshake to every request). A
 * call that finds the owner unreachable drops the owner's entry (address
 * and channel) and asks the owner's meta node again: an owner restarted on
 * another port gets the call there (once; the old address never had it). The worker waits for the
 * owner's answer in slices of FWD_POLL_MS so a client that leaves cancels
 * the forwarded call too.
 *
 * At most workers - 1 workers wait on forwarded calls at once; beyond, the
 * call is refused (RESOURCE_EXHAUSTED, retry). Two nodes forwarding to
 * each other with every worker waiting would otherwise deadlock: the calls
 * each forwards to the other need a free worker there to run.
 */
#include "srv_fwd.h"

#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc_security.h>
#include <grpc/support/time.h>
#include <stdio.h>
#include <string.h>

#include "error.h"
#include "srv_impl.h"
#include "srv_meta.h"
#include "srv_tls.h"

#define FWD_POLL_MS 200
#define FWD_UNREACHABLE 1
#define FWD_NO_ADDR 2
#define FWD_LOOKUP_MS 1000      /* asking the owner's meta node for its address (a loopback or LAN round trip) */
/* While a forwarded call runs, the channel pings the owner every
 * FWD_KEEPALIVE_MS and gives up after FWD_KEEPALIVE_TIMEOUT_MS without an
 * answer: an owner that stopped (SIGSTOP, a hung host) keeps its TCP
 * connection open, and without pings a call with no deadline would hold
 * this node's worker forever. The owner's transport answers pings even
 * while its workers are busy, so a long call (a flush) is not cut. */
#define FWD_KEEPALIVE_MS 2000
#define FWD_KEEPALIVE_TIMEOUT_MS 3000
#define FWD_CHANNEL_ARGS 5

static int key_is(grpc_slice k, const char *name)
{
	size_t n = strlen(name);

	return GRPC_SLICE_LENGTH(k) == n && memcmp(GRPC_SLICE_START_PTR(k), name, n) == 0;
}

int srv_fwd_incoming(const grpc_metadata_array *md)
{
	for (size_t i = 0; i < md->count; i++)
		if (key_is(md->metadata[i].key, SRV_FWD_HEADER))
			return 1;
	return 0;
}

static int channel_to(const struct srv *s, const char *addr, grpc_channel **out)
{
	grpc_channel_credentials *cr;
	grpc_arg args[FWD_CHANNEL_ARGS];
	grpc_channel_args chargs = { FWD_CHANNEL_ARGS, args };
	int rc;

	if ((rc = srv_tls_channel_credentials(&s->cfg, &cr)) < 0)
		return rc;
	/* The answer may be as large as dannd would send its own client, and
	 * the request as large as it accepted from it. */
	args[0].type = GRPC_ARG_INTEGER;
	args[0].key = GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH;
	args[0].value.integer = s->cfg.max_send_bytes > INT32_MAX ? INT32_MAX : (int)s->cfg.max_send_bytes;
	args[1].type = GRPC_ARG_INTEGER;
	args[1].key = GRPC_ARG_MAX_SEND_MESSAGE_LENGTH;
	args[1].value.integer = s->cfg.max_recv_bytes > INT32_MAX ? INT32_MAX : (int)s->cfg.max_recv_bytes;
	args[2].type = args[3].type = args[4].type = GRPC_ARG_INTEGER;
	args[2].key = GRPC_ARG_KEEPALIVE_TIME_MS;
	args[2].value.integer = FWD_KEEPALIVE_MS;
	args[3].key = GRPC_ARG_KEEPALIVE_TIMEOUT_MS;
	args[3].value.integer = FWD_KEEPALIVE_TIMEOUT_MS;
	args[4].key = GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA; /* a long call keeps pinging */
	args[4].value.integer = 0;
	*out = grpc_channel_create(addr, cr, &chargs);
	grpc_channel_credentials_release(cr);
	return 0;
}

/* Under fwd_lock: the entry of owner, or -1. */
static int entry_of(const struct srv *s, uint64_t owner)
{
	for (int i = 0; i < SRV_FWD_CACHE; i++)
		if (s->fwd_owners[i].id == owner)
			return i;
	return -1;
}

/* A call to owner on its kept channel (made, and the address asked, on
 * first use); the call holds its own reference to the channel, so the
 * entry may be dropped while it runs. *own_ch: a channel made for this
 * call alone (more owners than entries), which the caller destroys. */
static int start_call(struct srv *s, uint64_t owner, const char *path, gpr_timespec deadline,
		      grpc_completion_queue *cq, char *addr, size_t cap, grpc_call **call, grpc_channel **own_ch)
{
	grpc_slice method = grpc_slice_from_copied_string(path);
	grpc_channel *ch, *spare = NULL;
	int i, rc = 0;

	*own_ch = NULL;
	pthread_mutex_lock(&s->fwd_lock);
	if ((i = entry_of(s, owner)) >= 0)
		goto have;
	pthread_mutex_unlock(&s->fwd_lock);
	if ((rc = srv_meta_service_addr(s->meta, owner, FWD_LOOKUP_MS, addr, cap)) < 0 ||
	    (rc = channel_to(s, addr, &ch)) < 0)
		goto out;
	pthread_mutex_lock(&s->fwd_lock);
	if ((i = entry_of(s, owner)) >= 0) {
		spare = ch; /* another worker made one meanwhile */
		goto have;
	}
	if ((i = entry_of(s, 0)) < 0) {
		pthread_mutex_unlock(&s->fwd_lock);
		*own_ch = ch;
		*call = grpc_channel_create_call(ch, NULL, GRPC_PROPAGATE_DEFAULTS, cq, method, NULL, deadline, NULL);
		goto out;
	}
	s->fwd_owners[i].id = owner;
	s->fwd_owners[i].ch = ch;
	snprintf(s->fwd_owners[i].addr, sizeof s->fwd_owners[i].addr, "%s", addr);
have:
	snprintf(addr, cap, "%s", s->fwd_owners[i].addr);
	*call = grpc_channel_create_call(s->fwd_owners[i].ch, NULL, GRPC_PROPAGATE_DEFAULTS, cq, method, NULL,
					 deadline, NULL);
	pthread_mutex_unlock(&s->fwd_lock);
	if (spare)
		grpc_channel_destroy(spare);
out:
	grpc_slice_unref(method);
	return rc;
}

/* The owner was unreachable: its address is asked again next time. */
static void forget(struct srv *s, uint64_t owner)
{
	grpc_channel *ch = NULL;
	int i;

	pthread_mutex_lock(&s->fwd_lock);
	if ((i = entry_of(s, owner)) >= 0) {
		ch = s->fwd_owners[i].ch;
		s->fwd_owners[i].id = 0;
		s->fwd_owners[i].ch = NULL;
	}
	pthread_mutex_unlock(&s->fwd_lock);
	if (ch)
		grpc_channel_destroy(ch);
}

const char *srv_fwd_addr_note(struct srv *s, uint64_t owner, char *buf, size_t cap)
{
	int i;

	buf[0] = '\0';
	pthread_mutex_lock(&s->fwd_lock);
	if ((i = entry_of(s, owner)) >= 0)
		snprintf(buf, cap, " at %s", s->fwd_owners[i].addr);
	pthread_mutex_unlock(&s->fwd_lock);
	return buf;
}

void srv_fwd_close(struct srv *s)
{
	for (int i = 0; i < SRV_FWD_CACHE; i++)
		if (s->fwd_owners[i].ch) {
			grpc_channel_destroy(s->fwd_owners[i].ch);
			s->fwd_owners[i].ch = NULL;
			s->fwd_owners[i].id = 0;
		}
}

static gpr_timespec deadline_of(uint64_t deadline_ns)
{
	uint64_t now = srv_now_ns();

	if (!deadline_ns)
		return gpr_inf_future(GPR_CLOCK_MONOTONIC);
	return gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
			    gpr_time_from_nanos(deadline_ns > now ? (int64_t)(deadline_ns - now) : 1, GPR_TIMESPAN));
}

/* The forwarded call's metadata: the caller's credentials and the mark. */
static size_t out_metadata(const struct srv *s, const grpc_metadata_array *md, grpc_metadata *out, char *id,
			   size_t idcap)
{
	size_t n = 0;

	for (size_t i = 0; i < md->count && n < 1; i++)
		if (key_is(md->metadata[i].key, "authorization"))
			out[n++] = md->metadata[i];
	snprintf(id, idcap, "%llu", (unsigned long long)s->cfg.node_id);
	memset(&out[n], 0, sizeof out[n]);
	out[n].key = grpc_slice_from_static_string(SRV_FWD_HEADER);
	out[n].value = grpc_slice_from_static_string(id);
	return n + 1;
}

static void fail_unavailable(struct srv_req *rq, struct srv_reply *out, uint64_t owner, const char *addr,
			     const char *why)
{
	out->grpc = GRPC_STATUS_UNAVAILABLE;
	out->grpc_msg = srv_arena_printf(rq->arena,
		"collection %s is served by node %llu of the cluster%s%s, which could not be reached: %s",
		rq->coll ? rq->coll : "", (unsigned long long)owner, addr[0] ? " at " : "", addr, why);
	out->rc = DANN_EIO;
	out->bytes = NULL;
	out->len = 0;
}

/* One forwarded call: 0 with out holding the owner's answer (or a failure
 * of the call itself); FWD_UNREACHABLE with out holding UNAVAILABLE when
 * the owner did not answer at addr (its entry dropped); FWD_NO_ADDR when
 * its address could not be learnt. */
static int attempt(struct srv *s, struct srv_req *rq, uint64_t owner, const char *path, const uint8_t *body,
		   size_t len, const grpc_metadata_array *md, char *addr, size_t cap, struct srv_reply *out)
{
	char idbuf[24];
	grpc_metadata send_md[2];
	grpc_metadata_array recv_init, recv_trail;
	grpc_byte_buffer *req_buf = NULL, *resp_buf = NULL;
	grpc_status_code status = GRPC_STATUS_UNKNOWN;
	grpc_slice details = grpc_empty_slice(), sl;
	grpc_completion_queue *cq;
	grpc_channel *own_ch = NULL;
	grpc_call *call = NULL;
	grpc_op ops[6];
	grpc_event ev;
	int cancelled = 0, rc = 0;

	cq = grpc_completion_queue_create_for_next(NULL);
	if (start_call(s, owner, path, deadline_of(rq->deadline_ns), cq, addr, cap, &call, &own_ch) < 0) {
		fail_unavailable(rq, out, owner, "", dann_errmsg());
		grpc_completion_queue_shutdown(cq);
		grpc_completion_queue_destroy(cq);
		return FWD_NO_ADDR;
	}
	grpc_metadata_array_init(&recv_init);
	grpc_metadata_array_init(&recv_trail);
	sl = grpc_slice_from_copied_buffer((const char *)body, len);
	req_buf = grpc_raw_byte_buffer_create(&sl, 1);
	grpc_slice_unref(sl);

	memset(ops, 0, sizeof ops);
	ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
	ops[0].data.send_initial_metadata.metadata = send_md;
	ops[0].data.send_initial_metadata.count = out_metadata(s, md, send_md, idbuf, sizeof idbuf);
	ops[1].op = GRPC_OP_SEND_MESSAGE;
	ops[1].data.send_message.send_message = req_buf;
	ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
	ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
	ops[3].data.recv_initial_metadata.recv_initial_metadata = &recv_init;
	ops[4].op = GRPC_OP_RECV_MESSAGE;
	ops[4].data.recv_message.recv_message = &resp_buf;
	ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
	ops[5].data.recv_status_on_client.status = &status;
	ops[5].data.recv_status_on_client.status_details = &details;
	ops[5].data.recv_status_on_client.trailing_metadata = &recv_trail;
	if (grpc_call_start_batch(call, ops, 6, (void *)1, NULL) != GRPC_CALL_OK) {
		fail_unavailable(rq, out, owner, addr, "the forwarded call could not start");
		goto done;
	}
	for (;;) {
		ev = grpc_completion_queue_next(cq, gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
								 gpr_time_from_millis(FWD_POLL_MS, GPR_TIMESPAN)), NULL);
		if (ev.type == GRPC_OP_COMPLETE)
			break;
		if (!cancelled && rq->cancel && *rq->cancel) {
			grpc_call_cancel(call, NULL);
			cancelled = 1;
		}
	}
	if (status == GRPC_STATUS_UNAVAILABLE) {
		char why[512];

		snprintf(why, sizeof why, "%.*s", (int)GRPC_SLICE_LENGTH(details), GRPC_SLICE_START_PTR(details));
		forget(s, owner);
		fail_unavailable(rq, out, owner, addr, why);
		rc = FWD_UNREACHABLE;
		goto done;
	}
	memset(out, 0, sizeof *out);
	out->grpc = status;
	if (status != GRPC_STATUS_OK) {
		out->grpc_msg = srv_arena_printf(rq->arena, "%.*s", (int)GRPC_SLICE_LENGTH(details),
						 GRPC_SLICE_START_PTR(details));
		out->rc = status == GRPC_STATUS_DEADLINE_EXCEEDED ? DANN_ETIMEDOUT :
			  status == GRPC_STATUS_CANCELLED ? DANN_ECANCELED : DANN_EIO;
	} else if (resp_buf) {
		grpc_byte_buffer_reader rd;
		grpc_slice all;

		if (!grpc_byte_buffer_reader_init(&rd, resp_buf)) {
			fail_unavailable(rq, out, owner, addr, "its answer could not be read");
			goto done;
		}
		all = grpc_byte_buffer_reader_readall(&rd);
		grpc_byte_buffer_reader_destroy(&rd);
		out->len = GRPC_SLICE_LENGTH(all);
		out->bytes = srv_arena_alloc(rq->arena, out->len ? out->len : 1);
		if (out->bytes)
			memcpy(out->bytes, GRPC_SLICE_START_PTR(all), out->len);
		grpc_slice_unref(all);
		if (!out->bytes) {
			out->grpc = GRPC_STATUS_RESOURCE_EXHAUSTED;
			out->grpc_msg = "dannd: out of memory copying a forwarded answer";
			out->rc = DANN_ENOMEM;
		}
	}
done:
	grpc_call_unref(call);
	grpc_completion_queue_shutdown(cq);
	while (grpc_completion_queue_next(cq, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL).type != GRPC_QUEUE_SHUTDOWN)
		;
	grpc_completion_queue_destroy(cq);
	if (own_ch)
		grpc_channel_destroy(own_ch);
	grpc_byte_buffer_destroy(req_buf);
	if (resp_buf)
		grpc_byte_buffer_destroy(resp_buf);
	grpc_slice_unref(details);
	grpc_metadata_array_destroy(&recv_init);
	grpc_metadata_array_destroy(&recv_trail);
	return rc;
}

void srv_fwd_call(struct srv *s, struct srv_req *rq, uint64_t owner, const char *path,
		  const uint8_t *body, size_t len, const grpc_metadata_array *md, struct srv_reply *out)
{
	char addr[SRV_ADDR_MAX] = "", now[SRV_ADDR_MAX], note[SRV_ADDR_MAX + 8];
	unsigned max = s->cfg.workers > 1 ? s->cfg.workers - 1 : 0;

	if (atomic_fetch_add(&s->fwd_inflight, 1) >= max) {
		atomic_fetch_sub(&s->fwd_inflight, 1);
		out->grpc = GRPC_STATUS_RESOURCE_EXHAUSTED;
		out->grpc_msg = srv_arena_printf(rq->arena,
			"collection %s is served by node %llu of the cluster; this node has no worker free to forward "
			"the call (%u of %u may wait on other nodes; one is kept for their calls): retry, or send it to "
			"node %llu%s", rq->coll ? rq->coll : "", (unsigned long long)owner, max, s->cfg.workers,
			(unsigned long long)owner, srv_fwd_addr_note(s, owner, note, sizeof note));
		out->rc = DANN_EBUSY;
		out->bytes = NULL;
		out->len = 0;
		return;
	}
	/* An owner restarted on another port is unreachable at the address
	 * kept: the call never reached it there, so it goes once more to the
	 * address the owner now reports. */
	if (attempt(s, rq, owner, path, body, len, md, addr, sizeof addr, out) == FWD_UNREACHABLE &&
	    srv_meta_service_addr(s->meta, owner, FWD_LOOKUP_MS, now, sizeof now) == 0 && strcmp(now, addr) != 0)
		attempt(s, rq, owner, path, body, len, md, now, sizeof now, out);
	atomic_fetch_sub(&s->fwd_inflight, 1);
}
