/* dispatch.c — routing parsed commands: the checks Redis makes before a
 * command runs (unknown, arity, auth, MISCONF, busy scripts), then the
 * shard that owns the key (a batch for another worker's shard, batch.c; or
 * inline on this one), a multi-key command's fan-out (fan.c) or the
 * connection's own thread; the client's program order is order.c's.
 * Worker threads. */
#include "server/route/dispatch.h"
#include "server/route/dispatch_internal.h"

#include <assert.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/hash.h"
#include "server/exec/cmdhist.h"
#include "server/exec/cmdstats.h"
#include "server/exec/slowlog.h"
#include "server/net/conn.h"
#include "server/util/log.h"
#include "server/net/outbuf.h"
#include "server/net/reply_fifo.h"
#include "server/core/notify_classes.h"
#include "server/core/server.h"
#include "server/txn/txn.h"
#include "server/net/worker.h"

/* The start of the split command being dispatched on this thread, for
 * the first fan it creates (its own; later ones are sub-fans). */
static _Thread_local uint64_t split_t0;

/* What the owner reads of a single request fits one cache line (dispatch.h). */
_Static_assert(sizeof(void *) != 8 || offsetof(struct req, next) <= 64,
               "struct req: the owner's fields spill out of the first cache line");

/* Never set: what writes_maybe_denied points to when nobody refuses
 * writes, so the check per command is two loads and no test. */
static const _Atomic bool never_denied;

/* The interceptions of the layers above (dispatch_set_hooks). */
static struct dispatch_hooks hooks = {.writes_maybe_denied = &never_denied};

void dispatch_set_hooks(const struct dispatch_hooks *h)
{
    hooks = *h;
    if (!hooks.writes_maybe_denied)
        hooks.writes_maybe_denied = &never_denied;
}

/* ---- Commands ----------------------------------------------------------- */

/* Redis 7's reply for an unknown command: the name and the first arguments,
 * quoted, at most 128 bytes each way, C-string semantics (an argument ends
 * at its first NUL byte, as Redis's "%.*s" does), CR/LF made spaces. */
void dispatch_reply_unknown(struct rbuf *out, size_t argc, const struct resp_arg *argv)
{
    char args[160 + 4];
    size_t al = 0;
    args[0] = '\0';
    for (size_t i = 1; i < argc && al < 128; i++) {
        size_t room = 128 - al;
        size_t n = strnlen(argv[i].ptr, argv[i].len);
        if (n > room)
            n = room;
        args[al++] = '\'';
        memcpy(args + al, argv[i].ptr, n);
        al += n;
        args[al++] = '\'';
        args[al++] = ' ';
    }
    args[al] = '\0';
    size_t nl = strnlen(argv[0].ptr, argv[0].len);
    if (nl > 128)
        nl = 128;
    char msg[512];
    int n = snprintf(msg, sizeof msg, "ERR unknown command '%.*s', with args beginning with: %s",
                     (int)nl, argv[0].ptr, args);
    if (n < 0)
        return;
    size_t len = (size_t)n < sizeof msg ? (size_t)n : sizeof msg - 1;
    for (size_t i = 0; i < len; i++)
        if (msg[i] == '\r' || msg[i] == '\n')
            msg[i] = ' ';
    msg[len] = '\0';
    resp_error(out, msg);
}

/* No memory to queue a request of c (whose slot sl, if made, is left
 * empty): c is closed, as Redis closes a client it cannot serve. */
static void queue_failed(struct conn *c, struct slot *sl)
{
    if (sl)
        dispatch_slot_complete(c, sl); /* empty, and the conn closes anyway */
    log_warn("Closing client id=%llu addr=%s: out of memory queueing a request",
             (unsigned long long)c->id, c->addr);
    conn_close(c);
}

/* A request of c, command sid, is queued with its reply to come in slot
 * sl: it counts in c's unit, in flight and in commandstats. */
static void queued(struct conn *c, struct slot *sl, uint16_t sid)
{
    sl->stat = sid; /* slot_complete counts a failure */
    cmdstat_call(c->w->cmdstats, sid);
    c->inflight++;
    c->ord_out++;
}

