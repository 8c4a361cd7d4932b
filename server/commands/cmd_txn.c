/* cmd_txn.c — MULTI/EXEC/DISCARD/WATCH/UNWATCH with Redis 7.0's replies.
 * Between MULTI and EXEC a client's commands are checked and queued on its
 * worker thread. EXEC declares the intent locks of every queued command
 * (and shared locks on the watched keys), schedules one transaction in the
 * global order (txn.h), checks WATCH once all locks are held, then runs the
 * commands one after the other, each on its shard(s) as transaction hops,
 * and replies with all their replies in one array. WATCH registers the
 * client on each key's shard; any write there marks it dirty. */
#include "server/commands/cmd_txn.h"

#include <stdlib.h>
#include <string.h>

#include "server/commands/cmd_impl.h"
#include "server/commands/cmd_multi.h"
#include "server/commands/cmd_server.h"
#include "server/exec/cmdstats.h"
#include "server/exec/slowlog.h"
#include "server/memory/maxmemory.h"
#include "server/net/conn.h"
#include "server/route/dispatch.h"
#include "server/persist/persist.h"
#include "server/core/server.h"
#include "server/txn/txn.h"
#include "server/net/worker.h"
#include "server/net/reply_fifo.h"

/* One queued command: its definition and a private copy of its arguments. */
struct queued {
    const struct cmd_def *d;   /* looked up at queue time */
    uint32_t flags;            /* this call's (cmd_flags_of): a script's
                                  shebang may make it a write */
    size_t argc;               /* arguments */
    struct resp_arg *argv;     /* array and bytes in one block (owned) */
};

/* One watched key: where it lives, and its bytes. */
struct wkey {
    unsigned db;      /* database at WATCH time */
    unsigned shard;   /* its shard */
    size_t len;       /* key length */
    char *key;        /* key bytes (owned) */
};

/* A client's MULTI and WATCH state (c->txc). */
struct txn_client {
    bool in_multi;             /* between MULTI and EXEC/DISCARD */
    bool errored;              /* a command was refused: EXEC aborts */
    struct queued *q;          /* queued commands */
    size_t nq, qcap;           /* count and allocation */
    struct txn_watch *watch;   /* shared with the shards; NULL = no WATCH */
    struct wkey *wk;           /* watched keys */
    size_t nwk, wkcap;         /* count and allocation */
};

static struct txn_client *client_get(struct conn *c)
{
    if (!c->txc)
        c->txc = calloc(1, sizeof *c->txc);
    return c->txc;
}

static void queue_clear(struct txn_client *tc)
{
    for (size_t i = 0; i < tc->nq; i++)
        free(tc->q[i].argv);
    free(tc->q);
    tc->q = NULL;
    tc->nq = tc->qcap = 0;
    tc->in_multi = false;
    tc->errored = false;
}

/* ---- WATCH registrations -------------------------------------------------- */

/* Removes one registration on its shard; holds a reference to w so the
 * address cannot be reused by another client's watch meanwhile. */
struct unwatch_msg {
    struct mbox_msg msg;     /* must be first */
    struct txn_watch *w;     /* one reference, dropped after */
    unsigned db;             /* database */
    size_t len;              /* key length */
    char key[];              /* key bytes */
};

static void on_unwatch(void *owner, struct mbox_msg *m)
{
    struct unwatch_msg *u = (struct unwatch_msg *)m;
    txn_watch_remove(owner, u->w, u->db, u->key, u->len);
    txn_watch_unref(u->w);
    free(u);
}

/* Forget every watched key: the shards drop their registrations (or, if
 * no message could be made, drop them when the key is next written). */
static void unwatch_keys(struct txn_watch *w, struct wkey *wk, size_t n)
{
    if (w)
        atomic_store_explicit(&w->dead, true, memory_order_release);
    /* Once the server stops, a shard may have drained its mailbox for the
     * last time, and a message posted after that is never handled nor
     * freed (mailbox.h): connections closed at shutdown leave their dead
     * registrations to the tables instead. */
    bool post = w && !atomic_load(&server.stopping);
    for (size_t i = 0; i < n; i++) {
        struct unwatch_msg *u = post ? malloc(sizeof *u + wk[i].len) : NULL;
        if (u) {
            u->w = w;
            atomic_fetch_add_explicit(&w->refs, 1, memory_order_relaxed);
            u->db = wk[i].db;
            u->len = wk[i].len;
            if (wk[i].len)
                memcpy(u->key, wk[i].key, wk[i].len);
            u->msg.handle = on_unwatch;
            shard_post(shard_group_get(server.group, wk[i].shard), &u->msg);
        }
        free(wk[i].key);
    }
    free(wk);
    if (w)
        txn_watch_unref(w);
}

