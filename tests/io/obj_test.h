/*
 * obj_test.h — what the object-store tests share: deterministic payloads,
 * files of them, and the checks every backend must pass the same way
 * (tests/io/test_obj_file.c runs them on file://, test_obj_s3.c on s3rver).
 */
#ifndef DANN_OBJ_TEST_H
#define DANN_OBJ_TEST_H

#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crc.h"
#include "error.h"
#include "dann.h"
#include "helpers/tmpdir.h"
#include "io/obj.h"

/* Byte i of payload seed: a function of both, so a shifted or mixed-up
 * range shows. */
static inline uint8_t pat_byte(uint32_t seed, uint64_t i)
{
	uint64_t z = (i + 1) * 0x9e3779b97f4a7c15ull ^ ((uint64_t)seed << 32);

	z ^= z >> 29;
	z *= 0xbf58476d1ce4e5b9ull;
	return (uint8_t)(z >> 56);
}

static inline void *pat_alloc(uint32_t seed, size_t n)
{
	uint8_t *b = malloc(n ? n : 1);
	size_t i;

	cr_assert_not_null(b);
	for (i = 0; i < n; i++)
		b[i] = pat_byte(seed, i);
	return b;
}

/* Writes a pattern file of n bytes at path; returns its CRC32C. */
static inline uint32_t pat_file(const char *path, uint32_t seed, size_t n)
{
	void *b = pat_alloc(seed, n);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	uint32_t crc;

	cr_assert(fd >= 0, "create %s", path);
	cr_assert_eq(write(fd, b, n), (ssize_t)n);
	close(fd);
	crc = crc32c(0, b, n);
	free(b);
	return crc;
}

/* Checks that the file at path holds pattern seed of n bytes. */
static inline void pat_check_file(const char *path, uint32_t seed, size_t n)
{
	void *want = pat_alloc(seed, n), *got = malloc(n + 1);
	int fd = open(path, O_RDONLY);

	cr_assert(fd >= 0, "open %s", path);
	cr_assert_eq(read(fd, got, n + 1), (ssize_t)n, "%s: size", path);
	cr_assert(memcmp(want, got, n) == 0, "%s: contents differ from the pattern", path);
	close(fd);
	free(want);
	free(got);
}

struct key_seen {
	char keys[64][128];
	uint64_t sizes[64];
	unsigned n, total;
};

static inline int note_key(void *arg, const char *key, uint64_t size)
{
	struct key_seen *k = arg;

	if (k->n < 64) {
		snprintf(k->keys[k->n], sizeof k->keys[0], "%s", key);
		k->sizes[k->n++] = size;
	}
	k->total++;
	return 0;
}

