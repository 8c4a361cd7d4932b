/* txn.h — transactions across shards, VLL-style (Ren, Thomson, Abadi; the
 * scheme Dragonfly's transaction.md describes): one global order for
 * multi-shard operations, per-shard intent locks taken in that order, and
 * single-key commands that run at once unless a lock they conflict with is
 * held. Also the per-shard tables behind WATCH. Coordinator functions run
 * on the worker thread that started the transaction; shard functions on the
 * shard's owner thread.
 *
 * How a transaction runs:
 *   1. The coordinator (a worker thread) creates it and names its keys
 *      (txn_lock_key; reads shared, writes exclusive) or whole shards
 *      (txn_lock_all).
 *   2. txn_start takes the global sequencer, assigns the next id and posts
 *      SCHEDULE to every involved shard while holding it, so every mailbox
 *      receives transactions in id order. Each shard appends the
 *      transaction to its queue, counts its intent locks in its lock table
 *      and acknowledges. When every shard has acknowledged, `ready` runs on
 *      the coordinator: all locks are held from then on.
 *   3. The coordinator sends work with txn_send: a request runs on its
 *      shard when the transaction is at the head of that shard's queue
 *      (simplest correct rule: later transactions wait for earlier ones on
 *      every shard they share; the oldest live transaction is at the head
 *      of all its queues, so there is no deadlock). Rounds may depend on
 *      earlier rounds, and may hop between shards, while every lock stays
 *      held.
 *   4. txn_finish posts CONCLUDE: each shard releases the locks, drops the
 *      transaction from its queue, then runs what was waiting for it.
 *
 * A shard may also start a transaction for another worker to coordinate,
 * its locks on that shard counting at once, before its SCHEDULE arrives
 * (txn_start_reserved: a blocked client served from the shard's FIFO takes
 * its element before any later command can).
 *
 * Single-key (and single-shard) commands never take the sequencer: the
 * owner checks txn_may_run before running one. With no lock held on the
 * shard that check is two loads. A command on a locked key waits in the
 * shard's FIFO of held requests and runs when every transaction that was
 * scheduled on the shard before it arrived, and that conflicts with it,
 * has concluded (and after the same client's earlier held requests), so
 * single-key operations stay linearizable and are never starved.
 *
 * 64-core follow-up: the sequencer is one mutex held while posting one
 * message per involved shard. That is fine for a handful of shards; with
 * many cores, replace it by a ticket (atomic id) plus per-shard ordered
 * insertion (each shard keeps the queue sorted and only executes a
 * transaction once every smaller ticket it could still receive has been
 * seen, e.g. via per-coordinator watermarks), as Dragonfly does. One-shot
 * transactions (txn_start_oneshot) already run out of queue order when they
 * share no key with any other scheduled one (VLL's rule); doing the same
 * for ordinary transactions, and folding their final round into CONCLUDE,
 * are the next optimisations. */
#ifndef SKV_SERVER_TXN_H
#define SKV_SERVER_TXN_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "protocol/resp.h"
#include "server/exec/cmd.h"
#include "server/txn/txn_locks.h"
#include "shard/shard.h"

/* The most shards a server runs: the threads option's limit. */
#define TXN_MAX_SHARDS 1024

struct shard;
struct req;
struct worker;
struct txn;
struct txn_gate;

/* ---- Coordinator side (the worker thread that creates the txn) --------- */

/* A new, empty transaction coordinated by the calling worker thread.
 * Returns NULL on out-of-memory. Owned by the caller until txn_start; after
 * that it frees itself once txn_finish has been called. */
struct txn *txn_create(void);

/* The same, for a transaction that worker `origin` coordinates though
 * another thread creates and starts it (txn_start_reserved). */
struct txn *txn_create_for(unsigned origin);

/* Declare an intent lock on key (borrowed, copied) in database db:
 * exclusive for writes, shared for reads. The key's shard joins the
 * transaction. Before txn_start only. Returns 0, or -1 on out-of-memory. */
int txn_lock_key(struct txn *t, unsigned db, const void *key, size_t len, bool exclusive);