static void unwatch_all(struct txn_client *tc)
{
    unwatch_keys(tc->watch, tc->wk, tc->nwk);
    tc->watch = NULL;
    tc->wk = NULL;
    tc->nwk = tc->wkcap = 0;
}

/* On the key's shard: register the watch (uval) on argv[1]. */
static void watch_part(struct cmd_ctx *c)
{
    struct req *r = c->priv;
    struct txn_watch *w = (struct txn_watch *)(uintptr_t)r->uval;
    if (txn_watch_add(c->shard, w, c->dbidx, c->argv[1].ptr, c->argv[1].len, c->now_ms) != 0)
        atomic_store_explicit(&w->dirty, true, memory_order_release); /* EXEC fails safe */
}

static bool ok_step(struct fan *f, struct req **parts, size_t n, struct rbuf *out)
{
    (void)f;
    (void)parts;
    (void)n;
    resp_simple(out, "OK");
    return true;
}

static void watch_exec(struct cmd_ctx *ctx)
{
    struct conn *c = ctx->conn;
    struct txn_client *tc = client_get(c);
    if (!tc) {
        resp_error(ctx->out, "ERR out of memory");
        return;
    }
    if (tc->in_multi) {
        resp_error(ctx->out, "ERR WATCH inside MULTI is not allowed");
        return;
    }
    size_t nkeys = ctx->argc - 1;
    if (!tc->watch) {
        tc->watch = txn_watch_create();
        if (!tc->watch) {
            resp_error(ctx->out, "ERR out of memory");
            return;
        }
    }
    if (tc->nwk + nkeys > tc->wkcap) {
        size_t ncap = tc->wkcap ? tc->wkcap : 4;
        while (ncap < tc->nwk + nkeys)
            ncap *= 2;
        struct wkey *wk = realloc(tc->wk, ncap * sizeof *wk);
        if (!wk) {
            resp_error(ctx->out, "ERR out of memory");
            return;
        }
        tc->wk = wk;
        tc->wkcap = ncap;
    }
    struct fan *f = dispatch_fan_start(c, ctx->argc, ctx->argv, ok_step);
    if (!f)
        return;
    for (size_t i = 0; i < nkeys; i++) {
        const struct resp_arg *k = &f->argv[1 + i];
        struct wkey *w = &tc->wk[tc->nwk];
        w->key = malloc(k->len ? k->len : 1);
        struct resp_arg a[2] = {{"watch", 5}, *k};
        unsigned shard = shard_group_route(server.group, k->ptr, k->len);
        struct req *r = w->key ? dispatch_part(f, shard, watch_part, 2, a) : NULL;
        if (!r) {
            free(w->key);
            dispatch_fan_abort(f, "ERR out of memory");
            return;
        }
        r->uval = (uint64_t)(uintptr_t)tc->watch;
        if (k->len)
            memcpy(w->key, k->ptr, k->len);
        w->len = k->len;
        w->db = c->db;
        w->shard = shard;
        tc->nwk++;
    }
    /* The client's next commands (EXEC among them) wait until every key
     * is registered. */
    dispatch_fan_barrier(f);
    dispatch_fan_go(f);
}

static void unwatch_exec(struct cmd_ctx *ctx)
{
    if (ctx->conn->txc)
        unwatch_all(ctx->conn->txc);
    resp_simple(ctx->out, "OK");
}

/* ---- MULTI, DISCARD, queueing --------------------------------------------- */

static void multi_exec(struct cmd_ctx *ctx)
{
    struct txn_client *tc = client_get(ctx->conn);
    if (!tc) {
        resp_error(ctx->out, "ERR out of memory");
        return;
    }
    if (tc->in_multi) {
        resp_error(ctx->out, "ERR MULTI calls can not be nested");
        return;
    }
    tc->in_multi = true;
    tc->errored = false;
    resp_simple(ctx->out, "OK");
}

static void discard_exec(struct cmd_ctx *ctx)
{
    struct txn_client *tc = ctx->conn->txc;
    if (!tc || !tc->in_multi) {
        resp_error(ctx->out, "ERR DISCARD without MULTI");
        return;
    }
    queue_clear(tc);
    unwatch_all(tc);
    resp_simple(ctx->out, "OK");
}