void dispatch_route(struct conn *c, const struct cmd_def *d, unsigned shard, cmd_exec_fn exec,
                    size_t argc, const struct resp_arg *argv, uint16_t sid,
                    const uint64_t *khash)
{
    struct worker *w = c->w;
    /* Local, nothing of the client unexecuted anywhere (program order), and
     * not behind a transaction's intent lock: run it inline. (A multi-key
     * command of the client still out holds its later commands back:
     * cmd_multi_plan_fan's barrier.) */
    bool here = shard == w->id;
    if (here && c->ord_out == 0 &&
        txn_may_run(w->shard, d, c->db, argc, argv, c, khash)) {
        struct rbuf *out = reply_fifo_buf(c);
        if (!out) {
            conn_close(c);
            return;
        }
        size_t before = out->len;
        if (khash)
            remember_key_hash(d, argc, argv, *khash);
        run_exec(w->shard, d, exec, c->db, c->proto, argc, argv, out, w->now_ms, NULL, c);
        hash_key_forget();
        if (sid != CMDSTAT_NONE) {
            cmdstat_call(w->cmdstats, sid);
            cmdstat_reply(w, sid, out->ptr + before, out->len - before);
        }
        outbuf_local(c, out->len - before);
        return;
    }
    /* The request joins the client's unit (see "Program order" above; the
     * caller has made sure it may: order_must_wait). */
    if (c->ord_out == 0)
        c->ord_shard = shard;
    else if (c->ord_shard != shard && !c->ord_group) {
        assert(!c->ord_sent);
        c->ord_group = true;
        w->ord_grouped = true;
    }
    /* Grouped, for this shard: with the turn's other requests for it,
     * run when the group's part here does (group_local.c). Not while
     * keyspace events are on, if this turn's requests for this shard went
     * out as requests (group_events.c reads them). */
    if (here && c->ord_group && (w->glocal || (!w->out[w->id] && !notify_on()))) {
        struct slot *sl = reply_fifo_slot_new(c);
        if (!sl || group_local_add(w, c, sl, d, exec, argc, argv, khash) != 0) {
            queue_failed(c, sl);
            return;
        }
        queued(c, sl, sid);
        return;
    }
    /* Held on this shard, not batched to it: a plain unit here. */
    bool hold = here && !c->ord_group;
    struct req *r = dispatch_req_new_routed(c, argc, argv);
    struct slot *sl = r ? reply_fifo_slot_new(c) : NULL;
    if (!sl || (!hold && dispatch_batch_add(w, shard, r) != 0)) {
        if (r)
            dispatch_req_free(w, r);
        queue_failed(c, sl);
        return;
    }
    r->conn = c;
    r->slot = sl;
    queued(c, sl, sid);
    r->cmd = d;
    r->exec = exec;
    r->db = c->db;
    r->proto = c->proto;
    r->khashed = khash != NULL;
    if (khash)
        r->khash = *khash;
    /* A request with no key of its own (or one for every shard) cannot
     * be locked as part of a group: nothing may join its unit. */
    if (hold || cmd_first_key(d, argc, argv) == 0 || (d->flags & CMD_ALLSHARDS))
        c->ord_sent = true;
    /* Alone in the FIFO with nothing being written: nothing can be sent
     * before this reply, so its owner may send it (direct_send). Only for
     * a client that sent just this command: behind it, the rest of a
     * pipeline would be written separately, one more write for nothing. */
    if (!here && c->lone_cmd && c->head == sl && c->nwrites == 0 && !conn_is_closing(c) &&
        !c->ps) /* (frames of its own keyspace events go before the reply) */
        r->direct_fd = conn_direct_begin(c);
    if (hold) {
        r->shard = shard;
        txn_hold(w->shard, r, NULL); /* dispatch_held_run completes it */
        return;
    }
    order_track(w, c, r);
}

/* Is p[0..n) the name of d, ASCII case-insensitively? d->name is lower case. */
static bool same_cmd_name(const struct cmd_def *d, const char *p, size_t n)
{
    const char *name = d->name;
    for (size_t i = 0; i < n; i++) {
        char ch = p[i];
        if (ch >= 'A' && ch <= 'Z')
            ch = (char)(ch + ('a' - 'A'));
        if (name[i] == '\0' || name[i] != ch)
            return false;
    }
    return name[n] == '\0';
}

/* Commandstats for a command just dispatched on c, whose reply begins after
 * byte tail_len of slot tail (NULL: at the FIFO's head): an error already
 * there counts as failed now; a reply still to come is tagged, and
 * slot_complete counts it. t0: the run's start if timed until its reply. */