/* The same, given the key's hash_key() and the shard it routes to, as
 * routing computed them: the key is not hashed again. */
int txn_lock_key_hashed(struct txn *t, unsigned db, const void *key, size_t len, bool exclusive,
                        uint64_t key_hash, unsigned shard);

/* Make shard `shard` one of t's shards, locking nothing there (a one-shot
 * transaction's part runs on it even if it locks no key). Before
 * txn_start only. Returns 0, or -1 on out-of-memory. */
int txn_join(struct txn *t, unsigned shard);

/* Declare a shard-wide lock on every shard (all databases): exclusive for
 * commands that change everything (FLUSHALL, SWAPDB), shared for
 * point-in-time reads (KEYS, DBSIZE, a snapshot cut). Returns 0 or -1. */
int txn_lock_all(struct txn *t, bool exclusive);

/* Put t in the global order and schedule it on its shards; ready(arg) runs
 * on this thread once every involved shard holds its locks (at once, from
 * within this call, if t involves no shard). Returns 0, or -1 if t could
 * not be scheduled (out of memory): then ready never runs and t has been
 * freed. */
int txn_start(struct txn *t, void (*ready)(void *arg), void *arg);

/* txn_start, called on shard s's thread (one of t's shards) for a
 * transaction that another worker coordinates (txn_create_for): ready(arg)
 * runs on that worker. t's locks on s count from this call on, before its
 * SCHEDULE reaches s: a command that arrives on s after it and conflicts
 * with them waits for t, as if t had been scheduled here first. What s
 * decided now (a blocked client served: cmd_block_move.c) is then seen by
 * every later command, as in Redis, though t's other shards lock later.
 * The batches of s's own clients are not flushed (t is not theirs).
 * Returns 0 (nothing is allocated here). */
int txn_start_reserved(struct txn *t, struct shard *s, void (*ready)(void *arg), void *arg);

/* The same for a one-shot transaction (txn_start_oneshot) whose one part
 * is on s, the calling thread's shard: fn(s, arg) runs there, on this
 * thread, once t heads s's queue, ahead of every command that arrives
 * after this call and conflicts with t's locks (a blocked client served
 * in its turn behind a reserved move). t is consumed in every case.
 * Returns 0, or -1 on out-of-memory (nothing scheduled, nothing runs). */
int txn_start_reserved_oneshot(struct txn *t, struct shard *s,
                               void (*fn)(struct shard *s, void *arg), void *arg);

/* Schedule t in the global order for work known up front, with no
 * acknowledgement round trip: on every shard i that t involves,
 * fn(s, args[i]) runs once every involved shard holds t's locks and t
 * heads shard i's queue, and t's locks there are released right after it.
 * The shards tell each other when all hold their locks, so no shard runs
 * its part while another could still let a conflicting command through
 * ahead of the transaction: the parts are atomic together, as after
 * txn_start's acknowledgements. fn reports back itself (nothing returns to
 * this thread). Does not flush this worker's batches (the caller orders
 * them). t must involve at least one shard; it is consumed in every case.
 * Returns 0, or -1 on out-of-memory (nothing scheduled, nothing runs). */
int txn_start_oneshot(struct txn *t, void (*fn)(struct shard *s, void *arg), void *const *args,
                      struct txn_gate **kept);

/* The same, with own_fn instead of fn on the calling worker's own shard,
 * whose work needs no trip (route/group_local.c's). */
int txn_start_oneshot_own(struct txn *t, void (*fn)(struct shard *s, void *arg),
                          void (*own_fn)(struct shard *s, void *arg), void *const *args,
                          struct txn_gate **kept);

/* With kept non-NULL, txn_start_oneshot sets *kept, and each part keeps
 * its locks after fn until the coordinator calls txn_oneshot_release(*kept)
 * (once, on this thread; a part that has not run yet then concludes as
 * soon as it has). Until then nothing conflicting runs on those keys:
 * what the coordinator does with the parts' results (publish their
 * keyspace events) comes before any later command on them. */