void cmd_txn_flag_error(struct conn *c)
{
    if (c->txc && c->txc->in_multi)
        c->txc->errored = true;
}

bool cmd_txn_in_multi(const struct conn *c)
{
    return c->txc && c->txc->in_multi;
}

bool cmd_txn_intercept(struct conn *c, const struct cmd_def *d, size_t argc,
                       const struct resp_arg *argv)
{
    struct txn_client *tc = c->txc;
    if (!tc->in_multi)
        return false;
    /* Over maxmemory with nothing left to evict, Redis refuses every
     * command of a MULTI block but those that end it, queueing included:
     * a queue grows memory too (processCommand's reject_cmd_on_oom). */
    bool oom = !(d->flags & CMD_ENDS_MULTI) && maxmemory_enabled() && maxmemory_refuses_split();
    if ((d->flags & CMD_TXN_CONTROL) && !oom)
        return false;
    struct rbuf *out = reply_fifo_buf(c);
    if (!out) {
        conn_close(c);
        return true;
    }
    if (oom) {
        resp_error(out, MAXMEMORY_OOM_ERROR);
        cmdstat_reject(c->w->cmdstats, cmdstat_id(d));
        errstat_code(c->w->errstats, "OOM");
        tc->errored = true;
        return true;
    }
    /* A command that neither has keys nor runs on the connection or on
     * every shard has nowhere to run inside EXEC. */
    bool nowhere = d->nkeyspecs == 0 && !d->getkeys && !(d->flags & (CMD_CONN | CMD_ALLSHARDS));
    if ((d->flags & (CMD_NO_MULTI | CMD_NOT_QUEUED)) || nowhere) {
        /* SAVE and SHUTDOWN, as in Redis; and BGSAVE, which Redis would
         * queue: its cut would have to fall inside this EXEC. */
        resp_error(out, "ERR Command not allowed inside a transaction");
        cmdstat_reject(c->w->cmdstats, cmdstat_id(d));
        errstat_code(c->w->errstats, "ERR");
        tc->errored = true;
        return true;
    }
    /* A script whose shebang makes it a write is refused as one after a
     * failed save, as dispatch refuses SET from its d->flags alone (Redis
     * judges getCommandFlags). */
    uint32_t flags = cmd_flags_of(d, argc, argv);
    if (flags != d->flags && persist_writes_denied(flags)) {
        resp_error(out, PERSIST_MISCONF_ERR);
        cmdstat_reject(c->w->cmdstats, cmdstat_id(d));
        errstat_code(c->w->errstats, "MISCONF");
        tc->errored = true;
        return true;
    }
    if (tc->nq == tc->qcap) {
        size_t ncap = tc->qcap ? tc->qcap * 2 : 8;
        struct queued *q = realloc(tc->q, ncap * sizeof *q);
        if (!q) {
            resp_error(out, "ERR out of memory");
            tc->errored = true;
            return true;
        }
        tc->q = q;
        tc->qcap = ncap;
    }
    size_t bytes = resp_args_len(argv, argc);
    size_t head = argc * sizeof(struct resp_arg);
    struct resp_arg *a = bytes <= SIZE_MAX - head ? malloc(head + bytes) : NULL;
    if (!a) {
        resp_error(out, "ERR out of memory");
        tc->errored = true;
        return true;
    }
    resp_args_copy(a, argv, argc);
    tc->q[tc->nq++] = (struct queued){.d = d, .flags = flags, .argc = argc, .argv = a};
    resp_simple(out, "QUEUED");
    return true;
}

/* ---- EXEC ------------------------------------------------------------------ */

/* One EXEC in progress. Owns what it took from the client. */
struct exec_job {
    struct conn *c;            /* the client (kept alive by inflight) */
    struct slot *slot;         /* EXEC's reply slot */
    struct txn *t;             /* the transaction over every touched shard */
    struct queued *q;          /* the commands */
    size_t nq;                 /* how many */
    size_t idx;                /* next to run */
    struct rbuf body;          /* their replies so far */
    struct rbuf scratch;       /* output of the WATCH check round */
    struct txn_watch *watch;   /* the client's watch, or NULL */
    struct wkey *wk;           /* watched keys */
    size_t nwk;                /* how many */
    bool watch_failed;         /* the check found an expired watched key */
    bool in_loop;              /* run_next is on the stack */
    bool pending;              /* a command's parts are out */
    size_t reply_at;           /* where the running command's reply begins
                                  in body (for its commandstats) */
    uint64_t slow_t0;          /* the running command's start, when it runs
                                  on shards (the slow log, dispatch.h) */
};

