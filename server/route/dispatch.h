/* dispatch.h — from parsed command to reply slot: routing a command to the
 * shard that owns its key, batching requests per destination shard per loop
 * turn (one mailbox message per batch each way), executing batches on the
 * owner thread, fan-out of multi-key and all-shard commands with merging on
 * the connection's thread, and deferred replies for connection commands that
 * need every worker (CLIENT LIST, INFO). Runs on worker threads. */
#ifndef SKV_SERVER_DISPATCH_H
#define SKV_SERVER_DISPATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shard/mailbox.h"
#include "protocol/resp.h"
#include "protocol/resp_enc.h"
#include "server/exec/cmd.h"
#include "server/exec/req.h"
#include "server/net/conn.h"
#include "server/net/outbuf.h"
#include "server/net/reply_fifo.h"

/* Requests whose hash-map cache lines are requested together before they
 * run (net/conn.h's CONN_PREFETCH). */
#define DISPATCH_PREFETCH CONN_PREFETCH
/* Largest reply an owner shard sends straight to a client (direct_send;
 * net/outbuf.h's OUTBUF_DIRECT_MAX). */
#define DISPATCH_DIRECT_MAX OUTBUF_DIRECT_MAX

struct conn;
struct worker;
struct fan;
struct shard;
struct txn;

/* What a fanned-out command does when a round of parts has come back, on
 * the connection's thread: either write the reply into out, free f->state
 * and return true (the fan is finished and freed), or add the next round's
 * parts with dispatch_part and return false. parts[0..nparts) are this
 * round's parts in the order they were issued; they are freed after the
 * call. Runs even when the client has gone, so chains complete. */
typedef bool (*fan_step_fn)(struct fan *f, struct req **parts, size_t nparts, struct rbuf *out);

struct fan {
    struct conn *conn;           /* origin connection (may be closing) */
    struct slot *slot;           /* where the final reply goes */
    fan_step_fn step;            /* called when a round completes */
    int stage;                   /* which round this is; starts at 0 */
    unsigned outstanding;        /* parts of this round not back yet */
    unsigned db;                 /* database of the command */
    int proto;                   /* RESP version of the command */
    struct req **parts;          /* this round's parts */
    size_t nparts, cap;          /* count and allocation of parts */
    size_t argc;                 /* the original command, copied (argv[0] is */
    struct resp_arg *argv;       /* the name) so later rounds can use it */
    void *state;                 /* command-specific state, freed by the step */
    bool barrier;                /* holds the connection's later commands */
    bool parked;                 /* waits, with no part out, for
                                    dispatch_fan_resume (blocking commands) */
    bool round_here;             /* every part of the round just completed ran
                                    at once on this thread (txn_run_here):
                                    the thread was not free meanwhile */
    /* dispatch_broadcast only: */
    void (*each)(struct worker *w, void *arg, struct rbuf *part);
    void (*done)(void *arg, struct rbuf *parts, unsigned n, struct rbuf *out);
    void *arg;                   /* broadcast argument */
    /* Transactions (server/txn/txn.h): */
    struct txn *txn;             /* parts run in this transaction, else NULL */
    bool own_txn;                /* the fan concludes txn when it finishes */
    bool one_round;              /* the step always finishes after the first
                                    round: its parts conclude txn as they run */
    struct rbuf *out;            /* where the final reply goes: the slot's
                                    buffer, or a sub-fan's caller's buffer */
    void (*finished)(void *arg); /* sub-fans (no slot): called when done */
    void *finished_arg;          /* its argument */
    struct rbuf events;          /* keyspace events its parts recorded, in
                                    part order, until they are published */
    bool events_each_round;      /* publish them after every round (a script:
                                    a round is one redis.call), not once done */
    size_t frames_len;           /* bytes of Pub/Sub frames for the client's own
                                    keyspace events at the head of *out (its
                                    reply goes after them) */
    uint64_t slow_t0;            /* a command split over shards: its start on
                                    the slow log's clock, for the slow log and
                                    latency monitor at its merged reply; 0 for
                                    every other fan */
};

/* ---- Interceptions (filled in by app/hooks.c) --------------------------- */

/* What the layers above routing decide about a command on its way: the
 * persistence layer's refusal of writes after a failed save, the MULTI
 * queue and Pub/Sub rules of the commands layer, and the multi-key
 * planner. Filled in once at start-up, before any client connects;
 * read-only after. A pointer left NULL means nobody intercepts (and a
 * multi-key command is refused as unknown). */
