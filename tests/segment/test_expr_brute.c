/*
 * test_expr_brute.c — the evaluator against an independent brute-force
 * oracle: random segments (nulls, NaN, UTF-8 and LIKE metacharacters in
 * strings, a dynamic JSON field) and random expressions generated as a
 * tree the test evaluates itself, row by row with SQL's three values, and
 * printed as text (random keyword case, symbolic and word operators,
 * redundant parentheses) for expr_compile. Every expression is evaluated
 * by the row scan and through the scalar indexes; both must equal the
 * oracle on every row.
 */
#include <math.h>
#include <stdarg.h>

#include "expr_testutil.h"

#define ROWS 3000
#define EXPRS 600
#define NSTR 14

static const char *const strs[NSTR] = { "", "a", "ab", "abc", "b", "ba", "日本", "日", "%",
					"_x", "a_b", "a%b", "zz", "Ab" };
static const char *const kstrs[3] = { "x", "y", "日" };

/* ---- the data ---------------------------------------------------------- */

struct row {
	int32_t a;       /* -5..5, nullable */
	int a_null;
	int64_t b;       /* wide range */
	double c;        /* halves in -2.5..2.5, some NaN */
	int s;           /* index into strs, -1 = null */
	uint8_t f;
	int k_kind;      /* 0 missing, 1 null, 2 int, 3 string */
	int64_t k_int;
	int k_str;
	int narr;        /* -1: no "arr" key */
	int64_t arr[3];
	int meta_null;   /* the whole $meta row is null */
};

static struct row R[ROWS];

/* ---- oracle values ----------------------------------------------------- */

enum { N_NULL, N_INT, N_DBL, N_STR, N_BOOL };
struct v {
	int k;
	int64_t i;
	double d;
	const char *s;
};

static struct v vnull(void) { return (struct v){ .k = N_NULL }; }
static struct v vint(int64_t i) { return (struct v){ .k = N_INT, .i = i }; }
static struct v vdbl(double d) { return (struct v){ .k = N_DBL, .d = d }; }
static struct v vstr(const char *s) { return (struct v){ .k = N_STR, .s = s }; }

/* -1/0/1 ordering, 2 for "unordered" (NaN), 3 for incomparable kinds. */
static int order(struct v x, struct v y)
{
	if ((x.k == N_INT || x.k == N_DBL) && (y.k == N_INT || y.k == N_DBL)) {
		if (x.k == N_INT && y.k == N_INT)
			return (x.i > y.i) - (x.i < y.i);
		double p = x.k == N_INT ? (double)x.i : x.d, q = y.k == N_INT ? (double)y.i : y.d;
		if (p != p || q != q)
			return 2;
		return (p > q) - (p < q);
	}
	if (x.k == N_STR && y.k == N_STR) {
		int c = strcmp(x.s, y.s); /* test strings hold no NUL */
		return (c > 0) - (c < 0);
	}
	if (x.k == N_BOOL && y.k == N_BOOL)
		return x.i == y.i ? 0 : 4; /* bools: equal or not, no order */
	return 3;
}

enum { EQ, NE, LT, LE, GT, GE };
static const char *const opname[] = { "==", "!=", "<", "<=", ">", ">=" };

/* 0 false, 1 true, 2 unknown */
static int cmp3(struct v x, struct v y, int op)
{
	int o;
	if (x.k == N_NULL || y.k == N_NULL)
		return 2;
	o = order(x, y);
	if (o == 2)
		return op == NE;
	if (o == 3)
		return 0;
	if (o == 4)
		return op == NE;
	switch (op) {
	case EQ: return o == 0;
	case NE: return o != 0;
	case LT: return o < 0;
	case LE: return o <= 0;
	case GT: return o > 0;
	default: return o >= 0;
	}
}

/* UTF-8 code point length */
static int cplen(const char *s)
{
	unsigned char c = (unsigned char)*s;
	return c < 0x80 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
}

static int like(const char *s, const char *p)
{
	if (!*p)
		return !*s;
	if (*p == '%')
		return like(s, p + 1) || (*s && like(s + cplen(s), p));
	if (!*s)
		return 0;
	if (*p == '_')
		return like(s + cplen(s), p + 1);
	if (*p == '\\' && p[1])
		p++;
	return *s == *p && like(s + 1, p + 1);
}

/* ---- expressions: a tree the oracle evaluates and a printer ------------- */