/* How an EXEC ends. */
enum { JOB_DONE, JOB_ABORTED, JOB_OOM };

static void job_end(struct exec_job *j, int how)
{
    struct conn *c = j->c;
    struct rbuf *out = &j->slot->out;
    if (how == JOB_ABORTED) {
        resp_null_array(out, c->proto); /* a watched key changed */
    } else if (how == JOB_OOM || j->body.oom) {
        resp_error(out, "ERR out of memory while building the reply");
    } else {
        resp_array(out, j->nq);
        rbuf_append(out, j->body.ptr, j->body.len);
    }
    if (j->t)
        txn_finish(j->t);
    unwatch_keys(j->watch, j->wk, j->nwk);
    for (size_t i = 0; i < j->nq; i++)
        free(j->q[i].argv);
    free(j->q);
    rbuf_deinit(&j->body);
    rbuf_deinit(&j->scratch);
    dispatch_slot_complete(c, j->slot);
    c->flags &= ~CONN_BARRIER;
    free(j);
    conn_inflight_done(c);
}

static void run_next(struct exec_job *j);

/* The running queued command is done: count it (a call, failed if its
 * reply is an error, as Redis counts commands inside EXEC) and move on. */
static void job_advance(struct exec_job *j)
{
    struct queued *m = &j->q[j->idx];
    struct worker *w = j->c->w;
    uint16_t sid = cmdstat_id(m->d);
    cmdstat_call(w->cmdstats, sid);
    if (j->body.len > j->reply_at)
        cmdstat_reply(w, sid, j->body.ptr + j->reply_at, j->body.len - j->reply_at);
    /* Redis logs each command EXEC runs; one run on this thread was
     * logged by cmd_call already. */
    if (!(m->d->flags & CMD_CONN))
        dispatch_split_done(j->c, m->argc, m->argv, j->slow_t0);
    j->idx++;
}

static void sub_done(void *arg)
{
    struct exec_job *j = arg;
    j->pending = false;
    job_advance(j);
    if (!j->in_loop)
        run_next(j);
}

/* Run the queued commands in order; returns while one is out on shards
 * (sub_done continues). */
static void run_next(struct exec_job *j)
{
    struct conn *c = j->c;
    struct worker *w = c->w;
    j->in_loop = true;
    while (j->idx < j->nq) {
        struct queued *m = &j->q[j->idx];
        j->reply_at = j->body.len;
        if (m->d->flags & CMD_CONN) {
            struct cmd_ctx ctx = {
                .shard = w->shard,
                .db = shard_db(w->shard, c->db),
                .dbidx = c->db,
                .proto = c->proto,
                .argc = m->argc,
                .argv = m->argv,
                .out = &j->body,
                .now_ms = w->now_ms,
                .priv = NULL,
                .conn = c,
                .origin = c,
            };
            ctx.sub_finished = sub_done;
            ctx.sub_arg = j;
            j->pending = true;
            cmd_call(m->d, &ctx);
            if (!ctx.sub_started) { /* answered on the spot */
                j->pending = false;
                job_advance(j);
                continue;
            }
            if (j->pending) { /* sub_done goes on */
                j->in_loop = false;
                return;
            }
            continue; /* sub_done ran already (a fan that failed to start) */
        }
        struct mplan p = {.c = c, .t = j->t, .out = &j->body, .finished = sub_done, .arg = j};
        j->pending = true;
        j->slow_t0 = slowlog_clock();
        cmd_multi_plan(&p, m->d, m->argc, m->argv);
        if (p.sync) {
            j->pending = false;
            job_advance(j);
            continue;
        }
        if (j->pending) {
            j->in_loop = false;
            return;
        }
        /* finished already ran (a fan that failed to start) */
    }
    j->in_loop = false;
    job_end(j, JOB_DONE);
}

/* On a watched key's shard: did it expire (or go) since WATCH? */
static void watch_check_part(struct cmd_ctx *c)
{
    struct req *r = c->priv;
    struct txn_watch *w = (struct txn_watch *)(uintptr_t)r->uval;
    r->ival = txn_watch_expired(c->shard, w, c->dbidx, c->argv[1].ptr, c->argv[1].len, c->now_ms);
}

static bool watch_check_step(struct fan *f, struct req **parts, size_t n, struct rbuf *out)
{
    (void)out;
    struct exec_job *j = f->finished_arg;
    for (size_t i = 0; i < n; i++)
        if (parts[i]->ival || parts[i]->out.oom)
            j->watch_failed = true;
    return true;
}