/* Every single-request operation, the same on each backend. */
static inline void obj_check_basic_ops(struct obj_store *s)
{
	char small[] = "hello, object store";
	char buf[64];
	size_t got;
	struct obj_stat st;
	struct key_seen k = { 0 };
	void *all;
	size_t alen;

	cr_assert_eq(obj_put(s, "a/one", small, strlen(small)), 0, "%s", dann_errmsg());
	cr_assert_eq(obj_put(s, "a/two", "2", 1), 0, "%s", dann_errmsg());
	cr_assert_eq(obj_put(s, "b/three", "", 0), 0, "empty object: %s", dann_errmsg());
	cr_assert_eq(obj_head(s, "a/one", &st), 0, "%s", dann_errmsg());
	cr_assert_eq(st.size, strlen(small));
	cr_assert_eq(obj_head(s, "b/three", &st), 0, "%s", dann_errmsg());
	cr_assert_eq(st.size, 0);

	/* whole and ranged reads */
	cr_assert_eq(obj_get(s, "a/one", 0, sizeof buf, buf, &got), 0, "%s", dann_errmsg());
	cr_assert_eq(got, strlen(small));
	cr_assert(memcmp(buf, small, got) == 0);
	cr_assert_eq(obj_get(s, "a/one", 7, 6, buf, &got), 0, "%s", dann_errmsg());
	cr_assert_eq(got, 6);
	cr_assert(memcmp(buf, "object", 6) == 0);
	cr_assert_eq(obj_get(s, "a/one", 14, 100, buf, &got), 0, "range past the end: %s", dann_errmsg());
	cr_assert_eq(got, strlen(small) - 14);
	cr_assert(memcmp(buf, "store", 5) == 0);
	cr_assert_eq(obj_get(s, "a/one", strlen(small), 10, buf, &got), 0, "range at the end: %s", dann_errmsg());
	cr_assert_eq(got, 0);
	cr_assert_eq(obj_get_all(s, "a/one", 1 << 20, &all, &alen), 0, "%s", dann_errmsg());
	cr_assert_eq(alen, strlen(small));
	cr_assert_str_eq((char *)all, small);
	free(all);
	cr_assert_eq(obj_get_all(s, "a/one", 5, &all, &alen), DANN_EINVAL, "over the size limit");

	/* listing: sorted, prefix removed, filtered */
	cr_assert_eq(obj_list(s, "", note_key, &k), 0, "%s", dann_errmsg());
	cr_assert_eq(k.n, 3);
	cr_assert_str_eq(k.keys[0], "a/one");
	cr_assert_str_eq(k.keys[1], "a/two");
	cr_assert_str_eq(k.keys[2], "b/three");
	cr_assert_eq(k.sizes[0], strlen(small));
	memset(&k, 0, sizeof k);
	cr_assert_eq(obj_list(s, "a/", note_key, &k), 0, "%s", dann_errmsg());
	cr_assert_eq(k.n, 2);
	memset(&k, 0, sizeof k);
	cr_assert_eq(obj_list(s, "a/t", note_key, &k), 0, "%s", dann_errmsg());
	cr_assert_eq(k.n, 1);
	cr_assert_str_eq(k.keys[0], "a/two");

	/* overwrite replaces */
	cr_assert_eq(obj_put(s, "a/two", "22", 2), 0, "%s", dann_errmsg());
	cr_assert_eq(obj_get(s, "a/two", 0, sizeof buf, buf, &got), 0);
	cr_assert_eq(got, 2);

	/* delete, and deleting what is not there */
	cr_assert_eq(obj_delete(s, "a/one"), 0, "%s", dann_errmsg());
	cr_assert_eq(obj_delete(s, "a/one"), 0, "a second delete is not an error: %s", dann_errmsg());
	cr_assert_eq(obj_head(s, "a/one", &st), DANN_ENOTFOUND);
	cr_assert_eq(obj_get(s, "a/one", 0, sizeof buf, buf, &got), DANN_ENOTFOUND);
	cr_assert(strstr(dann_errmsg(), "a/one"), "message names the key: %s", dann_errmsg());

	/* bad keys: refused before anything is sent */
	cr_assert_eq(obj_put(s, "", "x", 1), DANN_EINVAL);
	cr_assert_eq(obj_put(s, "/abs", "x", 1), DANN_EINVAL);
	cr_assert_eq(obj_put(s, "a//b", "x", 1), DANN_EINVAL);
	cr_assert_eq(obj_put(s, "a/../b", "x", 1), DANN_EINVAL);
	cr_assert_eq(obj_put(s, "a/\nb", "x", 1), DANN_EINVAL);
	cr_assert_eq(obj_put(s, "a/b.obj-tmp-123456", "x", 1), DANN_EINVAL);

	cr_assert_eq(obj_delete_prefix(s, "", NULL), 0, "%s", dann_errmsg());
	memset(&k, 0, sizeof k);
	cr_assert_eq(obj_list(s, "", note_key, &k), 0);
	cr_assert_eq(k.n, 0, "%u objects left after deleting all", k.n);
}

/* A file bigger than a part: uploaded (in parts on S3), downloaded whole
 * with its CRC checked, and read by ranges across part boundaries. */
static inline void obj_check_large_file(struct obj_store *s, size_t n, size_t part)
{
	const char *src = tmpdir_path("large.src"), *dst = tmpdir_path("large.dst");
	uint32_t crc = pat_file(src, 7, n), bad = crc ^ 1;
	uint8_t *buf = malloc(3 * part);
	size_t got, i;
	struct obj_stat st;

	cr_assert_eq(obj_put_file(s, "big/file", src), 0, "%s", dann_errmsg());
	cr_assert_eq(obj_head(s, "big/file", &st), 0);
	cr_assert_eq(st.size, n);
	cr_assert_eq(obj_get_file(s, "big/file", dst, &crc), 0, "%s", dann_errmsg());
	pat_check_file(dst, 7, n);
	/* a range across the first part boundary */
	cr_assert_eq(obj_get(s, "big/file", part - 1000, 2000, buf, &got), 0, "%s", dann_errmsg());
	cr_assert_eq(got, 2000);
	for (i = 0; i < got; i++)
		cr_assert_eq(buf[i], pat_byte(7, part - 1000 + i), "byte %zu of the range", i);
	/* the expected CRC is wrong: the download is refused and leaves nothing */
	unlink(dst);
	cr_assert_eq(obj_get_file(s, "big/file", dst, &bad), DANN_ECORRUPT);
	cr_assert(strstr(dann_errmsg(), "big/file") && strstr(dann_errmsg(), "CRC32C"), "%s", dann_errmsg());
	cr_assert_neq(access(dst, F_OK), 0, "no file under the final name after a mismatch");
	free(buf);
}

#endif
