/* fan.c — fan-out: a command split into parts on several shards, in
 * rounds, merged on the connection's thread (dispatch_fan_*,
 * dispatch_part); sub-fans inside EXEC; and broadcasts of connection
 * commands to every worker (dispatch_broadcast). The requests, batches and
 * slots it uses are req.c's and batch.c's (dispatch_internal.h). The connection's
 * worker thread. */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "server/route/dispatch.h"
#include "server/route/dispatch_internal.h"
#include "server/exec/cmdstats.h"
#include "server/net/conn.h"
#include "server/net/worker.h"
#include "server/txn/txn.h"

/* ---- Fan-out ------------------------------------------------------------ */

/* A fan for c with a private copy of argv, no slot yet. NULL on OOM. */
static struct fan *fan_new(struct conn *c, size_t argc, const struct resp_arg *argv,
                           fan_step_fn step)
{
    size_t bytes = resp_args_len(argv, argc);
    size_t head = sizeof(struct fan) + argc * sizeof(struct resp_arg);
    struct fan *f = bytes <= SIZE_MAX - head ? calloc(1, head + bytes) : NULL;
    if (!f)
        return NULL;
    f->argc = argc;
    f->argv = (struct resp_arg *)(f + 1);
    resp_args_copy(f->argv, argv, argc);
    f->conn = c;
    f->step = step;
    f->db = c->db;
    f->proto = c->proto;
    f->slow_t0 = dispatch_split_take();
    return f;
}

struct fan *dispatch_fan_start(struct conn *c, size_t argc, const struct resp_arg *argv,
                               fan_step_fn step)
{
    struct fan *f = fan_new(c, argc, argv, step);
    struct slot *sl = f ? reply_fifo_slot_new(c) : NULL;
    if (!sl) {
        free(f);
        struct rbuf *out = reply_fifo_buf(c);
        if (out)
            resp_error(out, "ERR out of memory");
        else
            conn_close(c);
        return NULL;
    }
    f->slot = sl;
    f->out = &sl->out;
    sl->fan = f;
    c->inflight++;
    return f;
}

struct fan *dispatch_fan_start_sub(struct conn *c, size_t argc, const struct resp_arg *argv,
                                   fan_step_fn step, struct txn *t, struct rbuf *out,
                                   void (*finished)(void *arg), void *arg)
{
    struct fan *f = fan_new(c, argc, argv, step);
    if (!f)
        return NULL;
    f->txn = t;
    f->out = out;
    f->finished = finished;
    f->finished_arg = arg;
    c->inflight++;
    return f;
}

struct req *dispatch_part(struct fan *f, unsigned shard, cmd_exec_fn exec, size_t argc,
                          const struct resp_arg *argv)
{
    if (f->nparts == f->cap) {
        size_t ncap = f->cap ? f->cap * 2 : 4;
        struct req **p = realloc(f->parts, ncap * sizeof *p);
        if (!p)
            return NULL;
        f->parts = p;
        f->cap = ncap;
    }
    struct req *r = dispatch_req_new(f->conn->w, argc, argv);
    if (!r)
        return NULL;
    r->fan = f;
    r->shard = shard;
    r->exec = exec;
    r->db = f->db;
    r->proto = f->proto;
    f->parts[f->nparts++] = r;
    return r;
}

void dispatch_fan_barrier(struct fan *f)
{
    f->barrier = true;
    f->conn->flags |= CONN_BARRIER;
}

/* Finish f: its slot is complete, the client may go on. */
static void fan_finish(struct fan *f)
{
    struct conn *c = f->conn;
    dispatch_split_done(c, f->argc, f->argv, f->slow_t0);
    if (f->own_txn)
        txn_finish(f->txn); /* whatever locks are left go as the reply does */
    if (f->slot) {
        f->slot->fan = NULL;
        dispatch_slot_complete(c, f->slot);
    }
    if (f->barrier)
        c->flags &= ~CONN_BARRIER;
    rbuf_deinit(&f->events);
    /* Parts a failing step added but never launched. */
    for (size_t i = 0; i < f->nparts; i++)
        dispatch_req_free(c->w, f->parts[i]);
    free(f->parts);
    void (*finished)(void *) = f->finished;
    void *arg = f->finished_arg;
    free(f);
    if (finished)
        finished(arg); /* a sub-fan: its transaction goes on */
    conn_inflight_done(c);
}

/* The current round is complete: let the command merge or go on. Returns
 * true if f is finished (and freed). */
static bool fan_round_complete(struct fan *f)
{
    struct req **parts = f->parts;
    size_t n = f->nparts;
    f->parts = NULL;
    f->nparts = f->cap = 0;
    struct worker *w = f->conn->w;
    dispatch_fan_events(f, parts, n);
    bool finished = f->step(f, parts, n, f->out);
    /* A multi-key command's events in its order across rounds (SMOVE
     * adds before it removes: Redis reports the removal first), while its
     * transaction still holds the keys; a script's after each call. */
    if (finished || f->events_each_round)
        dispatch_fan_publish(f);
    for (size_t i = 0; i < n; i++)
        dispatch_req_free(w, parts[i]);
    free(parts);
    if (finished) {
        fan_finish(f);
        return true;
    }
    return false;
}

static void fan_txn_part_done(struct req *r)
{
    outbuf_landed(r->fan->conn, r->ob_counted); /* (dispatch_reply_made) */
    dispatch_fan_part_done(r->fan);
}

