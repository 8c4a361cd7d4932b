/* cmd_block.c — blocking pops (BLPOP BRPOP BLMOVE BRPOPLPUSH BLMPOP
 * BZPOPMIN BZPOPMAX BZMPOP), Redis 7.0's semantics across shards.
 *
 * A blocking command is a fan-out (route/fan.c) on the client's worker
 * that tries its keys one round at a time, in argument order, each on its
 * key's shard: a key with data is served there at once, as the
 * non-blocking command would (the same exec runs); an empty key gets the
 * client's waiter appended to its FIFO on that shard. After the last key
 * the fan parks, its reply slot open. A write that touches a key with
 * waiters (the cmd_hook_key listener: every command, EXEC, scripts,
 * RENAME, RESTORE, SORT STORE alike) marks it; right after that command
 * (as Redis serves them after each command), after the transaction that
 * held the key, or at the end of the loop turn, the shard serves the
 * key's waiters in FIFO order:
 * it claims a
 * waiter (one atomic flag per waiter, so a client waiting on several
 * shards is served once), pops and writes the reply in one step on its own
 * thread, and posts the reply to the client's worker, which resumes the
 * fan. Timeouts, CLIENT UNBLOCK and disconnected clients are found by a
 * 20 ms timer per worker, which claims the waiter the same way.
 *
 * BLMOVE with its destination on another shard is served as one step, as
 * in Redis: the move runs as a transaction over both keys
 * (cmd_block_move.c), which claims the waiter as it reads the element;
 * served from the FIFO, its lock on the source counts from the moment the
 * shard serves it.
 * A try carries its command (req.cmd), so it waits behind the
 * transactions that hold its keys as that command would (held on the
 * key's shard, txn_hold), and is then tried in its turn: a key with data
 * is popped even while later transactions keep taking it, and a later key
 * is tried only once the earlier ones were found empty, as in Redis.
 *
 * Inside MULTI/EXEC (and BLMPOP/BZMPOP in scripts; the others are
 * noscript in Redis 7.0) the commands never block: they act as their
 * non-blocking forms and reply nil when no key has data.
 *
 * This file is the client's side (the fan, parking, timeouts) and the
 * try parts; parsing and the pop are cmd_block_pop.c, the per-shard
 * waiter registry and serving cmd_block_reg.c.
 *
 * Threads: the fan and the timer run on the client's worker; the waiter
 * registry (per shard, thread-local) and serving on the key's shard. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "common/clock.h"
#include "common/int64str.h"
#include "server/commands/cmd_block.h"
#include "server/commands/cmd_block_internal.h"
#include "server/commands/cmd_impl.h"
#include "server/commands/cmd_list.h"
#include "server/commands/cmd_mpop.h"
#include "server/commands/cmd_zset.h"
#include "server/commands/cmd_multi.h"
#include "server/core/server.h"
#include "server/exec/req.h"
#include "server/net/conn.h"
#include "server/net/worker.h"
#include "server/route/dispatch.h"
#include "server/txn/txn.h"


/* How a try on one key went (req.ival of a try part). */
enum {
    TRY_EMPTY,   /* no data: the waiter was registered (if any) */
    TRY_DONE,    /* the reply (or an error) is in the part's out */
    TRY_MOVE,    /* BLMOVE across shards: the source has data, the move is
                    to run as a transaction (cmd_block_move.c) */
    TRY_CLAIMED, /* the waiter was already claimed elsewhere: wait for it */
};



/* ---- Waiters ------------------------------------------------------------- */

static _Atomic uint64_t nblocked; /* INFO blocked_clients */
static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;
static struct blk_waiter *table; /* parked waiters, for CLIENT UNBLOCK */


/* ---- The client's side (its worker's thread) ----------------------------- */

static _Thread_local struct blk_waiter *parked; /* this worker's, a list */
static _Thread_local uv_timer_t *timer;          /* timeouts, 20 ms */

static void on_timer(uv_timer_t *t);

