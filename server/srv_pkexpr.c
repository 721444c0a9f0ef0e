/*
 * srv_pkexpr.c — a hand-written scanner for `pk in [..]` / `pk == k`
 * (see srv_pkexpr.h). It only recognises; it never fails on text it does
 * not understand, so the filter language stays the one place that judges
 * an expression.
 */
#include "srv_pkexpr.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dann.h"

static const char *skip_ws(const char *p)
{
	while (*p && isspace((unsigned char)*p))
		p++;
	return p;
}

/* An int64 literal (optionally signed) at *pp: 1 and advances, 0 if none. */
static int scan_key(const char **pp, int64_t *out)
{
	const char *p = *pp;
	char *end;
	long long v;

	if (!isdigit((unsigned char)p[*p == '-' || *p == '+']))
		return 0;
	errno = 0;
	v = strtoll(p, &end, 10);
	if (end == p || errno == ERANGE || isalnum((unsigned char)*end) || *end == '.' || *end == '_')
		return 0;
	*out = v;
	*pp = end;
	return 1;
}

/* Grows the key array when full. */
static int room(struct srv_req *rq, int64_t **k, size_t cnt, size_t *cap)
{
	int64_t *nk;

	if (cnt < *cap)
		return 0;
	if (!(nk = srv_arena_alloc(rq->arena, 2 * *cap * sizeof *nk)))
		return DANN_ENOMEM;
	memcpy(nk, *k, *cap * sizeof *nk);
	*k = nk;
	*cap *= 2;
	return 0;
}

int srv_pkexpr_match(struct srv_req *rq, const char *expr, const char *pk, int64_t **keys, uint64_t *n)
{
	const char *p = skip_ws(expr ? expr : "");
	size_t pklen = strlen(pk), cap = 16, cnt = 0;
	int64_t *k;

	if (strncmp(p, pk, pklen) != 0 || isalnum((unsigned char)p[pklen]) || p[pklen] == '_')
		return 0;
	p = skip_ws(p + pklen);
	if (!(k = srv_arena_alloc(rq->arena, cap * sizeof *k)))
		return DANN_ENOMEM;
	if (p[0] == '=' && p[1] == '=') {
		p = skip_ws(p + 2);
		if (!scan_key(&p, &k[0]))
			return 0;
		cnt = 1;
	} else if ((p[0] == 'i' || p[0] == 'I') && (p[1] == 'n' || p[1] == 'N') &&
		   (isspace((unsigned char)p[2]) || p[2] == '[')) {
		p = skip_ws(p + 2);
		if (*p != '[')
			return 0;
		p = skip_ws(p + 1);
		while (*p != ']') {
			if (room(rq, &k, cnt, &cap) < 0)
				return DANN_ENOMEM;
			if (!scan_key(&p, &k[cnt]))
				return 0;
			cnt++;
			p = skip_ws(p);
			if (*p == ',')
				p = skip_ws(p + 1);
			else if (*p != ']')
				return 0;
		}
		p = skip_ws(p + 1);
	} else {
		return 0;
	}
	if (*p)
		return 0;
	*keys = k;
	*n = cnt;
	return 1;
}
