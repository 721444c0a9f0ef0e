/*
 * obj_s3_list.c — ListObjectsV2, page after page.
 *
 * Each page holds up to list_page <Contents> entries (Key, Size) and, when
 * <IsTruncated> is true, a <NextContinuationToken> for the next request.
 * Keys come back in ascending UTF-8 byte order, which obj_list promises.
 * A truncated page without a token, or a token that does not move, is
 * DANN_ECORRUPT rather than a loop.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../error.h"
#include "obj_s3.h"

#define LIST_TOKEN_MAX 2048

/* The canonical query: parameters sorted by name. */
static int page_query(struct obj_store *s, const char *full_prefix, const char *token, char *q, size_t cap)
{
	char num[32];
	int rc;

	q[0] = 0;
	if (token[0]) {
		strcat(q, "continuation-token=");
		if ((rc = obj_uri_encode(token, 0, q, cap)) < 0)
			return rc;
		strcat(q, "&");
	}
	snprintf(num, sizeof num, "list-type=2&max-keys=%u", s->cfg.list_page);
	if (strlen(q) + strlen(num) + 9 >= cap)
		return dann_fail(DANN_EINVAL, "list query too long");
	strcat(q, num);
	strcat(q, "&prefix=");
	return obj_uri_encode(full_prefix, 0, q, cap);
}

/* Hands each <Contents> of one page to fn. */
static int page_entries(struct obj_store *s, const char *p, const char *end, obj_list_fn fn, void *arg,
			char *last, const char *what)
{
	size_t plen = strlen(s->prefix);
	const char *v, *next;
	size_t vlen;
	int rc;

	while (obj_xml_find(p, end, "Contents", &v, &vlen, &next)) {
		char key[OBJ_URI_MAX + OBJ_KEY_MAX], size[32], *e;
		uint64_t n;

		if ((rc = obj_xml_text(v, v + vlen, "Key", key, sizeof key)) != 1 ||
		    (rc = obj_xml_text(v, v + vlen, "Size", size, sizeof size)) != 1)
			return rc < 0 ? rc : dann_fail(DANN_ECORRUPT, "%s: <Contents> without <Key> or <Size>", what);
		n = strtoull(size, &e, 10);
		if (!size[0] || *e)
			return dann_fail(DANN_ECORRUPT, "%s: <Size>%s</Size> of %s is not a number", what, size, key);
		if (strncmp(key, s->prefix, plen) != 0)
			return dann_fail(DANN_ECORRUPT, "%s: key %s is outside the prefix %s", what, key, s->prefix);
		if (last[0] && strcmp(key, last) <= 0)
			return dann_fail(DANN_ECORRUPT, "%s: key %s after %s, not in ascending order", what, key, last);
		snprintf(last, OBJ_URI_MAX + OBJ_KEY_MAX, "%s", key);
		if ((rc = fn(arg, key + plen, n)) != 0)
			return rc;
		p = next;
	}
	return 0;
}

int s3_list(struct obj_store *s, const char *prefix, obj_list_fn fn, void *arg)
{
	char full[OBJ_URI_MAX + OBJ_KEY_MAX], token[LIST_TOKEN_MAX] = "", q[3 * LIST_TOKEN_MAX + 4 * OBJ_URI_MAX];
	char what[2 * OBJ_URI_MAX + OBJ_KEY_MAX + 320], last[OBJ_URI_MAX + OBJ_KEY_MAX] = "";
	unsigned pages = 0;
	int rc;

	snprintf(full, sizeof full, "%s%s", s->prefix, prefix);
	for (;;) {
		struct s3_req r = { .method = "GET", .key = NULL, .query = q };
		char trunc[16] = "", ntoken[LIST_TOKEN_MAX] = "";
		const char *end;

		if ((rc = page_query(s, full, token, q, sizeof q)) < 0)
			return rc;
		snprintf(what, sizeof what, "ListObjectsV2 s3://%s/%s (page %u)", s->bucket, full, pages + 1);
		if ((rc = s3_request(s, &r, what)) < 0) {
			s3_req_free(&r);
			return rc;
		}
		end = r.reply ? r.reply + r.reply_n : NULL;
		if (!r.reply || !strstr(r.reply, "<ListBucketResult")) {
			s3_req_free(&r);
			return dann_fail(DANN_ECORRUPT, "%s: reply is not a ListBucketResult", what);
		}
		rc = page_entries(s, r.reply, end, fn, arg, last, what);
		if (rc == 0 && obj_xml_text(r.reply, end, "IsTruncated", trunc, sizeof trunc) < 0)
			rc = DANN_ECORRUPT;
		if (rc == 0 && strcmp(trunc, "true") == 0) {
			int t = obj_xml_text(r.reply, end, "NextContinuationToken", ntoken, sizeof ntoken);

			if (t < 0)
				rc = t;
			else if (t == 0 || !ntoken[0] || strcmp(ntoken, token) == 0)
				rc = dann_fail(DANN_ECORRUPT, "%s: truncated page without a new continuation token", what);
		}
		s3_req_free(&r);
		if (rc != 0)
			return rc;
		pages++;
		if (strcmp(trunc, "true") != 0)
			return 0;
		strcpy(token, ntoken);
	}
}
