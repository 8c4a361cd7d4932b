/* skv_store.h — the in-process store: a blocking, thread-safe key-value API
 * over a shard group. Every call becomes one message per owning shard; the
 * calling thread waits until the shards have answered. Any thread may call,
 * many at once, except a thread of the store's own shard group. */
#ifndef SKV_SHARD_SKV_STORE_H
#define SKV_SHARD_SKV_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct skv_store;

/* Error codes (negative, returned directly). The first four have the same
 * values as the KVMAP_E* codes, which pass through unchanged. */
enum {
    SKV_STORE_ENOMEM = -1,    /* allocation failed; that operation did nothing */
    SKV_STORE_ETOOBIG = -2,   /* key or value over the store's limit */
    SKV_STORE_ENOTINT = -3,   /* INCRBY on a value that is not an int64 */
    SKV_STORE_EOVERFLOW = -4, /* INCRBY result out of int64 range */
    SKV_STORE_EINVAL = -5,    /* bad argument (negative TTL, NULL, huge batch) */
    SKV_STORE_EDEADLK = -6,   /* called from one of the store's shard threads */
};

/* Human-readable text for an SKV_STORE_E* code. Static string. */
const char *skv_store_strerror(int err);

struct skv_store_opts {
    unsigned ndb;     /* unused for now, must be 0: one database */
    size_t max_key;   /* key limit; 0 = 512 MB (KVMAP_DEFAULT_MAX_KEY) */
    size_t max_value; /* value limit; 0 = 512 MB (KVMAP_DEFAULT_MAX_VALUE) */
    /* Time every map operation on the shard threads (two clock reads each)
     * and keep the slowest in skv_store_stats.max_op_ns. For benchmarks. */
    bool time_ops;
    /* Microseconds a caller polls for its answer, and an idle shard for
     * its next message, before sleeping on a semaphore or in its loop.
     * Saves the futex/eventfd wake-ups (a few microseconds each, more in a
     * VM) when the machine has a spare core per poller; costs throughput
     * when it has not. 0 or negative = never poll (default); at most 1000. */
    int spin_us;
};

/* Open a store with nshards shard threads (0 = online CPUs); opts may be
 * NULL for defaults. Starts the threads. Returns NULL on bad options,
 * out-of-memory or a thread that failed to start. Owned by the caller:
 * skv_store_close. */
struct skv_store *skv_store_open(unsigned nshards, const struct skv_store_opts *opts);

/* Stop the shard threads and free everything, data included. No call may be
 * in flight or made afterwards. NULL is fine. */
void skv_store_close(struct skv_store *st);

/* Number of shards. */
unsigned skv_store_shards(const struct skv_store *st);

/* Set key to val (both copied into the map, the caller keeps its buffers).
 * ttl_ms > 0 sets a relative expiry, 0 means none (an old TTL is cleared,
 * as SET does). Returns 0, SKV_STORE_ETOOBIG, SKV_STORE_EINVAL (ttl_ms < 0
 * or too large) or SKV_STORE_ENOMEM. */
int skv_store_set(struct skv_store *st, const void *key, size_t klen, const void *val, size_t vlen,
                  int64_t ttl_ms);

/* Fetch key. On 1 (found) *val is a malloc'd copy of the value that the
 * caller frees with free() (never NULL, even for an empty value) and *vlen
 * its length; on 0 (missing) *val is NULL. Negative: SKV_STORE_E*, *val NULL. */
int skv_store_get(struct skv_store *st, const void *key, size_t klen, char **val, size_t *vlen);

/* Delete key. Returns 1 if it existed, 0 if not, or a negative code. */
int skv_store_del(struct skv_store *st, const void *key, size_t klen);

/* Returns 1 if key exists, 0 if not, or a negative code. */
int skv_store_exists(struct skv_store *st, const void *key, size_t klen);

/* Give an existing key a TTL of ttl_ms from now (PEXPIRE). A ttl_ms <= 0
 * deletes the key, as Redis does. Returns 1 if the key existed, 0 if not. */
int skv_store_expire(struct skv_store *st, const void *key, size_t klen, int64_t ttl_ms);

/* Remaining TTL as Redis PTTL: *ttl_ms = milliseconds left, -1 if the key
 * has no TTL, -2 if it does not exist. Returns 0 or a negative code. */
