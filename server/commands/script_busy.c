/* script_busy.c — long scripts and Lua's memory: busy-reply-threshold,
 * SCRIPT KILL, SHUTDOWN NOSAVE's way out of a busy script, and the
 * allocator that counts and bounds what each worker's Lua states hold.
 *
 * A script runs on one worker thread (its shard's, or its connection's
 * across shards) with a count hook (Redis's luaMaskCountHook). Past the
 * threshold the hook marks its worker busy: server.busy_scripts > 0 makes
 * every worker's dispatch answer -BUSY to commands not flagged allow-busy,
 * as Redis answers every client. The busy thread itself cannot run its
 * loop, so the hook accepts new clients on its listeners, reads its other
 * clients' sockets and answers them (worker_serve_busy), as Redis's
 * processEventsWhileBlocked does: SCRIPT KILL and SHUTDOWN NOSAVE reach it
 * from any connection. Requests already posted to the busy thread's
 * mailbox, or held there behind a transaction (before the threshold), get
 * -BUSY from there, without running (dispatch_busy_answer), but for those
 * dispatch could not answer so:
 * fan-out parts, a group's requests and allow-busy commands wait for the
 * script's end.
 *
 * Each worker has a slot (struct busy_slot) that other threads read:
 * SCRIPT KILL (any worker) moves its state with compare-and-swap, so a
 * script that writes and a SCRIPT KILL racing with it agree on which came
 * first. The hook, the allocator and script_busy_begin/end run on the
 * script's thread. */
#include "server/commands/script_internal.h"

#include <lauxlib.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "server/core/server.h"
#include "server/net/worker.h"
#include "server/route/dispatch.h"
#include "server/util/log.h"

/* How often a busy thread reads its clients' sockets. */
#define SERVE_EVERY_MS 10

#define KILLED_ERR "-ERR Script killed by user with SCRIPT KILL..."

/* What a worker's running script may still become. */
enum {
    RUN_KILLABLE = 0, /* no write yet: SCRIPT KILL may stop it */
    RUN_KILL = 1,     /* SCRIPT KILL asked: the hook raises at its next call */
    RUN_WROTE = 2,    /* it wrote: only SHUTDOWN NOSAVE stops it */
    RUN_SHUTDOWN = 3, /* SHUTDOWN NOSAVE: stops whatever it did */
};

/* One per worker; read by any thread, written by its owner unless said. */
struct busy_slot {
    _Atomic bool busy;           /* running past the threshold */
    _Atomic int state;           /* RUN_* (SCRIPT KILL and SHUTDOWN too) */
    _Atomic size_t lua_bytes;    /* bytes the thread's Lua states hold
                                    (relaxed stores by the owner only) */
    _Atomic bool function;       /* the busy script is a function (FCALL) */
    pthread_mutex_t lock;        /* guards running (FUNCTION STATS reads it) */
    struct rbuf running;         /* a busy function: its name and command
                                    as RESP (bulk, then an array) */
    int64_t start_ms;            /* when it began; under lock */
    const struct conn *_Atomic origin; /* the running script's client (on
                                    any worker; compared only), NULL if none */
};

/* Room for every worker ("threads" is at most 1024); index 1024 serves a
 * thread that is no worker (tests). */
#define NSLOTS 1025
static struct busy_slot slots[NSLOTS];
static pthread_once_t slots_once = PTHREAD_ONCE_INIT;

static void slots_init(void)
{
    for (size_t i = 0; i < NSLOTS; i++) {
        pthread_mutex_init(&slots[i].lock, NULL);
        rbuf_init(&slots[i].running);
    }
}

static _Thread_local int64_t tl_start_ms;          /* when the script began */
static _Thread_local int64_t tl_served_ms;         /* last worker_serve_busy */
static _Thread_local const struct conn *tl_origin; /* the script's client */
static _Thread_local int tl_depth;                 /* scripts running (nested
                                                      EXEC/EVAL cannot, but
                                                      be safe) */
static _Thread_local bool tl_hold;                 /* inside redis.call: no bound */
static _Thread_local bool tl_kept;                 /* a step ended with its slot's
                                                      state kept for the next
                                                      (script_busy_step_end) */
/* The function running on this thread (script_busy_function), borrowed
 * for the run or step; NULL for EVAL. */
static _Thread_local const char *tl_fname;
static _Thread_local size_t tl_fname_len, tl_argc;
static _Thread_local const struct resp_arg *tl_argv;

static struct busy_slot *my_slot(void)
{
    pthread_once(&slots_once, slots_init);
    struct worker *w = worker_current();
    return &slots[w && w->id < NSLOTS - 1 ? w->id : NSLOTS - 1];
}

/* ---- Lua's allocator ---------------------------------------------------- */

