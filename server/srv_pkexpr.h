/*
 * srv_pkexpr.h — the primary-key expressions Delete and Query accept until
 * the filter language lands: `pk in [k1, k2, ...]` and `pk == k`, with the
 * collection's key field name (the form the SDKs generate from a list of
 * ids). Anything else is refused naming the expression and the column of
 * the first character not understood.
 */
#ifndef SRV_PKEXPR_H
#define SRV_PKEXPR_H

#include <stdint.h>

#include "srv_dispatch.h"

/* Parses expr over key field pk into *keys (arena) and *n. DANN_EINVAL
 * (malformed) or DANN_EUNSUPPORTED (another kind of expression), with a
 * message naming the position. */
int srv_pkexpr_parse(struct srv_req *rq, const char *expr, const char *pk, int64_t **keys, uint64_t *n);

#endif