static void reply_note_stat(struct conn *c, struct slot *tail, size_t tail_len, uint16_t sid,
                            uint64_t t0)
{
    if (c->flags & CONN_CLOSING)
        return; /* (a closed connection's slots are gone) */
    struct slot *s = tail ? tail : c->head;
    size_t off = tail ? tail_len : 0;
    if (s && s == tail && s->out.len == off) {
        s = s->next; /* nothing went into the old tail: a slot of its own */
        off = 0;
    }
    if (s && !s->done) {
        s->stat = sid;
        s->stat_t0 = t0;
        return;
    }
    cmdstat_run_end(c->w->cmdstats, sid, t0);
    if (s && s->out.len > off)
        cmdstat_reply(c->w, sid, s->out.ptr + off, s->out.len - off);
}

/* Refuse d for a subscribed RESP2 client if Redis would (cmd_pubsub.h),
 * counting it as Redis's rejectCommand does. Returns true if refused. */
static bool pubsub_reject(struct conn *c, const struct cmd_def *d, size_t argc,
                              const struct resp_arg *argv, uint16_t sid)
{
    struct rbuf err;
    rbuf_init(&err);
    if (!hooks.pubsub_refuses || !hooks.pubsub_refuses(c, d, argc, argv, &err))
        return false;
    struct rbuf *out = reply_fifo_buf(c);
    if (!out || err.oom) {
        rbuf_deinit(&err);
        conn_close(c);
        return true;
    }
    rbuf_append(out, err.ptr, err.len);
    cmdstat_reject(c->w->cmdstats, sid);
    errstat_reply(c->w->errstats, err.ptr, err.len);
    rbuf_deinit(&err);
    if (c->txc)
        hooks.flag_error(c);
    return true;
}

/* Must d be refused because writes are (persistence's MISCONF)? One
 * relaxed load while saves succeed. */
static inline bool writes_denied(const struct cmd_def *d)
{
    return atomic_load_explicit(hooks.writes_maybe_denied, memory_order_relaxed) &&
           hooks.writes_denied(d);
}

/* Is c a busy script's own client (whose commands wait, never -BUSY)? */
static bool busy_origin(const struct conn *c)
{
    return hooks.busy_origin && hooks.busy_origin(c);
}

/* Is d refused with -BUSY? While a script runs past busy-reply-threshold,
 * on any worker, every command but the allow-busy ones is, as Redis
 * refuses them to every client, but the script's own client's: Redis does
 * not read that one until the script ends, so its commands wait (behind
 * the EVAL, in program order). On the busy thread itself (its hook
 * answering the clients, worker_serve_busy) WATCH is refused too: it
 * would visit the shard whose script is still on the stack. */
static bool busy_refused(const struct conn *c, const struct worker *w, const struct cmd_def *d)
{
    if (atomic_load_explicit(&server.busy_scripts, memory_order_relaxed) == 0)
        return false;
    if (busy_origin(c))
        return false;
    /* EXEC aborts its transaction instead (Redis's rejectCommand on EXEC),
     * in exec_exec, which touches no shard then. */
    if (strcmp(d->name, "exec") == 0)
        return false;
    if (!(d->flags & CMD_ALLOW_BUSY))
        return true;
    return w->serving_busy && (d->flags & CMD_AFTER_PRIOR); /* WATCH */
}


/* Would dispatch refuse request r with -BUSY now, and may it be answered
 * so without running: a single command (not a fan-out part), not flagged
 * allow-busy, of another client than a busy script's? */
static bool busy_answerable(const struct req *r)
{
    return r->cmd && !r->fan && !(r->cmd->flags & CMD_ALLOW_BUSY) &&
           !busy_origin(r->conn);
}

/* r's reply is -BUSY. */
static void busy_reply(struct req *r)
{
    r->out.len = 0;
    resp_error(&r->out, server_busy_error()); /* (out of memory: the origin says so) */
}

/* busy_take's part for a batch back from its shard with the replies of
 * this thread's clients: their slots are completed and written now, if
 * every request is a single one of another client than the script's
 * (nothing runs: the replies go into slots). A client whose request was
 * out when the script began would otherwise wait for the script's end,
 * and so would every reply it was given after (a PING's, answered at
 * once, queued behind it). */
