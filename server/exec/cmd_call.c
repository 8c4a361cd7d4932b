/* cmd_call.c — the one execution point of a command (Redis's call()) and
 * the command's own report of what it modified (Redis's
 * signalModifiedKey), with the hooks that features hang off both: WATCH
 * (txn_watch.c) and the save points' dirty counter (persist.c), and the
 * one-listener hooks of the memory bound and keyspace notifications.
 * Runs on whichever thread executes the command; the hook registry is
 * written at start-up only, then read-only. */
#include <stdatomic.h>

#include "server/exec/cmd.h"
#include "server/exec/cmdhist.h"
#include "server/exec/cmdstats.h"
#include "server/exec/slowlog.h"
#include "server/core/notify_classes.h"
#include "server/core/server.h"
#include "server/net/worker.h"

/* The registered hooks (start-up only; read by every worker after). */
static cmd_key_hook_fn key_hooks[CMD_HOOKS_MAX];
static unsigned nkey_hooks;
static cmd_call_hook_fn call_hooks[CMD_HOOKS_MAX];
static unsigned ncall_hooks;

struct cmd_exec_hooks cmd_exec_hooks;

/* Runs of cmd_call and cmd_call_part under way on this thread: above 0,
 * the run starting is inside another (a script's redis.call, EXEC's
 * queued command, a blocked client's pop), which is one command for
 * cmd_exec_hooks.settle. */
static _Thread_local unsigned call_depth;

static inline void enter(void)
{
    call_depth++;
}

/* After a run: the settle hook if this run is the outer one, so that the
 * next command on the shard, whoever sends it, finds what this one left
 * for its end done. The hook's own runs are inner ones. */
static inline void leave(struct cmd_ctx *c)
{
    if (call_depth == 1 && cmd_exec_hooks.settle && c->shard)
        cmd_exec_hooks.settle(c->shard);
    call_depth--;
}

void cmd_settle(struct shard *s)
{
    if (call_depth == 0 && cmd_exec_hooks.settle)
        cmd_exec_hooks.settle(s);
}

/* Is a memory bound set at all? One relaxed load before every command. */
static inline bool bound_set(void)
{
    return __atomic_load_n(&server.cfg.maxmemory, __ATOMIC_RELAXED) != 0;
}

/* This thread's queued keyspace events, published once the reply is
 * whole (the origin's own frames go before it: cmd_ctx.oslot). */
static inline void flush_events(const struct cmd_ctx *c, size_t reply_at)
{
    if (__builtin_expect(notify_pending, 0) && cmd_exec_hooks.flush_events)
        cmd_exec_hooks.flush_events(c, reply_at);
}

int cmd_hook_key(cmd_key_hook_fn fn)
{
    for (unsigned i = 0; i < nkey_hooks; i++)
        if (key_hooks[i] == fn)
            return 0;
    if (nkey_hooks == CMD_HOOKS_MAX)
        return -1;
    key_hooks[nkey_hooks++] = fn;
    return 0;
}

int cmd_hook_call(cmd_call_hook_fn fn)
{
    for (unsigned i = 0; i < ncall_hooks; i++)
        if (call_hooks[i] == fn)
            return 0;
    if (ncall_hooks == CMD_HOOKS_MAX)
        return -1;
    call_hooks[ncall_hooks++] = fn;
    return 0;
}

/* Counted in the shard's and the worker's executed operations (INFO).
 * Only the shard's own thread writes them (RESETSTAT too), so a plain
 * load and store, without a locked add on every command. */
static inline void count_op(struct shard *s)
{
    struct worker *w = s->user;
    s->ctr.ops++;
    worker_stat_add(&w->stats.ops_executed, 1);
}

/* After a run that modified something: the call hooks. Out of line, off
 * the read path. */
static void after_call(const struct cmd_def *d, struct cmd_ctx *c)
{
    for (unsigned i = 0; i < ncall_hooks; i++)
        call_hooks[i](d, c);
}

