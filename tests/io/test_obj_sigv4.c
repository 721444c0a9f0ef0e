/*
 * test_obj_sigv4.c — the requests the S3 client sends are signed right.
 *
 * s3rver does not check signatures, so this test does: a listener on
 * loopback receives the client's real requests (same code path, curl's
 * CURLOPT_AWS_SIGV4 signing, the client's URL and header building; only
 * the connection is pointed at 127.0.0.1) and the Authorization header is
 * compared with
 *   - AWS's published example (S3 API reference, "Signature Calculations
 *     for the Authorization Header", GET Object with a Range): fixed
 *     credentials and date, a known signature;
 *   - a signature computed here from the documented algorithm (canonical
 *     request, string to sign, the derived HMAC key), for a PUT with a body
 *     and for a ListObjectsV2 with a query, keys needing URI encoding, at
 *     the current time.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <pthread.h>
#include <sys/socket.h>

#include "obj_test.h"

#define AWS_KEY "AKIAIOSFODNN7EXAMPLE"
#define AWS_SECRET "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
#define HOST "examplebucket.s3.amazonaws.com"
#define MAX_REQ 8

struct captured {
	char head[8192];        /* request line and headers */
	char body[4096];
	size_t body_len;
};

struct listener {
	int fd, port;
	unsigned n, want;
	const char *reply;      /* body of every 200 reply */
	struct captured req[MAX_REQ];
	pthread_t th;
};

static void read_request(int c, struct captured *q)
{
	size_t n = 0, clen = 0;
	char *end = NULL, *cl;

	while (!end && n < sizeof q->head - 1) {
		ssize_t r = read(c, q->head + n, sizeof q->head - 1 - n);

		if (r <= 0)
			return;
		n += (size_t)r;
		q->head[n] = 0;
		end = strstr(q->head, "\r\n\r\n");
	}
	if (!end)
		return;
	q->body_len = n - (size_t)(end + 4 - q->head);
	memcpy(q->body, end + 4, q->body_len);
	end[2] = 0;
	if ((cl = strcasestr(q->head, "\r\ncontent-length:")))
		clen = strtoul(cl + 17, NULL, 10);
	while (q->body_len < clen && q->body_len < sizeof q->body) {
		ssize_t r = read(c, q->body + q->body_len, sizeof q->body - q->body_len);

		if (r <= 0)
			return;
		q->body_len += (size_t)r;
	}
}

static void *serve(void *arg)
{
	struct listener *l = arg;

	while (l->n < l->want) {
		int c = accept(l->fd, NULL, NULL);
		char resp[8192];
		int len;

		if (c < 0)
			break;
		read_request(c, &l->req[l->n]);
		len = snprintf(resp, sizeof resp,
			       "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\nETag: \"e\"\r\nConnection: close\r\n\r\n%s",
			       strlen(l->reply), l->reply);
		cr_assert_eq(write(c, resp, (size_t)len), len);
		close(c);
		l->n++;
	}
	return NULL;
}

static void listen_start(struct listener *l, unsigned want, const char *reply)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = 0 };
	socklen_t alen = sizeof a;

	memset(l, 0, sizeof *l);
	l->want = want;
	l->reply = reply;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert((l->fd = socket(AF_INET, SOCK_STREAM, 0)) >= 0);
	cr_assert_eq(bind(l->fd, (struct sockaddr *)&a, sizeof a), 0);
	cr_assert_eq(listen(l->fd, 8), 0);
	cr_assert_eq(getsockname(l->fd, (struct sockaddr *)&a, &alen), 0);
	l->port = ntohs(a.sin_port);
	cr_assert_eq(pthread_create(&l->th, NULL, serve, l), 0);
}

static void listen_stop(struct listener *l)
{
	pthread_join(l->th, NULL);
	close(l->fd);
}

/* The value of header name (lowercase) in a captured request, or "". */
static void header(const struct captured *q, const char *name, char *out, size_t cap)
{
	const char *p = q->head;
	size_t n = strlen(name);

	out[0] = 0;
	while ((p = strstr(p, "\r\n"))) {
		p += 2;
		if (strncasecmp(p, name, n) == 0 && p[n] == ':') {
			const char *v = p + n + 1, *e = strstr(v, "\r\n");

			while (*v == ' ')
				v++;
			snprintf(out, cap, "%.*s", (int)(e ? e - v : (long)strlen(v)), v);
			return;
		}
	}
}