struct dispatch_hooks {
    /* Set while writes may be refused (persist.c: the last background save
     * failed): one relaxed load per command; NULL: never (a flag that
     * stays false). */
    const _Atomic bool *writes_maybe_denied;
    /* Only then: must d be refused with writes_denied_err (MISCONF)? */
    bool (*writes_denied)(const struct cmd_def *d);
    const char *writes_denied_err;
    /* c has MULTI state (c->txc): is it inside MULTI? */
    bool (*in_multi)(const struct conn *c);
    /* c has MULTI state: queue d for EXEC instead of running it. Returns
     * true when it took the command (and replied). */
    bool (*intercept)(struct conn *c, const struct cmd_def *d, size_t argc,
                      const struct resp_arg *argv);
    /* c has MULTI state and a command of it was refused: EXEC aborts. */
    void (*flag_error)(struct conn *c);
    /* c has subscriptions (c->ps): may it not run d? Then true, with the
     * error reply in err. */
    bool (*pubsub_refuses)(const struct conn *c, const struct cmd_def *d, size_t argc,
                           const struct resp_arg *argv, struct rbuf *err);
    /* c has subscriptions: deliver the messages already published to its
     * worker's clients before c's command runs (pubsub_catch_up). */
    void (*pubsub_catch_up)(struct worker *w);
    /* A command spanning shards is done (or a round of a script): publish
     * the keyspace events its parts recorded (req.events, gathered in
     * events), in the command's order; c's own frames go into out at *at
     * (advanced past them) when out is not NULL (notify_publish_parts). */
    void (*publish_events)(const struct conn *c, struct rbuf *out, size_t *at, size_t argc,
                           const struct resp_arg *argv, const struct rbuf *events);
    /* Run d (CMD_MULTIKEY or CMD_ALLSHARDS) for c: plan it and fan it out;
     * home: multi_home's shard for it, or -1 when not asked. */
    void (*multi_dispatch)(struct conn *c, const struct cmd_def *d, size_t argc,
                           const struct resp_arg *argv, int home);
    /* While c's unit is out: the one shard d (CMD_MULTIKEY) runs whole on,
     * routed as a single-key command, or -1 (cmd_multi_home). */
    int (*multi_home)(const struct conn *c, const struct cmd_def *d, size_t argc,
                      const struct resp_arg *argv);
    /* Lock the keys of d (its key specs, and its plan's) in t. Returns 0 or
     * a negative code (out of memory). */
    int (*multi_lock_keys)(struct txn *t, const struct cmd_def *d, unsigned db, size_t argc,
                           const struct resp_arg *argv);
    /* Only while a script is busy: is c that script's client, whose later
     * commands wait for it instead of getting -BUSY (c compared only)?
     * NULL: no client is. */
    bool (*busy_origin)(const struct conn *c);
};

/* A script on s's thread runs past busy-reply-threshold: answer -BUSY,
 * without running them, the requests already waiting on s that any client
 * would get -BUSY for now: in its mailbox (whole batches of single
 * commands) and held behind a transaction (single commands); the rest
 * waits for the script. s's thread, from the script's hook. */
void dispatch_busy_answer(struct shard *s);

/* While a script runs past busy-reply-threshold anywhere: answer -BUSY the
 * single requests held on s behind a transaction (perhaps the script's
 * own), which would otherwise wait for the script's end. s's thread, once
 * per loop turn; one relaxed load while no script is busy. */
void dispatch_busy_held(struct shard *s);

/* Install the interceptions (copied); at start-up, before any client. */
void dispatch_set_hooks(const struct dispatch_hooks *h);
/* The slow log's view of a command split over shards (slowlog.h): its
 * whole run, dispatch to merged reply. dispatch_split_take gives the
 * start of the split command being dispatched on this thread (once; 0
 * when there is none or it was taken), for the object that completes it;
 * dispatch_split_done, on c's thread when the reply is whole, feeds the
 * slow log and the latency monitor if the run was slow. argv: the command
 * as sent (borrowed). */
uint64_t dispatch_split_take(void);
void dispatch_split_done(struct conn *c, size_t argc, const struct resp_arg *argv, uint64_t t0);

/* ---- Used by conn.c --------------------------------------------------- */

/* Run one parsed command for c: lookup, arity and auth checks, then local
 * execution, a remote request, or a fan-out. argv views are borrowed for the
 * call (copied if the request leaves the thread). Returns false, having
 * done nothing, when the command may take effect only after c's commands
 * in flight (program order across shards): c is then marked
 * CONN_ORDER_WAIT, and the caller keeps the command and parses it again
 * once that flag is gone. Owner thread of c. */
bool dispatch_command(struct conn *c, size_t argc, const struct resp_arg *argv);
/* The same, given hash_key() of argv[1] in *key1_hash (NULL: unknown), so
 * that routing a single-key command need not hash its key again. */
bool dispatch_command_hashed(struct conn *c, size_t argc, const struct resp_arg *argv,
                             const uint64_t *key1_hash);

/* Append Redis 7's error for an unknown command argv[0]: "-ERR unknown
 * command 'foo', with args beginning with: 'a' 'b' " (name and arguments
 * cut at 128 bytes and at a NUL, CR/LF turned into spaces). Pure. */
void dispatch_reply_unknown(struct rbuf *out, size_t argc, const struct resp_arg *argv);

/* Post every non-empty outgoing batch of w (end of loop turn). */
void dispatch_flush_batches(struct worker *w);

