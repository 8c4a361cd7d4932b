/* dispatch_internal.h — what dispatch.c (routing), req.c (requests and
 * batches), batch.c (running them, slots), order.c (program order) and
 * fan.c (fan-out, broadcasts) share inside route/. Not for other folders.
 * The connection's worker thread unless a function says otherwise. */
#ifndef SKV_SERVER_DISPATCH_INTERNAL_H
#define SKV_SERVER_DISPATCH_INTERNAL_H

#include "common/hash.h"
#include "server/exec/cmd.h"
#include "server/exec/req.h"
#include "shard/shard.h"

struct worker;
struct fan;
struct group_events;
struct txn_gate;
struct txn;
struct conn;

/* A request in its batch, and where its reply ends in the batch's out. */
struct bent {
    struct req *r;
    size_t end;           /* out.len after this request's reply, with the
                             BENT_* flags; owner-written */
};
/* The reply could not be built for want of memory (out holds none of it). */
#define BENT_OOM ((size_t)1 << 63)
/* Held by an intent lock: the reply comes later, in r->out. */
#define BENT_HELD ((size_t)1 << 62)
/* A big reply, moved to r->out (single_own_reply). */
#define BENT_OWN ((size_t)1 << 61)
/* Set by the origin: the request belongs to this turn's group (a unit that
 * spans shards) and runs under the group's locks, not txn_may_run's. */
#define BENT_GROUPED ((size_t)1 << 60)
#define BENT_FLAGS (BENT_OOM | BENT_HELD | BENT_OWN | BENT_GROUPED)

/* One mailbox message: the requests of one origin for one shard in one loop
 * turn. It travels to the owner, which fills every reply, and back. The
 * requests are an array, not a list, so the owner can load and prefetch
 * them without chasing pointers; the replies of single requests go back to
 * back into out, so each cache line that returns carries a dozen small
 * replies instead of one (fan-out parts and held requests use r->out). */
struct batch {
    struct mbox_msg msg;  /* must be first: handlers cast back */
    unsigned origin;      /* worker that sent it (where it returns) */
    unsigned held;        /* requests held by intent locks (txn.h): the
                             batch returns when this is back to 0 */
    struct bent *v;       /* requests in order of arrival */
    size_t n, cap;        /* entries used and allocated in v */
    struct rbuf out;      /* replies of the single requests, owner-filled */
    bool grouped;         /* carries grouped requests: goes out through
                             txn_start_oneshot (origin-set) */
    struct group_events *grp; /* its group's, when the group's events are
                             published by the origin (group_events.c):
                             origin-set, NULL otherwise */
    struct batch *pool_next; /* the origin's free list */
};


/* A request with a private copy of argv, made on w's thread (pooled when
 * small); freed with dispatch_req_free on the same thread. NULL on OOM. */
struct req *dispatch_req_new(struct worker *w, size_t argc, const struct resp_arg *argv);

/* Free a request made by dispatch_req_new on w (the calling thread's). */
void dispatch_req_free(struct worker *w, struct req *r);

/* dispatch_req_new for command argv of c, routed to another shard: when
 * c lends its read buffer (a big SET that ends the input), argv stays
 * there and only the views are copied, so the value is copied once, into
 * the map, on its owner's thread. Freed with dispatch_req_free. */
struct req *dispatch_req_new_routed(struct conn *c, size_t argc, const struct resp_arg *argv);

/* Add r to this turn's batch for shard `shard`. Returns 0, or -1 on OOM. */
int dispatch_batch_add(struct worker *w, unsigned shard, struct req *r);

/* A batch is back on its origin, w: keep it for reuse, or free it. */
void dispatch_batch_recycle(struct worker *w, struct batch *b);

/* Mailbox handlers of a batch (batch.c): run it on its owner; back on
 * its origin, fill its requests' slots. */
void dispatch_on_batch_exec(void *owner, struct mbox_msg *m);
void dispatch_on_batch_done(void *owner, struct mbox_msg *m);

/* A round of f is back: keep the keyspace events its parts recorded. */
void dispatch_fan_events(struct fan *f, struct req *const *parts, size_t n);

/* Publish the events f kept (dispatch_hooks.publish_events), the
 * client's own frames before its reply. */
void dispatch_fan_publish(struct fan *f);

/* A part of f came back (or ran locally): when the round is complete, run
 * the step and the next round. */
