/*
 * meta_catalog.c — struct dann_catalog_ops over a meta node, and the user
 * calls (meta.h).
 *
 * Each mutating call is one command through meta_submit: committed and
 * applied here when it returns 0. Lists read this node's copy of the
 * catalog, which holds every change this node acknowledged.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "meta_node.h"

static int cat_coll_create(void *ctx, const struct dann_schema *s, uint64_t *id)
{
	struct meta_cmd c = { .type = META_CMD_COLL_CREATE, .schema = (struct dann_schema *)s };
	struct meta_result r;
	int rc = meta_submit(ctx, &c, &r);

	if (rc == 0 && id)
		*id = r.value;
	return rc;
}

int meta_coll_create(struct meta_node *n, const struct dann_schema *s, const char *props, uint64_t *id)
{
	struct dann_cat_coll *col = calloc(1, sizeof *col);
	struct meta_cmd c = { .type = META_CMD_COLL_CREATE_PROPS };
	struct meta_result r;
	int rc;

	if (!col)
		return dann_fail(DANN_ENOMEM, "meta: collection record");
	col->schema = *s;
	if (snprintf(col->props, sizeof col->props, "%s", props ? props : "") >= (int)sizeof col->props) {
		free(col);
		return dann_fail(DANN_EINVAL, "collection \"%s\": properties would pass %d bytes", s->name,
				 DANN_CAT_PROPS_MAX);
	}
	c.coll = col;
	rc = meta_submit(n, &c, &r);
	free(col);
	if (rc == 0 && id)
		*id = r.value;
	return rc;
}

static int cat_coll_drop(void *ctx, uint64_t id)
{
	struct meta_cmd c = { .type = META_CMD_COLL_DROP, .id = id };

	return meta_submit(ctx, &c, NULL);
}

static int cat_coll_update(void *ctx, const struct dann_cat_coll *col)
{
	struct meta_cmd c = { .type = META_CMD_COLL_UPDATE, .coll = (struct dann_cat_coll *)col };

	return meta_submit(ctx, &c, NULL);
}

static int cat_coll_list(void *ctx, struct dann_cat_coll **out, size_t *n)
{
	return meta_fsm_coll_list(meta_node_fsm(ctx), out, n);
}

static int cat_seg_apply(void *ctx, const struct dann_cat_segment *segs, size_t n)
{
	struct meta_cmd c = { .type = META_CMD_SEG_APPLY, .segs = (struct dann_cat_segment *)segs };

	if (n == 0)
		return 0;
	if (n > META_SEG_APPLY_MAX)
		return dann_fail(DANN_EINVAL, "meta: seg_apply of %zu records, at most %d at once", n,
				 META_SEG_APPLY_MAX);
	c.nsegs = (uint32_t)n;
	return meta_submit(ctx, &c, NULL);
}

static int cat_seg_list(void *ctx, uint64_t coll_id, struct dann_cat_segment **out, size_t *n)
{
	return meta_fsm_seg_list(meta_node_fsm(ctx), coll_id, out, n);
}

static int cat_alloc(void *ctx, enum dann_cat_counter which, uint64_t count, uint64_t *first)
{
	struct meta_cmd c = { .type = META_CMD_ALLOC, .counter = which, .count = count };
	struct meta_result r;
	int rc;

	if ((unsigned)which > DANN_CAT_TIMESTAMP)
		return dann_fail(DANN_EINVAL, "meta: alloc of unknown counter %d", (int)which);
	if ((rc = meta_submit(ctx, &c, &r)) == 0 && first)
		*first = r.value;
	return rc;
}

/* This node's copy: one that lags the leader has a smaller value, which
 * only makes the engine keep more (meta_fsm_counter). */
static int cat_counter(void *ctx, enum dann_cat_counter which, uint64_t *next)
{
	int rc;

	if ((unsigned)which > DANN_CAT_TIMESTAMP)
		return dann_fail(DANN_EINVAL, "meta: unknown counter %d", (int)which);
	if ((rc = meta_fsm_check(meta_node_fsm(ctx))) < 0)
		return rc;
	*next = meta_fsm_counter(meta_node_fsm(ctx), which);
	return 0;
}

static const struct dann_catalog_ops meta_ops = {
	.coll_create = cat_coll_create,
	.coll_drop = cat_coll_drop,
	.coll_update = cat_coll_update,
	.coll_list = cat_coll_list,
	.seg_apply = cat_seg_apply,
	.seg_list = cat_seg_list,
	.alloc = cat_alloc,
	.counter = cat_counter,
};

const struct dann_catalog_ops *meta_catalog_ops(void)
{
	return &meta_ops;
}

static int user_cmd(struct meta_node *n, enum meta_cmd_type t, const char *name, const char *hash, const char *roles)
{
	struct meta_cmd c = { .type = t };

	if (!name || strlen(name) > META_USER_NAME_MAX)
		return dann_fail(DANN_EINVAL, "meta: user name missing or longer than %d bytes", META_USER_NAME_MAX);
	if (hash && strlen(hash) > META_USER_HASH_MAX)
		return dann_fail(DANN_EINVAL, "meta: user '%s': password hash longer than %d bytes", name,
				 META_USER_HASH_MAX);
	if (roles && strlen(roles) > META_USER_ROLES_MAX)
		return dann_fail(DANN_EINVAL, "meta: user '%s': roles longer than %d bytes", name, META_USER_ROLES_MAX);
	snprintf(c.user.name, sizeof c.user.name, "%s", name);
	snprintf(c.user.hash, sizeof c.user.hash, "%s", hash ? hash : "");
	snprintf(c.user.roles, sizeof c.user.roles, "%s", roles ? roles : "");
	return meta_submit(n, &c, NULL);
}

int meta_user_create(struct meta_node *n, const char *name, const char *hash, const char *roles)
{
	return user_cmd(n, META_CMD_USER_CREATE, name, hash, roles);
}

int meta_user_drop(struct meta_node *n, const char *name)
{
	return user_cmd(n, META_CMD_USER_DROP, name, NULL, NULL);
}

int meta_user_set_password(struct meta_node *n, const char *name, const char *hash)
{
	return user_cmd(n, META_CMD_USER_PASSWORD, name, hash, NULL);
}

int meta_user_set_roles(struct meta_node *n, const char *name, const char *roles)
{
	return user_cmd(n, META_CMD_USER_ROLES, name, NULL, roles);
}

int meta_user_get(struct meta_node *n, const char *name, struct meta_user *out)
{
	return meta_fsm_user_get(&n->fsm, name, out);
}

int meta_user_list(struct meta_node *n, struct meta_user **out, size_t *count)
{
	return meta_fsm_user_list(&n->fsm, out, count);
}
