/* cmd_multi_plan.c — planning for the commands whose keys may live on
 * several shards (cmd_multi.c executes them). Runs on the connection's
 * thread: when every key lives on one shard the command goes there whole
 * (and is atomic there); otherwise it is split into one part per shard,
 * run in a transaction that holds intent locks on all its keys, and a step
 * function in cmd_multi.c merges the results. Commands that need several
 * rounds (MSETNX, RENAME across shards, COPY) hold the client's later
 * commands back until they finish. The same planners run the commands
 * inside EXEC (cmd_txn.c), with EXEC's transaction instead of their own. */
#include "server/commands/cmd_multi.h"

#include <stdlib.h>
#include <string.h>

#include "server/commands/cmd_allshards.h"
#include "server/commands/cmd_multi_internal.h"
#include "server/exec/cmdstats.h"
#include "server/net/conn.h"
#include "server/route/dispatch.h"
#include "server/memory/maxmemory.h"
#include "server/core/server.h"
#include "server/core/notify_classes.h"
#include "server/txn/txn.h"
#include "server/net/worker.h"
#include "server/net/reply_fifo.h"

/* Keys routed with a stack array up to this many; more use the heap. */
#define MULTI_STACK_KEYS 64

/* ---- Routing ------------------------------------------------------------- */

/* Key k (0-based) of a command whose keys start at argv[1], span apart. */
static const struct resp_arg *key_at(const struct resp_arg *argv, size_t k, size_t span)
{
    return &argv[1 + k * span];
}

/* Route every key; returns the shard if all share one, else -1. ks gets
 * each key's shard. */
static int route_keys(const struct resp_arg *argv, size_t nkeys, size_t span, unsigned *ks)
{
    int one = -2;
    for (size_t k = 0; k < nkeys; k++) {
        const struct resp_arg *a = key_at(argv, k, span);
        ks[k] = shard_group_route(server.group, a->ptr, a->len);
        if (one == -2)
            one = (int)ks[k];
        else if (one != (int)ks[k])
            one = -1;
    }
    return one;
}

/* Add one part per shard that holds keys: [name, then for each of its keys
 * the first `take` of the key's `span` arguments], in shard order. name
 * NULL keeps the command's own name. key_part (optional) gets each key's
 * part index. Returns 0, or -1 on out-of-memory (parts added so far stay
 * in f, which the caller aborts). */
int cmd_multi_add_key_parts(struct fan *f, const char *name, cmd_exec_fn exec, size_t nkeys,
                            size_t span, size_t take, const unsigned *ks, unsigned *key_part)
{
    unsigned n = server.nworkers;
    size_t *start = calloc(n, sizeof *start);       /* shard s's first slot in all */
    size_t *fill = calloc(n, sizeof *fill);         /* its next free slot */
    unsigned *part_of = calloc(n, sizeof *part_of); /* every entry set below; calloc
                                                     * so -O3's flow analysis agrees */
    struct resp_arg *all = malloc((nkeys * take + n) * sizeof *all);
    struct resp_arg cmd = name ? (struct resp_arg){name, strlen(name)} : f->argv[0];
    int rc = -1;
    if (!start || !fill || !part_of || !all)
        goto out;
    for (size_t k = 0; k < nkeys; k++)
        fill[ks[k]]++; /* count first */
    size_t pos = 0;
    for (unsigned s = 0; s < n; s++) {
        size_t cnt = fill[s];
        start[s] = pos;
        fill[s] = pos;
        if (cnt) {
            all[pos] = cmd;
            fill[s] = pos + 1;
            pos += 1 + cnt * take;
        }
    }
    for (size_t k = 0; k < nkeys; k++) {
        const struct resp_arg *a = key_at(f->argv, k, span);
        for (size_t j = 0; j < take; j++)
            all[fill[ks[k]]++] = a[j];
    }
    unsigned idx = 0;
    for (unsigned s = 0; s < n; s++) {
        if (fill[s] == start[s]) {
            part_of[s] = UINT32_MAX;
            continue;
        }
        if (!dispatch_part(f, s, exec, fill[s] - start[s], &all[start[s]]))
            goto out;
        part_of[s] = idx++;
    }
    if (key_part)
        for (size_t k = 0; k < nkeys; k++)
            key_part[k] = part_of[ks[k]];
    rc = 0;
out:
    free(start);
    free(fill);
    free(part_of);
    free(all);
    return rc;
}