void dispatch_fan_part_done(struct fan *f);

/* The command's key (its first) was hashed to route it: the map need not
 * hash it again while the command runs (hash_key_remember; forgotten right
 * after, before the bytes can change). */
static inline void remember_key_hash(const struct cmd_def *d, size_t argc,
                                     const struct resp_arg *argv, uint64_t h)
{
    size_t k = cmd_first_key(d, argc, argv);
    if (k > 0)
        hash_key_remember(argv[k].ptr, argv[k].len, h);
}

/* Run one request's exec on shard s (the calling thread owns it): command
 * d whole, or one part of it (d NULL for an internal step), through the
 * one execution point (cmd_call). priv is the request (struct req), or
 * NULL for a command run inline on its connection's thread, whose reply
 * goes straight into the connection's stream out. Its keyspace events are
 * recorded in events (cmd_ctx.events) when not NULL, else published. */
static inline void run_exec_events(struct shard *s, const struct cmd_def *d, cmd_exec_fn exec,
                                   unsigned db, int proto, size_t argc,
                                   const struct resp_arg *argv, struct rbuf *out, int64_t now_ms,
                                   struct req *priv, const struct conn *origin,
                                   struct rbuf *events)
{
    struct cmd_ctx ctx = {
        .shard = s,
        .db = shard_db(s, db),
        .dbidx = db,
        .proto = proto,
        .argc = argc,
        .argv = argv,
        .out = out,
        .now_ms = now_ms,
        .priv = priv,
        .conn = NULL,
        .origin = origin,
        .oslot = priv ? priv->slot : NULL,
        .reply_inline = priv == NULL,
        .events = events,
    };
    if (d && exec == d->exec)
        cmd_call(d, &ctx);
    else
        cmd_call_part(d, exec, &ctx);
}

/* The same, a fan-out part's events recorded in the part (req.events),
 * anything else's published. */
static inline void run_exec(struct shard *s, const struct cmd_def *d, cmd_exec_fn exec,
                            unsigned db, int proto, size_t argc, const struct resp_arg *argv,
                            struct rbuf *out, int64_t now_ms, struct req *priv,
                            const struct conn *origin)
{
    run_exec_events(s, d, exec, db, proto, argc, argv, out, now_ms, priv, origin,
                    priv && priv->fan ? &priv->events : NULL);
}

/* ---- Program order (order.c) ---------------------------------------------- */

/* A request of c's unit is back, its reply reply_len bytes: the last one
 * ends the unit (conn_inflight_done, called next, lets a waiting command
 * go). c's thread. */
void order_done(struct conn *c, size_t reply_len);

/* Must a command for shard `shard` (keyed: it has a key there; else it
 * may touch anything) wait until c's unit is back? c's thread. */
bool order_must_wait(const struct conn *c, bool keyed, unsigned shard);

/* Request r of c goes out with this turn's batches: remember it until the
 * end of the turn, when order_flush may have to group it. w's thread. */
void order_track(struct worker *w, struct conn *c, struct req *r);

/* End of w's loop turn, before its batches go: every unit batched this
 * turn has left once they do; the grouped ones go out as one one-shot
 * transaction over every key they touch (or fail with an error reply when
 * memory runs out). w's thread. */
void order_flush(struct worker *w);

/* A grouped batch's turn on s (txn_start_oneshot's function): run it.
 * arg: the batch, NULL on a shard whose locks the group took without
 * sending it requests. s's thread. */
void dispatch_group_exec(struct shard *s, void *arg);

/* Lock the keys of command d (argv in database db) in group t: a
 * single-key command's by the hash routing found (khash, its shard
 * `shard`), others by their key specs and plan. 0 or a negative code. */
int order_lock_cmd(struct txn *t, const struct cmd_def *d, unsigned db, size_t argc,
                   const struct resp_arg *argv, const uint64_t *khash, unsigned shard);

/* Ask for the map lines of n keys (at most DISPATCH_PREFETCH) on shard s
 * by their hash_key() h[i] in database db[i]: buckets first, then
 * entries, so that the misses overlap (kvmap_prefetch_bucket). Hints only.
 * s's thread. */
void dispatch_prefetch_map(struct shard *s, const uint64_t *h, const unsigned *db, unsigned n);

/* A request of c that ran on c's own thread is done, its reply
 * (reply_len bytes) in its slot sl: the slot is complete, c's unit one
 * request shorter and its count in flight one less. c's thread. */