enum { X_CMP, X_IN, X_LIKE, X_NULL, X_AND, X_OR, X_NOT, X_FLAG, X_CONTAINS };
enum { V_LIT, V_A, V_B, V_C, V_S, V_K, V_ADD, V_MUL, V_MOD, V_SUB };

struct val_node {
	int kind;
	struct v lit;
	struct val_node *l, *r;
};

struct xnode {
	int kind, op, neg;
	struct val_node *x, *y;
	struct v list[6];
	int nlist;
	const char *pat;
	struct xnode *kids[3];
	int nkids;
};

static struct val_node vpool[EXPRS * 64];
static struct xnode xpool[EXPRS * 32];
static int nv, nx;
static unsigned seed;

static int rnd(int n) { return (int)(rand_r(&seed) % (unsigned)n); }

static struct val_node *vn(int kind)
{
	cr_assert_lt(nv, (int)(sizeof vpool / sizeof vpool[0]));
	vpool[nv] = (struct val_node){ .kind = kind };
	return &vpool[nv++];
}

static struct val_node *vlit(struct v lit)
{
	struct val_node *n = vn(V_LIT);
	n->lit = lit;
	return n;
}

static struct v eval_v(const struct val_node *n, int r)
{
	const struct row *w = &R[r];
	struct v x, y;
	__int128 z;

	switch (n->kind) {
	case V_LIT: return n->lit;
	case V_A: return w->a_null ? vnull() : vint(w->a);
	case V_B: return vint(w->b);
	case V_C: return vdbl(w->c);
	case V_S: return w->s < 0 ? vnull() : vstr(strs[w->s]);
	case V_K:
		if (w->meta_null || w->k_kind < 2)
			return vnull();
		return w->k_kind == 2 ? vint(w->k_int) : vstr(kstrs[w->k_str]);
	default:
		break;
	}
	x = eval_v(n->l, r);
	y = eval_v(n->r, r);
	if ((x.k != N_INT && x.k != N_DBL) || (y.k != N_INT && y.k != N_DBL))
		return vnull();
	if (x.k == N_DBL || y.k == N_DBL) {
		double p = x.k == N_INT ? (double)x.i : x.d, q = y.k == N_INT ? (double)y.i : y.d;
		switch (n->kind) {
		case V_ADD: return vdbl(p + q);
		case V_SUB: return vdbl(p - q);
		case V_MUL: return vdbl(p * q);
		default: return q == 0 ? vnull() : vdbl(fmod(p, q));
		}
	}
	switch (n->kind) {
	case V_ADD: z = (__int128)x.i + y.i; break;
	case V_SUB: z = (__int128)x.i - y.i; break;
	case V_MUL: z = (__int128)x.i * y.i; break;
	default:
		if (y.i == 0)
			return vnull();
		z = (__int128)x.i % y.i;
		break;
	}
	if (z > INT64_MAX || z < INT64_MIN)
		return vnull();
	return vint((int64_t)z);
}

static int eval_x(const struct xnode *n, int r)
{
	int t, res;
	struct v x;

	switch (n->kind) {
	case X_CMP:
		return cmp3(eval_v(n->x, r), eval_v(n->y, r), n->op);
	case X_IN:
		x = eval_v(n->x, r);
		if (x.k == N_NULL)
			return 2;
		res = 0;
		for (int i = 0; i < n->nlist; i++)
			res |= cmp3(x, n->list[i], EQ) == 1;
		return n->neg ? !res : res;
	case X_LIKE:
		x = eval_v(n->x, r);
		if (x.k == N_NULL)
			return 2;
		res = x.k == N_STR && like(x.s, n->pat);
		return n->neg ? !res : res;
	case X_NULL:
		x = eval_v(n->x, r);
		return n->neg ? x.k != N_NULL : x.k == N_NULL;
	case X_FLAG:
		return R[r].f;
	case X_CONTAINS:
		if (R[r].meta_null || R[r].narr < 0)
			return 2;
		res = 0;
		for (int i = 0; i < R[r].narr; i++)
			res |= R[r].arr[i] == n->list[0].i;
		return res;
	case X_NOT:
		t = eval_x(n->kids[0], r);
		return t == 2 ? 2 : !t;
	case X_AND:
		res = 1;
		for (int i = 0; i < n->nkids; i++) {
			t = eval_x(n->kids[i], r);
			if (t == 0)
				return 0;
			if (t == 2)
				res = 2;
		}
		return res;
	default:
		res = 0;
		for (int i = 0; i < n->nkids; i++) {
			t = eval_x(n->kids[i], r);
			if (t == 1)
				return 1;
			if (t == 2)
				res = 2;
		}
		return res;
	}
}

