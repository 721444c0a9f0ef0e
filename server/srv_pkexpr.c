/*
 * srv_pkexpr.c — a hand-written scanner for `pk in [..]` / `pk == k`.
 */
#include "srv_pkexpr.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dann.h"
#include "srv_status.h"

#define PKEXPR_MAX_KEYS (16u << 20)

static const char *skip_ws(const char *p)
{
	while (*p && isspace((unsigned char)*p))
		p++;
	return p;
}

static int fail_at(struct srv_req *rq, int code, const char *expr, const char *p, const char *what)
{
	return srv_fail(rq, SRV_M_PARAM_INVALID, code, "expression '%s': at column %d: %s", expr,
			(int)(p - expr) + 1, what);
}

static int parse_key(struct srv_req *rq, const char *expr, const char **pp, int64_t *out)
{
	const char *p = *pp;
	char *end;
	long long v;

	errno = 0;
	v = strtoll(p, &end, 10);
	if (end == p || errno == ERANGE)
		return fail_at(rq, DANN_EINVAL, expr, p, "expected an int64 key");
	*out = v;
	*pp = end;
	return 0;
}

int srv_pkexpr_parse(struct srv_req *rq, const char *expr, const char *pk, int64_t **keys, uint64_t *n)
{
	const char *p = skip_ws(expr ? expr : "");
	size_t pklen = strlen(pk), cap = 16, cnt = 0;
	int64_t *k;
	int rc;

	if (!*p)
		return srv_fail(rq, SRV_M_PARAM_MISSING, DANN_EINVAL, "%s: the expression is empty",
				rq->method);
	if (strncmp(p, pk, pklen) != 0 || (isalnum((unsigned char)p[pklen]) || p[pklen] == '_'))
		return fail_at(rq, DANN_EUNSUPPORTED, expr, p,
			       "only expressions on the primary key are served yet (pk in [...], pk == k)");
	p = skip_ws(p + pklen);
	if (!(k = srv_arena_alloc(rq->arena, cap * sizeof *k)))
		return DANN_ENOMEM;
	if (p[0] == '=' && p[1] == '=') {
		p = skip_ws(p + 2);
		if ((rc = parse_key(rq, expr, &p, &k[0])) < 0)
			return rc;
		cnt = 1;
	} else if ((p[0] == 'i' || p[0] == 'I') && (p[1] == 'n' || p[1] == 'N') &&
		   !isalnum((unsigned char)p[2])) {
		p = skip_ws(p + 2);
		if (*p != '[')
			return fail_at(rq, DANN_EINVAL, expr, p, "expected '['");
		p = skip_ws(p + 1);
		while (*p != ']') {
			if (cnt == cap) {
				int64_t *nk;
				if (cap >= PKEXPR_MAX_KEYS)
					return fail_at(rq, DANN_EINVAL, expr, p, "too many keys");
				if (!(nk = srv_arena_alloc(rq->arena, 2 * cap * sizeof *nk)))
					return DANN_ENOMEM;
				memcpy(nk, k, cap * sizeof *k);
				k = nk;
				cap *= 2;
			}
			if ((rc = parse_key(rq, expr, &p, &k[cnt])) < 0)
				return rc;
			cnt++;
			p = skip_ws(p);
			if (*p == ',')
				p = skip_ws(p + 1);
			else if (*p != ']')
				return fail_at(rq, DANN_EINVAL, expr, p, "expected ',' or ']'");
		}
		p = skip_ws(p + 1);
	} else {
		return fail_at(rq, DANN_EUNSUPPORTED, expr, p,
			       "only 'in [...]' and '==' on the primary key are served yet");
	}
	if (*p)
		return fail_at(rq, DANN_EUNSUPPORTED, expr, p, "unexpected text after the key list");
	*keys = k;
	*n = cnt;
	return 0;
}