void dispatch_slot_done(struct conn *c, struct slot *sl, size_t reply_len);

/* Held request r (txn_hold's ctx: its batch, or NULL when held on its
 * connection's own shard) has its reply in r->out: send it on, as
 * dispatch_held_run does after running it. Frees r if it was its
 * connection's own. */
void dispatch_held_reply(struct shard *s, struct req *r, void *ctx);

/* ---- The group's requests for the worker's own shard (group_local.c) ---- */

struct glocal;

/* Add command argv of c (its reply goes into slot sl) to this turn's
 * grouped requests for w's own shard; the arguments are copied. The
 * caller counts it in c's unit and in c->inflight. 0, or -1 on OOM
 * (nothing added). */
int group_local_add(struct worker *w, struct conn *c, struct slot *sl, const struct cmd_def *d,
                    cmd_exec_fn exec, size_t argc, const struct resp_arg *argv,
                    const uint64_t *khash);

/* End of the turn: take this turn's grouped requests for w's own shard
 * (NULL if none); no more are added to them. The caller owns the result
 * until group_local_exec or group_local_fail consumes it. */
struct glocal *group_local_seal(struct worker *w);

/* Lock the keys of every request of sealed g in t, on shard `shard` (w's
 * own). 0 or a negative code. */
int group_local_lock(struct txn *t, const struct glocal *g, unsigned shard);

/* The group's part on the worker's own shard s (txn_start_oneshot's
 * function there): run g's requests in order, each reply into its slot,
 * and complete them. Consumes g. */
void group_local_exec(struct shard *s, void *arg);

/* The group could not be scheduled: every request of g gets an error
 * reply without running. Consumes g. */
void group_local_fail(struct worker *w, struct glocal *g);

/* Free w's kept logs (its thread is stopping). */
void group_local_pool_drain(struct worker *w);

/* Lock the keys of command d in t as its key specs and plan say
 * (dispatch_hooks' multi_lock_keys). Returns 0 or a negative code. */
int dispatch_lock_keys(struct txn *t, const struct cmd_def *d, unsigned db, size_t argc,
                       const struct resp_arg *argv);

/* ---- For group_events.c --------------------------------------------------- */

/* An empty batch of w's with room for cap entries (its origin is w).
 * NULL on OOM. */
struct batch *dispatch_batch_new(struct worker *w, size_t cap);

/* Post batch b of w to shard `shard` to be run as plain requests (not
 * as a group). */
void dispatch_batch_send(struct worker *w, unsigned shard, struct batch *b);

/* Batch b is back on its origin s (the calling thread): complete its
 * requests' slots and recycle it. */
void dispatch_batch_done(struct shard *s, struct batch *b);

/* Owner side: run entry e of b, a single request, with its keyspace events
 * recorded in e->r->events; its reply is never sent directly. */
void dispatch_run_recorded(struct shard *s, struct batch *b, struct bent *e, int64_t now_ms);

/* Publish the keyspace events request r recorded (dispatch_hooks'
 * publish_events), its client's own frames into its slot, ahead of the
 * reply still to come. r's origin thread. */
void dispatch_req_publish(struct req *r);

/* With keyspace events on, the grouped batches of w's turn (w->out[i]
 * with grouped set; their grouped requests marked BENT_GROUPED, each of
 * the n requests on its connection's list from conn.ord_first, which this
 * walks to NULL) become a group whose events w publishes: other requests
 * in those batches go out in batches of their own now, and each grouped
 * batch gets b->grp. Returns the group (owned by its batches until the
 * last is back), or NULL on OOM (then nothing was marked; the group runs
 * as if events were off). w's thread, before txn_start_oneshot, whose
 * kept handle goes into the group's `kept` (group_events_kept). */
struct group_events *group_events_prepare(struct worker *w, size_t n);

/* Where txn_start_oneshot puts the group's kept locks. */
struct txn_gate **group_events_kept(struct group_events *g);

/* The group could not be started: forget it (its batches' grp cleared). */
void group_events_cancel(struct worker *w, struct group_events *g);

/* Owner side: run b, a grouped batch of a group whose events its origin
 * publishes (b->grp), recording them; then back to the origin, which
 * publishes every batch's in the group's order once all are back, then
 * releases the group's locks and completes the replies. */
void group_events_run(struct shard *s, struct batch *b);

#endif
