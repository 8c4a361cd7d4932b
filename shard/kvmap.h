/* kvmap.h — the per-shard hash map: binary-safe keys to string values, each
 * with an optional absolute expiry in Unix milliseconds. Exactly one thread,
 * the owner, may call any function on a map; debug builds (assert enabled)
 * abort on a call from any other thread. Growth is incremental (two tables,
 * a bounded number of buckets moved per step), so no call is O(n). */
#ifndef SKV_SHARD_KVMAP_H
#define SKV_SHARD_KVMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/mem.h"

struct kvmap;
struct kventry; /* one key with its value; borrowed views only */
struct tval;    /* a value of another type than string (shard/tval.h) */

/* Expiry argument values for the setters. */
#define KVMAP_NO_EXPIRE ((int64_t)-1)  /* the key has no TTL */
#define KVMAP_KEEP_TTL ((int64_t)-2)   /* keep the old key's TTL, if any */

/* Buckets per segment: the unit of write-epoch stamping and of
 * copy-on-write capture by snapshots. A write to a segment the running
 * snapshot has not captured yet serialises the whole segment first, inside
 * that request: 64-bucket segments made write p99 during BGSAVE 5.8x its
 * usual value and peak memory 1.11-1.37x; 16 buckets gave 2.0x and 1.06x
 * (docs/BENCHMARKS.md, Snapshots) for 0.5 byte of epoch stamp per bucket. */
#define KVMAP_SEGMENT_BUCKETS 16

/* Default limit on a value's length (Redis proto-max-bulk-len: 512 MB). */
#define KVMAP_DEFAULT_MAX_VALUE ((size_t)512 * 1024 * 1024)
/* Keys share the same bound; Redis allows 512 MB keys too. */
#define KVMAP_DEFAULT_MAX_KEY ((size_t)512 * 1024 * 1024)

/* Error codes (negative, returned directly). */
enum {
    KVMAP_ENOMEM = -1,     /* allocation failed; the map is unchanged */
    KVMAP_ETOOBIG = -2,    /* key or value over the configured limit */
    KVMAP_ENOTINT = -3,    /* value is not an integer in range (INCRBY) */
    KVMAP_EOVERFLOW = -4,  /* increment would overflow int64 */
    KVMAP_EWRONGTYPE = -5, /* a string operation on a key of another type */
};

/* Human-readable text for a KVMAP_E* code. Static string. */
const char *kvmap_strerror(int err);

struct kvmap_stats {
    uint64_t keys;           /* live entries (expired-but-unreaped count too) */
    uint64_t keys_with_ttl;  /* entries that carry an expiry */
    uint64_t buckets;        /* buckets in both tables */
    double load_factor;      /* keys / buckets */
    uint64_t resizes;        /* grows and shrinks started since create */
    uint64_t rehashing;      /* 1 while an incremental rehash is under way */
    uint64_t longest_chain;  /* longest chain built since the last resize began */
    uint64_t expired;        /* keys removed because their TTL passed */
    int64_t avg_ttl;         /* estimated mean TTL left, ms, from the active
                              * expiry's walk (0: none measured yet) */
    uint64_t epoch;          /* current write epoch */
    int64_t used_memory;     /* bytes held by this map (usable sizes) */
    uint64_t retired_bytes;  /* of used_memory: old table arrays still being
                              * unmapped, a slice per operation */
};

/* Called before the first write after a snapshot cut to a segment that the
 * snapshot has not captured yet (segment epoch < snapshot epoch), so that
 * the snapshot can serialise it first. table is 0 or 1 (during a rehash),
 * seg the segment index in that table. May read the map through
 * kvmap_segment_visit/_epoch/_mark, kvmap_segments and kvmap_count; must not
 * write (kvmap_find, which may reap or rehash, counts as a write). The hook
 * is called with the segment in its pre-write state, never mid-update.
 * When a rehash completes, table 1 becomes table 0 (every old table-0
 * segment has been captured by then), so a snapshot cursor should walk by
 * stamps, re-reading kvmap_segments, rather than by fixed indices. */
