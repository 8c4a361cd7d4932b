/* cmd_block_move.c — BLMOVE and BRPOPLPUSH served across shards, in one
 * step as in Redis. When the source has data for a waiter whose
 * destination lives on another shard (found by the first try, or by the
 * source's shard serving its FIFO, which then holds the FIFO for it), the
 * client's worker runs the move as rounds of one transaction holding both
 * keys, with LMOVE's parts (cmd_list_multi.c): check both keys, claiming
 * the waiter on the source as it reads the element; push onto the
 * destination; pop the source. Nobody sees the element in neither list or
 * in both; a destination of the wrong type gets Redis's WRONGTYPE with
 * nothing popped (Redis checks it before it pops); a source found empty
 * (another client took the element first) leaves the waiter registered in
 * its place in the key's FIFO, and it waits on.
 *
 * Threads: the client's worker; the source's check part on its shard. */
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

/* The transaction holds both keys: the check round. */
static void move_ready(void *arg)
{
    struct fan *f = arg;
    struct blk_state *st = f->state;
    const struct resp_arg *src = &f->argv[1], *dst = &f->argv[2];
    bool left = st->sp.left;
    struct resp_arg a1[3] = {{"blmchk", 6}, *src, {left ? "left" : "right", left ? 4 : 5}};
    struct resp_arg a2[2] = {{"blmchk", 6}, *dst};
    struct req *r1 = dispatch_part(f, shard_group_route(server.group, src->ptr, src->len),
                                   src_part, 3, a1);
    struct req *r2 = r1 ? dispatch_part(f, shard_group_route(server.group, dst->ptr, dst->len),
                                        cmd_list_move_check_part, 2, a2)
                        : NULL;
    if (!r2) {
        blk_waiter_claim(st->w);
        blk_finish(f, st);
        dispatch_fan_abort(f, "ERR out of memory"); /* frees the parts, ends the txn */
        return;
    }
    r1->uval = (uint64_t)(uintptr_t)st->w;
    f->parked = false;
    dispatch_fan_go(f);
}

bool blk_move_start(struct fan *f, struct blk_state *st)
{
    st->w->move_req = false;
    struct txn *t = txn_create();
    if (!t)
        return false;
    const struct resp_arg *src = &f->argv[1], *dst = &f->argv[2];
    if (txn_lock_key(t, f->db, src->ptr, src->len, true) != 0 ||
        txn_lock_key(t, f->db, dst->ptr, dst->len, true) != 0) {
        txn_finish(t);
        return false;
    }
    f->txn = t;
    f->own_txn = true;
    st->mstage = MS_CHECK;
    if (txn_start(t, move_ready, f) != 0) { /* (t was freed) */
        f->txn = NULL;
        f->own_txn = false;
        st->mstage = 0;
        return false;
    }
    st->w->moving = true;
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