static void park(struct blk_waiter *w)
{
    if (w->parked)
        return; /* (still, through a move that found nothing) */
    w->parked = true;
    w->prev = NULL;
    w->next = parked;
    if (parked)
        parked->prev = w;
    parked = w;
    w->f->conn->blocked = true;
    worker_want_flush(w->f->conn->w, w->f->conn); /* reads again: hang-ups */
    atomic_fetch_add_explicit(&nblocked, 1, memory_order_relaxed);
    pthread_mutex_lock(&table_lock);
    w->tnext = table;
    table = w;
    pthread_mutex_unlock(&table_lock);
    if (timer && !uv_is_active((uv_handle_t *)timer))
        uv_timer_start(timer, on_timer, 20, 20);
}

static void unpark(struct blk_waiter *w)
{
    if (!w->parked)
        return;
    w->parked = false;
    if (w->prev)
        w->prev->next = w->next;
    else
        parked = w->next;
    if (w->next)
        w->next->prev = w->prev;
    w->f->conn->blocked = false;
    atomic_fetch_sub_explicit(&nblocked, 1, memory_order_relaxed);
    pthread_mutex_lock(&table_lock);
    for (struct blk_waiter **pp = &table; *pp; pp = &(*pp)->tnext)
        if (*pp == w) {
            *pp = w->tnext;
            break;
        }
    pthread_mutex_unlock(&table_lock);
}

bool blk_finish(struct fan *f, struct blk_state *st)
{
    struct blk_waiter *w = st->w;
    if (w) {
        unpark(w);
        w->done = true;
        if (w->mready) { /* a move it will not make: its locks go */
            txn_finish(w->mready);
            w->mready = NULL;
        }
        /* (When stopping, each shard frees its own registrations: a
         * message to one that stopped first would never be handled.) */
        bool stopping = f->conn->w->stopping;
        for (unsigned i = 0; i < server.nworkers && !stopping; i++) {
            if (!st->reg_shards[i])
                continue;
            /* (On failure they stay until the key is served or the shard
             * stops.) */
            blk_reg_post_purge(i, w);
        }
        blk_waiter_unref(w);
    }
    free(st->reg_shards);
    rbuf_deinit(&st->elem);
    free(st);
    f->state = NULL;
    return true;
}

static void try_part(struct cmd_ctx *c);

/* Add the round that tries key st->ki. */
static bool add_try(struct fan *f, struct blk_state *st)
{
    const struct resp_arg *key = &f->argv[st->sp.kfirst + st->ki];
    unsigned shard = shard_group_route(server.group, key->ptr, key->len);
    struct req *r = dispatch_part(f, shard, try_part, f->argc, f->argv);
    if (!r)
        return false;
    r->i_arg = (int64_t)st->ki | ((int64_t)st->sp.kind << 32);
    r->uval = (uint64_t)(uintptr_t)st->w;
    if (st->w) {
        /* Checked against the intent locks where it runs (inside EXEC,
         * without a waiter, the transaction holds the keys already). */
        r->cmd = st->w->cmd;
        st->reg_shards[shard] = true;
    }
    return true;
}

/* The outcome of a claimed waiter, written as the reply. */
static bool claimed_reply(struct fan *f, struct blk_state *st, struct rbuf *out)
{
    struct blk_waiter *w = st->w;
    switch (w->outcome) {
    case OUT_SERVED:
        if (w->reply.oom)
            resp_error(out, "ERR out of memory");
        else
            rbuf_append(out, w->reply.ptr, w->reply.len);
        return blk_finish(f, st);
    case OUT_TIMEOUT:
        resp_null_array(out, f->proto);
        return blk_finish(f, st);
    case OUT_ERROR:
        resp_error(out, "UNBLOCKED client unblocked via CLIENT UNBLOCK");
        return blk_finish(f, st);
    case OUT_OOM:
        resp_error(out, "ERR out of memory");
        return blk_finish(f, st);
    default:
        return blk_finish(f, st);
    }
}

bool blk_wait(struct fan *f, struct blk_state *st, struct rbuf *out)
{
    struct blk_waiter *w = st->w;
    if (w->woken)
        return claimed_reply(f, st, out);
    if (w->mready)
        return blk_move_take(f, st, out);
    if (w->move_req && !atomic_load(&w->claimed)) {
        if (blk_move_start(f, st)) {
            dispatch_fan_park(f); /* until the transaction is ready */
            return false;
        }
        if (blk_waiter_claim(w)) {
            resp_error(out, "ERR out of memory");
            return blk_finish(f, st);
        }
    }
    if (st->sp.timeout_ms > 0 && w->deadline_ms == 0)
        w->deadline_ms = clock_wall_ms() + st->sp.timeout_ms;
    park(w);
    dispatch_fan_park(f);
    return false;
}