void cmd_multi_reply_error(struct conn *c, const char *err)
{
    struct rbuf *out = reply_fifo_buf(c);
    if (out)
        resp_error(out, err);
    else
        conn_close(c);
}

/* ---- Where a plan goes: standalone or inside EXEC ------------------------ */

struct rbuf *cmd_multi_plan_reply_buf(struct mplan *p)
{
    if (p->t) {
        p->sync = true;
        return p->out;
    }
    struct rbuf *out = reply_fifo_buf(p->c);
    if (!out)
        conn_close(p->c);
    return out;
}

void cmd_multi_plan_error(struct mplan *p, const char *err)
{
    struct rbuf *out = cmd_multi_plan_reply_buf(p);
    if (out)
        resp_error(out, err);
}

void cmd_multi_plan_route(struct mplan *p, const struct cmd_def *d, unsigned shard,
                          cmd_exec_fn exec, size_t argc, const struct resp_arg *argv)
{
    if (!p->t) {
        dispatch_route(p->c, d, shard, exec, argc, argv, CMDSTAT_NONE, NULL); /* counted by the caller */
        return;
    }
    struct fan *f = dispatch_fan_start_sub(p->c, argc, argv, cmd_multi_copy_step, p->t, p->out,
                                           p->finished, p->arg);
    if (!f) {
        cmd_multi_plan_error(p, "ERR out of memory");
        return;
    }
    if (!dispatch_part(f, shard, exec, f->argc, f->argv)) {
        dispatch_fan_abort(f, "ERR out of memory"); /* runs finished */
        return;
    }
    dispatch_fan_go(f);
}

struct fan *cmd_multi_plan_fan(struct mplan *p, const struct cmd_def *d, size_t argc,
                               const struct resp_arg *argv, fan_step_fn step, bool one_round)
{
    if (p->t) {
        struct fan *f =
            dispatch_fan_start_sub(p->c, argc, argv, step, p->t, p->out, p->finished, p->arg);
        if (!f)
            cmd_multi_plan_error(p, "ERR out of memory");
        return f;
    }
    struct fan *f = dispatch_fan_start(p->c, argc, argv, step);
    if (!f)
        return NULL;
    f->txn = txn_create();
    if (!f->txn) {
        dispatch_fan_abort(f, "ERR out of memory");
        return NULL;
    }
    f->own_txn = true;
    /* With keyspace events on, the parts keep their keys until the
     * events are published here, in the command's order (no later
     * command on those keys may publish first). */
    f->one_round = one_round && !notify_on();
    if (cmd_multi_lock_keys(f->txn, d, f->db, f->argc, f->argv) != 0) {
        dispatch_fan_abort(f, "ERR out of memory");
        return NULL;
    }
    /* The client's next commands wait for it (program order): behind
     * its SCHEDULE they would wait only on its locks, and one on another
     * key could take effect before it. */
    dispatch_fan_barrier(f);
    return f;
}

static void plan_ready(void *arg)
{
    dispatch_fan_go(arg);
}

void cmd_multi_plan_go(struct mplan *p, struct fan *f)
{
    if (p->t || !f->txn) {
        dispatch_fan_go(f);
        return;
    }
    if (txn_start(f->txn, plan_ready, f) != 0) {
        f->txn = NULL; /* txn_start freed it */
        f->own_txn = false;
        dispatch_fan_abort(f, "ERR out of memory");
    }
}

int cmd_multi_lock_keys(struct txn *t, const struct cmd_def *d, unsigned db, size_t argc,
                        const struct resp_arg *argv)
{
    if (d->flags & CMD_ALLSHARDS)
        return txn_lock_all(t, !(d->flags & CMD_READONLY));
    /* Each key by its spec: read-only keys shared, the others exclusive
     * (COPY's source is read, its destination written). */
    struct cmd_keys it;
    size_t pos;
    uint16_t flags;
    cmd_keys_init(&it, d, argc, argv);
    while (cmd_keys_next(&it, &pos, &flags))
        if (txn_lock_key(t, db, argv[pos].ptr, argv[pos].len, cmd_key_writes(flags)) != 0)
            return -1;
    if (d->plan && d->plan->lock_more)
        return d->plan->lock_more(t, d, db, argc, argv);
    return 0;
}

