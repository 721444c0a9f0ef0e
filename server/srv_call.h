/*
 * srv_call.h — one RPC's life on the gRPC core API.
 *
 * States, each ended by a completion-queue event carrying one of the call's
 * tags:
 *   REQUEST  grpc_server_request_call completed: a client called. The next
 *            request_call is posted at once so the server keeps accepting;
 *            two batches start: RECV_CLOSE_ON_SERVER (tells us when the
 *            client cancels or the deadline passes) and RECV_MESSAGE.
 *   RECV     the request message arrived: queued for a worker (or, when
 *            the queue is full, answered RESOURCE_EXHAUSTED here).
 *   (worker) decode, authorise, handle, encode; one batch sends initial
 *            metadata, the message and the status, from the worker thread
 *            (or, when the handler defers, from the thread that ends its
 *            work: see SRV_DEFERRED).
 *   SEND     the answer left. CLOSE  the call is over on the wire.
 * The call is freed when both SEND and CLOSE have come back (a reference
 * count of two), so neither event can find it gone.
 */
#ifndef SRV_CALL_H
#define SRV_CALL_H

struct srv;

enum srv_tag_kind {
	SRV_TAG_REQUEST = 1,
	SRV_TAG_RECV,
	SRV_TAG_CLOSE,
	SRV_TAG_SEND,
	SRV_TAG_SHUTDOWN,              /* the server's shutdown_and_notify tag */
};

/* What every tag on the completion queue points to. */
struct srv_tag {
	enum srv_tag_kind kind;
	void *owner;                   /* the struct srv_call (or struct srv for SHUTDOWN) */
};

/* Posts one grpc_server_request_call. DANN_ENOMEM, or 0. */
int srv_call_post(struct srv *s);
/* Handles one completion-queue event of a call's tag (CQ threads). */
void srv_call_event(struct srv_tag *tag, int ok);
/* Runs a queued call (the worker pool's job function). */
void srv_call_work(void *call);

#endif
