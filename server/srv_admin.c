/*
 * srv_admin.c — GetVersion, CheckHealth and Connect: what an SDK asks
 * before anything else.
 */
#include <stdio.h>
#include <string.h>

#include "common.pb-c.h"
#include "milvus.pb-c.h"
#include "srv_handlers.h"
#include "log.h"
#include "error.h"
#include "srv_arena.h"
#include "srv_impl.h"
#include "srv_meta.h"

/* The Milvus protocol version dannd's subset follows; SDKs compare it to
 * decide which features to use. */
#define SRV_MILVUS_VERSION "v2.6.0"

int srv_h_get_version(struct srv_req *rq, const void *in, void *out)
{
	Milvus__Proto__Milvus__GetVersionResponse *r = out;

	(void)rq;
	(void)in;
	r->version = SRV_MILVUS_VERSION;
	return 0;
}

int srv_h_check_health(struct srv_req *rq, const void *in, void *out)
{
	Milvus__Proto__Milvus__CheckHealthResponse *r = out;
	static char *stopping_reason[] = { "dannd is shutting down" };

	(void)in;
	r->ishealthy = !atomic_load(&rq->srv->stopping);
	if (!r->ishealthy) {
		r->n_reasons = 1;
		r->reasons = stopping_reason;
	} else if (srv_meta_check(rq->srv->meta) < 0) {
		/* Halted catalog: no answers from a copy that stopped short. */
		char **reason = srv_arena_alloc(rq->arena, sizeof *reason);

		if (!reason || !(*reason = srv_arena_strdup(rq->arena, dann_errmsg())))
			return DANN_ENOMEM;
		r->ishealthy = 0;
		r->n_reasons = 1;
		r->reasons = reason;
	}
	return 0;
}

int srv_h_connect(struct srv_req *rq, const void *in, void *out)
{
	const Milvus__Proto__Milvus__ConnectRequest *q = in;
	Milvus__Proto__Milvus__ConnectResponse *r = out;
	Milvus__Proto__Common__ServerInfo *si;

	si = srv_arena_msg(rq->arena, &milvus__proto__common__server_info__descriptor);
	if (!si)
		return DANN_ENOMEM;
	si->build_tags = srv_arena_printf(rq->arena, "dann %d.%d (Milvus protocol %s)",
					  DANN_VERSION_MAJOR, DANN_VERSION_MINOR, SRV_MILVUS_VERSION);
	si->deploy_mode = "STANDALONE";
	r->server_info = si;
	r->identifier = atomic_fetch_add(&rq->srv->next_client_id, 1) + 1;
	if (q->client_info)
		dann_log(DANN_LOG_DEBUG, "server", "client %lld connected: %s %s",
			 (long long)r->identifier, q->client_info->sdk_type, q->client_info->sdk_version);
	return 0;
}