typedef void (*kvmap_capture_fn)(void *arg, struct kvmap *m, int table, size_t seg);

/* Keyspace events a map reports to its hook (kvmap_set_events). */
enum {
    KVMAP_EV_NEW = 0,     /* a key that was not live got a value */
    KVMAP_EV_EXPIRED = 1, /* a key is about to be reaped: its TTL passed */
};

/* The event hook: key is borrowed for the call. Called from inside the
 * map's operations, so it must not call into the map; it only records
 * (server/pubsub/notify.c queues the event and publishes it after the command).
 * Off the hot path: a key created or reaped. */
typedef void (*kvmap_event_fn)(void *arg, struct kvmap *m, int ev, const void *key, size_t klen);

/* Create an empty map charged to acct (borrowed; must outlive the map).
 * The calling thread becomes the owner. Returns NULL on out-of-memory. */
struct kvmap *kvmap_create(struct mem_acct *acct);
/* Let m grow at a load factor of 2 instead of 1: half the bucket array
 * (4 to 8 bytes per entry instead of 8 to 16) for chains of 1.5 entries
 * on average instead of 1.25. Containers' tables (tval_table_new) use it;
 * the key map does not. */
void kvmap_set_dense(struct kvmap *m);

/* Free every entry and the map. Owner thread only. */
void kvmap_destroy(struct kvmap *m);

/* Hand the map to the calling thread (e.g. after creating it on another
 * thread before the shard thread started). Only safe while no other thread
 * uses the map. */
void kvmap_bind_owner(struct kvmap *m);

/* Limits for keys and values; defaults are KVMAP_DEFAULT_MAX_*. Lengths
 * are stored in 32 bits, so limits above 4 GB - 1 are clamped to that. */
void kvmap_set_limits(struct kvmap *m, size_t max_key, size_t max_value);

/* The value limit in force (what kvmap_set, kvmap_append and
 * kvmap_setrange refuse above), for commands that check a length first. */
size_t kvmap_max_value(const struct kvmap *m);

/* Hints for batches (server/net/conn.c, server/route/dispatch.c, skv_store.c): start
 * loading the bucket slot(s) of a key whose hash_key() is h, then, once that
 * had time to arrive, the first entry chained there. A lookup's cost is these two
 * cache misses (perf: ~30-40% of a server's CPU at pipeline 16), which a
 * batch can overlap instead of taking one after another. Read-only, no
 * effect on the map; owner thread. */
void kvmap_prefetch_bucket(const struct kvmap *m, uint64_t h);
void kvmap_prefetch_entry(const struct kvmap *m, uint64_t h);

/* Look a key up. Lazy expiry: an entry whose expiry is < now_ms is removed
 * (counted in stats.expired) and NULL returned. The returned entry is
 * borrowed and valid until the next call that may write this map. */
struct kventry *kvmap_find(struct kvmap *m, const void *key, size_t klen, int64_t now_ms);

/* Set key to a string value. expire_ms: absolute Unix ms, KVMAP_NO_EXPIRE or
 * KVMAP_KEEP_TTL (any other negative value means "already expired").
 * Integers that look canonical ("-12", not "012" or "+1") may be stored
 * compactly (today: those of 7 or more characters, below which the string
 * is smaller); kventry_value gives the same bytes back.
 * Returns 1 if the key was new, 0 if it replaced a value, or KVMAP_E*. */
int kvmap_set(struct kvmap *m, const void *key, size_t klen, const void *val, size_t vlen,
              int64_t expire_ms, int64_t now_ms);

/* kvmap_find without recording an access (Redis's LOOKUP_NOTOUCH: TYPE,
 * TTL, EXISTS, OBJECT). */
struct kventry *kvmap_peek(struct kvmap *m, const void *key, size_t klen, int64_t now_ms);

/* Look key up to change its value in place (a typed value's elements):
 * as kvmap_find, and the entry's segment counts as written, so a running
 * snapshot captures it first. Call right before the change, and only when
 * the command will change it. Borrowed, as kvmap_find's. */
struct kventry *kvmap_find_w(struct kvmap *m, const void *key, size_t klen, int64_t now_ms);