/* ---- printing ----------------------------------------------------------- */

struct buf {
	char s[8192];
	size_t n;
};

static void put(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	b->n += (size_t)vsnprintf(b->s + b->n, sizeof b->s - b->n, fmt, ap);
	va_end(ap);
	cr_assert_lt(b->n, sizeof b->s);
}

static void put_lit(struct buf *b, struct v l)
{
	switch (l.k) {
	case N_INT: put(b, "%lld", (long long)l.i); break;
	case N_DBL: put(b, "%.17g", l.d); break;
	case N_BOOL: put(b, l.i ? "true" : "false"); break;
	default:
		put(b, "\"");
		for (const char *p = l.s; *p; p++)
			put(b, *p == '"' || *p == '\\' ? "\\%c" : "%c", *p);
		put(b, "\"");
		break;
	}
}

static void put_kw(struct buf *b, const char *w)
{
	switch (rnd(3)) {
	case 0: put(b, "%s", w); break;
	case 1:
		for (const char *p = w; *p; p++)
			put(b, "%c", *p - 32);
		break;
	default: put(b, "%c%s", *w - 32, w + 1); break;
	}
}

static void put_v(struct buf *b, const struct val_node *n)
{
	static const char *const names[] = { [V_A] = "a", [V_B] = "b", [V_C] = "c", [V_S] = "s" };
	static const char *const ops[] = { [V_ADD] = "+", [V_SUB] = "-", [V_MUL] = "*", [V_MOD] = "%" };
	switch (n->kind) {
	case V_LIT: put_lit(b, n->lit); break;
	case V_K: put(b, rnd(2) ? "k" : "$meta[\"k\"]"); break;
	case V_ADD: case V_SUB: case V_MUL: case V_MOD:
		put(b, "(");
		put_v(b, n->l);
		put(b, " %s ", ops[n->kind]);
		put_v(b, n->r);
		put(b, ")");
		break;
	default: put(b, "%s", names[n->kind]); break;
	}
}

static void put_x(struct buf *b, const struct xnode *n)
{
	switch (n->kind) {
	case X_CMP:
		put_v(b, n->x);
		put(b, " %s ", opname[n->op]);
		put_v(b, n->y);
		break;
	case X_IN:
		put_v(b, n->x);
		put(b, " ");
		if (n->neg) {
			put_kw(b, "not");
			put(b, " ");
		}
		put_kw(b, "in");
		put(b, " [");
		for (int i = 0; i < n->nlist; i++) {
			put(b, i ? ", " : "");
			put_lit(b, n->list[i]);
		}
		put(b, "]");
		break;
	case X_LIKE:
		put_v(b, n->x);
		put(b, n->neg ? " not like " : " like ");
		put(b, "\"%s\"", n->pat);
		break;
	case X_NULL:
		put_v(b, n->x);
		put(b, " ");
		put_kw(b, "is");
		put(b, n->neg ? " not null" : " null");
		break;
	case X_FLAG:
		put(b, "f");
		break;
	case X_CONTAINS:
		put(b, rnd(2) ? "json_contains(arr, %lld)" : "array_contains($meta[\"arr\"], %lld)",
		    (long long)n->list[0].i);
		break;
	case X_NOT:
		put(b, rnd(2) ? "not (" : "!(");
		put_x(b, n->kids[0]);
		put(b, ")");
		break;
	default:
		put(b, "(");
		for (int i = 0; i < n->nkids; i++) {
			if (i) {
				int word = rnd(2);
				put(b, " ");
				if (word)
					put_kw(b, n->kind == X_AND ? "and" : "or");
				else
					put(b, n->kind == X_AND ? "&&" : "||");
				put(b, " ");
			}
			put_x(b, n->kids[i]);
		}
		put(b, ")");
		break;
	}
}

/* ---- generation ------------------------------------------------------- */

static struct xnode *xn(int kind)
{
	cr_assert_lt(nx, (int)(sizeof xpool / sizeof xpool[0]));
	xpool[nx] = (struct xnode){ .kind = kind };
	return &xpool[nx++];
}

