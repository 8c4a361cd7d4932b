/* kventry.h — how one map entry is laid out in memory: the header, length
 * fields, integer encoding, optional expiry and, for values that grow, spare
 * capacity. Internal to shard/ (kvmap.c); server/ uses only the kventry_*
 * accessors declared in kvmap.h. Runs on the owning shard's thread. */
#ifndef SKV_SHARD_KVENTRY_H
#define SKV_SHARD_KVENTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "common/hash.h"
#include "common/mem.h"
#include "shard/kvmap.h"

/* ------------------------------------------------------------------------
 * Layout
 *
 * One allocation per key: the chain link, one flags byte, then
 *
 *   klen   1 byte, or 4 bytes with KVENTRY_KLEN4 (keys over 255 bytes)
 *   vlen   1 byte, or 4 bytes with KVENTRY_VLEN4; absent with KVENTRY_INT
 *   vcap   4 bytes, only with KVENTRY_CAP: room for the value's bytes
 *   expire 8 bytes, absolute Unix ms; only with KVENTRY_EXPIRE
 *   key    klen bytes
 *   value  vlen bytes (vcap with KVENTRY_CAP), or an int64 with KVENTRY_INT
 *
 * Multi-byte fields are unaligned and read with memcpy. The hash is not
 * stored: a rehash recomputes it, which costs less than 8 bytes per key.
 * A 16-byte key with a 32-byte value takes 8 + 1 + 2 + 48 = 59 bytes, which
 * fits jemalloc's 64-byte size class. Only values that grow in place
 * (APPEND, SETRANGE) carry vcap and spare room, as Redis's sds strings do;
 * a plain SET always makes a compact entry without it.
 * ------------------------------------------------------------------------ */

#define KVENTRY_EXPIRE 0x01u /* an expiry field is present */
#define KVENTRY_INT 0x02u    /* the value is an int64, not bytes */
#define KVENTRY_KLEN4 0x04u  /* klen is a 4-byte field */
#define KVENTRY_VLEN4 0x08u  /* vlen is a 4-byte field */
#define KVENTRY_CAP 0x10u    /* a vcap field follows vlen (always VLEN4, never INT) */
/* The top three bits hold the value's type (shard/tval.h's TVAL_*); 0 is a
 * string. An entry of any other type has KVENTRY_INT's layout too (8 value
 * bytes, no vlen), and those 8 bytes are its struct tval pointer. */
#define KVENTRY_TYPE_SHIFT 5
#define KVENTRY_TYPE_MASK 0xE0u

/* Longest length a 1-byte length field holds. */
#define KVENTRY_SHORT_LEN_MAX 255u
/* Lengths and capacities are stored in at most 32 bits. */
#define KVENTRY_LEN_MAX ((size_t)UINT32_MAX)
/* The decimal form of any int64 is at most 20 bytes ("-9223372036854775808"). */
#define KVENTRY_INT_STR_MAX 20
/* Growth of an appended value, as Redis's sdsMakeRoomFor: double the needed
 * length below 1 MB, add 1 MB above, so n appends cost O(total) copying
 * while the spare room stays under 1 MB or half the value. */
#define KVENTRY_GROW_DOUBLE_MAX ((size_t)1 << 20)

struct kventry {
    struct kventry *link_; /* next entry in the same bucket, tagged with this
                              entry's access stamp: read it only through
                              kventry_next and the kv_slot_* helpers */
    uint8_t flags;         /* KVENTRY_* */
    uint8_t data[];        /* lengths, optional capacity and expiry, key, value */
};

/* ------------------------------------------------------------------------
 * The chain link and the access stamp
 *
 * An entry's link field also keeps its 20-bit access stamp (the LRU clock,
 * or the LFU counter and decay time, for eviction), so that recording an
 * access costs no byte: user-space pointers have their top 16 bits clear on
 * the 64-bit platforms we build for (x86-64; AArch64 with 48-bit
 * addresses), and every entry is a block of at least 16 bytes, which the
 * allocator aligns to 16 (its quantum), so the low 4 bits are clear too.
 * A "slot" is where a pointer to an entry lives: a bucket head (never
 * tagged) or an entry's link field (tagged); writing a slot keeps its tag.
 * ------------------------------------------------------------------------ */

#define KVENTRY_PTR_BITS ((uintptr_t)0x0000FFFFFFFFFFF0ull)
/* Stamps hold 20 bits: 16 at the top of the link, 4 at the bottom. */
#define KVENTRY_STAMP_MAX ((1u << 20) - 1)