void txn_oneshot_release(struct txn_gate *g);

/* Run request r (r->exec with r's arguments, ctx->priv = r) on shard
 * r->shard as part of t, once t heads that shard's queue; then done(r) runs
 * on this thread (always later, from the mailbox, never inside this call).
 * r->shard must be one of t's shards (asserted). Requests to the same shard
 * run in the order sent. With conclude, r is t's last request on that
 * shard: the shard releases t's locks there right after running it (no
 * CONCLUDE round trip, so the shard's next transaction may go at once), and
 * nothing more may be sent there. Returns 0, or -1 if no message could be
 * allocated: r->out.oom is then set, done never runs, and the shard is
 * still concluded by txn_finish. */
int txn_send(struct txn *t, struct req *r, void (*done)(struct req *r), bool conclude);
/* Run r now, on this thread, if its shard is this worker's own and t heads
 * that shard's queue with nothing of t waiting or posted there: what
 * txn_send would do a loop turn later, without its two messages (a
 * cross-shard script's local redis.call). Returns false, having done
 * nothing, otherwise. r's reply is in r->out; no completion runs. */
bool txn_run_here(struct txn *t, struct req *r);

/* Conclude t everywhere: release its locks and free it. No request of t
 * may still be out. Safe on a transaction that was never started. */
void txn_finish(struct txn *t);

/* Run fn(s, arg) on every shard s at one point of the global order, then
 * done(done_arg) on the calling worker thread. Every shard is locked
 * before any fn runs, and each shard releases its lock right after its
 * own fn, so the cut is consistent: every write (single-key or not) is
 * before it on every shard or after it on every shard, and a client that
 * saw a post-cut write on one shard can only see post-cut state on the
 * others. Exclusive also keeps readers out until fn has run on their
 * shard (FLUSHALL, SWAPDB); shared lets them run meanwhile (DBSIZE, a
 * snapshot cut).
 *
 * Users: standalone DBSIZE, FLUSHDB, FLUSHALL and SWAPDB (cmd_allshards.c;
 * KEYS and RANDOMKEY take the same shard-wide locks through a fan-out, as
 * everything inside EXEC does), and a snapshot start (shared: fn bumps
 * the shard's epoch; later writes are captured copy-on-write). fn runs on
 * shard s's owner thread and may touch only s;
 * arg is shared by all shards (treat as read-only, or write per-shard
 * slots). Must be called on a worker (shard) thread. Returns 0, or -1 on
 * out-of-memory (nothing runs). */
int txn_all_shards(void (*fn)(struct shard *s, void *arg), void *arg,
                   void (*done)(void *done_arg), void *done_arg, bool exclusive);

/* ---- Shard side (owner thread), hooks used by route/ ------------------- */

/* May command d (argv as received, db its database) run on s now? False if
 * one of its keys (Redis key spec) is locked in a conflicting mode, if a
 * shard-wide lock conflicts, or if an earlier request of the same client
 * (an opaque identity; NULL = none) is held here. key1_hash: hash_key() of
 * its first key if the caller has it, else NULL. O(keys) with locks held.
 * Callers use txn_may_run, below. */
bool txn_may_run_slow(struct shard *s, const struct cmd_def *d, unsigned db, size_t argc,
                      const struct resp_arg *argv, const void *client,
                      const uint64_t *key1_hash);

/* Per shard: set while a transaction is queued there or a request held.
 * Only the owner thread touches its entry, each on a cache line of its
 * own, so that the common case (nothing queued, nothing held) costs
 * txn_may_run one load instead of a call. */
struct txn_busy {
    _Alignas(64) bool any;
};
extern struct txn_busy txn_busy_[TXN_MAX_SHARDS];

/* txn_may_run_slow, without its call while nothing is queued or held. */
static inline bool txn_may_run(struct shard *s, const struct cmd_def *d, unsigned db,
                               size_t argc, const struct resp_arg *argv, const void *client,
                               const uint64_t *key1_hash)
{
    return !txn_busy_[s->id].any ||
           txn_may_run_slow(s, d, db, argc, argv, client, key1_hash);
}