/* Lua's allocator (lua_Alloc): counts every byte in the thread's slot and,
 * while a script runs, refuses growth past lua-memory-limit; Lua then
 * raises "not enough memory" inside the script. Outside a script
 * (building the state, KEYS, the reply) nothing is refused: a failure
 * there would be unprotected, and Lua would abort the process. */
static void *lua_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    struct busy_slot *b = ud;
    size_t used = atomic_load_explicit(&b->lua_bytes, memory_order_relaxed);
    if (nsize == 0) {
        free(ptr);
        atomic_store_explicit(&b->lua_bytes, used - osize, memory_order_relaxed);
        return NULL;
    }
    if (nsize > osize && tl_depth > 0 && !tl_hold) {
        int64_t limit = __atomic_load_n(&server.cfg.lua_memory_limit, __ATOMIC_RELAXED);
        if (limit > 0 && used - osize + nsize > (size_t)limit)
            return NULL;
    }
    void *p = realloc(ptr, nsize);
    if (!p)
        return NULL; /* Lua 5.1 never shrinks into a failure: realloc can't */
    atomic_store_explicit(&b->lua_bytes, used - osize + nsize, memory_order_relaxed);
    return p;
}

lua_State *script_state_new(void)
{
    return lua_newstate(lua_alloc, my_slot());
}

void script_mem_hold(bool on)
{
    tl_hold = on;
}

size_t script_memory_used(void)
{
    size_t total = 0;
    for (size_t i = 0; i < NSLOTS; i++)
        total += atomic_load_explicit(&slots[i].lua_bytes, memory_order_relaxed);
    return total;
}

/* ---- The hook ----------------------------------------------------------- */

int script_busy_raise_killed(lua_State *L)
{
    script_push_error(L, KILLED_ERR, sizeof KILLED_ERR - 1);
    return lua_error(L);
}

void script_busy_hook(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    struct busy_slot *b = my_slot();
    int64_t now = clock_wall_ms();
    if (!atomic_load_explicit(&b->busy, memory_order_relaxed)) {
        int64_t limit = __atomic_load_n(&server.cfg.busy_reply_threshold, __ATOMIC_RELAXED);
        if (now - tl_start_ms < limit)
            return;
        if (tl_fname) {
            /* FUNCTION STATS shows it; -BUSY names FUNCTION KILL. */
            pthread_mutex_lock(&b->lock);
            b->running.len = 0;
            b->running.oom = false;
            resp_bulk(&b->running, tl_fname, tl_fname_len);
            resp_array(&b->running, tl_argc);
            for (size_t i = 0; i < tl_argc; i++)
                resp_bulk(&b->running, tl_argv[i].ptr, tl_argv[i].len);
            b->start_ms = tl_start_ms;
            pthread_mutex_unlock(&b->lock);
            atomic_store(&b->function, true);
            atomic_fetch_add(&server.busy_functions, 1);
        }
        atomic_store(&b->busy, true);
        atomic_fetch_add(&server.busy_scripts, 1);
        log_warn("Slow script detected: still in execution after %lld milliseconds. You can "
                 "try killing the script using the SCRIPT KILL command.",
                 (long long)(now - tl_start_ms));
        tl_served_ms = 0;
    }
    struct worker *w = worker_current();
    if (w && now - tl_served_ms >= SERVE_EVERY_MS) {
        tl_served_ms = now;
        /* Waiting requests first, so that this pass writes their -BUSY. */
        dispatch_busy_answer(w->shard);
        worker_serve_busy(w, tl_origin);
    }
    /* A stop by a signal ends a busy script as SHUTDOWN NOSAVE does. */
    int st = atomic_load(&b->state);
    if (st == RUN_KILL || st == RUN_SHUTDOWN || atomic_load(&server.stopping))
        script_busy_raise_killed(L);
}

void script_busy_function(const char *name, size_t len, size_t argc,
                          const struct resp_arg *argv)
{
    tl_fname = name;
    tl_fname_len = len;
    tl_argc = argc;
    tl_argv = argv;
}

/* The slot is free again: no busy script, nothing to kill. */
static void slot_clear(void)
{
    struct busy_slot *b = my_slot();
    if (atomic_load(&b->busy)) {
        if (atomic_load(&b->function)) {
            atomic_store(&b->function, false);
            atomic_fetch_sub(&server.busy_functions, 1);
        }
        atomic_store(&b->busy, false);
        atomic_fetch_sub(&server.busy_scripts, 1);
    }
    tl_fname = NULL;
    atomic_store(&b->state, RUN_KILLABLE);
    atomic_store(&b->origin, NULL);
    tl_origin = NULL;
}

void script_busy_begin(const struct conn *origin)
{
    if (tl_depth++ > 0)
        return;
    if (tl_kept) {
        /* The thread was free since that step: its script is not busy. */
        tl_kept = false;
        slot_clear();
    }
    tl_fname = NULL;
    tl_start_ms = clock_wall_ms();
    tl_origin = origin;
    tl_hold = false;
    atomic_store(&my_slot()->origin, origin);
    atomic_store(&my_slot()->state, RUN_KILLABLE);
}

