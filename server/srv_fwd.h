/*
 * srv_fwd.h — a request for another node's collection, sent on to that node.
 *
 * In a cluster each collection's data lives on its owning node
 * (srv_meta.h). A handler that finds the collection owned elsewhere says so
 * (srv_req.forward_to, set by srv_coll_get); the call then goes, as the
 * very bytes the client sent, to the owner's gRPC address, and the owner's
 * answer (message and status) goes back to the client unchanged. So any
 * node of a cluster serves every collection, and a client needs one
 * address. The owner's address is asked from its meta node (its status
 * names the address its dannd serves on); it and a channel to it are kept
 * until a call there finds the owner unreachable. A forwarded call carries SRV_FWD_HEADER: the node receiving it
 * never forwards it again (a stale catalog cannot make a loop); it answers
 * with the refusal naming the owner.
 */
#ifndef SRV_FWD_H
#define SRV_FWD_H

#include <grpc/grpc.h>
#include <stddef.h>
#include <stdint.h>

#include "srv_dispatch.h"

#define SRV_FWD_HEADER "dann-forwarded-by"   /* value: the forwarding node's id */

struct srv;

/* Whether the incoming metadata marks a call forwarded by another node. */
int srv_fwd_incoming(const grpc_metadata_array *md);

/* " at HOST:PORT" when node owner's address is known here (kept from an
 * earlier forwarded call), else "": for refusals that name the owner. */
const char *srv_fwd_addr_note(struct srv *s, uint64_t owner, char *buf, size_t cap);

/* Closes the channels kept to owners (srv_close, once no worker runs). */
void srv_fwd_close(struct srv *s);

/* Sends path's request bytes to node owner with the caller's credentials
 * (its authorization metadata) and the caller's deadline, following the
 * client's cancel; fills out with the owner's answer (bytes in arena). An
 * owner that cannot be reached: UNAVAILABLE naming the node and address;
 * workers - 1 workers already waiting on forwarded calls:
 * RESOURCE_EXHAUSTED naming the owner (retry). */
void srv_fwd_call(struct srv *s, struct srv_req *rq, uint64_t owner, const char *path,
		  const uint8_t *body, size_t len, const grpc_metadata_array *md, struct srv_reply *out);

#endif
