/*
 * test_obj_policy.c — the object store's small rules on their own: which
 * failures are retried and after how long, how S3's XML is read, how keys
 * are checked and URIs encoded for signing.
 */
#include <curl/curl.h>

#include "io/obj_impl.h"
#include "obj_test.h"

Test(obj_policy, retries_5xx_429_and_connection_errors_only)
{
	long final[] = { 200, 204, 301, 400, 401, 403, 404, 405, 409, 412, 416 };
	long transient[] = { 500, 502, 503, 504, 429 };
	int curl_retry[] = { CURLE_COULDNT_CONNECT, CURLE_OPERATION_TIMEDOUT, CURLE_SEND_ERROR, CURLE_RECV_ERROR,
			     CURLE_GOT_NOTHING, CURLE_PARTIAL_FILE };
	int curl_final[] = { CURLE_URL_MALFORMAT, CURLE_WRITE_ERROR, CURLE_ABORTED_BY_CALLBACK, CURLE_OUT_OF_MEMORY };
	size_t i;

	for (i = 0; i < sizeof final / sizeof final[0]; i++)
		cr_assert_eq(obj_retry_http(final[i]), OBJ_DONE, "HTTP %ld is final", final[i]);
	for (i = 0; i < sizeof transient / sizeof transient[0]; i++)
		cr_assert_eq(obj_retry_http(transient[i]), OBJ_RETRY, "HTTP %ld is retried", transient[i]);
	for (i = 0; i < sizeof curl_retry / sizeof curl_retry[0]; i++)
		cr_assert_eq(obj_retry_curl(curl_retry[i]), OBJ_RETRY, "curl %d is retried", curl_retry[i]);
	for (i = 0; i < sizeof curl_final / sizeof curl_final[0]; i++)
		cr_assert_eq(obj_retry_curl(curl_final[i]), OBJ_DONE, "curl %d is final", curl_final[i]);
}

Test(obj_policy, backoff_doubles_up_to_its_cap_with_jitter)
{
	struct obj_config c;
	struct obj_store *s;
	uint32_t lo = UINT32_MAX, hi = 0, d;
	unsigned i;

	tmpdir_make("obj_policy");
	obj_config_default(&c);
	c.retry_base_ms = 100;
	c.retry_max_ms = 1000;
	cr_assert_eq(obj_open("file:///tmp", &c, &s), 0, "%s", dann_errmsg());
	for (i = 0; i < 200; i++) {
		d = obj_retry_delay_ms(s, 1);
		cr_assert(d >= 50 && d <= 100, "first retry after %u ms", d);
		lo = d < lo ? d : lo;
		hi = d > hi ? d : hi;
		d = obj_retry_delay_ms(s, 3);
		cr_assert(d >= 200 && d <= 400, "third retry after %u ms", d);
		d = obj_retry_delay_ms(s, 30);
		cr_assert(d >= 500 && d <= 1000, "capped: %u ms", d);
	}
	cr_assert_lt(lo + 10, hi, "delays are spread (%u..%u), not in lockstep", lo, hi);
	cr_assert_eq(obj_retry_limit(s), OBJ_DEFAULT_RETRIES);
	obj_close(s);
	c.retries = OBJ_NO_RETRIES;
	cr_assert_eq(obj_open("file:///tmp", &c, &s), 0);
	cr_assert_eq(obj_retry_limit(s), 0);
	obj_close(s);
	tmpdir_remove();
}