/* Free every object on w's free lists of requests and batches (the slots'
 * are net/reply_fifo.c's). From
 * worker_on_stop, once w->stopping is set: nothing is pooled after that. */
void dispatch_pool_drain(struct worker *w);

/* ---- Used by multi-key commands (cmd_multi.c) -------------------------- */

/* Start a fan-out for the command being dispatched (c, argc, argv): makes
 * its slot and copies argv. Returns NULL on out-of-memory (an error reply
 * has been queued). */
struct fan *dispatch_fan_start(struct conn *c, size_t argc, const struct resp_arg *argv,
                               fan_step_fn step);

/* Add a part to the current round of f: exec runs on shard `shard` with the
 * given arguments (copied) and ctx->priv = the part's struct req. Local
 * parts run when dispatch_fan_go is called; remote ones join this turn's
 * batch. Returns the part, or NULL on out-of-memory. */
struct req *dispatch_part(struct fan *f, unsigned shard, cmd_exec_fn exec, size_t argc,
                          const struct resp_arg *argv);

/* Launch the first round built with dispatch_part (later rounds launch
 * when step returns false). If every part is local the round completes, and
 * step runs, before this returns. Commands whose later rounds depend on
 * earlier ones call dispatch_fan_barrier first so that the client's next
 * commands wait for the whole chain. */
void dispatch_fan_go(struct fan *f);

/* Give up on f before launching it (out of memory while planning): its
 * parts are freed unsent, err (e.g. "ERR out of memory") becomes the reply
 * and f is freed. The caller frees f->state first. */
void dispatch_fan_abort(struct fan *f, const char *err);

/* From a step about to return false with no part added: f waits, its
 * slot open, until dispatch_fan_resume (a blocked client, BLPOP). */
void dispatch_fan_park(struct fan *f);

/* Run parked f's step again with no parts (f->state says why it woke);
 * the connection's thread. */
void dispatch_fan_resume(struct fan *f);

/* Make the connection's following commands wait until f has finished. */
void dispatch_fan_barrier(struct fan *f);

/* A fan-out that is one step of a bigger transaction (a command inside
 * EXEC): no slot of its own; its parts run in transaction t (which the
 * caller concludes), the reply is appended to out (borrowed, must live
 * until finished runs) and finished(arg) runs on this thread when it is
 * done. Keeps c alive meanwhile. NULL on out-of-memory (nothing queued). */
struct fan *dispatch_fan_start_sub(struct conn *c, size_t argc, const struct resp_arg *argv,
                                   fan_step_fn step, struct txn *t, struct rbuf *out,
                                   void (*finished)(void *arg), void *arg);

/* ---- Used by transactions (txn.c, cmd_txn.c) ---------------------------- */

/* A request held by txn_hold may run now: run it on s (this thread) and
 * send its reply on (ctx is what txn_hold was given). */
void dispatch_held_run(struct shard *s, struct req *r, void *ctx);

/* Owner side, for a fan-out part run outside batch.c (a transaction's
 * hop, txn.c): its reply in r->out was just made. A big one is counted for
 * its connection's output buffer while it travels, or dropped (r->out
 * empty and oom, so the step fails) when that connection is at its hard
 * limit (server/net/outbuf.h). */
void dispatch_reply_made(struct shard *s, struct req *r);

/* Complete slot sl of c, whose reply is in sl->out (for replies built
 * outside the fan engine, e.g. EXEC's). */
void dispatch_slot_complete(struct conn *c, struct slot *sl);

/* ---- Used by connection commands (cmd_server.c, CMD_CONN) -------------- */

/* From a CMD_CONN command's exec: run each(w, arg, part) on every worker's
 * thread (this one included; concurrently on several threads, so each must
 * treat arg as read-only), then done(arg, parts, n, out) on this thread with
 * parts[i] = worker i's output, to write the reply into out. The command's
 * reply is deferred until then; the client's next commands wait. done runs
 * even if the client has gone (out is then discarded), so it may free arg.
 * Returns 0, or -1 on out-of-memory (an error reply has been written and
 * neither callback runs; arg is still the caller's). */
int dispatch_broadcast(struct cmd_ctx *c,
                       void (*each)(struct worker *w, void *arg, struct rbuf *part),
                       void (*done)(void *arg, struct rbuf *parts, unsigned n, struct rbuf *out),
                       void *arg);

/* Send the command to shard `shard` (run it inline if that is this
 * worker's shard): exec runs there with the full argv. The reply fills a
 * slot in order. Used for single-key commands and for multi-key commands
 * whose keys all live on one shard. sid: the INFO commandstats entry this
 * run counts under (call, failure, time), or CMDSTAT_NONE if the caller
 * counts it. khash: hash_key() of the first key if known (routing's),
 * else NULL. */
void dispatch_route(struct conn *c, const struct cmd_def *d, unsigned shard, cmd_exec_fn exec,
                    size_t argc, const struct resp_arg *argv, uint16_t sid,
                    const uint64_t *khash);

#endif