static bool blk_step(struct fan *f, struct req **parts, size_t n, struct rbuf *out)
{
    struct blk_state *st = f->state;
    struct blk_waiter *w = st->w;
    if (n == 0) { /* resumed: the waiter was claimed and its outcome set */
        unpark(w);
        return claimed_reply(f, st, out);
    }
    if (st->mstage)
        return blk_move_step(f, st, parts, n, out);
    struct req *r = parts[0];
    if (r->out.oom) {
        if (w && !blk_waiter_claim(w)) {
            /* Served meanwhile: that reply wins. */
        } else {
            resp_error(out, "ERR out of memory");
            return blk_finish(f, st);
        }
    } else {
        switch (r->ival) {
        case TRY_DONE:
            rbuf_append(out, r->out.ptr, r->out.len);
            return blk_finish(f, st);
        case TRY_MOVE:
            w->move_req = true;
            break;
        case TRY_EMPTY:
            if (++st->ki < st->sp.nkeys) {
                if (add_try(f, st))
                    return false;
                if (w && !blk_waiter_claim(w))
                    break; /* served meanwhile */
                resp_error(out, "ERR out of memory");
                return blk_finish(f, st);
            }
            if (!w) { /* inside EXEC: no key has data */
                resp_null_array(out, f->proto);
                return blk_finish(f, st);
            }
            break;
        default: /* TRY_CLAIMED */
            break;
        }
    }
    /* Wait: for the wake message if it was claimed, else for data. */
    return blk_wait(f, st, out);
}

void blk_on_wake(void *owner, struct mbox_msg *m)
{
    (void)owner;
    struct blk_wake_msg *wm = (struct blk_wake_msg *)m;
    struct blk_waiter *w = wm->w;
    free(wm);
    w->woken = true;
    if (w->parked && !w->moving)
        dispatch_fan_resume(w->f);
    blk_waiter_unref(w);
}

/* Stop waiting for `why` if w can still be claimed. */
static void give_up(struct blk_waiter *w, int why)
{
    if (!blk_waiter_claim(w))
        return; /* served: its wake message is on the way */
    w->outcome = why;
    w->woken = true;
    dispatch_fan_resume(w->f);
}

static void on_timer(uv_timer_t *t)
{
    int64_t now = clock_wall_ms();
    for (struct blk_waiter *w = parked, *next; w; w = next) {
        next = w->next;
        if (w->moving)
            continue; /* looked at once its move is over */
        int u = atomic_load_explicit(&w->unblock, memory_order_relaxed);
        if (w->gone)
            dispatch_fan_resume(w->f);
        else if (conn_is_closing(w->f->conn) || (w->f->conn->flags & CONN_READ_EOF))
            give_up(w, OUT_GONE);
        else if (u)
            give_up(w, u == 2 ? OUT_ERROR : OUT_TIMEOUT);
        else if (w->deadline_ms && now >= w->deadline_ms)
            give_up(w, OUT_TIMEOUT);
    }
    if (!parked)
        uv_timer_stop(t);
}

void cmd_block_hangup(struct conn *c)
{
    for (struct blk_waiter *w = parked; w; w = w->next) {
        if (w->f->conn != c || w->gone)
            continue;
        if (blk_waiter_claim(w)) {
            w->outcome = OUT_GONE;
            w->woken = true;
            w->gone = true;
        }
    }
}

/* ---- Parts (on the key's shard) ------------------------------------------ */

