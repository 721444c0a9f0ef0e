/*
 * srv_meta.c — dannd's meta node and the catalog over it (srv_meta.h).
 *
 * The catalog handed to dann_db_open wraps meta's (meta_catalog_ops): in a
 * cluster it stamps the owner on every collection record this node writes
 * and lists only this node's collections, so a node never opens, recovers
 * or sweeps another node's collection (whose files are not here). The
 * owner is a property line kept in the record, written by the very
 * command that creates the record (meta_coll_create), so no crash can
 * leave a collection without its owner.
 *
 * Raft timing: a one-voter group commits at most about once per heartbeat
 * tick with libraft 0.15 (meta's measurement: ~130 commits/s at 100 ms,
 * ~1000/s at 2 ms), and inserts and flushes commit catalog changes (id
 * blocks, segment records, checkpoints), so dannd's default heartbeat is
 * short (SRV_META_HEARTBEAT_MS): a few hundred timer wake-ups a second,
 * nothing next to the work they unblock.
 */
#include "srv_meta.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "error.h"
#include "fsutil.h"
#include "log.h"
#include "meta.h"
#include "srv_coll.h"
#include "srv_impl.h"

struct srv_meta {
	struct meta_node *node;
	uint64_t id;
	int clustered;
	int lock_fd;
};

static int is_owner(const struct srv_meta *m, const char *props, uint64_t *owner)
{
	const char *p = props;
	size_t klen = strlen(SRV_META_OWNER_PROP);

	*owner = 0;
	while (*p) {
		if (!strncmp(p, SRV_META_OWNER_PROP, klen) && p[klen] == '=') {
			*owner = strtoull(p + klen + 1, NULL, 10);
			break;
		}
		p = strchr(p, '\n');
		if (!p)
			break;
		p++;
	}
	return *owner == m->id;
}