static bool busy_take_replies(struct shard *s, struct batch *b)
{
    if (b->grouped)
        return false;
    for (size_t i = 0; i < b->n; i++) {
        const struct req *r = b->v[i].r;
        if (r->fan || busy_origin(r->conn))
            return false;
    }
    dispatch_on_batch_done(s, &b->msg);
    return true;
}

/* mailbox_sweep's offer while a script on this thread is busy: a batch
 * back with replies (busy_take_replies), or a batch of single requests,
 * each of which dispatch would refuse with -BUSY now (busy_refused; EXEC
 * is never routed alone), answered so without running, and sent back. It
 * was posted before the threshold passed: Redis would answer it -BUSY too.
 * A batch with anything else (a fan-out part, a group's request, an
 * allow-busy command, a command of a busy script's own client) waits for
 * the script's end. */
static bool busy_take(void *owner, struct mbox_msg *m, void *arg)
{
    (void)arg;
    struct shard *s = owner;
    struct batch *b = (struct batch *)m;
    if (m->handle == dispatch_on_batch_done)
        return busy_take_replies(s, b);
    if (m->handle != dispatch_on_batch_exec || b->grouped || b->held || b->out.len)
        return false;
    for (size_t i = 0; i < b->n; i++)
        if ((b->v[i].end & BENT_FLAGS) || !busy_answerable(b->v[i].r))
            return false;
    for (size_t i = 0; i < b->n; i++) {
        busy_reply(b->v[i].r);
        b->v[i].end = BENT_OWN; /* in r->out; b->out stays empty */
    }
    s->ctr.batches++;
    b->msg.handle = dispatch_on_batch_done;
    shard_post(shard_group_get(server.group, b->origin), &b->msg);
    return true;
}

/* txn_held_sweep's offer while a script is busy: a held request that
 * busy_answerable accepts has not run; it waits behind a transaction (the
 * busy script's own, one stuck behind it, or one that came before a
 * script that then started ahead of it on this thread). Redis, reading it
 * during the script, answers -BUSY. */
static void held_busy_take(struct shard *s, struct req *r, void *ctx)
{
    busy_reply(r);
    dispatch_held_reply(s, r, ctx);
}

void dispatch_busy_answer(struct shard *s)
{
    if (atomic_load_explicit(&server.busy_scripts, memory_order_relaxed) == 0)
        return;
    mailbox_sweep(&s->mbox, busy_take, NULL);
    txn_held_sweep(s, busy_answerable, held_busy_take);
}

void dispatch_busy_held(struct shard *s)
{
    if (atomic_load_explicit(&server.busy_scripts, memory_order_relaxed) > 0)
        txn_held_sweep(s, busy_answerable, held_busy_take);
}

/* Count a keyed command of c for `shard` in the run of commands for one
 * other shard that moves c there once it is long enough (conn_move). */
static inline void move_note(struct conn *c, unsigned shard)
{
    if (shard == c->w->id) {
        c->mv_run = 0;
        return;
    }
    if (c->mv_shard != shard) {
        c->mv_shard = shard;
        c->mv_run = 0;
    }
    c->mv_run++;
}

bool dispatch_command(struct conn *c, size_t argc, const struct resp_arg *argv)
{
    return dispatch_command_hashed(c, argc, argv, NULL);
}

