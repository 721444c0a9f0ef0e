/*
 * tier_upload.c — flushed segments to the object store, in the background.
 *
 * One thread takes queued segment directories in order and uploads each
 * with tier_upload_dir: every file (large ones as parallel multipart
 * uploads), the MANIFEST last, then the stored MANIFEST read back and its
 * CRC32C compared with the local one. Only then does the callback say the
 * segment is uploaded, so the catalog never records a segment whose objects
 * are not all there; an upload cut short (a crash, a failure) leaves
 * objects without a MANIFEST, which no download accepts, and the segment is
 * uploaded again by whoever finds its object_key still empty.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../crc.h"
#include "../error.h"
#include "../vamana/dix_manifest.h"
#include "tier.h"

#define MANIFEST_MAX_BYTES (1u << 20)

struct tjob {
	struct tjob *next;
	uint64_t id;
	char *dir, *prefix;
};

struct tier_uploader {
	struct obj_store *store;
	tier_uploaded_fn done;
	void *arg;
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct tjob *head, *tail;
	int busy, stop;
};

int tier_upload_dir(struct obj_store *store, const char *dir, const char *prefix)
{
	char path[4096], key[OBJ_KEY_MAX + 16];
	uint32_t local_crc;
	size_t len;
	void *buf;
	int rc;

	if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, TIER_MANIFEST) >= sizeof path ||
	    (size_t)snprintf(key, sizeof key, "%s/%s", prefix, TIER_MANIFEST) >= sizeof key)
		return dann_fail(DANN_EINVAL, "tier_upload_dir: %s: path too long", dir);
	if ((rc = crc32c_file(path, 0, UINT64_MAX, &local_crc)) < 0)
		return rc;
	if ((rc = obj_put_dir(store, dir, prefix, TIER_MANIFEST)) < 0)
		return rc;
	if ((rc = obj_get_all(store, key, MANIFEST_MAX_BYTES, &buf, &len)) < 0)
		return rc;
	if (crc32c(0, buf, len) != local_crc)
		rc = dann_fail(DANN_EIO, "%s in %s: stored MANIFEST differs from %s", key, obj_uri(store), path);
	free(buf);
	return rc;
}

static void free_job(struct tjob *j)
{
	free(j->dir);
	free(j->prefix);
	free(j);
}

static void *uploader(void *arg)
{
	struct tier_uploader *u = arg;

	pthread_mutex_lock(&u->mu);
	for (;;) {
		struct tjob *j;
		int rc;

		while (!u->head && !u->stop)
			pthread_cond_wait(&u->cv, &u->mu);
		if (u->stop)
			break;
		j = u->head;
		u->head = j->next;
		if (!u->head)
			u->tail = NULL;
		u->busy = 1;
		pthread_mutex_unlock(&u->mu);
		rc = tier_upload_dir(u->store, j->dir, j->prefix);
		u->done(u->arg, j->id, j->prefix, rc, rc < 0 ? dann_errmsg() : "");
		free_job(j);
		pthread_mutex_lock(&u->mu);
		u->busy = 0;
		pthread_cond_broadcast(&u->cv);
	}
	pthread_mutex_unlock(&u->mu);
	return NULL;
}

int tier_uploader_start(struct obj_store *store, tier_uploaded_fn done, void *arg, struct tier_uploader **out)
{
	struct tier_uploader *u;

	*out = NULL;
	if (!store || !done)
		return dann_fail(DANN_EINVAL, "tier_uploader_start: store and callback are required");
	if (!(u = calloc(1, sizeof *u)))
		return dann_fail(DANN_ENOMEM, "tier_uploader_start");
	u->store = store;
	u->done = done;
	u->arg = arg;
	pthread_mutex_init(&u->mu, NULL);
	pthread_cond_init(&u->cv, NULL);
	if (pthread_create(&u->th, NULL, uploader, u) != 0) {
		pthread_cond_destroy(&u->cv);
		pthread_mutex_destroy(&u->mu);
		free(u);
		return dann_fail(DANN_ENOMEM, "tier_uploader_start: no thread");
	}
	*out = u;
	return 0;
}

int tier_upload_enqueue(struct tier_uploader *u, uint64_t seg_id, const char *dir, const char *prefix)
{
	struct tjob *j = calloc(1, sizeof *j);
	int rc;

	if (!j || !(j->dir = strdup(dir)) || !(j->prefix = strdup(prefix))) {
		if (j)
			free_job(j);
		return dann_fail(DANN_ENOMEM, "tier_upload_enqueue");
	}
	if ((rc = obj_key_check(prefix)) < 0) {
		free_job(j);
		return rc;
	}
	j->id = seg_id;
	pthread_mutex_lock(&u->mu);
	if (u->tail)
		u->tail->next = j;
	else
		u->head = j;
	u->tail = j;
	pthread_cond_broadcast(&u->cv);
	pthread_mutex_unlock(&u->mu);
	return 0;
}

void tier_uploader_drain(struct tier_uploader *u)
{
	pthread_mutex_lock(&u->mu);
	while (u->head || u->busy)
		pthread_cond_wait(&u->cv, &u->mu);
	pthread_mutex_unlock(&u->mu);
}

void tier_uploader_stop(struct tier_uploader *u)
{
	struct tjob *j;

	if (!u)
		return;
	pthread_mutex_lock(&u->mu);
	u->stop = 1;
	pthread_cond_broadcast(&u->cv);
	pthread_mutex_unlock(&u->mu);
	pthread_join(u->th, NULL);
	while ((j = u->head)) {
		u->head = j->next;
		free_job(j);
	}
	pthread_cond_destroy(&u->cv);
	pthread_mutex_destroy(&u->mu);
	free(u);
}
