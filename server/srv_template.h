/*
 * srv_template.h — Milvus's expression templates: `age > {min} and city in
 * {cities}` with expr_template_values {min: 18, cities: ["a", "b"]} (the
 * SDKs' exprValues). The values are written into the expression as
 * literals of dann's filter language before it is compiled, so a template
 * behaves exactly as the expression with the values typed in; braces
 * inside string literals are left alone.
 */
#ifndef SRV_TEMPLATE_H
#define SRV_TEMPLATE_H

#include <stddef.h>

#include "schema.pb-c.h"
#include "srv_dispatch.h"

/* *out = expr with every {name} replaced by the value of key name among
 * the n (keys[i], vals[i]) pairs (in the arena; expr itself when n is 0).
 * DANN_EINVAL naming a placeholder without a value, an unclosed brace or
 * a value of no kind. */
int srv_template_render(struct srv_req *rq, const char *expr, size_t n, char *const *keys,
			Milvus__Proto__Schema__TemplateValue *const *vals, const char **out);

/* Gathers a request's expr_template_values entries (any message's: they
 * all have key and value) and renders expr with them. */
#define SRV_TEMPLATE_RENDER(rq, expr, entries, n, out)                                          \
	({                                                                                      \
		char **k_ = srv_arena_alloc((rq)->arena, ((n) + 1) * sizeof *k_);              \
		Milvus__Proto__Schema__TemplateValue **v_ =                                     \
			srv_arena_alloc((rq)->arena, ((n) + 1) * sizeof *v_);                   \
		int rc_ = k_ && v_ ? 0 : DANN_ENOMEM;                                           \
		for (size_t i_ = 0; rc_ == 0 && i_ < (n); i_++) {                               \
			k_[i_] = (entries)[i_]->key;                                            \
			v_[i_] = (entries)[i_]->value;                                          \
		}                                                                               \
		rc_ == 0 ? srv_template_render((rq), (expr), (n), k_, v_, (out)) : rc_;        \
	})

#endif