static struct v rand_num(void)
{
	return rnd(4) ? vint(rnd(13) - 6) : vdbl((rnd(13) - 6) / 2.0);
}

static struct xnode *gen_leaf(void)
{
	static const char *const pats[] = { "a%", "%b", "_", "%", "a_b", "a\\%b", "%本", "日_",
					     "", "\\_x", "%a%", "__", "A%" };
	struct xnode *n;
	int op = rnd(6);

	switch (rnd(13)) {
	case 0: /* a op number */
		n = xn(X_CMP);
		n->op = op;
		n->x = vn(V_A);
		n->y = vlit(rand_num());
		if (rnd(3) == 0) { /* literal on the left */
			struct val_node *t = n->x;
			n->x = n->y;
			n->y = t;
		}
		return n;
	case 1: /* b op a value near the data or far */
		n = xn(X_CMP);
		n->op = op;
		n->x = vn(V_B);
		n->y = vlit(rnd(2) ? vint(R[rnd(ROWS)].b) : vint((int64_t)rand_r(&seed) * 1000 - 1000000000000ll));
		return n;
	case 2:
		n = xn(X_CMP);
		n->op = op;
		n->x = vn(V_C);
		n->y = vlit(rand_num());
		return n;
	case 3: { /* range chain lo < a <= hi, written as an and */
		struct xnode *l = xn(X_CMP), *r = xn(X_CMP);
		int up = rnd(2);
		n = xn(X_AND);
		n->nkids = 2;
		n->kids[0] = l;
		n->kids[1] = r;
		l->x = vlit(vint(rnd(9) - 4));
		l->y = vn(V_A);
		r->x = l->y;
		r->y = vlit(vint(rnd(9) - 4));
		l->op = up ? (rnd(2) ? LT : LE) : (rnd(2) ? GT : GE);
		r->op = up ? (rnd(2) ? LT : LE) : (rnd(2) ? GT : GE);
		n->op = 1; /* print as a chain */
		return n;
	}
	case 4: { /* arithmetic */
		static const int ar[] = { V_ADD, V_SUB, V_MUL, V_MOD };
		struct val_node *e = vn(ar[rnd(4)]);
		e->l = rnd(4) ? vn(V_A) : vn(V_B);
		e->r = rnd(3) ? vlit(vint(rnd(7) - 3)) : (rnd(2) ? vn(V_A) : vlit(vdbl(1.5)));
		if (e->l->kind == V_B && e->kind == V_MUL && rnd(2))
			e->r = vlit(vint(INT64_MAX / 1000000)); /* overflows for some rows */
		n = xn(X_CMP);
		n->op = op;
		n->x = e;
		n->y = vlit(vint(rnd(11) - 5));
		return n;
	}
	case 5:
		n = xn(X_IN);
		n->neg = rnd(3) == 0;
		n->x = vn(V_A);
		n->nlist = rnd(5);
		for (int i = 0; i < n->nlist; i++)
			n->list[i] = rand_num();
		return n;
	case 6:
		n = xn(X_IN);
		n->neg = rnd(3) == 0;
		n->x = vn(V_S);
		n->nlist = 1 + rnd(4);
		for (int i = 0; i < n->nlist; i++)
			n->list[i] = vstr(strs[rnd(NSTR)]);
		return n;
	case 7:
		n = xn(X_LIKE);
		n->neg = rnd(4) == 0;
		n->x = rnd(5) ? vn(V_S) : vn(V_K);
		n->pat = pats[rnd(sizeof pats / sizeof pats[0])];
		return n;
	case 8: {
		static const int f[] = { V_A, V_S, V_K };
		n = xn(X_NULL);
		n->neg = rnd(2);
		n->x = vn(f[rnd(3)]);
		return n;
	}
	case 9:
		return xn(X_FLAG);
	case 10:
		n = xn(X_CMP);
		n->op = op;
		n->x = vn(V_S);
		n->y = vlit(vstr(strs[rnd(NSTR)]));
		return n;
	case 11:
		n = xn(X_CMP);
		n->op = op;
		n->x = vn(V_K);
		n->y = vlit(rnd(2) ? vint(rnd(7) - 3) : vstr(kstrs[rnd(3)]));
		return n;
	default:
		if (rnd(2)) {
			n = xn(X_CONTAINS);
			n->list[0] = vint(rnd(6));
			return n;
		}
		n = xn(X_CMP); /* field against field */
		n->op = op;
		n->x = vn(V_A);
		n->y = vn(V_C);
		return n;
	}
}