/* Set key to the typed value tv, replacing whatever the key held (freed).
 * expire_ms as for kvmap_set. On success the map owns tv; on error tv is
 * still the caller's. Returns 1 if the key was new, 0 if it replaced a
 * value, or KVMAP_ETOOBIG (key over its limit) / KVMAP_ENOMEM. */
int kvmap_set_tval(struct kvmap *m, const void *key, size_t klen, struct tval *tv,
                   int64_t expire_ms, int64_t now_ms);

/* Remove key and hand its typed value to the caller instead of freeing it
 * (RENAME and MOVE relink a value in O(1)). Returns the value, now owned
 * by the caller, or NULL when the key is missing, expired or a string (a
 * string key is left in place). */
struct tval *kvmap_take_tval(struct kvmap *m, const void *key, size_t klen, int64_t now_ms);

/* What entries' access stamps record, for eviction: nothing (the default,
 * which costs nothing), the last access (LRU, 1-second resolution), or
 * Redis's LFU counter with lfu-log-factor and lfu-decay-time (minutes). A
 * change applies to accesses from now on. Stamps live in spare bits of the
 * entry's chain link, so they cost no memory. */
enum { KVMAP_ACCESS_NONE = 0, KVMAP_ACCESS_LRU = 1, KVMAP_ACCESS_LFU = 2 };
void kvmap_set_access(struct kvmap *m, int mode, unsigned lfu_log_factor, unsigned lfu_decay_time);

/* Report new and expired keys to fn(arg, ...) from now on (fn NULL:
 * stop). A database's map sets it; nested maps of typed values never do.
 * Owner thread. */
void kvmap_set_events(struct kvmap *m, kvmap_event_fn fn, void *arg);

/* The account every block of this map is charged to: typed values of its
 * entries are charged there too. Borrowed. */
struct mem_acct *kvmap_acct(const struct kvmap *m);

/* Free up to n entries of a map that is being thrown away, a slice per
 * call; when none is left, free its tables and the map itself (m is then
 * gone) and return true. Nothing else may be called on m once this was. */
bool kvmap_destroy_step(struct kvmap *m, size_t n);

/* Set key to an integer (stored in 8 bytes). Same returns as kvmap_set. */
int kvmap_set_int(struct kvmap *m, const void *key, size_t klen, int64_t v, int64_t expire_ms,
                  int64_t now_ms);

/* Add delta to the integer value of key (missing key counts as 0), keeping
 * its TTL. On success stores the result in *out and returns 0; otherwise
 * KVMAP_EWRONGTYPE, KVMAP_ENOTINT, KVMAP_EOVERFLOW, KVMAP_ENOMEM or KVMAP_ETOOBIG (key over
 * its limit), and the map is unchanged. */
int kvmap_incrby(struct kvmap *m, const void *key, size_t klen, int64_t delta, int64_t now_ms,
                 int64_t *out);

/* Append len bytes of data (borrowed) to key's value, keeping its TTL; a
 * missing or expired key is created with data as its value (stored as
 * kvmap_set would store it). An integer-encoded value becomes its decimal
 * text first. The value grows in place, with spare room chosen like
 * Redis's sds strings (double up to 1 MB, then 1 MB more), so n appends
 * cost O(total length), not O(n * length); only appended values carry the
 * room, plain sets stay compact. Counts as a write (epoch stamp, capture).
 * On success sets *newlen to the value's new length and returns 0;
 * otherwise KVMAP_ETOOBIG (key over its limit, or the result over the value
 * limit; decided before any allocation) or KVMAP_ENOMEM, and the map is
 * unchanged. Owner thread only. */
int kvmap_append(struct kvmap *m, const void *key, size_t klen, const void *data, size_t len,
                 int64_t now_ms, size_t *newlen);

/* Overwrite key's value at offset with len bytes of data (borrowed),
 * zero-filling any gap past the old end, and keep its TTL, as SETRANGE
 * does. With len 0 nothing is written, no key is created and no limit is
 * checked (Redis's order): *newlen is the current length (0 for a missing
 * key) and 0 is returned. A missing or expired key with len > 0 is created.
 * Growth, integer conversion, write accounting and returns are as for
 * kvmap_append (ETOOBIG when offset + len is over the value limit). Owner
 * thread only. */