/* Does a transaction that has run some of its steps on s, and not
 * concluded, hold a key of command d there? Then nothing may run on that
 * key before it concludes. Shard thread. */
bool txn_stepping_conflict(struct shard *s, const struct cmd_def *d, unsigned db, size_t argc,
                           const struct resp_arg *argv);

/* txn_may_run (no client) for a command s runs right after what it runs
 * now (a blocked client's pop, as Redis serves right after the command
 * that fed it), where the transactions that have not run on s yet do not
 * count: after a step of the one-shot transaction heading s's queue
 * (txn_start_oneshot: a client's pipeline spanning shards; others there
 * are behind it), after a held request (those after it), and right after
 * a transaction that ran in steps concluded. Otherwise (beside a one-shot
 * that ran ahead of the queue: its own locks only) the others count. */
bool txn_may_run_beside(struct shard *s, const struct cmd_def *d, unsigned db, size_t argc,
                        const struct resp_arg *argv);

/* Hold request r (r->cmd set, r->conn the client identity) on s until it
 * may run; then dispatch_held_run(s, r, ctx) is called on s's thread. The
 * shard borrows r until then. */
void txn_hold(struct shard *s, struct req *r, void *ctx);

/* While a script runs past busy-reply-threshold (on s's thread or any
 * other): each held request that may_take accepts leaves s's FIFO, in
 * FIFO order, and take answers it (ctx is what txn_hold was given). s's
 * thread; safe from inside a held request's run (the pump looks at its
 * FIFO afresh after it). */
void txn_held_sweep(struct shard *s, bool (*may_take)(const struct req *r),
                    void (*take)(struct shard *s, struct req *r, void *ctx));

/* What the routing layer does for the sequencer: route/'s
 * functions, plugged in at start-up (app/hooks.c), read-only after. */
struct txn_route {
    /* A request held by txn_hold may run now: run it on s (this thread)
     * and send its reply on (ctx is what txn_hold was given). */
    void (*held_run)(struct shard *s, struct req *r, void *ctx);
    /* Owner side: the reply of a hop's part in r->out was just made
     * (counted for its connection's output buffer limit, or dropped). */
    void (*reply_made)(struct shard *s, struct req *r);
    /* Post w's request batches of this loop turn now. */
    void (*flush_batches)(struct worker *w);
};

/* Install the routing layer's functions (copied); before workers start. */
void txn_set_route(const struct txn_route *r);

/* ---- WATCH (cmd_txn.c) --------------------------------------------------- */

/* One client's WATCH state as the shards see it: they set dirty when a
 * watched key changes. Reference counted: the client holds one reference,
 * each shard registration another. */
struct txn_watch {
    _Atomic bool dirty;  /* a watched key was written since WATCH */
    _Atomic bool dead;   /* the client unwatched: registrations may go */
    _Atomic int refs;    /* client + registrations */
};

/* A new watch with one reference (the caller's). NULL on out-of-memory. */
struct txn_watch *txn_watch_create(void);

/* Drop a reference; the last one frees w. Any thread. */
void txn_watch_unref(struct txn_watch *w);

/* On s (owner thread): register w on (db, key); remembers whether the key
 * exists now (an expired key counts as absent, as in Redis 7). Returns 0
 * or -1 on out-of-memory. */
int txn_watch_add(struct shard *s, struct txn_watch *w, unsigned db, const void *key, size_t len,
                  int64_t now_ms);

/* On s: true if (db, key) changed for w in a way the dirty flag does not
 * show: it existed at WATCH and is gone or expired now (expiry, eviction).
 * Run inside the EXEC transaction, so nothing changes it meanwhile. */
bool txn_watch_expired(struct shard *s, struct txn_watch *w, unsigned db, const void *key,
                       size_t len, int64_t now_ms);

/* On s: forget w's registration on (db, key) (if any). */
void txn_watch_remove(struct shard *s, struct txn_watch *w, unsigned db, const void *key,
                      size_t len);

#endif
