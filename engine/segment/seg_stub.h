/*
 * seg_stub.h — what opening an evicted segment needs, kept on the local
 * disk while its directory is only in the object store, so that opening a
 * tiered data dir downloads nothing: "<segment dir>.stub" holds the row
 * count, the keys, the index's metric, the files' total size, the
 * MANIFEST's CRC32C and the delete-bitmap file the store holds, behind a
 * header and ending in a CRC32C of everything before it.
 *
 * Invariant: while a segment's directory is absent, its stub (if any) is
 * the one written by its last eviction. The cache's evict callback writes
 * it (atomically, fsynced) before the directory goes and refuses the
 * eviction if it cannot; an eviction needs the store to hold the local
 * delete bitmap (seg_tier.h), so the stub's bitmap is the store's. While
 * the directory is local, the stub is ignored (and replaced at the next
 * eviction). A segment without a usable stub (damaged, or a data dir that
 * lost its copy) gets one from a few small objects (seg_stub_fetch).
 */
#ifndef DANN_SEG_STUB_H
#define DANN_SEG_STUB_H

#include "../io/obj.h"
#include "seg_impl.h"

#define SEG_STUB_SUFFIX ".stub"
#define SEG_STUB_DELETES_MAX (1ull << 32) /* bytes of a delete bitmap read whole */

/* Writes s's stub from its keys in RAM and the delete-bitmap file in its
 * (still local) directory. DANN_EINVAL if its keys are not loaded yet. */
int seg_stub_write(struct seg *s);
/* Fills s (nrows, keys, metric, sizes, delete bitmap and mask; the store
 * has that bitmap) from its stub: 1 if it did; 0 if there is none or it is
 * unusable (damaged, or of another MANIFEST than s->disk->manifest_crc:
 * logged, s unchanged); DANN_ENOMEM. */
int seg_stub_load(struct seg *s);
/* For an evicted segment without a usable stub (a node that starts with an
 * empty data dir and a catalog that lists its segments): downloads only
 * what the stub holds — its MANIFEST (checked against
 * s->disk->manifest_crc), keys (against the MANIFEST), the header of its
 * disk index (a ranged read, for the metric) and its delete bitmap — fills
 * s as seg_stub_load does and writes the stub. The rest is downloaded when
 * a search needs it. Errors as obj_get's, DANN_ECORRUPT naming the object. */
int seg_stub_fetch(struct seg *s, struct obj_store *store);
/* Removes s's stub (the segment is dropped). */
void seg_stub_remove(struct seg *s);

#endif