static inline struct kventry *kv_untag(const struct kventry *p)
{
    return (struct kventry *)((uintptr_t)p & KVENTRY_PTR_BITS);
}

/* The entry a slot points at, or NULL. */
static inline struct kventry *kv_slot_get(struct kventry *const *slot)
{
    return kv_untag(*slot);
}

/* Point slot at to (NULL or an untagged entry), keeping the slot's tag. */
static inline void kv_slot_set(struct kventry **slot, struct kventry *to)
{
    *slot = (struct kventry *)(((uintptr_t)*slot & ~KVENTRY_PTR_BITS) | (uintptr_t)to);
}

static inline struct kventry *kventry_next(const struct kventry *e)
{
    return kv_untag(e->link_);
}

/* e's link field as a slot, for walks that may unlink what follows e. */
static inline struct kventry **kventry_next_slot(struct kventry *e)
{
    return &e->link_;
}

/* Chain e in front of n, keeping e's own stamp. */
static inline void kventry_set_next(struct kventry *e, struct kventry *n)
{
    kv_slot_set(&e->link_, n);
}

static inline uint32_t kventry_stamp_get(const struct kventry *e)
{
    uintptr_t l = (uintptr_t)e->link_;
    return (uint32_t)((l >> 48) << 4 | (l & 15u));
}

static inline void kventry_stamp_put(struct kventry *e, uint32_t s)
{
    uintptr_t l = (uintptr_t)e->link_ & KVENTRY_PTR_BITS;
    e->link_ = (struct kventry *)(l | ((uintptr_t)(s >> 4) << 48) | (s & 15u));
}

/* Bytes before data[]: 9, not sizeof (which pads to 16). */
#define KVENTRY_HDR offsetof(struct kventry, data)

/* A value about to be stored: bytes, or 8 bytes: an integer, or a typed
 * value's pointer (type != TVAL_STRING; the entry then owns the value). */
struct kventry_val {
    bool is_int;      /* store iv's 8 bytes */
    uint8_t type;     /* with is_int: TVAL_STRING for an integer, another
                         TVAL_* when iv holds a struct tval pointer */
    int64_t iv;       /* the integer, or the pointer, when is_int */
    const void *val;  /* the bytes when !is_int; NULL leaves them for the caller */
    size_t vlen;      /* their length */
};

static inline size_t kventry_load_len(const uint8_t *p, bool wide)
{
    if (wide) {
        uint32_t v;
        memcpy(&v, p, sizeof v);
        return v;
    }
    return *p;
}

/* Bytes of the length (and capacity) fields for these flags. */
static inline size_t kventry_lens_size(unsigned f)
{
    return ((f & KVENTRY_KLEN4) ? 4 : 1) +
           ((f & KVENTRY_INT) ? 0 : (f & KVENTRY_VLEN4) ? 4 : 1) + ((f & KVENTRY_CAP) ? 4 : 0);
}

/* Offset of the key inside data[]. */
static inline size_t kventry_key_off(unsigned f)
{
    return kventry_lens_size(f) + ((f & KVENTRY_EXPIRE) ? 8 : 0);
}

static inline size_t kventry_klen(const struct kventry *e)
{
    return kventry_load_len(e->data, e->flags & KVENTRY_KLEN4);
}

/* Stored value bytes: vlen, or 8 for an int. */
static inline size_t kventry_vbytes(const struct kventry *e)
{
    if (e->flags & KVENTRY_INT)
        return 8;
    return kventry_load_len(e->data + ((e->flags & KVENTRY_KLEN4) ? 4 : 1),
                            e->flags & KVENTRY_VLEN4);
}

/* Bytes the value may take without moving the entry: vcap, or the value's
 * own length for a compact string (meaningless for an int). */
static inline size_t kventry_room(const struct kventry *e)
{
    if (!(e->flags & KVENTRY_CAP))
        return kventry_vbytes(e);
    return kventry_load_len(e->data + ((e->flags & KVENTRY_KLEN4) ? 4 : 1) + 4, true);
}

static inline const uint8_t *kventry_keyp(const struct kventry *e)
{
    return e->data + kventry_key_off(e->flags);
}

/* The value's bytes (or the int64) inside the entry. */
static inline uint8_t *kventry_valp(struct kventry *e)
{
    return e->data + kventry_key_off(e->flags) + kventry_klen(e);
}

