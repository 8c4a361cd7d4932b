/* txn_locks.c — the per-shard intent-lock table of VLL-style transactions
 * (txn_locks.h): a chained hash table from (db, key) to shared and
 * exclusive intent counts. Runs on the owning shard's thread only. */
#include "server/txn/txn_locks.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "common/hash.h"

/* Buckets a table starts with; it doubles when fuller than one entry per
 * bucket. */
#define TXN_LOCKS_MIN 16
/* Keys up to this long get a fixed-size entry that goes back to the
 * table's pool when released, up to TXN_LOCKS_POOL entries (about 100 KB):
 * enough for the keys that a few pipelines from every worker hold at once. */
#define TXN_LOCKS_SMALL_KEY 56
#define TXN_LOCKS_POOL 1024

uint64_t txn_locks_hash(unsigned db, const void *key, size_t len)
{
    return txn_locks_hash_of(db, hash_key(key, len));
}

struct txn_lock_ent {
    struct txn_lock_ent *next; /* bucket chain */
    uint64_t hash;             /* txn_locks_hash(db, key) */
    unsigned db;               /* database */
    uint32_t nshared;          /* shared intents held */
    uint32_t nexcl;            /* exclusive intents held */
    size_t len;                /* key length */
    char key[];                /* key bytes */
};


void txn_locks_init(struct txn_locks *l)
{
    memset(l, 0, sizeof *l);
}

void txn_locks_deinit(struct txn_locks *l)
{
    while (l->pool) {
        struct txn_lock_ent *e = l->pool;
        l->pool = e->next;
        free(e);
    }
    for (size_t i = 0; i < l->nb; i++) {
        struct txn_lock_ent *e = l->b[i];
        while (e) {
            struct txn_lock_ent *n = e->next;
            free(e);
            e = n;
        }
    }
    free(l->b);
    memset(l, 0, sizeof *l);
}

static struct txn_lock_ent **lock_slot(const struct txn_locks *l, uint64_t h, unsigned db,
                                       const void *key, size_t len)
{
    struct txn_lock_ent **pp = &l->b[h & (l->nb - 1)];
    /* An empty key may arrive as a NULL pointer, and memcmp's arguments
     * must not be NULL even for zero bytes. */
    for (; *pp; pp = &(*pp)->next) {
        struct txn_lock_ent *e = *pp;
        if (e->hash == h && e->db == db && e->len == len &&
            (len == 0 || memcmp(e->key, key, len) == 0))
            return pp;
    }
    return pp;
}

static int locks_grow(struct txn_locks *l)
{
    size_t nb = l->nb ? l->nb * 2 : TXN_LOCKS_MIN;
    struct txn_lock_ent **b = calloc(nb, sizeof *b);
    if (!b)
        return -1;
    for (size_t i = 0; i < l->nb; i++) {
        struct txn_lock_ent *e = l->b[i];
        while (e) {
            struct txn_lock_ent *n = e->next;
            e->next = b[e->hash & (nb - 1)];
            b[e->hash & (nb - 1)] = e;
            e = n;
        }
    }
    free(l->b);
    l->b = b;
    l->nb = nb;
    return 0;
}

int txn_locks_acquire(struct txn_locks *l, unsigned db, const void *key, size_t len, bool excl)
{
    return txn_locks_acquire_h(l, txn_locks_hash(db, key, len), db, key, len, excl);
}

int txn_locks_acquire_h(struct txn_locks *l, uint64_t h, unsigned db, const void *key,
                        size_t len, bool excl)
{
    if (l->n >= l->nb && locks_grow(l) != 0 && l->nb == 0)
        return -1; /* a full table still works, only its chains grow */
    struct txn_lock_ent **pp = lock_slot(l, h, db, key, len);
    struct txn_lock_ent *e = *pp;
    if (!e) {
        if (len <= TXN_LOCKS_SMALL_KEY && l->pool) {
            e = l->pool;
            l->pool = e->next;
            l->npool--;
        } else {
            e = malloc(sizeof *e + (len <= TXN_LOCKS_SMALL_KEY ? TXN_LOCKS_SMALL_KEY : len));
            if (!e)
                return -1;
        }
        e->next = NULL;
        e->hash = h;
        e->db = db;
        e->nshared = e->nexcl = 0;
        e->len = len;
        if (len)
            memcpy(e->key, key, len);
        *pp = e;
        l->n++;
    }
    if (excl)
        e->nexcl++;
    else
        e->nshared++;
    return 0;
}

void txn_locks_release(struct txn_locks *l, unsigned db, const void *key, size_t len, bool excl)
{
    txn_locks_release_h(l, txn_locks_hash(db, key, len), db, key, len, excl);
}

void txn_locks_release_h(struct txn_locks *l, uint64_t h, unsigned db, const void *key,
                         size_t len, bool excl)
{
    if (l->nb == 0)
        return;
    struct txn_lock_ent **pp = lock_slot(l, h, db, key, len);
    struct txn_lock_ent *e = *pp;
    assert(e);
    if (!e)
        return;
    if (excl) {
        assert(e->nexcl > 0);
        e->nexcl--;
    } else {
        assert(e->nshared > 0);
        e->nshared--;
    }
    if (e->nexcl == 0 && e->nshared == 0) {
        *pp = e->next;
        l->n--;
        if (e->len <= TXN_LOCKS_SMALL_KEY && l->npool < TXN_LOCKS_POOL) {
            e->next = l->pool;
            l->pool = e;
            l->npool++;
        } else {
            free(e);
        }
    }
}

bool txn_locks_conflict(const struct txn_locks *l, unsigned db, const void *key, size_t len,
                        bool write)
{
    if (l->n == 0)
        return false;
    return txn_locks_conflict_h(l, txn_locks_hash(db, key, len), db, key, len, write);
}

bool txn_locks_conflict_h(const struct txn_locks *l, uint64_t h, unsigned db, const void *key,
                          size_t len, bool write)
{
    if (l->n == 0)
        return false;
    struct txn_lock_ent *e = *lock_slot(l, h, db, key, len);
    if (!e)
        return false;
    return e->nexcl > 0 || (write && e->nshared > 0);
}

void txn_locks_counts_h(const struct txn_locks *l, uint64_t h, unsigned db, const void *key,
                        size_t len, uint32_t *nshared, uint32_t *nexcl)
{
    *nshared = *nexcl = 0;
    if (l->n == 0)
        return;
    const struct txn_lock_ent *e = *lock_slot(l, h, db, key, len);
    if (e) {
        *nshared = e->nshared;
        *nexcl = e->nexcl;
    }
}

size_t txn_locks_count(const struct txn_locks *l)
{
    return l->n;
}
