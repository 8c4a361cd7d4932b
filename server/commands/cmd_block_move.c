/* cmd_block_move.c — BLMOVE and BRPOPLPUSH served across shards, in one
 * step as in Redis. When the source has data for a waiter whose
 * destination lives on another shard, the client's worker runs the move
 * as rounds of one transaction holding both keys. Found by the first try,
 * the worker starts that transaction itself. Found by the source's shard
 * serving its FIFO after a write, the shard starts it on the worker's
 * behalf (blk_move_reserve): its lock on the source counts at once, so
 * the next command there, of any client, waits for the move and finds the
 * element gone, as Redis serves a blocked client right after the write;
 * the FIFO is held for the waiter meanwhile. The rounds use LMOVE's parts
 * (cmd_list_multi.c): check both keys, claiming
 * the waiter on the source as it reads the element; push onto the
 * destination; pop the source. Nobody sees the element in neither list or
 * in both; a destination of the wrong type gets Redis's WRONGTYPE with
 * nothing popped (Redis checks it before it pops); a source found empty
 * (another client took the element first) leaves the waiter registered in
 * its place in the key's FIFO, and it waits on.
 *
 * Threads: the client's worker; blk_move_reserve and the source's check
 * part on the source's shard. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "server/commands/cmd_block_internal.h"
#include "server/commands/cmd_list.h"
#include "server/core/server.h"
#include "server/route/dispatch.h"
#include "server/txn/txn.h"

#define WRONGTYPE_ERR "WRONGTYPE Operation against a key holding the wrong kind of value"

/* The round out (blk_state.mstage). */
enum {
    MS_CHECK = 1, /* both keys checked; the source claims the waiter */
    MS_PUSH,      /* the element pushed onto the destination */
    MS_POP,       /* and popped from the source */
};

/* The source's check (ival) beyond CMD_LIST_KEY_LIST (w claimed, the
 * element in out) and -1 (out of memory). */
enum {
    MV_EMPTY = 'E',   /* no list there: w is registered, it waits on */
    MV_CLAIMED = 'C', /* w was claimed elsewhere */
};

/* The check on the source's shard: argv [_, src, "left"|"right"], uval the
 * waiter (the fan holds a reference while the part is out). */
static void src_part(struct cmd_ctx *c)
{
    struct req *r = c->priv;
    struct blk_waiter *w = (struct blk_waiter *)(uintptr_t)r->uval;
    const struct resp_arg *src = &c->argv[1];
    blk_reg_move_done(c->dbidx, src, w);
    if (atomic_load(&w->claimed)) {
        r->ival = MV_CLAIMED;
        return;
    }
    cmd_list_move_check_part(c);
    if (r->ival == CMD_LIST_KEY_LIST) {
        if (!blk_waiter_claim(w)) {
            c->out->len = 0;
            r->ival = MV_CLAIMED;
        }
        return;
    }
    if (r->ival < 0)
        return;
    /* Nothing to move (taken meanwhile, or re-typed): wait on, in the
     * FIFO (already there when the serving shard asked for the move). */
    r->ival = blk_reg_add(c->dbidx, src, w) == 0 ? MV_EMPTY : -1;
}

/* Add the check round: both keys, the source claiming the waiter as it
 * reads the element. Returns false on out-of-memory. */
static bool add_check(struct fan *f, struct blk_state *st)
{
    const struct resp_arg *src = &f->argv[1], *dst = &f->argv[2];
    bool left = st->sp.left;
    struct resp_arg a1[3] = {{"blmchk", 6}, *src, {left ? "left" : "right", left ? 4 : 5}};
    struct resp_arg a2[2] = {{"blmchk", 6}, *dst};
    struct req *r1 = dispatch_part(f, shard_group_route(server.group, src->ptr, src->len),
                                   src_part, 3, a1);
    if (!r1 || !dispatch_part(f, shard_group_route(server.group, dst->ptr, dst->len),
                              cmd_list_move_check_part, 2, a2))
        return false;
    r1->uval = (uint64_t)(uintptr_t)st->w;
    return true;
}

/* The transaction holds both keys: the check round. */
static void move_ready(void *arg)
{
    struct fan *f = arg;
    struct blk_state *st = f->state;
    if (!add_check(f, st)) {
        blk_waiter_claim(st->w);
        blk_finish(f, st);
        dispatch_fan_abort(f, "ERR out of memory"); /* frees the parts, ends the txn */
        return;
    }
    f->parked = false;
    dispatch_fan_go(f);
}

/* Attach move transaction t, its locks held, to f: the rounds to come are
 * its. */
static void own_move(struct fan *f, struct blk_state *st, struct txn *t)
{
    f->txn = t;
    f->own_txn = true;
    st->mstage = MS_CHECK;
    st->w->moving = true;
}

/* A move the source's shard started (blk_move_reserve) holds its locks:
 * on w's worker. Its check runs now if the fan is parked and idle, or
 * from the step that ends the move transaction the fan runs (blk_wait:
 * that one is older, it never waits for this one). A waiter that is over
 * (or was claimed: a hang-up) gives the locks back, and so does one whose
 * first try is still out: its reply may wait in a batch behind a command
 * that waits for these very locks. Its move then starts from the step
 * that parks it, as after a first try that found data. */