/* Must part r, for this worker's shard, wait behind the transactions
 * there? Only a part that carries its command (req.cmd: a blocking
 * command's try) does, as that command would: this shard's own batch then
 * holds it (batch.c, txn_hold). */
static bool local_waits(struct worker *w, const struct req *r)
{
    return r->cmd && !txn_may_run(w->shard, r->cmd, r->db, r->argc, r->argv, r->conn, NULL);
}

/* Launch rounds until one has parts on other shards (or f finishes). */
static void fan_run(struct fan *f)
{
    struct worker *w = f->conn->w;
    for (;;) {
        /* A parked fan waits for dispatch_fan_resume. */
        if (f->parked && f->nparts == 0)
            return;
        /* A step that neither finished nor added parts would spin. */
        assert(f->nparts > 0);
        if (f->txn) {
            /* In a transaction every part, local ones too, runs through
             * its shard's transaction queue (txn.h). */
            f->outstanding = (unsigned)f->nparts;
            f->round_here = true;
            bool conclude = f->own_txn && f->one_round;
            for (size_t i = 0; i < f->nparts; i++) {
                struct req *r = f->parts[i];
                /* A part on this worker's shard runs now when the
                 * transaction may run there (a script's local call);
                 * concluding parts go the usual way, whose handler
                 * lets the shard's next transaction go. */
                if (!conclude && txn_run_here(f->txn, r)) {
                    outbuf_landed(f->conn, r->ob_counted);
                    f->outstanding--;
                } else {
                    f->round_here = false;
                    if (txn_send(f->txn, r, fan_txn_part_done, conclude) != 0)
                        f->outstanding--; /* marked oom: the step reports it */
                }
            }
            if (f->outstanding > 0)
                return;
            if (fan_round_complete(f))
                return;
            continue;
        }
        unsigned remote = 0;
        for (size_t i = 0; i < f->nparts; i++)
            if (f->parts[i]->shard != w->id)
                remote++;
        f->outstanding = remote;
        for (size_t i = 0; i < f->nparts; i++) {
            struct req *r = f->parts[i];
            if (r->shard == w->id && !local_waits(w, r)) {
                run_exec(w->shard, NULL, r->exec, r->db, r->proto, r->argc, r->argv, &r->out,
                         w->now_ms, r, r->conn);
                continue;
            }
            if (r->shard == w->id)
                f->outstanding++; /* through this shard's own batch */
            if (dispatch_batch_add(w, r->shard, r) != 0) {
                /* No memory for a batch: the part comes back at once,
                 * marked failed, and the step reports the error. */
                r->out.oom = true;
                f->outstanding--;
            }
        }
        if (f->outstanding > 0)
            return;
        if (fan_round_complete(f))
            return;
    }
}

void dispatch_fan_abort(struct fan *f, const char *err)
{
    resp_error(f->out, err);
    fan_finish(f);
}

void dispatch_fan_go(struct fan *f)
{
    if (f->nparts == 0) {
        /* Nothing to ask: the step answers from the arguments alone. */
        if (!fan_round_complete(f))
            fan_run(f);
        return;
    }
    fan_run(f);
}

void dispatch_fan_park(struct fan *f)
{
    f->parked = true;
}

void dispatch_fan_resume(struct fan *f)
{
    f->parked = false;
    if (!fan_round_complete(f))
        fan_run(f);
}

void dispatch_fan_part_done(struct fan *f)
{
    assert(f->outstanding > 0);
    if (--f->outstanding > 0)
        return;
    if (!fan_round_complete(f))
        fan_run(f);
}

/* ---- Broadcasts for connection commands ---------------------------------- */

static void bcast_exec(struct cmd_ctx *c)
{
    struct req *r = c->priv;
    struct fan *f = r->fan;
    f->each(c->shard->user, f->arg, c->out);
}

static bool bcast_step(struct fan *f, struct req **parts, size_t n, struct rbuf *out)
{
    struct rbuf *bufs = calloc(n ? n : 1, sizeof *bufs);
    if (!bufs) {
        resp_error(out, "ERR out of memory");
        f->done(f->arg, NULL, 0, NULL);
        return true;
    }
    for (size_t i = 0; i < n; i++)
        bufs[i] = parts[i]->out;
    f->done(f->arg, bufs, (unsigned)n, out);
    free(bufs);
    return true;
}

int dispatch_broadcast(struct cmd_ctx *c,
                       void (*each)(struct worker *w, void *arg, struct rbuf *part),
                       void (*done)(void *arg, struct rbuf *parts, unsigned n, struct rbuf *out),
                       void *arg)
{
    struct conn *conn = c->conn;
    assert(conn);
    struct fan *f;
    if (c->sub_finished) {
        /* Inside EXEC: the transaction's barrier already holds the client,
         * and the reply is one element of EXEC's. */
        f = dispatch_fan_start_sub(conn, c->argc, c->argv, bcast_step, NULL, c->out,
                                   c->sub_finished, c->sub_arg);
        if (!f) {
            resp_error(c->out, "ERR out of memory");
            return -1;
        }
        c->sub_started = true;
    } else {
        f = dispatch_fan_start(conn, c->argc, c->argv, bcast_step);
        if (!f)
            return -1;
    }
    f->each = each;
    f->done = done;
    f->arg = arg;
    for (unsigned i = 0; i < server.nworkers; i++) {
        if (!dispatch_part(f, i, bcast_exec, 0, NULL)) {
            dispatch_fan_abort(f, "ERR out of memory");
            return -1;
        }
    }
    if (!c->sub_finished)
        dispatch_fan_barrier(f);
    dispatch_fan_go(f);
    return 0;
}