static void watch_checked(void *arg)
{
    struct exec_job *j = arg;
    /* Every shard has run the check while this transaction holds the
     * watched keys: all writes before it have marked the watch. */
    if (j->watch_failed || atomic_load_explicit(&j->watch->dirty, memory_order_acquire)) {
        job_end(j, JOB_ABORTED);
        return;
    }
    run_next(j);
}

static void exec_ready(void *arg)
{
    struct exec_job *j = arg;
    if (!j->watch || j->nwk == 0) {
        run_next(j);
        return;
    }
    if (atomic_load_explicit(&j->watch->dirty, memory_order_acquire)) {
        job_end(j, JOB_ABORTED);
        return;
    }
    struct resp_arg name = {"exec", 4};
    struct fan *f = dispatch_fan_start_sub(j->c, 1, &name, watch_check_step, j->t, &j->scratch,
                                           watch_checked, j);
    if (!f) {
        job_end(j, JOB_ABORTED);
        return;
    }
    for (size_t i = 0; i < j->nwk; i++) {
        struct resp_arg a[2] = {{"watch", 5}, {j->wk[i].key, j->wk[i].len}};
        struct req *r = dispatch_part(f, j->wk[i].shard, watch_check_part, 2, a);
        if (!r) {
            j->watch_failed = true;
            dispatch_fan_abort(f, "ERR out of memory"); /* runs watch_checked */
            return;
        }
        r->db = j->wk[i].db;
        r->uval = (uint64_t)(uintptr_t)j->watch;
    }
    dispatch_fan_go(f);
}

/* Declare the locks of every queued command (following SELECTs) and of the
 * watched keys. Returns 0 or -1 on out-of-memory. */
static int exec_plan_locks(struct exec_job *j)
{
    struct conn *c = j->c;
    unsigned db = c->db;
    for (size_t i = 0; i < j->nq; i++) {
        struct queued *m = &j->q[i];
        if (m->d->flags & CMD_CONN) {
            int64_t idx;
            if ((m->d->flags & CMD_SETS_DB) &&
                int64str_parse(m->argv[1].ptr, m->argv[1].len, &idx) && idx >= 0 &&
                idx < (int64_t)c->w->set.databases)
                db = (unsigned)idx;
            continue;
        }
        if (cmd_multi_lock_keys(j->t, m->d, db, m->argc, m->argv) != 0)
            return -1;
    }
    for (size_t i = 0; i < j->nwk; i++)
        if (txn_lock_key(j->t, j->wk[i].db, j->wk[i].key, j->wk[i].len, false) != 0)
            return -1;
    return 0;
}

static void exec_exec(struct cmd_ctx *ctx)
{
    struct conn *c = ctx->conn;
    struct txn_client *tc = c->txc;
    /* A script is busy: dispatch let EXEC through to be refused here as
     * Redis refuses it (rejectCommand), discarding any transaction, even
     * without MULTI. */
    if (atomic_load(&server.busy_scripts)) {
        if (tc) {
            queue_clear(tc);
            unwatch_all(tc);
        }
        resp_errorf(ctx->out, "EXECABORT Transaction discarded because of: %s",
                    server_busy_error());
        return;
    }
    if (!tc || !tc->in_multi) {
        resp_error(ctx->out, "ERR EXEC without MULTI");
        return;
    }
    if (tc->errored) {
        queue_clear(tc);
        unwatch_all(tc);
        resp_error(ctx->out, "EXECABORT Transaction discarded because of previous errors.");
        return;
    }
    /* Memory ran out, or a save failed, after the commands were queued:
     * Redis judges EXEC by its queue's flags (mstate.cmd_flags) as it
     * judges each command, and says why it aborts. */
    uint32_t queued = 0;
    for (size_t i = 0; i < tc->nq; i++)
        queued |= tc->q[i].flags;
    const char *why = NULL;
    if ((queued & CMD_DENYOOM) && maxmemory_enabled() && maxmemory_refuses_split())
        why = MAXMEMORY_OOM_ERROR;
    else if (persist_writes_denied(queued & CMD_WRITE))
        why = PERSIST_MISCONF_ERR;
    if (why) {
        queue_clear(tc);
        unwatch_all(tc);
        resp_errorf(ctx->out, "EXECABORT Transaction discarded because of: %s", why);
        return;
    }
    struct exec_job *j = calloc(1, sizeof *j);
    struct slot *sl = j ? reply_fifo_slot_new(c) : NULL;
    if (!sl) {
        free(j);
        queue_clear(tc);
        unwatch_all(tc);
        resp_error(ctx->out, "ERR out of memory");
        return;
    }
    j->c = c;
    j->slot = sl;
    j->q = tc->q;
    j->nq = tc->nq;
    j->watch = tc->watch;
    j->wk = tc->wk;
    j->nwk = tc->nwk;
    rbuf_init(&j->body);
    rbuf_init(&j->scratch);
    tc->q = NULL;
    tc->nq = tc->qcap = 0;
    tc->in_multi = false;
    tc->watch = NULL;
    tc->wk = NULL;
    tc->nwk = tc->wkcap = 0;
    c->inflight++;
    /* Later commands of this client wait for EXEC's reply (and effects). */
    c->flags |= CONN_BARRIER;
    j->t = txn_create();
    if (!j->t || exec_plan_locks(j) != 0) {
        if (j->t)
            txn_finish(j->t);
        j->t = NULL;
        job_end(j, JOB_OOM);
        return;
    }
    if (txn_start(j->t, exec_ready, j) != 0) {
        j->t = NULL;
        job_end(j, JOB_ABORTED);
    }
}