void cmd_call(const struct cmd_def *d, struct cmd_ctx *c)
{
    struct worker *w = c->shard->user;
    /* A command split over shards is timed where its parts are merged;
     * run whole on one shard, it is timed by its dispatcher too. */
    uint16_t sid =
        (d->flags & (CMD_MULTIKEY | CMD_ALLSHARDS)) ? CMDSTAT_NONE : cmdstat_id(d);
    enter();
    c->dirty = 0;
    /* Over maxmemory: evict first, and refuse what would only grow memory
     * (Redis's processCommand does both before any command). A script's
     * redis.call is not a command Redis processes: the script decided
     * (script_api.c, Redis's scriptVerifyOOM), and nothing is evicted. */
    if (__builtin_expect(bound_set(), 0) && cmd_exec_hooks.admit && !c->script_call &&
        !cmd_exec_hooks.admit(d, c)) {
        call_depth--;
        return;
    }
    size_t reply_at = c->reply_inline ? c->out->len : 0;
    uint64_t t0 = cmdstat_run_begin(w->cmdstats, sid);
    /* Every run is timed for the slow log and the latency monitor: two
     * reads of the cycle counter and one compare (slowlog.h). */
    uint64_t k0 = slowlog_clock();
    d->exec(c);
    uint64_t ticks = slowlog_clock() - k0;
    cmdstat_run_end(w->cmdstats, sid, t0);
    /* (A command split over shards never gets here whole: it is counted
     * where its reply is merged, dispatch_split_done.) */
    if (cmdhist_enabled())
        cmdhist_record(w->id, d, (uint64_t)((double)ticks * slowlog_ns_per_tick));
    if (__builtin_expect(ticks >= atomic_load_explicit(&slowlog_gate, memory_order_relaxed), 0))
        slowlog_note(d, c, ticks);
    if (!(d->flags & CMD_CONN))
        count_op(c->shard);
    if (c->dirty)
        after_call(d, c);
    /* The command's keyspace events, now that its reply is whole. */
    flush_events(c, reply_at);
    leave(c);
}

void cmd_call_part(const struct cmd_def *d, cmd_exec_fn part, struct cmd_ctx *c)
{
    enter();
    c->dirty = 0;
    /* Whether it may run was decided before the split (cmd_multi_plan);
     * here the shard only makes room. */
    if (__builtin_expect(bound_set(), 0) && cmd_exec_hooks.before_part)
        cmd_exec_hooks.before_part(c);
    size_t reply_at = c->reply_inline ? c->out->len : 0;
    part(c);
    count_op(c->shard);
    if (c->dirty)
        after_call(d, c);
    flush_events(c, reply_at);
    leave(c);
}

/* The report itself, inlined into both entry points: SET pays for it on
 * every request. */
static inline __attribute__((always_inline)) void
key_modified(struct cmd_ctx *c, unsigned db, uint32_t cls, const char *event, const void *key,
             size_t klen)
{
    c->dirty++;
    /* Keyspace notifications are not a list of hooks: with them off (the
     * default) this one relaxed load is all they cost. */
    if (__builtin_expect(notify_wanted(cls), 0) && cmd_exec_hooks.key_event)
        cmd_exec_hooks.key_event(cls, event, db, key, klen);
    if (!c->shard)
        return; /* (a unit test's bare context) */
    for (unsigned i = 0; i < nkey_hooks; i++)
        key_hooks[i](c, db, key, klen);
}

void cmd_key_modified_db(struct cmd_ctx *c, unsigned db, uint32_t cls, const char *event,
                         const void *key, size_t klen)
{
    key_modified(c, db, cls, event, key, klen);
}

void cmd_key_modified(struct cmd_ctx *c, uint32_t cls, const char *event, const void *key,
                      size_t klen)
{
    key_modified(c, c->dbidx, cls, event, key, klen);
}

void cmd_db_modified(struct cmd_ctx *c, unsigned db, uint64_t n)
{
    c->dirty += n;
    if (!c->shard)
        return;
    for (unsigned i = 0; i < nkey_hooks; i++)
        key_hooks[i](c, db, NULL, 0);
}