int kvmap_setrange(struct kvmap *m, const void *key, size_t klen, size_t offset, const void *data,
                   size_t len, int64_t now_ms, size_t *newlen);

/* Remove key. Returns 1 if it existed (and was not expired), else 0. */
int kvmap_del(struct kvmap *m, const void *key, size_t klen, int64_t now_ms);

/* Set or clear the expiry of an existing entry (KVMAP_NO_EXPIRE clears,
 * KVMAP_KEEP_TTL does nothing). e must come from this map and be current.
 * Counts as a write. Adding a TTL to an entry that had none may move it to
 * a larger block: e is then stale (look the key up again if needed).
 * Returns 0, or KVMAP_ENOMEM with the entry unchanged. */
int kvmap_entry_set_expire(struct kvmap *m, struct kventry *e, int64_t expire_ms);

/* Views into an entry, valid as long as the entry is. */
const char *kventry_key(const struct kventry *e, size_t *klen);
/* The value's type: TVAL_STRING (0) or another TVAL_* of shard/tval.h.
 * Inline, since every command asks: the entry's flags byte follows its
 * chain pointer and keeps the type in its top three bits (kventry.c
 * asserts that layout at compile time). */
static inline int kventry_type(const struct kventry *e)
{
    return ((const uint8_t *)e)[sizeof(void *)] >> 5;
}
/* The typed value of an entry of another type than string (borrowed; the
 * entry owns it), or NULL for a string. */
struct tval *kventry_tval(const struct kventry *e);
/* The value's bytes, for a string entry only. An integer-encoded value is formatted into buf (which
 * must hold 21 bytes) and buf is returned. */
const char *kventry_value(const struct kventry *e, char buf[21], size_t *vlen);
/* True with *v set when the value is a string held as an integer. */
bool kventry_int(const struct kventry *e, int64_t *v);
/* True when a string entry carries spare room (it grew by APPEND or
 * SETRANGE): Redis reports such values as "raw". */
bool kventry_has_room(const struct kventry *e);
/* Absolute expiry in Unix ms, or KVMAP_NO_EXPIRE. */
int64_t kventry_expire(const struct kventry *e);

/* Number of entries, including expired ones not yet reaped. O(1). */
uint64_t kvmap_count(const struct kvmap *m);

/* Visit the entries of the buckets at cursor, return the next cursor (0 when
 * the whole map has been visited). Redis's reverse-binary cursor: every key
 * present for the whole scan is visited at least once across resizes. fn
 * must not write the map. Expired entries are skipped, not reaped. */
typedef void (*kvmap_visit_fn)(void *arg, const struct kventry *e);
uint64_t kvmap_scan(struct kvmap *m, uint64_t cursor, int64_t now_ms, kvmap_visit_fn fn, void *arg);

/* A random live entry or NULL if the map is empty. Borrowed. */
struct kventry *kvmap_random(struct kvmap *m, int64_t now_ms);

/* Remove every entry. O(n) in frees; callers that must not pause use
 * kvmap_create + destroy the old map incrementally elsewhere. */
void kvmap_clear(struct kvmap *m);

/* Active expiry: scan buckets from an internal cursor, removing entries whose
 * expiry < now_ms, until budget_ns of monotonic time is spent or one full
 * pass is done. Returns the number removed. Does nothing quickly when no
 * entry has a TTL. */
uint64_t kvmap_expire_slice(struct kvmap *m, int64_t now_ms, uint64_t budget_ns);

/* What the active expiry has done to m since it was created: volatile
 * entries it looked at (reaped or not) in *sampled, and slices that ran
 * out of time before a full pass in *capped (Redis's expired_stale_perc
 * and expired_time_cap_reached_count come from these). Owner thread. */
void kvmap_expire_counts(const struct kvmap *m, uint64_t *sampled, uint64_t *capped);
/* Entries kvmap_expire_slice has looked at since the map was made: with
 * the removed count, the share of expired keys it met (the shard's cron
 * reaps longer while that share is high). */