static int prop_u64(const char *props, const char *key, uint64_t *out)
{
	size_t klen = strlen(key);

	for (const char *p = props; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (!strncmp(p, key, klen) && p[klen] == '=') {
			*out = strtoull(p + klen + 1, NULL, 10);
			return 0;
		}
	return DANN_ENOTFOUND;
}

/* c with the owner line present (a copy; the engine's record is const). */
static int stamp(const struct srv_meta *m, const struct dann_cat_coll *c, struct dann_cat_coll **out)
{
	struct dann_cat_coll *cc = malloc(sizeof *cc);
	uint64_t owner;
	size_t len;

	if (!cc)
		return dann_fail(DANN_ENOMEM, "meta: collection record");
	*cc = *c;
	if (!is_owner(m, cc->props, &owner)) {
		if (owner && !m->clustered) {
			*out = cc; /* one node: every collection is its own */
			return 0;
		}
		if (owner) {
			free(cc);
			return dann_fail(DANN_EINVAL, "collection \"%s\" is owned by node %llu, not this node (%llu)",
					 c->schema.name, (unsigned long long)owner, (unsigned long long)m->id);
		}
		len = strlen(cc->props);
		if (snprintf(cc->props + len, sizeof cc->props - len, "%s=%llu\n", SRV_META_OWNER_PROP,
			     (unsigned long long)m->id) >= (int)(sizeof cc->props - len)) {
			free(cc);
			return dann_fail(DANN_EINVAL, "collection \"%s\": properties would pass %d bytes",
					 c->schema.name, DANN_CAT_PROPS_MAX);
		}
	}
	*out = cc;
	return 0;
}

static int cat_coll_update(void *ctx, const struct dann_cat_coll *c)
{
	struct srv_meta *m = ctx;
	struct dann_cat_coll *cc = NULL;
	int rc;

	if ((rc = stamp(m, c, &cc)) < 0)
		return rc;
	rc = meta_catalog_ops()->coll_update(m->node, cc);
	free(cc);
	return rc;
}

/* One command creates the record with its owner line (meta_coll_create). */
static int cat_coll_create(void *ctx, const struct dann_schema *s, uint64_t *id)
{
	struct srv_meta *m = ctx;
	char props[64];

	snprintf(props, sizeof props, "%s=%llu\n", SRV_META_OWNER_PROP, (unsigned long long)m->id);
	return meta_coll_create(m->node, s, props, id);
}

static int cat_coll_drop(void *ctx, uint64_t id)
{
	return meta_catalog_ops()->coll_drop(((struct srv_meta *)ctx)->node, id);
}

static int cat_coll_list(void *ctx, struct dann_cat_coll **out, size_t *n)
{
	struct srv_meta *m = ctx;
	size_t k = 0;
	uint64_t owner;
	int rc;

	if ((rc = meta_catalog_ops()->coll_list(m->node, out, n)) < 0 || !m->clustered)
		return rc;
	for (size_t i = 0; i < *n; i++)
		if (is_owner(m, (*out)[i].props, &owner))
			(*out)[k++] = (*out)[i];
	*n = k;
	return 0;
}

static int cat_seg_apply(void *ctx, const struct dann_cat_segment *segs, size_t n)
{
	return meta_catalog_ops()->seg_apply(((struct srv_meta *)ctx)->node, segs, n);
}

static int cat_seg_list(void *ctx, uint64_t coll_id, struct dann_cat_segment **out, size_t *n)
{
	return meta_catalog_ops()->seg_list(((struct srv_meta *)ctx)->node, coll_id, out, n);
}

static int cat_alloc(void *ctx, enum dann_cat_counter which, uint64_t count, uint64_t *first)
{
	return meta_catalog_ops()->alloc(((struct srv_meta *)ctx)->node, which, count, first);
}

static int cat_counter(void *ctx, enum dann_cat_counter which, uint64_t *next)
{
	return meta_catalog_ops()->counter(((struct srv_meta *)ctx)->node, which, next);
}

static const struct dann_catalog_ops srv_meta_ops = {
	.coll_create = cat_coll_create,
	.coll_drop = cat_coll_drop,
	.coll_update = cat_coll_update,
	.coll_list = cat_coll_list,
	.seg_apply = cat_seg_apply,
	.seg_list = cat_seg_list,
	.alloc = cat_alloc,
	.counter = cat_counter,
};

const struct dann_catalog_ops *srv_meta_catalog(void)
{
	return &srv_meta_ops;
}

int srv_meta_clustered(const struct srv_meta *m)
{
	return m && m->clustered;
}

int srv_meta_check(struct srv_meta *m)
{
	return m ? meta_fsm_check(meta_node_fsm(m->node)) : 0;
}

int srv_meta_remote(struct srv_meta *m, struct srv_meta_remote **out, size_t *n)
{
	struct dann_cat_coll *cc = NULL;
	struct srv_meta_remote *r;
	size_t nc = 0, k = 0;
	int rc;

	*out = NULL;
	*n = 0;
	if (!m || !m->clustered)
		return 0;
	if ((rc = meta_catalog_ops()->coll_list(m->node, &cc, &nc)) < 0)
		return rc;
	if (!(r = calloc(nc + 1, sizeof *r))) {
		free(cc);
		return dann_fail(DANN_ENOMEM, "meta: collection list");
	}
	for (size_t i = 0; i < nc; i++) {
		uint64_t owner, v = 0;
		if (is_owner(m, cc[i].props, &owner))
			continue;
		snprintf(r[k].name, sizeof r[k].name, "%s", cc[i].schema.name);
		r[k].owner = owner;
		r[k].loaded = prop_u64(cc[i].props, SRV_PROP_LOADED, &v) == 0 && v == 1;
		r[k].created_ms = prop_u64(cc[i].props, SRV_PROP_CREATED, &v) == 0 ? v : 0;
		k++;
	}
	free(cc);
	*out = r;
	*n = k;
	return 0;
}

int srv_meta_owner(struct srv_meta *m, const char *name, uint64_t *owner)
{
	struct srv_meta_remote *r;
	size_t n;
	int found = 0;

	if (srv_meta_remote(m, &r, &n) < 0) {
		dann_clear_error();
		return 0;
	}
	for (size_t i = 0; i < n && !found; i++)
		if (!strcmp(r[i].name, name)) {
			*owner = r[i].owner;
			found = 1;
		}
	free(r);
	return found;
}

/* libraft's files are not safe to share: one process per meta directory. */
static int take_lock(struct srv_meta *m, const char *dir, const char *data_dir)
{
	int rc = meta_lock(dir, &m->lock_fd);

	if (rc == DANN_EBUSY)
		return dann_fail(DANN_EBUSY, "dannd: data dir %s: its catalog (%s) is open in another process",
				 data_dir, dir);
	return rc;
}

/* The import's amendment: the owner stamp every record of this node has. */
static int import_fix(void *arg, struct dann_cat_coll *c)
{
	struct dann_cat_coll *cc;
	int rc = stamp(arg, c, &cc);

	if (rc == 0) {
		*c = *cc;
		free(cc);
	}
	return rc;
}

/* Whether the node may hold state the catalog must account for: a meta
 * directory used before, or collection directories (c<id>) in the data dir. */
static int has_state(const char *data_dir, const char *meta_dir)
{
	char path[PATH_MAX];
	struct dirent *de;
	DIR *d;
	int found = 0;

	if (snprintf(path, sizeof path, "%s/IDENTITY", meta_dir) < (int)sizeof path && access(path, F_OK) == 0)
		return 1;
	if (!(d = opendir(data_dir)))
		return 0;
	while (!found && (de = readdir(d)))
		found = de->d_name[0] == 'c' && isdigit((unsigned char)de->d_name[1]);
	closedir(d);
	return found;
}

/* Waits until this node has applied every catalog change committed before
 * it started: one command through the leader (a timestamp, harmless), which
 * this node applies after all earlier ones. Without it a restarted node
 * would open its database against a stale copy of the catalog (libraft
 * applies the log only once it learns the commit index), and the database
 * would take its own collections for dropped ones and remove them. */
static int catch_up(struct srv_meta *m, uint32_t wait_ms, const char *data_dir)
{
	uint64_t t0 = srv_now_ns() / 1000000, ts;
	int rc, said = 0;

	for (;;) {
		if ((rc = meta_catalog_ops()->alloc(m->node, DANN_CAT_TIMESTAMP, 1, &ts)) == 0)
			return 0;
		if (rc != DANN_ETIMEDOUT || srv_now_ns() / 1000000 - t0 >= wait_ms)
			return dann_fail_wrap(rc, "dannd: data dir %s: the catalog could not catch up with the "
					      "cluster within %u ms (are a majority of the peers up?)", data_dir, wait_ms);
		if (!said++)
			dann_log(DANN_LOG_INFO, "meta", "waiting for a leader to bring the catalog up to date");
	}
}

/* The member list: --peers, or this node alone at --raft-listen. */
static int members(const struct srv_config *c, char *out, size_t cap)
{
	struct meta_member mm[META_MEMBERS_MAX];
	uint32_t n = 0;
	int rc;

	if (c->join && !c->raft_listen[0])
		return dann_fail(DANN_EINVAL, "setting join: needs raft_listen (the address the cluster adds)");
	if (!c->peers[0] || c->join) {
		/* A joining node starts knowing only itself: the leader sends
		 * it the configuration once dann cluster add names it. */
		if (c->raft_listen[0] &&
		    snprintf(out, cap, "%llu@%s", (unsigned long long)c->node_id, c->raft_listen) >= (int)cap)
			return dann_fail(DANN_EINVAL, "setting raft_listen: too long");
		return 0;
	}
	if ((rc = meta_members_parse(c->peers, mm, &n)) < 0)
		return dann_fail_wrap(rc, "setting peers");
	for (uint32_t i = 0; i < n; i++)
		if (mm[i].id == c->node_id) {
			if (c->raft_listen[0] && strcmp(mm[i].addr, c->raft_listen) != 0)
				return dann_fail(DANN_EINVAL, "setting raft_listen %s: peers give node %llu the address %s",
						 c->raft_listen, (unsigned long long)c->node_id, mm[i].addr);
			snprintf(out, cap, "%s", c->peers);
			return 0;
		}
	return dann_fail(DANN_EINVAL, "setting peers: node_id %llu is not among '%s'",
			 (unsigned long long)c->node_id, c->peers);
}

int srv_meta_open(const struct srv_config *c, struct srv_meta **out)
{
	struct srv_meta *m = calloc(1, sizeof *m);
	struct meta_params mp;
	char dir[PATH_MAX], mem[sizeof c->peers + SRV_ADDR_MAX];
	int had_state, rc;

	*out = NULL;
	if (!m)
		return dann_fail(DANN_ENOMEM, "dannd: meta");
	m->lock_fd = -1;
	m->id = c->node_id;
	mem[0] = 0;
	if ((rc = members(c, mem, sizeof mem)) < 0)
		goto fail;
	if (snprintf(dir, sizeof dir, "%s/meta", c->data_dir) >= (int)sizeof dir) {
		rc = dann_fail(DANN_EINVAL, "data dir %s: path too long", c->data_dir);
		goto fail;
	}
	if ((rc = take_lock(m, dir, c->data_dir)) < 0)
		goto fail;
	meta_params_default(&mp);
	mp.dir = dir;
	mp.node_id = c->node_id;
	mp.members = mem[0] ? mem : NULL;
	mp.heartbeat_timeout_ms = c->raft_heartbeat_ms;
	mp.election_timeout_ms = c->raft_election_ms;
	mp.join = c->join;
	/* A node at a Raft address may have peers now or later (dann
	 * cluster add): it keeps to its own collections from the start. */
	m->clustered = c->peers[0] != 0 || c->raft_listen[0] != 0;
	had_state = has_state(c->data_dir, dir);
	if ((rc = meta_open(&mp, &m->node)) < 0) {
		rc = dann_fail_wrap(rc, "dannd: data dir %s: catalog", c->data_dir);
		goto fail;
	}
	/* A fresh cluster's first start holds nothing to lose: it does not
	 * wait for a quorum, so its nodes may be started one by one. A node
	 * with a store always waits: an empty disk says nothing about the
	 * bucket (a wiped node of a running cluster), and the store's sync,
	 * run against a catalog that has not caught up, would delete the
	 * objects of every collection it does not list yet. */
	if ((had_state || !m->clustered || c->store[0]) && (rc = catch_up(m, c->raft_wait_ms, c->data_dir)) < 0)
		goto fail;
	/* Collections the library made in this data dir (its CATALOG) join
	 * this catalog before the database looks for them. */
	if ((rc = meta_import_local(m->node, c->data_dir, import_fix, m, NULL)) < 0) {
		rc = dann_fail_wrap(rc, "dannd: data dir %s", c->data_dir);
		goto fail;
	}
	*out = m;
	return 0;
fail:
	srv_meta_close(m);
	return rc;
}

void srv_meta_close(struct srv_meta *m)
{
	if (!m)
		return;
	meta_close(m->node);
	if (m->lock_fd >= 0)
		close(m->lock_fd);
	free(m);
}

int srv_meta_service_addr(struct srv_meta *m, uint64_t id, unsigned timeout_ms, char *out, size_t cap)
{
	if (!m)
		return dann_fail(DANN_ENOTFOUND, "dannd: no catalog node");
	return meta_member_service_addr(m->node, id, timeout_ms, out, cap);
}

void srv_meta_set_service_addr(struct srv_meta *m, const struct srv_config *c, int port)
{
	char host[SRV_ADDR_MAX] = "", addr[SRV_ADDR_MAX + 16];
	const char *colon = strrchr(c->listen, ':');

	if (!m)
		return;
	if (colon)
		snprintf(host, sizeof host, "%.*s", (int)(colon - c->listen), c->listen);
	/* Every interface ("", 0.0.0.0): the one the node's Raft address is
	 * on is reachable by its peers. */
	if (!host[0] || !strcmp(host, "0.0.0.0") || !strcmp(host, "[::]")) {
		colon = strrchr(c->raft_listen, ':');
		snprintf(host, sizeof host, "%.*s", colon ? (int)(colon - c->raft_listen) : 9,
			 colon ? c->raft_listen : "127.0.0.1");
	}
	snprintf(addr, sizeof addr, "%s:%d", host, port);
	meta_set_service_addr(m->node, addr);
}