static struct xnode *gen(int depth)
{
	struct xnode *n;
	int k = depth > 0 ? rnd(5) : 0;

	if (k <= 1)
		return gen_leaf();
	if (k == 2) {
		n = xn(X_NOT);
		n->nkids = 1;
		n->kids[0] = gen(depth - 1);
		return n;
	}
	n = xn(k == 3 ? X_AND : X_OR);
	n->nkids = 2 + rnd(2);
	for (int i = 0; i < n->nkids; i++)
		n->kids[i] = gen(depth - 1);
	return n;
}

/* A range-chain and is printed "lo < a <= hi". */
static void put_top(struct buf *b, const struct xnode *n);

static void put_chain_aware(struct buf *b, const struct xnode *n)
{
	if (n->kind == X_AND && n->op == 1) {
		put(b, "(");
		put_v(b, n->kids[0]->x);
		put(b, " %s a %s ", opname[n->kids[0]->op], opname[n->kids[1]->op]);
		put_v(b, n->kids[1]->y);
		put(b, ")");
		return;
	}
	put_top(b, n);
}

static void put_top(struct buf *b, const struct xnode *n)
{
	if (n->kind == X_AND || n->kind == X_OR) {
		put(b, "(");
		for (int i = 0; i < n->nkids; i++) {
			if (i) {
				put(b, " ");
				if (rnd(2))
					put_kw(b, n->kind == X_AND ? "and" : "or");
				else
					put(b, n->kind == X_AND ? "&&" : "||");
				put(b, " ");
			}
			put_chain_aware(b, n->kids[i]);
		}
		put(b, ")");
	} else if (n->kind == X_NOT) {
		put(b, rnd(2) ? "not (" : "!(");
		put_chain_aware(b, n->kids[0]);
		put(b, ")");
	} else {
		put_x(b, n);
	}
}

/* ---- the segment ---------------------------------------------------------- */

struct seg {
	struct tt_table t;
	struct dann_schema s;
	int32_t a[ROWS];
	uint8_t a_valid[ROWS];
	int64_t b[ROWS];
	double c[ROWS];
	uint8_t f[ROWS];
	char *bytes[2];
	uint64_t *offs[2];
	uint8_t *valid[2];
	char *meta_text[ROWS];
};

static void make_rows(void)
{
	for (int r = 0; r < ROWS; r++) {
		struct row *w = &R[r];
		w->a = rnd(11) - 5;
		w->a_null = rnd(7) == 0;
		w->b = rnd(3) ? (int64_t)rand_r(&seed) * 1000 - 1000000000000ll : rnd(11) - 5;
		w->c = rnd(20) == 0 ? NAN : (rnd(11) - 5) / 2.0;
		w->s = rnd(8) == 0 ? -1 : rnd(NSTR);
		w->f = (uint8_t)rnd(2);
		w->k_kind = rnd(4);
		w->k_int = rnd(7) - 3;
		w->k_str = rnd(3);
		w->narr = rnd(5) - 1;
		for (int i = 0; i < 3; i++)
			w->arr[i] = rnd(5);
		w->meta_null = rnd(15) == 0;
	}
}

static void field(struct dann_schema *s, const char *name, enum dann_field_type t)
{
	struct dann_field *f = &s->fields[s->nfields++];
	snprintf(f->name, sizeof f->name, "%s", name);
	f->type = t;
	f->nullable = 1;
}

