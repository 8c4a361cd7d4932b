/* script_internal.h — what the scripting files share: the running
 * script's context, the registry names, and the pieces that build a Lua
 * state. All of it is per worker thread. */
#ifndef SKV_SERVER_SCRIPT_INTERNAL_H
#define SKV_SERVER_SCRIPT_INTERNAL_H

#include <lua.h>
#include <stdbool.h>
#include <stdint.h>

#include "server/commands/script.h"

/* Registry names. */
#define SCRIPT_REG_ERRH "skv_err_handler" /* the error handler */
#define SCRIPT_REG_RO "skv_readonly"      /* set of read-only tables (weak keys) */
#define SCRIPT_REG_ENV "skv_env"          /* scripts' environment: globals, read-only */

/* One running script (redis.call reads it). */
struct script_run {
    struct cmd_ctx *c;           /* single shard: the EVAL's context (shard,
                                    db, clock); NULL across shards */
    const struct script_call *sc; /* its keys and arguments */
    int resp;                    /* protocol of redis.call replies (setresp) */
    bool ro;                     /* write commands refused */
    bool wrote;                  /* a write command ran */
    bool oom;                    /* the server was over maxmemory when the
                                    script began (Redis's pre_command_oom_state) */
    bool allow_oom;              /* its allow-oom flag: deny-oom commands
                                    run whatever the memory */
    /* Across shards (c == NULL): */
    unsigned home;               /* shard of keyless commands (a declared
                                    key's, so the transaction covers it) */
    struct script_pending *pending; /* where redis.call leaves its command
                                    before yielding */
    lua_State *co;               /* the coroutine that may yield to the
                                    driver (not one the script made) */
};

/* The script running on this thread, or NULL (script_api.c). */
extern _Thread_local struct script_run *script_cur;

/* math.random's state (script_api.c): Redis's redisLrand48, a 48-bit LCG
 * whose initial state 0x1234ABCD330E is what nrand48 takes as three
 * shorts. Redis has one per process and never reseeds it between scripts;
 * each worker has its own, starting where Redis's starts. */
extern _Thread_local unsigned short script_rand[3];

/* Put the redis table, Redis's pcall and math.random into L's globals
 * (script_api.c). */
void script_api_register(lua_State *L);

/* This thread's function state (function_lua.c), built on first use;
 * NULL on out-of-memory (script_lua.c). */
lua_State *script_fstate(void);

/* A new state with Redis's sandbox, or NULL on out-of-memory
 * (script_sandbox.c). */
lua_State *script_state_create(void);

/* Lua C functions raising Redis's sandbox errors: a write to a read-only
 * table, and a read of a global that does not exist (its name at index 2). */
int script_readonly_error(lua_State *L);
int script_global_missing(lua_State *L);

/* ---- Long scripts and Lua's memory (script_busy.c) ---------------------- */

struct conn;

/* A new Lua state whose allocator counts its bytes for this thread and
 * bounds them by lua-memory-limit while a script runs; NULL on
 * out-of-memory. The caller closes it with lua_close on this thread. */
lua_State *script_state_new(void);

/* Inside redis.call (on) the bound is lifted: a memory error raised from
 * its C code would leak what it holds (its arguments, the reply). Turned
 * off before anything is raised, so a script's pcall never runs unbounded. */
void script_mem_hold(bool on);

/* A script starts on this thread for origin (its client, NULL if none
 * here): its clock starts; script_busy_end when it ended (killed or not).
 * Calls nest. */
void script_busy_begin(const struct conn *origin);
void script_busy_end(void);
/* The running script's clock: when it began (script_busy_since), or an
 * earlier start to count from instead (script_busy_backdate): a script
 * across shards whose steps ran back to back, the thread never free. */
int64_t script_busy_since(void);
void script_busy_backdate(int64_t start_ms);
/* A script across shards runs in steps, one per redis.call. A step that
 * ends waiting for a call about to run at once on this thread keeps its
 * slot (busy mark, kill state, client) for the next (step_end with keep),
 * which then goes on with them (step_begin with cont) instead of starting
 * afresh: otherwise -BUSY and SCRIPT KILL would flicker between steps and
 * a kill could be lost. Any other begin, or drop_kept (the script freed
 * with a step kept), clears what was kept. */
void script_busy_step_begin(const struct conn *origin, bool cont);
void script_busy_step_end(bool keep);
void script_busy_drop_kept(void);

/* The script begun is function name, run by the command argv (both
 * borrowed until script_busy_end): FUNCTION STATS and -BUSY tell of it. */
void script_busy_function(const char *name, size_t len, size_t argc,
                          const struct resp_arg *argv);

/* The count hook every running script has (lua_sethook with
 * SCRIPT_HOOK_COUNT): marks the worker busy past busy-reply-threshold,
 * answers the worker's other clients, and raises Redis's error once
 * SCRIPT KILL or SHUTDOWN NOSAVE asked. */
void script_busy_hook(lua_State *L, lua_Debug *ar);
/* ---- pcall across shards (script_xpcall.c) ------------------------------- */

/* Build the Lua pcall that scripts across shards use (in L's registry);
 * call after script_api_register. False on out-of-memory. */
bool script_xpcall_register(lua_State *L);

/* Push that pcall, or (x) xpcall: script_xrun makes them the globals while
 * it runs. */
void script_xpcall_push(lua_State *L, bool x);

/* May a redis.call running in thread L yield to the driver: the script runs
 * across shards and L is its coroutine or a thread its pcall made? */
bool script_x_yieldable(lua_State *L);

/* Push what redis.call yields across shards (the pcall passes it on). */
void script_x_push_sentinel(lua_State *L);

/* Lua instructions between two hook calls: Redis's period. */
#define SCRIPT_HOOK_COUNT 100000

/* The script is about to run a write command: from now on SCRIPT KILL
 * answers UNKILLABLE. False if SCRIPT KILL came first: the caller raises
 * script_busy_raise_killed instead of writing. */
bool script_busy_write(void);

/* Raise Redis's error for a killed script (never returns). */
int script_busy_raise_killed(lua_State *L);

#endif