static inline int64_t kventry_expire_ms(const struct kventry *e)
{
    if (!(e->flags & KVENTRY_EXPIRE))
        return KVMAP_NO_EXPIRE;
    int64_t t;
    memcpy(&t, e->data + kventry_lens_size(e->flags), sizeof t);
    return t;
}

/* Redis keeps a key through the millisecond its expiry names and drops it
 * after (expireIfNeeded: now > when); we follow it so replies match. */
static inline bool kventry_expired(const struct kventry *e, int64_t now_ms)
{
    return (e->flags & KVENTRY_EXPIRE) && kventry_expire_ms(e) < now_ms;
}

static inline int64_t kventry_ival(const struct kventry *e)
{
    int64_t v;
    memcpy(&v, kventry_keyp(e) + kventry_klen(e), sizeof v);
    return v;
}

/* Overwrite the integer of a KVENTRY_INT entry in place. */
static inline void kventry_ival_store(struct kventry *e, int64_t v)
{
    memcpy(kventry_valp(e), &v, sizeof v);
}

/* The value's type: TVAL_STRING (0) or another TVAL_*. */
static inline unsigned kventry_type_of(const struct kventry *e)
{
    return (e->flags & KVENTRY_TYPE_MASK) >> KVENTRY_TYPE_SHIFT;
}

static inline bool kventry_key_eq(const struct kventry *e, const void *key, size_t klen)
{
    return kventry_klen(e) == klen && (klen == 0 || memcmp(kventry_keyp(e), key, klen) == 0);
}

static inline uint64_t kventry_hash(const struct kventry *e)
{
    return hash_key(kventry_keyp(e), kventry_klen(e));
}

/* Decimal form of v into buf (at least 21 bytes, NUL-terminated); returns
 * its length. */
size_t kventry_format_int64(int64_t v, char *buf);

/* Length of the value as a string: its bytes, or the decimal form of an
 * integer-encoded value. */
size_t kventry_strlen(const struct kventry *e);

/* A new compact entry (no spare room) charged to a, next = NULL. expire_ms
 * is stored unless it is KVMAP_NO_EXPIRE. With v->val NULL (and !is_int)
 * the v->vlen value bytes are left for the caller to fill. Lengths must be
 * within KVENTRY_LEN_MAX (the map's limits ensure it). Returns the entry,
 * owned by the caller, or NULL when out of memory. */
struct kventry *kventry_new(struct mem_acct *a, const void *key, size_t klen,
                            const struct kventry_val *v, int64_t expire_ms);

/* Free e's block (NULL is fine) and uncharge it from a. A typed value it
 * points at is not freed (the map frees it with tval_free). */
void kventry_free(struct mem_acct *a, struct kventry *e);

/* Make e a string entry with room for at least need value bytes (need must
 * be >= kventry_strlen(e) and fit in 32 bits), keeping its key, expiry and
 * value bytes; an integer-encoded value becomes its decimal text. When the
 * value grows (need > its length) the room is chosen greedily (see
 * KVENTRY_GROW_DOUBLE_MAX) but never past max(need, limit); otherwise it is
 * exact. The length field still says the old length (kventry_set_vlen sets
 * the new one). Uses mem_realloc, so the entry may move: returns the entry
 * to link in place of e (e is then gone), or NULL when out of memory, with
 * e unchanged and still charged. Does nothing when e already has the room. */
struct kventry *kventry_reserve(struct mem_acct *a, struct kventry *e, size_t need, size_t limit);

/* Set the value length of an entry with KVENTRY_CAP; n <= kventry_room(e). */
void kventry_set_vlen(struct kventry *e, size_t n);

/* Overwrite the expiry of an entry that has one. */
void kventry_expire_store(struct kventry *e, int64_t expire_ms);

/* Drop the expiry field of an entry that has one, in place. */
void kventry_expire_remove(struct kventry *e);

/* True when an expiry field can be added to e (which has none) in place:
 * its block's usable size has 8 spare bytes. */
bool kventry_expire_fits(const struct kventry *e);

/* Add an expiry field to e in place; kventry_expire_fits(e) must hold. */
void kventry_expire_insert(struct kventry *e, int64_t expire_ms);

/* A copy of e (which has no expiry) with expire_ms added, in a new block
 * charged to a; e is not changed. Returns NULL when out of memory. */
struct kventry *kventry_copy_with_expire(struct mem_acct *a, const struct kventry *e,
                                         int64_t expire_ms);

#endif