/* Try key ki of the command: serve it, or register the waiter. */
static void try_part(struct cmd_ctx *c)
{
    struct req *r = c->priv;
    enum blk_kind kind = (enum blk_kind)(r->i_arg >> 32);
    size_t ki = (size_t)(r->i_arg & 0xffffffff);
    struct blk_waiter *w = (struct blk_waiter *)(uintptr_t)r->uval;
    struct blk_spec sp;
    blk_parse(kind, c->argc, c->argv, &sp, NULL);
    const struct resp_arg *key = &c->argv[sp.kfirst + ki];
    r->ival = TRY_EMPTY;
    if (w && atomic_load(&w->claimed)) {
        r->ival = TRY_CLAIMED;
        return;
    }
    struct kventry *e = kvmap_find(c->db, key->ptr, key->len, c->now_ms);
    if (e) {
        if (kventry_type(e) != blk_want_type(kind)) {
            cmd_reply_wrongtype(c);
            r->ival = TRY_DONE;
            return;
        }
        if (w && blk_move_crosses(&sp, c->argv, c->shard->id)) {
            /* Served by a transaction over both keys, which claims w. */
            r->ival = TRY_MOVE;
            return;
        }
        /* (No transaction holds the key: the try waited for them, held
         * as its command, add_try.) */
        if (w && !blk_waiter_claim(w)) {
            r->ival = TRY_CLAIMED;
            return;
        }
        blk_do_pop(c, &sp, c->argv, ki, c->out, c->proto);
        r->ival = TRY_DONE;
        return;
    }
    if (w && blk_reg_add(c->dbidx, key, w) != 0) {
        if (!blk_waiter_claim(w)) {
            r->ival = TRY_CLAIMED;
            return;
        }
        resp_error(c->out, "ERR out of memory");
        r->ival = TRY_DONE;
    }
}

/* ---- Commands ------------------------------------------------------------ */

/* The planner (cmd_plan.plan): standalone, a fan that may block; inside
 * EXEC, the non-blocking form (one shard: the exec; several: the fan
 * without a waiter). */
static void blk_plan(struct mplan *p, const struct cmd_def *d, size_t argc,
                     const struct resp_arg *argv, enum blk_kind kind)
{
    struct blk_spec sp;
    struct rbuf err;
    rbuf_init(&err);
    if (!blk_parse(kind, argc, argv, &sp, &err)) {
        struct rbuf *out = cmd_multi_plan_reply_buf(p);
        if (out)
            rbuf_append(out, err.ptr, err.len);
        rbuf_deinit(&err);
        return;
    }
    rbuf_deinit(&err);
    if (p->t && kind == BK_LMOVE) {
        /* Inside EXEC it is LMOVE (or RPOPLPUSH), atomic in EXEC's
         * transaction; the timeout is not read. */
        const struct cmd_plan *lp = argc == 4 ? &cmd_list_rpoplpush_plan : &cmd_list_lmove_plan;
        lp->plan(p, d, argc, argv);
        return;
    }
    if (p->t && (kind == BK_LMPOP || kind == BK_ZMPOP)) {
        /* Inside EXEC it is LMPOP (ZMPOP): the MPOP plan. */
        bool list = kind == BK_LMPOP;
        int64_t count = 1;
        if (sp.count_at)
            int64str_parse(argv[sp.count_at].ptr, argv[sp.count_at].len, &count);
        struct cmd_mpop m = {
            .type = list ? TVAL_LIST : TVAL_ZSET, .first = sp.kfirst, .numkeys = sp.nkeys,
            .end = list ? (sp.left ? "left" : "right") : (sp.left ? "min" : "max"),
            .count = count, .pop_part = list ? cmd_list_mpop_pop_part : cmd_zset_mpop_pop_part};
        cmd_mpop_plan(p, d, argc, argv, &m);
        return;
    }
    struct blk_state *st = calloc(1, sizeof *st);
    bool *regs = p->t ? NULL : calloc(server.nworkers, sizeof *regs);
    struct blk_waiter *w = p->t || !st ? NULL : blk_waiter_new(p->c, d, &sp, argc, argv);
    if (!st || (!p->t && (!regs || !w))) {
        free(st);
        free(regs);
        free(w);
        cmd_multi_plan_error(p, "ERR out of memory");
        return;
    }
    st->sp = sp;
    st->w = w;
    st->reg_shards = regs;
    rbuf_init(&st->elem);
    struct fan *f;
    if (p->t) {
        f = cmd_multi_plan_fan(p, d, argc, argv, blk_step, false);
    } else {
        /* No transaction of its own: a parked command holds no lock. */
        f = dispatch_fan_start(p->c, argc, argv, blk_step);
        if (f)
            dispatch_fan_barrier(f);
    }
    if (!f) {
        free(regs);
        free(st);
        if (w)
            blk_waiter_unref(w);
        return;
    }
    f->state = st;
    if (w)
        w->f = f;
    if (!add_try(f, st)) {
        blk_finish(f, st);
        dispatch_fan_abort(f, "ERR out of memory");
        return;
    }
    if (p->t)
        cmd_multi_plan_go(p, f);
    else
        dispatch_fan_go(f);
}