static void make_seg(struct seg *g)
{
	const char *svals[ROWS];
	const char *mvals[ROWS];

	memset(g, 0, sizeof *g);
	snprintf(g->s.pk_field, sizeof g->s.pk_field, "id");
	snprintf(g->s.vector_field, sizeof g->s.vector_field, "vector");
	g->s.dynamic_field = 1;
	field(&g->s, "a", DANN_FIELD_INT32);
	field(&g->s, "b", DANN_FIELD_INT64);
	field(&g->s, "c", DANN_FIELD_DOUBLE);
	field(&g->s, "s", DANN_FIELD_VARCHAR);
	field(&g->s, "f", DANN_FIELD_BOOL);
	for (int r = 0; r < ROWS; r++) {
		const struct row *w = &R[r];
		char m[256];
		size_t n = 0;
		g->a[r] = w->a;
		g->a_valid[r] = !w->a_null;
		g->b[r] = w->b;
		g->c[r] = w->c;
		g->f[r] = w->f;
		svals[r] = w->s < 0 ? NULL : strs[w->s];
		n += (size_t)snprintf(m + n, sizeof m - n, "{");
		if (w->k_kind == 1)
			n += (size_t)snprintf(m + n, sizeof m - n, "\"k\":null");
		else if (w->k_kind == 2)
			n += (size_t)snprintf(m + n, sizeof m - n, "\"k\":%lld", (long long)w->k_int);
		else if (w->k_kind == 3)
			n += (size_t)snprintf(m + n, sizeof m - n, "\"k\":\"%s\"", kstrs[w->k_str]);
		if (w->narr >= 0) {
			n += (size_t)snprintf(m + n, sizeof m - n, "%s\"arr\":[", w->k_kind ? "," : "");
			for (int i = 0; i < w->narr; i++)
				n += (size_t)snprintf(m + n, sizeof m - n, "%s%lld", i ? "," : "",
						      (long long)w->arr[i]);
			n += (size_t)snprintf(m + n, sizeof m - n, "]");
		}
		snprintf(m + n, sizeof m - n, "}");
		g->meta_text[r] = w->meta_null ? NULL : strdup(m);
		mvals[r] = g->meta_text[r];
	}
	g->t.n = ROWS;
	g->t.cols[0] = (struct dann_column){ .name = "a", .type = DANN_FIELD_INT32, .values = g->a,
					     .valid = g->a_valid };
	g->t.cols[1] = (struct dann_column){ .name = "b", .type = DANN_FIELD_INT64, .values = g->b };
	g->t.cols[2] = (struct dann_column){ .name = "c", .type = DANN_FIELD_DOUBLE, .values = g->c };
	tt_strings(&g->t.cols[3], "s", DANN_FIELD_VARCHAR, svals, ROWS, &g->bytes[0], &g->offs[0],
		   &g->valid[0]);
	g->t.cols[4] = (struct dann_column){ .name = "f", .type = DANN_FIELD_BOOL, .values = g->f };
	tt_strings(&g->t.cols[5], "$meta", DANN_FIELD_JSON, mvals, ROWS, &g->bytes[1], &g->offs[1],
		   &g->valid[1]);
	g->t.ncols = 6;
	tt_build_indexes(&g->t);
}

static void free_seg(struct seg *g)
{
	tt_free_indexes(&g->t);
	for (int i = 0; i < 2; i++) {
		free(g->bytes[i]);
		free(g->offs[i]);
		free(g->valid[i]);
	}
	for (int r = 0; r < ROWS; r++)
		free(g->meta_text[r]);
}

static void check_one(struct seg *g, const struct xnode *x, const char *text)
{
	struct expr *e;
	roaring_bitmap_t *bm[2];
	struct expr_source src = tt_source(&g->t);

	cr_assert_eq(expr_compile(text, &g->s, &e), 0, "compile %s: %s", text, dann_errmsg());
	for (int use = 0; use < 2; use++) {
		g->t.use_index = use;
		cr_assert_eq(expr_eval(e, &src, &bm[use]), 0, "eval %s: %s", text, dann_errmsg());
	}
	for (int r = 0; r < ROWS; r++) {
		int want = eval_x(x, r) == 1;
		for (int use = 0; use < 2; use++)
			cr_assert_eq(roaring_bitmap_contains(bm[use], (uint32_t)r), want,
				     "%s (%s): row %d: expected %d", text, use ? "index" : "scan", r, want);
	}
	roaring_bitmap_free(bm[0]);
	roaring_bitmap_free(bm[1]);
	expr_free(e);
}

Test(expr_brute, random_expressions_match_the_oracle_on_random_segments)
{
	static struct seg g;
	uint64_t passing = 0, total = 0;

	seed = 12345;
	make_rows();
	make_seg(&g);
	for (int i = 0; i < EXPRS; i++) {
		struct buf b = { .n = 0 };
		struct xnode *x;
		nv = nx = 0;
		x = gen(3);
		put_top(&b, x);
		check_one(&g, x, b.s);
		for (int r = 0; r < ROWS; r++)
			passing += eval_x(x, r) == 1;
		total += ROWS;
	}
	/* The generator must produce both selective and broad filters. */
	cr_expect_gt(passing, total / 20);
	cr_expect_lt(passing, total * 19 / 20);
	free_seg(&g);
}