static struct obj_store *open_example(struct listener *l, const char *uri, const char *date)
{
	struct obj_config c;
	struct obj_store *s;
	char connect_to[128];

	snprintf(connect_to, sizeof connect_to, HOST ":80:127.0.0.1:%d", l->port);
	obj_config_default(&c);
	c.endpoint = "http://s3.amazonaws.com";
	c.region = "us-east-1";
	c.access_key = AWS_KEY;
	c.secret_key = AWS_SECRET;
	c.path_style = 0;
	c.retries = OBJ_NO_RETRIES;
	c.test_amz_date = date;
	c.test_connect_to = connect_to;
	cr_assert_eq(obj_open(uri, &c, &s), 0, "%s", dann_errmsg());
	return s;
}

Test(obj_sigv4, matches_the_published_aws_example)
{
	struct listener l;
	struct obj_store *s;
	char buf[16], auth[512], host[128];
	size_t got;

	listen_start(&l, 1, "0123456789");
	s = open_example(&l, "s3://examplebucket", "20130524T000000Z");
	cr_assert_eq(obj_get(s, "test.txt", 0, 10, buf, &got), 0, "%s", dann_errmsg());
	cr_assert_eq(got, 10);
	listen_stop(&l);
	cr_assert(strncmp(l.req[0].head, "GET /test.txt HTTP/1.1\r\n", 24) == 0, "%s", l.req[0].head);
	header(&l.req[0], "host", host, sizeof host);
	cr_assert_str_eq(host, HOST);
	header(&l.req[0], "authorization", auth, sizeof auth);
	/* AWS's example request: GET /test.txt, Range: bytes=0-9, empty
	 * payload, 20130524T000000Z, us-east-1 — and its signature */
	cr_assert(strstr(auth, "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request"),
		  "%s", auth);
	cr_assert(strstr(auth, "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date"), "%s", auth);
	cr_assert(strstr(auth, "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"), "%s",
		  auth);
	obj_close(s);
}

/* ---- the algorithm, written out from AWS's documentation ---- */