/* The exec: all keys on one shard inside EXEC or a script. Never blocks. */
static void blk_exec(struct cmd_ctx *c, enum blk_kind kind)
{
    struct blk_spec sp;
    if (!blk_parse(kind, c->argc, c->argv, &sp, c->out))
        return;
    for (size_t ki = 0; ki < sp.nkeys; ki++) {
        const struct resp_arg *key = &c->argv[sp.kfirst + ki];
        struct kventry *e = kvmap_find(c->db, key->ptr, key->len, c->now_ms);
        if (!e)
            continue;
        if (kventry_type(e) != blk_want_type(kind)) {
            cmd_reply_wrongtype(c);
            return;
        }
        blk_do_pop(c, &sp, c->argv, ki, c->out, c->proto);
        return;
    }
    if (kind == BK_LMOVE)
        resp_null(c->out, c->proto);
    else
        resp_null_array(c->out, c->proto);
}

#define BLK_FNS(name, kind)                                                                   \
    static void name##_exec(struct cmd_ctx *c)                                                \
    {                                                                                         \
        blk_exec(c, kind);                                                                    \
    }                                                                                         \
    static void name##_planner(struct mplan *p, const struct cmd_def *d, size_t argc,         \
                               const struct resp_arg *argv)                                   \
    {                                                                                         \
        blk_plan(p, d, argc, argv, kind);                                                     \
    }                                                                                         \
    static const struct cmd_plan name##_plan = {.plan = name##_planner};

BLK_FNS(blpop, BK_LPOP)
BLK_FNS(brpop, BK_RPOP)
BLK_FNS(bzpopmin, BK_ZMIN)
BLK_FNS(bzpopmax, BK_ZMAX)
BLK_FNS(blmpop, BK_LMPOP)
BLK_FNS(bzmpop, BK_ZMPOP)
BLK_FNS(blmove, BK_LMOVE)

/* Key specs: a run of keys before the timeout; numkeys forms as LMPOP. */
#define KS_POP (CMD_KS_RW | CMD_KS_ACCESS | CMD_KS_DELETE)
#define KS_RANGE_BEFORE_TIMEOUT {{.flags = KS_POP, .begin = 1, .last = -2, .step = 1}}
#define KS_KEYNUM {{.flags = KS_POP, .begin = 2, .keynum = true, .numkeys_at = 0, \
                    .first_at = 1, .step = 1}}
#define KS_MOVE {{.flags = KS_POP, .begin = 1, .last = 0, .step = 1}, \
                 {.flags = CMD_KS_RW | CMD_KS_INSERT, .begin = 2, .last = 0, .step = 1}}
#define BLK_FLAGS (CMD_WRITE | CMD_BLOCKING | CMD_MULTIKEY)