/* Plans for commands with keys on possibly several shards. */
static void plan_keys(struct mplan *pl, const struct cmd_def *d, size_t argc,
                      const struct resp_arg *argv)
{
    const struct cmd_plan *plan = d->plan;
    size_t span = plan->span ? plan->span : 1;
    if (span > 1 && (argc - 1) % span != 0) {
        struct rbuf *out = cmd_multi_plan_reply_buf(pl);
        if (out)
            resp_errorf(out, "ERR wrong number of arguments for '%s' command", d->name);
        return;
    }
    size_t nkeys = (argc - 1) / span;
    unsigned stack_ks[MULTI_STACK_KEYS];
    unsigned *ks = nkeys <= MULTI_STACK_KEYS ? stack_ks : malloc(nkeys * sizeof *ks);
    if (!ks) {
        cmd_multi_plan_error(pl, "ERR out of memory");
        return;
    }
    int one = route_keys(argv, nkeys, span, ks);
    if (one >= 0) {
        /* Every key on one shard: the whole command runs there, atomically
         * (after any transaction holding its keys there). */
        cmd_multi_plan_route(pl, d, (unsigned)one, d->exec, argc, argv);
        goto out;
    }
    cmd_exec_fn part = plan->part;
    fan_step_fn step = plan->step;
    struct fan *f = cmd_multi_plan_fan(pl, d, argc, argv, step, !plan->rounds);
    if (!f)
        goto out;
    int rc = 0;
    if (step == cmd_multi_mget_step) {
        struct mget_state *st = calloc(1, sizeof *st);
        if (st) {
            st->nkeys = nkeys;
            st->key_part = malloc(nkeys * sizeof *st->key_part);
            st->cursor = calloc(server.nworkers, sizeof *st->cursor);
        }
        if (!st || !st->key_part || !st->cursor) {
            if (st) {
                free(st->key_part);
                free(st->cursor);
            }
            free(st);
            rc = -1;
        } else {
            f->state = st;
            rc = cmd_multi_add_key_parts(f, plan->part_name, part, nkeys, 1, 1, ks, st->key_part);
        }
    } else if (step == cmd_multi_msetnx_step) {
        struct msetnx_state *st = calloc(1, sizeof *st);
        unsigned *copy = malloc(nkeys * sizeof *copy);
        if (!st || !copy) {
            free(st);
            free(copy);
            rc = -1;
        } else {
            memcpy(copy, ks, nkeys * sizeof *copy);
            st->nkeys = nkeys;
            st->ks = copy;
            f->state = st;
            /* Stage 0 asks about the keys only: [name, k1, k2, ...]. */
            rc = cmd_multi_add_key_parts(f, plan->part_name, part, nkeys, span, 1, ks, NULL);
        }
    } else {
        rc = cmd_multi_add_key_parts(f, plan->part_name, part, nkeys, span, span, ks, NULL);
    }
    if (rc != 0) {
        /* Nothing was sent yet: free the command state and answer now. */
        if (f->state && step == cmd_multi_mget_step) {
            struct mget_state *st = f->state;
            free(st->key_part);
            free(st->cursor);
            free(st);
        } else if (f->state) {
            struct msetnx_state *st = f->state;
            free(st->ks);
            free(st);
        }
        dispatch_fan_abort(f, "ERR out of memory");
        goto out;
    }
    cmd_multi_plan_go(pl, f);
out:
    if (ks != stack_ks)
        free(ks);
}

