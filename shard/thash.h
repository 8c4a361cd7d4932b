/* thash.h — the hash type: field -> value maps held in a struct tval of
 * type TVAL_HASH, in Redis's two encodings. While small, a hash is one
 * listpack of alternating field and value entries (Redis's layout, so the
 * blob goes into an RDB file as is); once it has more fields than
 * hash-max-listpack-entries, or a field or value longer than
 * hash-max-listpack-value, it becomes a nested kvmap (field -> value) and
 * never goes back, as in Redis. The conversion costs O(listpack), which the
 * thresholds bound; the kvmap grows incrementally afterwards. Every block is
 * charged to the account the caller passes (the shard's, kvmap_acct(db)).
 * Owner shard's thread only, like the map that holds the value. */
#ifndef SKV_SHARD_THASH_H
#define SKV_SHARD_THASH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/mem.h"
#include "shard/kvmap.h"
#include "shard/listpack.h"
#include "shard/tval.h"

/* Error codes: the kvmap's own, so callers reply with one helper. */
enum {
    THASH_ENOMEM = KVMAP_ENOMEM,   /* allocation failed; the hash is unchanged */
    THASH_ETOOBIG = KVMAP_ETOOBIG, /* a field or value over the map's limit */
};

/* Redis's LISTPACK_MAX_SAFETY_SIZE: a listpack about to pass 1 GiB becomes
 * a hash table first (lpSafeToAdd), far below the format's 4 GiB limit. */
#define THASH_LISTPACK_SAFE_BYTES ((size_t)1 << 30)

/* Room for a listpack integer written out as text (with its NUL). */
#define THASH_NUMBUF LISTPACK_INTBUF_SIZE

/* A field or a value read from a hash: a view into the hash (valid until
 * it is next written), or into a caller's or iterator's buffer for an
 * integer entry of a listpack. */
struct thash_str {
    const char *ptr; /* the bytes */
    size_t len;      /* how many */
};

/* Called once per field visited, with views valid only during the call.
 * It must not write the hash. */
typedef void (*thash_visit_fn)(void *arg, const struct thash_str *field,
                               const struct thash_str *value);

/* A new empty hash (an empty listpack) charged to a. Owned by the caller
 * until stored with kvmap_set_tval; tval_free frees it. NULL when out of
 * memory. */
struct tval *thash_create(struct mem_acct *a);

/* Redis's hashTypeTryConversion, before a write of several fields: convert
 * to a hash table when the longest of the fields and values about to be
 * written (maxlen) is over hash-max-listpack-value, or when adding sumlen
 * bytes would take the listpack past THASH_LISTPACK_SAFE_BYTES. Returns 0
 * or THASH_ENOMEM (the hash then keeps its listpack). */
int thash_prepare(struct mem_acct *a, struct tval *tv, size_t maxlen, size_t sumlen);

/* The value of field, if present: *v is set (integers are written into
 * buf) and true returned. Reads only, though a hash table may move a
 * bucket of its incremental rehash. */
bool thash_get(struct tval *tv, const void *field, size_t flen, char buf[THASH_NUMBUF],
               struct thash_str *v);

/* Whether field is present. */
bool thash_exists(struct tval *tv, const void *field, size_t flen);

/* Set field to value (both borrowed, copied in). A listpack is converted
 * first when either is over hash-max-listpack-value, and after the insert
 * when the hash has more than hash-max-listpack-entries fields. Returns 1
 * when the field was created, 0 when its value was replaced, or
 * THASH_ENOMEM / THASH_ETOOBIG with the field unchanged. */
int thash_set(struct mem_acct *a, struct tval *tv, const void *field, size_t flen,
              const void *value, size_t vlen);

/* Remove field. Returns 1 if it was there, else 0. A hash left empty is the
 * caller's to delete (Redis deletes the key with its last field). */
int thash_del(struct mem_acct *a, struct tval *tv, const void *field, size_t flen);

/* Visit every field once, in the encoding's order. O(n). */
void thash_foreach(struct tval *tv, thash_visit_fn fn, void *arg);

/* HSCAN: visit fields from cursor on and return the next cursor (0 when
 * done). A listpack is visited whole whatever the cursor, and 0 returned,
 * as Redis does. A hash table is scanned with the kvmap's reverse-binary
 * cursor until count fields were visited, the scan ends, or 20 * count
 * buckets were looked at (Redis's bound for sparse tables); a field
 * present for the whole scan is visited at least once. */
uint64_t thash_scan(struct tval *tv, uint64_t cursor, uint64_t count, thash_visit_fn fn,
                    void *arg);

/* One random field of a non-empty hash, visited with its value. */
void thash_random(struct tval *tv, thash_visit_fn fn, void *arg);

/* HRANDFIELD with a negative count: visit n random fields, repetitions
 * allowed, in random order. Memory used is a fixed-size batch whatever n;
 * the time is O(n) for a hash table, O(n + listpack) per batch of picks
 * for a listpack. The hash must not be empty. */
void thash_random_many(struct tval *tv, uint64_t n, thash_visit_fn fn, void *arg);

/* HRANDFIELD with a positive count below the hash's length: visit n
 * distinct random fields (n < thash_len). Temporary memory, charged to a
 * and freed before returning, is at most O(n) pointers. Returns 0, or
 * THASH_ENOMEM having visited nothing. */
int thash_random_unique(struct mem_acct *a, struct tval *tv, uint64_t n, thash_visit_fn fn,
                        void *arg);

/* Fields in the hash. O(1). */
static inline size_t thash_len(const struct tval *tv)
{
    return tval_len(tv);
}

#endif