int64_t script_busy_since(void)
{
    return tl_start_ms;
}

void script_busy_backdate(int64_t start_ms)
{
    if (tl_depth == 1 && start_ms < tl_start_ms)
        tl_start_ms = start_ms;
}

void script_busy_end(void)
{
    if (--tl_depth > 0)
        return;
    slot_clear();
}

void script_busy_step_begin(const struct conn *origin, bool cont)
{
    if (cont && tl_kept && tl_depth == 0) {
        tl_kept = false;
        tl_depth = 1; /* clock, busy mark and kill state go on */
        return;
    }
    script_busy_begin(origin);
}

void script_busy_step_end(bool keep)
{
    if (keep && tl_depth == 1) {
        tl_depth = 0;
        tl_kept = true;
        return;
    }
    script_busy_end();
}

void script_busy_drop_kept(void)
{
    if (tl_kept && tl_depth == 0) {
        tl_kept = false;
        slot_clear();
    }
}

bool script_busy_write(void)
{
    struct busy_slot *b = my_slot();
    int expect = RUN_KILLABLE;
    /* False: SCRIPT KILL (or SHUTDOWN NOSAVE) came first. */
    return atomic_compare_exchange_strong(&b->state, &expect, RUN_WROTE) || expect == RUN_WROTE;
}

/* ---- SCRIPT KILL, SHUTDOWN NOSAVE (any thread) --------------------------- */

int script_kill(bool function)
{
    unsigned n = server.nworkers < NSLOTS - 1 ? server.nworkers : NSLOTS - 1;
    bool any = false, unkillable = false, other = false, killed = false;
    for (unsigned i = 0; i < n; i++) {
        struct busy_slot *b = &slots[i];
        if (!atomic_load(&b->busy))
            continue;
        any = true;
        /* Redis tells of a write first, then of the wrong KILL. */
        if (atomic_load(&b->state) == RUN_WROTE) {
            unkillable = true;
            continue;
        }
        if (atomic_load(&b->function) != function) {
            other = true;
            continue;
        }
        int expect = RUN_KILLABLE;
        if (atomic_compare_exchange_strong(&b->state, &expect, RUN_KILL) || expect == RUN_KILL)
            killed = true;
        else if (expect == RUN_WROTE)
            unkillable = true;
    }
    if (!any)
        return SCRIPT_KILL_NOTBUSY;
    if (unkillable)
        return SCRIPT_KILL_UNKILLABLE;
    return other && !killed ? SCRIPT_KILL_OTHER : SCRIPT_KILL_OK;
}

int script_busy_stats(struct rbuf *out, int proto)
{
    unsigned n = server.nworkers < NSLOTS - 1 ? server.nworkers : NSLOTS - 1;
    bool eval = false;
    pthread_once(&slots_once, slots_init);
    for (unsigned i = 0; i < n; i++) {
        struct busy_slot *b = &slots[i];
        if (!atomic_load(&b->busy))
            continue;
        if (!atomic_load(&b->function)) {
            eval = true;
            continue;
        }
        pthread_mutex_lock(&b->lock);
        bool have = b->running.len && !b->running.oom;
        if (have) {
            resp_map(out, proto, 3);
            resp_bulk_cstr(out, "name");
            /* The name's bulk, then "command" and the array. */
            const char *p = b->running.ptr;
            const char *nl = memchr(p, '\n', b->running.len);
            size_t nlen = (size_t)atol(p + 1);
            size_t head = (size_t)(nl - p) + 1;
            rbuf_append(out, p, head + nlen + 2);
            resp_bulk_cstr(out, "command");
            rbuf_append(out, p + head + nlen + 2, b->running.len - head - nlen - 2);
            resp_bulk_cstr(out, "duration_ms");
            resp_int(out, clock_wall_ms() - b->start_ms);
        }
        pthread_mutex_unlock(&b->lock);
        if (have)
            return SCRIPT_STATS_FUNCTION;
    }
    return eval ? SCRIPT_STATS_EVAL : SCRIPT_STATS_NONE;
}

void script_kill_all(void)
{
    unsigned n = server.nworkers < NSLOTS - 1 ? server.nworkers : NSLOTS - 1;
    for (unsigned i = 0; i < n; i++)
        if (atomic_load(&slots[i].busy))
            atomic_store(&slots[i].state, RUN_SHUTDOWN);
}

bool script_busy_origin(const struct conn *c)
{
    unsigned n = server.nworkers < NSLOTS - 1 ? server.nworkers : NSLOTS - 1;
    for (unsigned i = 0; i < n; i++)
        if (atomic_load(&slots[i].busy) && atomic_load(&slots[i].origin) == c)
            return true;
    return false;
}
