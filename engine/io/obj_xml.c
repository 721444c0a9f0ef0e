/*
 * obj_xml.c — just enough XML to read S3's replies.
 *
 * S3 answers ListObjectsV2, multipart uploads and errors with small,
 * regular documents: elements with text, no mixed content, no CDATA, no
 * namespaces on the elements we read (a default xmlns attribute on the
 * root, which is skipped). An element is found by its exact name — "<Key>"
 * never matches "<KeyCount>" — and its text is decoded from XML's entities.
 * Anything this reader cannot make sense of is DANN_ECORRUPT, never a guess.
 */
#include <stdlib.h>
#include <string.h>

#include "../error.h"
#include "obj_impl.h"

/* Is p (inside [.., end)) the start tag of tag: "<tag>", "<tag ...>" or
 * "<tag/>"? Sets *self_closing and *after (past the '>'). */
static int start_tag_at(const char *p, const char *end, const char *tag, size_t tlen, int *self_closing,
			const char **after)
{
	const char *q;

	if (end - p < (ptrdiff_t)(tlen + 2) || p[0] != '<' || memcmp(p + 1, tag, tlen) != 0)
		return 0;
	q = p + 1 + tlen;
	if (*q != '>' && *q != '/' && *q != ' ' && *q != '\t' && *q != '\n' && *q != '\r')
		return 0;
	q = memchr(q, '>', (size_t)(end - q));
	if (!q)
		return 0;
	*self_closing = q[-1] == '/';
	*after = q + 1;
	return 1;
}

int obj_xml_find(const char *p, const char *end, const char *tag, const char **val, size_t *vlen,
		 const char **next)
{
	size_t tlen = strlen(tag);

	while (p < end) {
		const char *lt = memchr(p, '<', (size_t)(end - p));
		const char *body, *q;
		int self_closing;

		if (!lt)
			return 0;
		if (!start_tag_at(lt, end, tag, tlen, &self_closing, &body)) {
			p = lt + 1;
			continue;
		}
		if (self_closing) {
			*val = body;
			*vlen = 0;
			*next = body;
			return 1;
		}
		/* the matching end tag: elements S3 sends never nest in one of
		 * their own name, so the first "</tag>" closes it */
		for (q = body; q < end;) {
			const char *c = memchr(q, '<', (size_t)(end - q));

			if (!c || end - c < (ptrdiff_t)(tlen + 3))
				return 0;
			if (c[1] == '/' && memcmp(c + 2, tag, tlen) == 0 && c[2 + tlen] == '>') {
				*val = body;
				*vlen = (size_t)(c - body);
				*next = c + 3 + tlen;
				return 1;
			}
			q = c + 1;
		}
		return 0;
	}
	return 0;
}

static int put_utf8(unsigned long cp, char *out, size_t cap, size_t *o)
{
	char b[4];
	size_t n, i;

	if (cp == 0 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return -1;
	if (cp < 0x80) {
		b[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		b[0] = (char)(0xc0 | (cp >> 6));
		b[1] = (char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		b[0] = (char)(0xe0 | (cp >> 12));
		b[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		b[2] = (char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		b[0] = (char)(0xf0 | (cp >> 18));
		b[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		b[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		b[3] = (char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	if (*o + n >= cap)
		return -2;
	for (i = 0; i < n; i++)
		out[(*o)++] = b[i];
	return 0;
}

static const struct {
	const char *name;
	char c;
} entities[] = { { "amp", '&' }, { "lt", '<' }, { "gt", '>' }, { "quot", '"' }, { "apos", '\'' } };

int obj_xml_unescape(const char *v, size_t n, char *out, size_t cap)
{
	size_t i = 0, o = 0;

	while (i < n) {
		const char *semi;
		size_t elen, k;
		int ok = 0;

		if (v[i] != '&') {
			if (o + 1 >= cap)
				return dann_fail(DANN_ECORRUPT, "S3 reply: text longer than %zu bytes", cap - 1);
			out[o++] = v[i++];
			continue;
		}
		semi = memchr(v + i, ';', n - i);
		if (!semi)
			return dann_fail(DANN_ECORRUPT, "S3 reply: '&' without ';' in \"%.*s\"", (int)n, v);
		elen = (size_t)(semi - (v + i + 1));
		if (elen >= 2 && v[i + 1] == '#') {
			char num[16], *e;
			unsigned long cp;
			int hex = v[i + 2] == 'x' || v[i + 2] == 'X';
			size_t dlen = elen - 1 - (size_t)hex;

			if (dlen == 0 || dlen >= sizeof num)
				return dann_fail(DANN_ECORRUPT, "S3 reply: bad character reference in \"%.*s\"", (int)n, v);
			memcpy(num, v + i + 2 + hex, dlen);
			num[dlen] = 0;
			cp = strtoul(num, &e, hex ? 16 : 10);
			if (*e)
				return dann_fail(DANN_ECORRUPT, "S3 reply: bad character reference in \"%.*s\"", (int)n, v);
			int r = put_utf8(cp, out, cap, &o);

			if (r == -1)
				return dann_fail(DANN_ECORRUPT, "S3 reply: character reference %lu out of range", cp);
			if (r == -2)
				return dann_fail(DANN_ECORRUPT, "S3 reply: text longer than %zu bytes", cap - 1);
			ok = 1;
		} else {
			for (k = 0; k < sizeof entities / sizeof entities[0]; k++)
				if (strlen(entities[k].name) == elen && memcmp(v + i + 1, entities[k].name, elen) == 0) {
					if (o + 1 >= cap)
						return dann_fail(DANN_ECORRUPT, "S3 reply: text longer than %zu bytes",
								 cap - 1);
					out[o++] = entities[k].c;
					ok = 1;
					break;
				}
		}
		if (!ok)
			return dann_fail(DANN_ECORRUPT, "S3 reply: unknown entity \"&%.*s;\"", (int)elen, v + i + 1);
		i += elen + 2;
	}
	if (cap == 0)
		return dann_fail(DANN_ECORRUPT, "S3 reply: no room for text");
	out[o] = 0;
	return 0;
}

int obj_xml_text(const char *p, const char *end, const char *tag, char *out, size_t cap)
{
	const char *v, *next;
	size_t n;
	int rc;

	if (!obj_xml_find(p, end, tag, &v, &n, &next))
		return 0;
	rc = obj_xml_unescape(v, n, out, cap);
	return rc < 0 ? rc : 1;
}