bool cmd_txn_movable(const struct conn *c)
{
    const struct txn_client *tc = c->txc;
    return !tc || (!tc->in_multi && tc->nq == 0 && tc->watch == NULL && tc->nwk == 0);
}

void cmd_txn_conn_free(struct conn *c)
{
    struct txn_client *tc = c->txc;
    if (!tc)
        return;
    queue_clear(tc);
    unwatch_all(tc);
    free(tc);
    c->txc = NULL;
}

/* Arity, flags and key positions as Redis 7.0's COMMAND INFO reports them. */
const struct cmd_def cmd_txn_defs[] = {
    { .name = "multi", .arity = 1, .exec = multi_exec,
      .flags = CMD_NOSCRIPT | CMD_LOADING | CMD_STALE | CMD_FAST | CMD_ALLOW_BUSY | CMD_CONN | CMD_TXN_CONTROL,
      .group = "transactions", .since = "1.2.0",
      .complexity = "O(1)",
      .summary = "Mark the start of a transaction block" },
    { .name = "exec", .arity = 1, .exec = exec_exec,
      .flags = CMD_NOSCRIPT | CMD_LOADING | CMD_STALE | CMD_SKIP_SLOWLOG | CMD_CONN | CMD_AFTER_PRIOR | CMD_TXN_CONTROL | CMD_ENDS_MULTI,
      .group = "transactions", .since = "1.2.0",
      .complexity = "Depends on commands in the transaction",
      .summary = "Execute all commands issued after MULTI" },
    { .name = "discard", .arity = 1, .exec = discard_exec,
      .flags = CMD_NOSCRIPT | CMD_LOADING | CMD_STALE | CMD_FAST | CMD_ALLOW_BUSY | CMD_CONN | CMD_TXN_CONTROL | CMD_ENDS_MULTI,
      .group = "transactions", .since = "2.0.0",
      .complexity = "O(N), when N is the number of queued commands",
      .summary = "Discard all commands issued after MULTI" },
    /* Runs on the connection's thread and routes each of its keys
     * itself (CMD_CONN commands are not routed by their key specs). */
    { .name = "watch", .arity = -2, .exec = watch_exec,
      .flags = CMD_NOSCRIPT | CMD_LOADING | CMD_STALE | CMD_FAST | CMD_ALLOW_BUSY | CMD_CONN | CMD_AFTER_PRIOR | CMD_TXN_CONTROL,
      .keys = { { .flags = CMD_KS_RO, .begin = 1, .last = -1, .step = 1 } },
      .group = "transactions", .since = "2.2.0",
      .complexity = "O(1) for every key.",
      .summary = "Watch the given keys to determine execution of the MULTI/EXEC block" },
    { .name = "unwatch", .arity = 1, .exec = unwatch_exec,
      .flags = CMD_NOSCRIPT | CMD_LOADING | CMD_STALE | CMD_FAST | CMD_ALLOW_BUSY | CMD_CONN,
      .group = "transactions", .since = "2.2.0",
      .complexity = "O(1)",
      .summary = "Forget about all watched keys" },
};
const size_t cmd_txn_ndefs = sizeof cmd_txn_defs / sizeof cmd_txn_defs[0];