const struct cmd_def cmd_block_defs[] = {
    {.name = "blpop", .arity = -3, .flags = BLK_FLAGS | CMD_NOSCRIPT, .keys = KS_RANGE_BEFORE_TIMEOUT,
     .exec = blpop_exec, .plan = &blpop_plan, .group = "list", .since = "2.0.0",
     .complexity = "O(N) where N is the number of provided keys.",
     .summary = "Remove and get the first element in a list, or block until one is available"},
    {.name = "brpop", .arity = -3, .flags = BLK_FLAGS | CMD_NOSCRIPT, .keys = KS_RANGE_BEFORE_TIMEOUT,
     .exec = brpop_exec, .plan = &brpop_plan, .group = "list", .since = "2.0.0",
     .complexity = "O(N) where N is the number of provided keys.",
     .summary = "Remove and get the last element in a list, or block until one is available"},
    {.name = "brpoplpush", .arity = 4, .flags = BLK_FLAGS | CMD_NOSCRIPT | CMD_DENYOOM, .keys = KS_MOVE,
     .exec = blmove_exec, .plan = &blmove_plan, .group = "list", .since = "2.2.0",
     .complexity = "O(1)",
     .summary = "Pop an element from a list, push it to another list and return it; or block "
                "until one is available"},
    {.name = "blmove", .arity = 6, .flags = BLK_FLAGS | CMD_NOSCRIPT | CMD_DENYOOM, .keys = KS_MOVE,
     .exec = blmove_exec, .plan = &blmove_plan, .group = "list", .since = "6.2.0",
     .complexity = "O(1)",
     .summary = "Pop an element from a list, push it to another list and return it; or block "
                "until one is available"},
    {.name = "blmpop", .arity = -5, .flags = BLK_FLAGS, .keys = KS_KEYNUM,
     .exec = blmpop_exec, .plan = &blmpop_plan, .group = "list", .since = "7.0.0",
     .complexity = "O(N+M) where N is the number of provided keys and M is the number of "
                   "elements returned.",
     .summary = "Pop elements from a list, or block until one is available"},
    {.name = "bzpopmin", .arity = -3, .flags = BLK_FLAGS | CMD_NOSCRIPT | CMD_FAST,
     .keys = KS_RANGE_BEFORE_TIMEOUT, .exec = bzpopmin_exec, .plan = &bzpopmin_plan,
     .group = "sorted-set", .since = "5.0.0",
     .complexity = "O(log(N)) with N being the number of elements in the sorted set.",
     .summary = "Remove and return the member with the lowest score from one or more sorted "
                "sets, or block until one is available"},
    {.name = "bzpopmax", .arity = -3, .flags = BLK_FLAGS | CMD_NOSCRIPT | CMD_FAST,
     .keys = KS_RANGE_BEFORE_TIMEOUT, .exec = bzpopmax_exec, .plan = &bzpopmax_plan,
     .group = "sorted-set", .since = "5.0.0",
     .complexity = "O(log(N)) with N being the number of elements in the sorted set.",
     .summary = "Remove and return the member with the highest score from one or more sorted "
                "sets, or block until one is available"},
    {.name = "bzmpop", .arity = -5, .flags = BLK_FLAGS, .keys = KS_KEYNUM,
     .exec = bzmpop_exec, .plan = &bzmpop_plan, .group = "sorted-set", .since = "7.0.0",
     .complexity = "O(K) + O(M*log(N)) where K is the number of provided keys, N being the "
                   "number of elements in the sorted set, and M being the number of elements "
                   "popped.",
     .summary = "Remove and return members with scores in a sorted set or block until one is "
                "available"},
};

const size_t cmd_block_ndefs = sizeof cmd_block_defs / sizeof cmd_block_defs[0];

/* ---- Hooks -------------------------------------------------------------- */

uint64_t cmd_block_count(void)
{
    return atomic_load_explicit(&nblocked, memory_order_relaxed);
}

bool cmd_block_unblock(uint64_t id, bool error)
{
    bool found = false;
    pthread_mutex_lock(&table_lock);
    for (struct blk_waiter *w = table; w; w = w->tnext)
        if (w->client_id == id && !atomic_load(&w->claimed)) {
            atomic_store(&w->unblock, error ? 2 : 1);
            found = true;
            break;
        }
    pthread_mutex_unlock(&table_lock);
    return found;
}

void cmd_block_thread_start(struct worker *w)
{
    timer = malloc(sizeof *timer);
    if (timer && uv_timer_init(&w->shard->loop, timer) != 0) {
        free(timer);
        timer = NULL;
    }
}

static void timer_closed(uv_handle_t *h)
{
    free(h);
}

void cmd_block_thread_stop(struct worker *w)
{
    (void)w;
    /* The clients are closing: their waits end now. */
    while (parked) {
        struct blk_waiter *b = parked;
        if (b->moving) {
            unpark(b); /* (its transaction's messages will not be handled) */
            continue;
        }
        if (b->gone) {
            dispatch_fan_resume(b->f);
            continue;
        }
        if (!blk_waiter_claim(b)) {
            unpark(b); /* (its wake message will not be handled) */
            continue;
        }
        b->outcome = OUT_GONE;
        b->woken = true;
        dispatch_fan_resume(b->f);
    }
    if (timer) {
        uv_close((uv_handle_t *)timer, timer_closed);
        timer = NULL;
    }
    /* This shard's registrations. */
    blk_reg_free_all();
}
