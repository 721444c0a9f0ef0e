/*
 * srv_coll.c — shared helpers of the collection handlers (see srv_coll.h).
 */
#include "srv_coll.h"

#include <string.h>
#include <time.h>

#include "srv_fwd.h"
#include "srv_impl.h"
#include "srv_meta.h"
#include "srv_status.h"

int srv_coll_get(struct srv_req *rq, const char *name, struct dann_coll **out)
{
	uint64_t owner = 0;
	int rc;

	if (!name || !name[0])
		return srv_fail(rq, SRV_M_PARAM_INVALID, DANN_EINVAL,
				"collection name should not be empty");
	rq->coll = name;
	if (rq->inline_only) /* a network thread: no lock waits, no cluster lookups */
		return dann_coll_get_nowait(rq->srv->db, name, out);
	rc = dann_coll_get(rq->srv->db, name, out);
	if (rc == DANN_ENOTFOUND && srv_meta_owner(rq->srv->meta, name, &owner)) {
		char note[SRV_ADDR_MAX + 8];

		/* The call goes on to the owner (srv_fwd.h) unless it came
		 * from another node: then this refusal is the answer. */
		if (!rq->forwarded)
			rq->forward_to = owner;
		return srv_fail(rq, SRV_M_UNAVAILABLE, DANN_EUNSUPPORTED,
				"collection %s is served by node %llu%s of the cluster: send its requests there",
				name, (unsigned long long)owner, srv_fwd_addr_note(rq->srv, owner, note, sizeof note));
	}
	if (rc == DANN_ENOTFOUND)
		return srv_fail(rq, SRV_M_COLL_NOT_FOUND, rc, "collection not found[collection=%s]", name);
	return rc;
}

int64_t srv_coll_id(const char *name)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a */

	for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
		h ^= *p;
		h *= 1099511628211ull;
	}
	return (int64_t)(h >> 2); /* positive, as Milvus ids are */
}

const char *srv_kv_find(Milvus__Proto__Common__KeyValuePair *const *kv, size_t n, const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (kv[i] && kv[i]->key && strcmp(kv[i]->key, key) == 0)
			return kv[i]->value;
	return NULL;
}

Milvus__Proto__Common__KeyValuePair *srv_kv_new(struct srv_req *rq, const char *key, const char *value)
{
	Milvus__Proto__Common__KeyValuePair *p =
		srv_arena_msg(rq->arena, &milvus__proto__common__key_value_pair__descriptor);

	if (p) {
		p->key = srv_arena_strdup(rq->arena, key);
		p->value = srv_arena_strdup(rq->arena, value);
	}
	return p;
}

uint64_t srv_hybrid_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ((uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000) << 18;
}