bool dispatch_command_hashed(struct conn *c, size_t argc, const struct resp_arg *argv,
                             const uint64_t *key1_hash)
{
    struct worker *w = c->w;
    /* A subscriber's reply comes after every message published before it
     * sent the command (Redis writes a message into every subscriber's
     * output before PUBLISH returns). */
    if (__builtin_expect(c->ps != NULL, 0) && hooks.pubsub_catch_up)
        hooks.pubsub_catch_up(w);
    /* Pipelines repeat one command: checking the client's previous one
     * first skips the table's hashing for most commands. */
    const struct cmd_def *d = c->last_cmd, *container = NULL;
    if (!d || d->nsubs || !same_cmd_name(d, argv[0].ptr, argv[0].len))
        d = cmd_lookup_argv(argc, argv, &container); /* "CONFIG GET": config|get */
    bool misconf = false; /* a write after a failed save (server/persist/persist.h) */
    bool busy = false;    /* a script is busy (busy_refused) */
    bool refused = !d || !cmd_arity_ok(d, argc) ||
                   (!c->authenticated && !(d->flags & CMD_NOAUTH) && worker_requirepass()) ||
                   (misconf = writes_denied(d)) || (busy = busy_refused(c, w, d));
    /* A single-key command's shard; a keyless one runs on this worker's. */
    bool single = !refused && !(d->flags & (CMD_CONN | CMD_MULTIKEY | CMD_ALLSHARDS));
    size_t kpos = single ? cmd_first_key(d, argc, argv) : 0;
    bool keyed = kpos > 0;
    unsigned shard = w->id;
    uint64_t khash = 0;
    if (keyed) {
        const struct resp_arg *k = &argv[kpos];
        khash = key1_hash && kpos == 1 ? *key1_hash : hash_key(k->ptr, k->len);
        shard = shard_group_route_hash(server.group, khash);
    }
    /* Program order: what may touch data waits for the client's unit
     * unless it can follow or join it. Connection commands touch none,
     * but those flagged CMD_AFTER_PRIOR (EXEC, WATCH, SAVE) read or write
     * across shards. Commands queued by MULTI run later, in EXEC. A
     * multi-key command (a script) whose keys are all on one shard runs
     * there whole, so it follows or joins the unit as a single-key
     * command would. */
    int home = -1;
    if (c->ord_out > 0 && !refused &&
        ((d->flags & CMD_CONN) ? (d->flags & CMD_AFTER_PRIOR)
                               : !(c->txc && hooks.in_multi(c)))) {
        if (!single && !(d->flags & CMD_CONN) && hooks.multi_home &&
            (home = hooks.multi_home(c, d, argc, argv)) >= 0) {
            keyed = true;
            shard = (unsigned)home;
        }
        if (order_must_wait(c, keyed, shard)) {
            c->flags |= CONN_ORDER_WAIT;
            return false;
        }
    }
    c->ncmds++;
    worker_stat_add(&w->stats.cmds, 1);

    uint16_t sid = cmdstat_id(d);
    if (refused) {
        struct rbuf *out = reply_fifo_buf(c);
        if (!out) {
            conn_close(c);
            return true;
        }
        size_t before = out->len;
        if (!d && container) {
            /* Redis's processCommand: argv[0] upper-cased, the
             * subcommand cut at 128 bytes and at a NUL. */
            char up[32];
            size_t n = strlen(container->name);
            for (size_t i = 0; i <= n && i < sizeof up; i++)
                up[i] = (char)(container->name[i] >= 'a' && container->name[i] <= 'z'
                                   ? container->name[i] - ('a' - 'A')
                                   : container->name[i]);
            up[sizeof up - 1] = '\0';
            size_t sl = strnlen(argv[1].ptr, argv[1].len);
            resp_errorf(out, "ERR unknown subcommand '%.*s'. Try %s HELP.",
                        (int)(sl > 128 ? 128 : sl), argv[1].ptr, up);
        } else if (!d) {
            dispatch_reply_unknown(out, argc, argv);
        }
        else if (!cmd_arity_ok(d, argc))
            resp_errorf(out, "ERR wrong number of arguments for '%s' command", d->name);
        else if (misconf)
            resp_error(out, hooks.writes_denied_err);
        else if (busy)
            resp_error(out, server_busy_error());
        else
            resp_error(out, "NOAUTH Authentication required.");
        cmdstat_reject(w->cmdstats, sid);
        if (out->len > before)
            errstat_reply(w->errstats, out->ptr + before, out->len - before);
        if (c->txc)
            hooks.flag_error(c); /* inside MULTI: EXEC aborts */
        return true;
    }
    /* A subscribed RESP2 client runs only what Redis allows it (pubsub.h). */
    if (c->ps && pubsub_reject(c, d, argc, argv, sid))
        return true;
    c->last_cmd = d;
    /* Inside MULTI, commands are queued for EXEC (cmd_txn.c). */
    if (c->txc && hooks.intercept(c, d, argc, argv))
        return true;

    if (single) {
        if (keyed)
            move_note(c, shard);
        dispatch_route(c, d, shard, d->exec, argc, argv, sid, keyed ? &khash : NULL);
        return true;
    }
    if (!(d->flags & CMD_CONN)) {
        /* A multi-key command spans shards, except for a queue consumer:
         * a blocking pop is served by its first key when that has data. */
        size_t k = (d->flags & CMD_BLOCKING) ? cmd_first_key(d, argc, argv) : 0;
        if (k > 0)
            move_note(c, shard_group_route(server.group, argv[k].ptr, argv[k].len));
        else
            c->mv_run = 0;
    }
    /* Where this command's reply will begin, for its commandstats. */
    struct slot *tail = c->tail;
    size_t tail_len = tail ? tail->out.len : 0;
    uint64_t t0 = 0;
    if (d->flags & CMD_CONN) {
        struct rbuf *out = reply_fifo_buf(c);
        if (!out) {
            conn_close(c);
            return true;
        }
        struct cmd_ctx ctx = {
            .shard = w->shard,
            .db = shard_db(w->shard, c->db),
            .dbidx = c->db,
            .proto = c->proto,
            .argc = argc,
            .argv = argv,
            .out = out,
            .now_ms = w->now_ms,
            .priv = NULL,
            .conn = c,
            .origin = c,
        };
        cmd_call(d, &ctx);
    } else {
        /* Multi-key or all shards: timed from here to the merged reply
         * (cmdstats.h). */
        t0 = cmdstat_run_begin(w->cmdstats, sid);
        split_t0 = slowlog_clock(); /* taken by the command's fan (fan_new) */
        hooks.multi_dispatch(c, d, argc, argv, home);
        split_t0 = 0;
    }
    cmdstat_call(w->cmdstats, sid);
    reply_note_stat(c, tail, tail_len, sid, t0);
    return true;
}

