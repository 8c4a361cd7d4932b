/* hooks.c — the composition root: the lower layers (net/, exec/, txn/,
 * route/) call features only through hooks, and this file is where each
 * feature is plugged in, in one place, so the order in which they run is
 * read here. docs/DESIGN.md, "Layers and hooks". Main thread, at start-up,
 * before any worker runs; everything registered is read-only after. */
#include "server/app/hooks.h"

#include "protocol/resp_enc.h"
#include "server/commands/cmd_block.h"
#include "server/commands/cmd_multi.h"
#include "server/commands/cmd_pubsub.h"
#include "server/commands/cmd_server.h"
#include "server/commands/cmd_table.h"
#include "server/commands/cmd_txn.h"
#include "server/commands/function.h"
#include "server/commands/script.h"
#include "server/exec/cmd.h"
#include "server/exec/cmdstats.h"
#include "server/memory/maxmemory.h"
#include "server/net/conn.h"
#include "server/net/worker.h"
#include "server/persist/persist.h"
#include "server/pubsub/notify.h"
#include "server/pubsub/pubsub.h"
#include "server/route/dispatch.h"
#include "server/txn/txn.h"
#include "server/txn/txn_watch.h"

/* ---- The execution point (exec/cmd_call.c) ----------------------------- */

/* Over maxmemory: evict first, and refuse what would only grow memory
 * (Redis's processCommand does both before any command). */
static bool admit(const struct cmd_def *d, struct cmd_ctx *c)
{
    if (maxmemory_admit(d, c))
        return true;
    resp_error(c->out, MAXMEMORY_OOM_ERROR);
    return false;
}

static void exec_hooks(void)
{
    cmd_table_set_families(cmd_table_families);
    cmd_exec_hooks = (struct cmd_exec_hooks){
        .admit = admit,
        .before_part = maxmemory_before_part,
        .key_event = notify_key,
        .flush_events = notify_flush_cmd,
        /* Clients blocked on a key written by the commands before come
         * first (Redis serves them after each command). */
        .settle = cmd_block_settle,
    };
    /* WATCH hears of every modified key, the save points count them. */
    cmd_hook_key(txn_watch_on_modified);
    cmd_hook_key(cmd_block_on_key);
    cmd_hook_call(persist_on_call);
    /* Function libraries go into snapshots and come back from them. */
    persist_functions = (struct persist_function_hooks){
        .records = function_rdb_records,
        .load = function_rdb_load,
    };
}

/* ---- The connection (net/conn.c) -------------------------------------- */

static void protocol_error(struct conn *c)
{
    errstat_code(c->w->errstats, "ERR");
}

static void conn_info(const struct conn *c, struct conn_info *out)
{
    unsigned subs[PUBSUB_NKINDS];
    pubsub_conn_counts(c, subs);
    out->cmd = c->last_cmd ? c->last_cmd->name : "NULL";
    out->sub = subs[PUBSUB_CHANNEL];
    out->psub = subs[PUBSUB_PATTERN];
    out->ssub = subs[PUBSUB_SHARD];
}

static void conn_hooks(void)
{
    static const struct conn_processor proc = {
        .command = dispatch_command_hashed,
        .protocol_error = protocol_error,
        .unsubscribe_all = pubsub_conn_reset,
        .on_free = cmd_txn_conn_free,
        .hangup = cmd_block_hangup,
        .info = conn_info,
        .movable = cmd_txn_movable,
    };
    conn_set_processor(&proc);
}

/* ---- The worker loop (net/worker.c) ------------------------------------ */

static void thread_start(struct worker *w)
{
    notify_shard_attach(w->shard);
    cmd_block_thread_start(w);
}

static void turn_end(struct worker *w)
{
    /* Blocked clients are served after the turn's writes, and their
     * replies and pushes leave with this turn's batches. */
    cmd_block_serve(w);
    dispatch_flush_batches(w);
}

