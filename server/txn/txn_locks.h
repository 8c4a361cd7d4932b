/* txn_locks.h — the intent-lock table behind VLL-style transactions
 * (server/txn/txn.h): per shard, (db, key) to counts of shared and exclusive
 * intents. Pure and single-threaded: each shard's owner thread uses its
 * own table. */
#ifndef SKV_SERVER_TXN_LOCKS_H
#define SKV_SERVER_TXN_LOCKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct txn_lock_ent;

/* Keys (db, bytes) to counts of shared and exclusive intents. Chained hash
 * table, grown by doubling; an entry lives while any count is non-zero.
 * Single-threaded: each shard's owner thread uses its own. */
struct txn_locks {
    struct txn_lock_ent **b;  /* buckets, NULL until the first acquire */
    size_t nb;                /* bucket count (a power of two) */
    size_t n;                 /* entries (distinct locked keys) */
    struct txn_lock_ent *pool;/* freed small entries kept for reuse: a
                                 pipeline's keys are locked and released
                                 every round trip */
    size_t npool;             /* entries in pool */
};

/* Make l empty (no allocation). */
void txn_locks_init(struct txn_locks *l);

/* Free every entry and the buckets. */
void txn_locks_deinit(struct txn_locks *l);

/* Add one intent (exclusive or shared) on (db, key); key is copied.
 * Always granted: VLL orders transactions by queue position, the counts
 * only tell plain commands whether to wait. Returns 0 or -1 on
 * out-of-memory (nothing changed). */
int txn_locks_acquire(struct txn_locks *l, unsigned db, const void *key, size_t len, bool excl);

/* Remove one intent added by txn_locks_acquire with the same arguments. */
void txn_locks_release(struct txn_locks *l, unsigned db, const void *key, size_t len, bool excl);

/* Would an access to (db, key) conflict: any exclusive intent, or any
 * intent at all when write is true? */
bool txn_locks_conflict(const struct txn_locks *l, unsigned db, const void *key, size_t len,
                        bool write);

/* The same three with h = txn_locks_hash(db, key, len) already known
 * (the routing hash of a key gives it: txn_locks_hash_of), so a key is
 * hashed once on its way through routing and locking. */
int txn_locks_acquire_h(struct txn_locks *l, uint64_t h, unsigned db, const void *key,
                        size_t len, bool excl);
void txn_locks_release_h(struct txn_locks *l, uint64_t h, unsigned db, const void *key,
                         size_t len, bool excl);
bool txn_locks_conflict_h(const struct txn_locks *l, uint64_t h, unsigned db, const void *key,
                          size_t len, bool write);

/* The shared and exclusive intents held on (db, key), h its
 * txn_locks_hash (0 and 0 if none). */
void txn_locks_counts_h(const struct txn_locks *l, uint64_t h, unsigned db, const void *key,
                        size_t len, uint32_t *nshared, uint32_t *nexcl);

/* Distinct keys with intents. */
size_t txn_locks_count(const struct txn_locks *l);

/* The hash both the lock table and the WATCH tables key (db, key) by:
 * SipHash of the key with the database mixed in. Pure. */
uint64_t txn_locks_hash(unsigned db, const void *key, size_t len);

/* txn_locks_hash from the key's hash_key() (common/hash.h). The db is
 * mixed in by a multiply, so keys of different databases spread. */
static inline uint64_t txn_locks_hash_of(unsigned db, uint64_t key_hash)
{
    return key_hash ^ ((uint64_t)(db + 1) * 0x9e3779b97f4a7c15u);
}

#endif