uint64_t kvmap_expire_examined(const struct kvmap *m);

/* Incremental rehash work outside requests (idle time): move buckets, and
 * unmap old table arrays left by a finished rehash, until budget_ns is
 * spent. Returns true while either kind of work remains. */
bool kvmap_rehash_slice(struct kvmap *m, uint64_t budget_ns);

/* Write epochs: while a cut is armed, every write stamps the segment it
 * touches with the current epoch. kvmap_epoch_begin starts a snapshot cut
 * at a new epoch E (returned) and arms capture: the first write to any
 * segment whose stamp is < E calls fn first; it returns 0 (nothing armed)
 * when there is no memory for the stamps (8 bytes per 16 buckets, kept
 * only while armed). kvmap_epoch_end disarms it and drops them. O(1). */
uint64_t kvmap_epoch_begin(struct kvmap *m, kvmap_capture_fn fn, void *arg);
void kvmap_epoch_end(struct kvmap *m);
/* Called instead of freeing the value that owns a map (a container's
 * tval) while a capture is armed on the map, with the capture's arg, that
 * owner and the account it is charged to: the capture takes the owner and
 * frees it when done, so a running snapshot still reads the map as of its
 * cut. */
typedef void (*kvmap_retire_fn)(void *arg, void *owner, struct mem_acct *a);
/* Set the retire hook of m's armed capture (cleared by kvmap_epoch_end). */
void kvmap_epoch_on_retire(struct kvmap *m, kvmap_retire_fn fn);
/* True when a capture is armed on m. */
bool kvmap_epoch_armed(const struct kvmap *m);
/* Give owner (charged to a) to the armed capture's retire hook; false, and
 * nothing done, when there is none (the caller frees owner itself). */
bool kvmap_epoch_retire(struct kvmap *m, void *owner, struct mem_acct *a);
/* Epoch stamp of a segment (tests, snapshot cursor). */
uint64_t kvmap_segment_epoch(const struct kvmap *m, int table, size_t seg);
/* Mark a segment captured (stamp it with the current epoch). */
void kvmap_segment_mark(struct kvmap *m, int table, size_t seg);
/* Number of segments in table 0 or 1 (0 when that table is absent). */
size_t kvmap_segments(const struct kvmap *m, int table);
/* Visit every entry of one segment, expired ones included (snapshots write
 * them with their TTL; the loader drops them). */
void kvmap_segment_visit(struct kvmap *m, int table, size_t seg, kvmap_visit_fn fn, void *arg);

/* Fill *st. O(1): every figure is a counter the map keeps up to date, so
 * INFO may ask as often as it likes. */
void kvmap_stats(struct kvmap *m, struct kvmap_stats *st);

/* Eviction candidates, as Redis's dictGetSomeKeys: up to n live entries
 * (only those with an expiry when volatile_only) from consecutive buckets
 * starting at a random one, visiting at most 10 * n buckets, stored in
 * out[0..n) (borrowed: valid until the map's next write). Returns how many
 * it stored. Reaps nothing. Owner thread. */
size_t kvmap_sample(struct kvmap *m, size_t n, bool volatile_only, int64_t now_ms,
                    const struct kventry **out);

/* How eviction ranks e under this map's access mode, higher first, as
 * Redis's evictionPoolPopulate: LRU its idle milliseconds, LFU 255 minus
 * its decayed counter. */
uint64_t kvmap_evict_rank(const struct kvmap *m, const struct kventry *e, int64_t now_ms);

/* Seconds since e was last accessed (OBJECT IDLETIME), by the LRU stamp;
 * 0 when the map does not keep LRU stamps. */
uint64_t kvmap_idle_seconds(const struct kvmap *m, const struct kventry *e, int64_t now_ms);

/* e's LFU counter after decay (OBJECT FREQ), or -1 when the map does not
 * keep LFU stamps. */
int kvmap_lfu_freq(const struct kvmap *m, const struct kventry *e, int64_t now_ms);

/* The access mode in force (KVMAP_ACCESS_*). */
int kvmap_access(const struct kvmap *m);

#endif