/* ---- For the fan-out engine, program order and groups' events ----------- *
 * (dispatch_internal.h) */

int dispatch_lock_keys(struct txn *t, const struct cmd_def *d, unsigned db, size_t argc,
                       const struct resp_arg *argv)
{
    return hooks.multi_lock_keys(t, d, db, argc, argv);
}

void dispatch_req_publish(struct req *r)
{
    if (r->events.len == 0 || !hooks.publish_events)
        return;
    size_t at = r->slot->out.len; /* (its reply is appended after) */
    hooks.publish_events(r->conn, &r->slot->out, &at, 0, NULL, &r->events);
}

void dispatch_fan_events(struct fan *f, struct req *const *parts, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct rbuf *e = &parts[i]->events;
        if (e->len == 0)
            continue;
        if (f->events.len == 0 && f->events.ptr == NULL) {
            f->events = *e; /* (the first part's: no copy) */
            rbuf_init(e);
        } else if (rbuf_append(&f->events, e->ptr, e->len) != 0) {
            /* No memory to keep them: what is kept goes now. */
            f->events.oom = false;
            dispatch_fan_publish(f);
            rbuf_append(&f->events, e->ptr, e->len);
        }
    }
}

void dispatch_fan_publish(struct fan *f)
{
    if (f->events.len == 0 || !hooks.publish_events)
        return;
    /* The client's own frames go before its reply, which the step writes
     * into its slot (a sub-fan of EXEC writes into EXEC's reply: there
     * they go after it). */
    struct rbuf *out = f->slot ? f->out : NULL;
    size_t at = f->frames_len;
    hooks.publish_events(f->conn, out, out ? &at : NULL, f->argc, f->argv, &f->events);
    f->frames_len = at;
    rbuf_deinit(&f->events);
}

/* ---- The slow log's view of split commands (dispatch.h) ------------------ */

uint64_t dispatch_split_take(void)
{
    uint64_t t = split_t0;
    split_t0 = 0;
    return t;
}
void dispatch_split_done(struct conn *c, size_t argc, const struct resp_arg *argv, uint64_t t0)
{
    if (!t0)
        return;
    uint64_t ticks = slowlog_clock() - t0;
    const struct cmd_def *container;
    const struct cmd_def *d = cmd_lookup_argv(argc, argv, &container);
    if (!d)
        return;
    if (cmdhist_enabled())
        cmdhist_record(c->w->id, d, (uint64_t)((double)ticks * slowlog_ns_per_tick));
    if (ticks < atomic_load_explicit(&slowlog_gate, memory_order_relaxed))
        return;
    struct cmd_ctx ctx = {
        .shard = c->w->shard,
        .dbidx = c->db,
        .proto = c->proto,
        .argc = argc,
        .argv = argv,
        .conn = c,
        .origin = c,
    };
    slowlog_note(d, &ctx, ticks);
}