void cmd_multi_plan_move(struct mplan *pl, const struct cmd_def *d, size_t argc,
                         const struct resp_arg *argv)
{
    struct conn *c = pl->c;
    bool copy = d->plan->copy;
    struct copy_opts o = {.dstdb = c->db, .replace = false};
    if (copy) {
        struct rbuf err;
        rbuf_init(&err);
        bool ok = cmd_multi_copy_parse(argc, argv, c->db, c->w->set.databases, &o, &err);
        if (!ok) {
            struct rbuf *out = cmd_multi_plan_reply_buf(pl);
            if (out)
                rbuf_append(out, err.ptr, err.len);
        }
        rbuf_deinit(&err);
        if (!ok)
            return;
    }
    unsigned ss = shard_group_route(server.group, argv[1].ptr, argv[1].len);
    unsigned ds = shard_group_route(server.group, argv[2].ptr, argv[2].len);
    if (ss == ds) {
        cmd_multi_plan_route(pl, d, ss, d->exec, argc, argv);
        return;
    }
    struct move_state *st = calloc(1, sizeof *st);
    if (!st) {
        cmd_multi_plan_error(pl, "ERR out of memory");
        return;
    }
    st->nx = d->plan->nx;
    st->copy = copy;
    st->replace = o.replace;
    st->src_shard = ss;
    st->dst_shard = ds;
    st->dstdb = (unsigned)o.dstdb;
    struct fan *f = cmd_multi_plan_fan(pl, d, argc, argv, cmd_multi_move_step, false);
    if (!f) {
        free(st);
        return;
    }
    f->state = st;
    bool ok;
    if (st->nx) {
        struct resp_arg a1[2] = {{"exists", 6}, f->argv[1]};
        struct resp_arg a2[2] = {{"exists", 6}, f->argv[2]};
        ok = dispatch_part(f, ss, cmd_multi_probe_part, 2, a1) &&
             dispatch_part(f, ds, cmd_multi_probe_part, 2, a2);
    } else {
        struct resp_arg a[2] = {{copy ? "get" : "take", copy ? 3u : 4u}, f->argv[1]};
        ok = dispatch_part(f, ss, cmd_multi_fetch_part, 2, a) != NULL;
    }
    if (!ok) {
        free(st);
        dispatch_fan_abort(f, "ERR out of memory");
        return;
    }
    cmd_multi_plan_go(pl, f);
}

/* Commands on every shard. Arguments are checked here, before any part
 * runs, so every error comes from one place. */
void cmd_multi_plan(struct mplan *p, const struct cmd_def *d, size_t argc,
                    const struct resp_arg *argv)
{
    /* Over maxmemory, a command that may grow memory is refused whole,
     * before any shard runs a part of it. */
    if ((d->flags & CMD_DENYOOM) && maxmemory_enabled() && maxmemory_refuses_split()) {
        cmd_multi_plan_error(p, MAXMEMORY_OOM_ERROR);
        return;
    }
    if (p->homed) {
        cmd_multi_plan_route(p, d, p->home, d->exec, argc, argv);
    } else if (d->flags & CMD_ALLSHARDS) {
        cmd_allshards_plan(p, d, argc, argv);
    } else if ((d->flags & CMD_MULTIKEY) && d->plan->plan) {
        d->plan->plan(p, d, argc, argv);
    } else if (d->flags & CMD_MULTIKEY) {
        plan_keys(p, d, argc, argv);
    } else {
        /* A single-key command (inside EXEC): its key's shard. */
        unsigned shard = p->c->w->id;
        struct cmd_keys it;
        size_t pos;
        if (cmd_keys_init(&it, d, argc, argv) > 0 && cmd_keys_next(&it, &pos, NULL))
            shard = shard_group_route(server.group, argv[pos].ptr, argv[pos].len);
        cmd_multi_plan_route(p, d, shard, d->exec, argc, argv);
    }
}

void cmd_multi_dispatch(struct conn *c, const struct cmd_def *d, size_t argc,
                        const struct resp_arg *argv, int home)
{
    struct mplan p = {.c = c, .homed = home >= 0, .home = home >= 0 ? (unsigned)home : 0};
    cmd_multi_plan(&p, d, argc, argv);
}

int cmd_multi_home(const struct conn *c, const struct cmd_def *d, size_t argc,
                   const struct resp_arg *argv)
{
    if (!(d->flags & CMD_MULTIKEY) || (d->flags & CMD_ALLSHARDS))
        return -1;
    if (d->plan->plan)
        return d->plan->home ? d->plan->home(c, d, argc, argv) : -1;
    /* plan_keys's routing, without its errors (the planner gives them). */
    size_t span = d->plan->span ? d->plan->span : 1;
    if (argc < 2 || (argc - 1) % span != 0)
        return -1;
    int one = -1;
    for (size_t k = 0; k < (argc - 1) / span; k++) {
        const struct resp_arg *a = key_at(argv, k, span);
        int s = (int)shard_group_route(server.group, a->ptr, a->len);
        if (one >= 0 && s != one)
            return -1;
        one = s;
    }
    return one;
}