int skv_store_ttl(struct skv_store *st, const void *key, size_t klen, int64_t *ttl_ms);

/* Add delta to the integer at key (missing = 0), keeping its TTL; the new
 * value goes to *out (may be NULL). Returns 0, SKV_STORE_ENOTINT,
 * SKV_STORE_EOVERFLOW or SKV_STORE_ENOMEM. */
int skv_store_incrby(struct skv_store *st, const void *key, size_t klen, int64_t delta,
                     int64_t *out);

/* Set n keys (MSET: no TTL). Sizes are all checked first, so a limit error
 * writes nothing. Not atomic across shards yet: a reader may see some keys
 * new and others old while it runs, and an out-of-memory on one shard
 * leaves the others' writes in place. Returns 0 or the first error. */
int skv_store_mset(struct skv_store *st, size_t n, const void *const *keys, const size_t *klens,
                   const void *const *vals, const size_t *vlens);

/* One MGET result. */
struct skv_store_value {
    char *data; /* malloc'd copy (free()), NULL if missing */
    size_t len; /* length of data */
};

/* Fetch n keys into res[0..n) (caller-provided). On 0 each res[i] is a
 * copy or {NULL, 0}; free them with skv_store_values_free. On a negative
 * code nothing is allocated and res is all {NULL, 0}. */
int skv_store_mget(struct skv_store *st, size_t n, const void *const *keys, const size_t *klens,
                   struct skv_store_value *res);

/* Free the data of res[0..n) and reset them to {NULL, 0}. */
void skv_store_values_free(struct skv_store_value *res, size_t n);

/* Operation kinds for skv_store_exec. */
enum skv_store_op_kind {
    SKV_STORE_OP_GET,    /* out: rc 1/0, val/vlen (malloc'd copy) */
    SKV_STORE_OP_SET,    /* in: val/vlen, arg = ttl_ms (0 = none); out: rc 0 */
    SKV_STORE_OP_DEL,    /* out: rc 1/0 */
    SKV_STORE_OP_EXISTS, /* out: rc 1/0 */
    SKV_STORE_OP_EXPIRE, /* in: arg = ttl_ms; out: rc 1/0 */
    SKV_STORE_OP_TTL,    /* out: rc 0, num = PTTL (-2, -1 or ms) */
    SKV_STORE_OP_INCRBY, /* in: arg = delta; out: rc 0, num = new value */
};

/* One operation of a batch. The caller fills the inputs; the store fills
 * the outputs. Inputs are borrowed until skv_store_exec returns. */
struct skv_store_op {
    enum skv_store_op_kind kind; /* what to do */
    const void *key;             /* in: key bytes */
    size_t klen;                 /* in: key length */
    const void *val;             /* in: SET value bytes */
    size_t vlen;                 /* in: SET value length; out: GET value length */
    int64_t arg;                 /* in: TTL in ms (SET, EXPIRE) or delta (INCRBY) */
    int rc;                      /* out: per-operation result or SKV_STORE_E* */
    int64_t num;                 /* out: TTL or INCRBY result */
    char *out;                   /* out: GET copy (free()), NULL when missing */
};

/* Run a batch: operations are grouped by owning shard, one message per
 * shard, and the call returns when all shards are done. Operations on the
 * same shard (so on the same key) run in array order; the batch is not
 * atomic across shards. Per-operation results are in ops[i].rc. Returns 0
 * when the batch ran (even if some ops failed), or a negative code when it
 * could not be sent at all (nothing ran; every rc is set to that code). */
int skv_store_exec(struct skv_store *st, struct skv_store_op *ops, size_t n);

/* Figures summed over shards, gathered by one message per shard. */
struct skv_store_stats {
    uint64_t keys;           /* entries in the maps (expired-but-unreaped too) */
    uint64_t ops;            /* map operations executed */
    uint64_t batches;        /* messages handled */
    uint64_t expired_active; /* keys reaped by the shards' cron */
    int64_t used_memory;     /* bytes the shards' maps hold */
    uint64_t max_op_ns;      /* slowest single map operation (opts.time_ops) */
};

/* Fill *out. Returns 0 or a negative code. */
int skv_store_stats(struct skv_store *st, struct skv_store_stats *out);

#endif