Test(obj_policy, xml_elements_are_found_by_exact_name)
{
	const char *x = "<?xml version=\"1.0\"?><R xmlns=\"http://s3\"><KeyCount>2</KeyCount>"
			"<Contents><Key>a&amp;b &lt;c&gt; &quot;d&quot; &apos;e&apos; &#65;&#x42;&#xe9;</Key>"
			"<Size>10</Size></Contents><Empty/><Attr id=\"1\">v</Attr></R>";
	const char *end = x + strlen(x), *v, *next;
	char out[64];
	size_t n;

	cr_assert_eq(obj_xml_text(x, end, "Key", out, sizeof out), 1);
	cr_assert_str_eq(out, "a&b <c> \"d\" 'e' AB\xc3\xa9");
	cr_assert_eq(obj_xml_text(x, end, "KeyCount", out, sizeof out), 1);
	cr_assert_str_eq(out, "2");
	cr_assert_eq(obj_xml_text(x, end, "Empty", out, sizeof out), 1);
	cr_assert_str_eq(out, "");
	cr_assert_eq(obj_xml_text(x, end, "Attr", out, sizeof out), 1);
	cr_assert_str_eq(out, "v");
	cr_assert_eq(obj_xml_text(x, end, "Missing", out, sizeof out), 0);
	cr_assert_eq(obj_xml_find(x, end, "Contents", &v, &n, &next), 1);
	cr_assert_eq(obj_xml_text(v, v + n, "Size", out, sizeof out), 1);
	cr_assert_str_eq(out, "10");
	cr_assert_eq(obj_xml_find(next, end, "Contents", &v, &n, &next), 0);
}

Test(obj_policy, bad_xml_text_is_corrupt_not_guessed)
{
	char out[8];

	cr_assert_eq(obj_xml_unescape("a&bogus;", 8, out, sizeof out), DANN_ECORRUPT);
	cr_assert_eq(obj_xml_unescape("a&amp", 5, out, sizeof out), DANN_ECORRUPT);
	cr_assert_eq(obj_xml_unescape("&#0;", 4, out, sizeof out), DANN_ECORRUPT);
	cr_assert_eq(obj_xml_unescape("&#xZZ;", 6, out, sizeof out), DANN_ECORRUPT);
	cr_assert_eq(obj_xml_unescape("&#x110000;", 10, out, sizeof out), DANN_ECORRUPT);
	cr_assert_eq(obj_xml_unescape("123456789", 9, out, sizeof out), DANN_ECORRUPT, "longer than the buffer");
	cr_assert_eq(obj_xml_unescape("1234567", 7, out, sizeof out), 0);
	/* an element never closed is not found */
	cr_assert_eq(obj_xml_text("<Key>abc", "<Key>abc" + 8, "Key", out, sizeof out), 0);
}

Test(obj_policy, uris_are_encoded_as_aws_signs_them)
{
	char out[128];

	out[0] = 0;
	cr_assert_eq(obj_uri_encode("a b/c+d=e~f_g.h-i*", 1, out, sizeof out), 0);
	cr_assert_str_eq(out, "a%20b/c%2Bd%3De~f_g.h-i%2A");
	out[0] = 0;
	cr_assert_eq(obj_uri_encode("a/b", 0, out, sizeof out), 0);
	cr_assert_str_eq(out, "a%2Fb");
	out[0] = 0;
	cr_assert_eq(obj_uri_encode("\xc3\xa9", 0, out, sizeof out), 0);
	cr_assert_str_eq(out, "%C3%A9");
	out[0] = 0;
	cr_assert_eq(obj_uri_encode("         ", 0, out, 10), DANN_EINVAL, "does not fit");
}

Test(obj_policy, keys_are_checked)
{
	char longkey[OBJ_KEY_MAX + 2];

	cr_assert_eq(obj_key_check("seg/1/MANIFEST"), 0);
	cr_assert_eq(obj_key_check("a.b/..c/d..") , 0);
	cr_assert_eq(obj_key_check(NULL), DANN_EINVAL);
	cr_assert_eq(obj_key_check("a/"), DANN_EINVAL);
	cr_assert_eq(obj_key_check("./a"), DANN_EINVAL);
	cr_assert_eq(obj_key_check("a/.."), DANN_EINVAL);
	cr_assert_eq(obj_key_check("a\tb"), DANN_EINVAL);
	cr_assert_eq(obj_key_check("a\x80"), DANN_EINVAL);
	memset(longkey, 'k', sizeof longkey - 1);
	longkey[sizeof longkey - 1] = 0;
	cr_assert_eq(obj_key_check(longkey), DANN_EINVAL);
	cr_assert(strstr(dann_errmsg(), "at most"), "%s", dann_errmsg());
}
