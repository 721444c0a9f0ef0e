/*
 * srv_pkexpr.h — the fast path for primary-key expressions: `pk in [k1,
 * k2, ...]` and `pk == k` over the collection's key field (the form the
 * SDKs generate from a list of ids). Such a filter is answered by looking
 * the keys up rather than by evaluating an expression over every row; any
 * other text is left to the filter language (dann_coll_query), which also
 * reports its errors.
 */
#ifndef SRV_PKEXPR_H
#define SRV_PKEXPR_H

#include <stdint.h>

#include "srv_dispatch.h"

/* 1 with the keys in *keys (arena, in the order written, repeats kept) and
 * their number in *n when expr is exactly one of the two forms over key
 * field pk; 0 when it is anything else (nothing set); DANN_ENOMEM. */
int srv_pkexpr_match(struct srv_req *rq, const char *expr, const char *pk, int64_t **keys, uint64_t *n);

#endif