static void hex(const unsigned char *b, size_t n, char *out)
{
	size_t i;

	for (i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", b[i]);
}

static void sha256_hex(const void *p, size_t n, char out[65])
{
	unsigned char md[32];
	unsigned int len = 0;

	EVP_Digest(p, n, md, &len, EVP_sha256(), NULL);
	hex(md, 32, out);
}

static void hmac(const void *key, size_t klen, const char *msg, unsigned char out[32])
{
	unsigned int len = 32;

	HMAC(EVP_sha256(), key, (int)klen, (const unsigned char *)msg, strlen(msg), out, &len);
}

/* URI-encode per AWS: A-Z a-z 0-9 - _ . ~ kept, '/' kept in paths. */
static void aws_encode(const char *in, int path, char *out)
{
	for (; *in; in++) {
		unsigned char ch = (unsigned char)*in;

		if (isalnum(ch) || strchr("-_.~", ch) || (path && ch == '/'))
			*out++ = (char)ch;
		else
			out += sprintf(out, "%%%02X", ch);
	}
	*out = 0;
}

/* The signature for a request whose signed headers are host,
 * x-amz-content-sha256 and x-amz-date. */
static void expected_signature(const char *method, const char *uri, const char *query, const char *date,
			       const char *payload_hash, char out[65])
{
	char creq[4096], sts[1024], creq_hash[65], k0[128], day[9];
	unsigned char k1[32], k2[32], k3[32], k4[32], sig[32];

	snprintf(creq, sizeof creq, "%s\n%s\n%s\nhost:%s\nx-amz-content-sha256:%s\nx-amz-date:%s\n\n"
		 "host;x-amz-content-sha256;x-amz-date\n%s",
		 method, uri, query, HOST, payload_hash, date, payload_hash);
	sha256_hex(creq, strlen(creq), creq_hash);
	snprintf(day, sizeof day, "%.8s", date);
	snprintf(sts, sizeof sts, "AWS4-HMAC-SHA256\n%s\n%s/us-east-1/s3/aws4_request\n%s", date, day, creq_hash);
	snprintf(k0, sizeof k0, "AWS4%s", AWS_SECRET);
	hmac(k0, strlen(k0), day, k1);
	hmac(k1, 32, "us-east-1", k2);
	hmac(k2, 32, "s3", k3);
	hmac(k3, 32, "aws4_request", k4);
	hmac(k4, 32, sts, sig);
	hex(sig, 32, out);
}

Test(obj_sigv4, put_with_a_body_and_an_encoded_key_is_signed_as_documented)
{
	const char *body = "Welcome to Amazon S3.";
	struct listener l;
	struct obj_store *s;
	char date[64], auth[512], sha[128], want_sha[65], want_sig[65], uri[512], line[600], tagged[128];

	listen_start(&l, 1, "");
	s = open_example(&l, "s3://examplebucket/pre fix", NULL);
	cr_assert_eq(obj_put(s, "dir/a b+c=d.txt", body, strlen(body)), 0, "%s", dann_errmsg());
	listen_stop(&l);
	header(&l.req[0], "x-amz-date", date, sizeof date);
	header(&l.req[0], "x-amz-content-sha256", sha, sizeof sha);
	header(&l.req[0], "authorization", auth, sizeof auth);
	cr_assert_eq(strlen(date), 16, "x-amz-date '%s' from the clock", date);
	sha256_hex(body, strlen(body), want_sha);
	cr_assert_str_eq(sha, want_sha, "the payload's SHA-256 is sent");
	cr_assert_eq(l.req[0].body_len, strlen(body));
	aws_encode("pre fix/dir/a b+c=d.txt", 1, uri + 1);
	uri[0] = '/';
	snprintf(line, sizeof line, "PUT %s HTTP/1.1\r\n", uri);
	cr_assert(strncmp(l.req[0].head, line, strlen(line)) == 0, "request line %.80s, expected %s", l.req[0].head,
		  line);
	expected_signature("PUT", uri, "", date, want_sha, want_sig);
	snprintf(tagged, sizeof tagged, "Signature=%s", want_sig);
	cr_assert(strstr(auth, tagged), "Authorization: %s\nexpected %s", auth, tagged);
	cr_assert(strstr(auth, "SignedHeaders=host;x-amz-content-sha256;x-amz-date"), "%s", auth);
	obj_close(s);
}

static int ignore_key(void *arg, const char *key, uint64_t size)
{
	(void)arg, (void)key, (void)size;
	return 0;
}

Test(obj_sigv4, a_listing_query_is_canonical_and_signed_as_documented)
{
	struct listener l;
	struct obj_store *s;
	char date[64], auth[512], empty_sha[65], want_sig[65], query[512], enc[256], line[700], tagged[128];

	listen_start(&l, 1, "<?xml version=\"1.0\"?><ListBucketResult><IsTruncated>false</IsTruncated></ListBucketResult>");
	s = open_example(&l, "s3://examplebucket/pre fix", NULL);
	cr_assert_eq(obj_list(s, "a b/", ignore_key, NULL), 0, "%s", dann_errmsg());
	listen_stop(&l);
	header(&l.req[0], "x-amz-date", date, sizeof date);
	header(&l.req[0], "authorization", auth, sizeof auth);
	/* parameters sorted by name, values encoded with '/' as %2F */
	aws_encode("pre fix/a b/", 0, enc);
	snprintf(query, sizeof query, "list-type=2&max-keys=1000&prefix=%s", enc);
	snprintf(line, sizeof line, "GET /?%s HTTP/1.1\r\n", query);
	cr_assert(strncmp(l.req[0].head, line, strlen(line)) == 0, "request line %.120s, expected %s", l.req[0].head,
		  line);
	sha256_hex("", 0, empty_sha);
	expected_signature("GET", "/", query, date, empty_sha, want_sig);
	snprintf(tagged, sizeof tagged, "Signature=%s", want_sig);
	cr_assert(strstr(auth, tagged), "Authorization: %s\nexpected %s", auth, tagged);
	obj_close(s);
}