static void reserved_ready(void *arg)
{
    struct blk_waiter *w = arg;
    struct txn *t = w->mtxn;
    w->mtxn = NULL;
    if (w->done || atomic_load(&w->claimed)) {
        txn_finish(t);
    } else if (w->parked && !w->moving) {
        /* It stays parked (blocked, for INFO, CLIENT LIST and CLIENT
         * UNBLOCK) while its move runs. */
        own_move(w->f, w->f->state, t);
        move_ready(w->f);
    } else if (w->moving) {
        w->mready = t;
    } else {
        txn_finish(t);
        w->move_req = true;
    }
    blk_waiter_unref(w);
}

/* A move transaction for worker origin: both keys of argv (BLMOVE's or
 * BRPOPLPUSH's source and destination) locked for writing in database db,
 * not started. NULL on out-of-memory. Owned by the caller. */
static struct txn *move_txn(unsigned origin, unsigned db, const struct resp_arg *argv)
{
    struct txn *t = txn_create_for(origin);
    if (!t)
        return NULL;
    const struct resp_arg *src = &argv[1], *dst = &argv[2];
    if (txn_lock_key(t, db, src->ptr, src->len, true) != 0 ||
        txn_lock_key(t, db, dst->ptr, dst->len, true) != 0) {
        txn_finish(t);
        return NULL;
    }
    return t;
}

bool blk_move_reserve(struct shard *s, struct blk_waiter *w)
{
    struct txn *t = move_txn(w->origin, w->db, w->argv);
    if (!t)
        return false;
    atomic_fetch_add_explicit(&w->refs, 1, memory_order_relaxed); /* ready's */
    w->mtxn = t;
    txn_start_reserved(t, s, reserved_ready, w);
    return true;
}

bool blk_move_take(struct fan *f, struct blk_state *st, struct rbuf *out)
{
    struct blk_waiter *w = st->w;
    struct txn *t = w->mready;
    w->mready = NULL;
    own_move(f, st, t);
    if (add_check(f, st))
        return false;
    blk_waiter_claim(w); /* (unless a hang-up did) */
    resp_error(out, "ERR out of memory");
    return blk_finish(f, st); /* the fan's end concludes t */
}

bool blk_move_start(struct fan *f, struct blk_state *st)
{
    st->w->move_req = false;
    struct txn *t = move_txn(st->w->origin, f->db, f->argv); /* (this worker) */
    if (!t)
        return false;
    own_move(f, st, t);
    if (txn_start(t, move_ready, f) != 0) { /* (t was freed) */
        f->txn = NULL;
        f->own_txn = false;
        st->mstage = 0;
        st->w->moving = false;
        return false;
    }
    return true;
}

/* The transaction is over with nothing moved: conclude it now (no part
 * is out) so the fan waits holding no lock. */
static void end_txn(struct fan *f, struct blk_state *st)
{
    txn_finish(f->txn);
    f->txn = NULL;
    f->own_txn = false;
    st->mstage = 0;
    st->w->moving = false;
}

bool blk_move_step(struct fan *f, struct blk_state *st, struct req **parts, size_t n,
                   struct rbuf *out)
{
    struct blk_waiter *w = st->w;
    for (size_t i = 0; i < n; i++)
        if (parts[i]->out.oom) {
            blk_waiter_claim(w); /* (unless the check claimed it) */
            resp_error(out, "ERR out of memory");
            return blk_finish(f, st);
        }
    const struct resp_arg *src = &f->argv[1], *dst = &f->argv[2];
    switch (st->mstage) {
    case MS_CHECK: {
        int64_t s = parts[0]->ival, d = parts[1]->ival;
        if (s == MV_EMPTY || s == MV_CLAIMED) {
            end_txn(f, st);
            return blk_wait(f, st, out);
        }
        if (s != CMD_LIST_KEY_LIST) { /* out of memory reading the element */
            blk_waiter_claim(w);
            resp_error(out, "ERR out of memory");
            return blk_finish(f, st);
        }
        /* w is ours now: whatever happens, this is its reply. */
        if (d == CMD_LIST_KEY_WRONG) {
            resp_error(out, WRONGTYPE_ERR);
            return blk_finish(f, st);
        }
        rbuf_append(&st->elem, parts[0]->out.ptr, parts[0]->out.len);
        const char *push = st->sp.to_left ? "lpush" : "rpush";
        struct resp_arg a[3] = {{push, 5}, *dst, {st->elem.ptr, st->elem.len}};
        if (st->elem.oom || !dispatch_part(f, shard_group_route(server.group, dst->ptr, dst->len),
                                            cmd_list_move_push_part, 3, a))
            break;
        st->mstage = MS_PUSH;
        return false;
    }
    case MS_PUSH: {
        if (parts[0]->out.len > 0) { /* the push failed: nothing changed */
            rbuf_append(out, parts[0]->out.ptr, parts[0]->out.len);
            return blk_finish(f, st);
        }
        const char *pop = st->sp.left ? "lpop" : "rpop";
        struct resp_arg a[2] = {{pop, 4}, *src};
        if (!dispatch_part(f, shard_group_route(server.group, src->ptr, src->len),
                           cmd_list_move_pop_part, 2, a))
            break;
        st->mstage = MS_POP;
        return false;
    }
    default: /* MS_POP */
        resp_bulk(out, st->elem.ptr, st->elem.len);
        return blk_finish(f, st);
    }
    resp_error(out, "ERR out of memory");
    return blk_finish(f, st);
}