static void turn_begin(struct worker *w)
{
    /* Keyspace events of the cron (active expiry) and of eviction, which
     * no command's end published. */
    if (notify_pending)
        notify_flush();
    /* The workers this turn's messages went to: they are in their inboxes
     * already; this wakes their idle subscribers' workers. */
    pubsub_flush(w);
    /* Requests held here behind a busy script's transaction: -BUSY now,
     * written by this turn. */
    dispatch_busy_held(w->shard);
}

static void tick(struct worker *w, int64_t now_ms)
{
    if (w->id == 0)
        cmd_server_sample(now_ms); /* INFO's instantaneous ops/sec */
    maxmemory_tick(w->shard, w->id == 0);
}

static void stop_begin(struct worker *w)
{
    (void)w;
    maxmemory_thread_end();
}

static void stop_end(struct worker *w)
{
    /* Blocked clients end before the last batches leave. */
    cmd_block_thread_stop(w);
    /* Requests queued this turn still go out: shards not stopped yet run
     * them, so no write is half done; their replies to us are dropped. */
    dispatch_flush_batches(w);
    dispatch_pool_drain(w);
    notify_thread_cleanup();
    script_thread_cleanup();
}

static void worker_hooks(void)
{
    static const struct worker_hooks h = {
        .thread_start = thread_start,
        .turn_begin = turn_begin,
        .turn_end = turn_end,
        .tick = tick,
        .stop_begin = stop_begin,
        .stop_end = stop_end,
    };
    worker_set_hooks(&h);
}

/* ---- The transaction sequencer (txn/txn.c) ---------------------------- */

static void txn_hooks(void)
{
    static const struct txn_route route = {
        .held_run = dispatch_held_run,
        .reply_made = dispatch_reply_made,
        .flush_batches = dispatch_flush_batches,
    };
    txn_set_route(&route);
}

/* ---- Routing (route/dispatch.c) ---------------------------------------- */

/* Once the last background save failed: Redis refuses writes while
 * stop-writes-on-bgsave-error is on and save points are configured. */
static bool writes_denied(const struct cmd_def *d)
{
    return (d->flags & (CMD_WRITE | CMD_MISCONF)) != 0 && persist_stop_writes_configured();
}

/* A command spanning shards is done: its keyspace events, ordered as its
 * plan says (notify_publish_parts). */
static void publish_events(const struct conn *c, struct rbuf *out, size_t *at, size_t argc,
                           const struct resp_arg *argv, const struct rbuf *events)
{
    const struct cmd_def *container;
    const struct cmd_def *d = argc ? cmd_lookup_argv(argc, argv, &container) : NULL;
    const struct cmd_plan *pl = d ? d->plan : NULL;
    notify_publish_parts(c, out, at, d, argc, argv, pl && pl->events_dest_first, events);
    /* Wake the workers these messages went to now, not at the end of the
     * turn: the caller releases the keys' locks next, and a worker must
     * deliver them before any later event on those keys that it publishes
     * itself (its mailbox keeps this thread's order). */
    struct worker *w = worker_current();
    if (w)
        pubsub_flush(w);
}

static void route_hooks(void)
{
    static const struct dispatch_hooks h = {
        .writes_maybe_denied = &persist_last_failed,
        .writes_denied = writes_denied,
        .writes_denied_err = PERSIST_MISCONF_ERR,
        .in_multi = cmd_txn_in_multi,
        .intercept = cmd_txn_intercept,
        .flag_error = cmd_txn_flag_error,
        .pubsub_refuses = cmd_pubsub_refuses,
        .pubsub_catch_up = pubsub_catch_up,
        .publish_events = publish_events,
        .multi_dispatch = cmd_multi_dispatch,
        .multi_home = cmd_multi_home,
        .multi_lock_keys = cmd_multi_lock_keys,
        .busy_origin = script_busy_origin,
    };
    dispatch_set_hooks(&h);
}

void app_hooks_register(void)
{
    route_hooks();
    exec_hooks();
    txn_hooks();
    conn_hooks();
    worker_hooks();
}
