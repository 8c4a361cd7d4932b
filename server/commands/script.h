/* script.h — Lua scripting as Redis 7.0 has it: EVAL, EVALSHA, EVAL_RO,
 * EVALSHA_RO and SCRIPT. A script runs over the keys it declares (KEYS):
 * whole on the thread that owns their shard when they share one, else on
 * the connection's thread as one transaction over all of them; either way
 * in that worker's own Lua state. The bodies are shared by every worker
 * through one registry keyed by SHA1 (script_cache.c), so a script loaded
 * through one connection is found by EVALSHA on any other. */
#ifndef SKV_SERVER_SCRIPT_H
#define SKV_SERVER_SCRIPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/sha1.h"
#include "protocol/resp_enc.h"
#include "server/exec/cmd.h"

/* Script flags from a "#!lua flags=..." first line (Redis's
 * SCRIPT_FLAG_*). A script without that line is in compatibility mode:
 * its flags say nothing and EVAL's own flags hold. */
enum {
    SCRIPT_FLAG_NO_WRITES = 1u << 0,   /* no-writes */
    SCRIPT_FLAG_ALLOW_OOM = 1u << 1,   /* allow-oom */
    SCRIPT_FLAG_ALLOW_STALE = 1u << 2, /* allow-stale */
    SCRIPT_FLAG_NO_CLUSTER = 1u << 3,  /* no-cluster */
    SCRIPT_FLAG_EVAL_COMPAT = 1u << 4, /* no shebang line */
    SCRIPT_FLAG_CROSS_SLOT = 1u << 5,  /* allow-cross-slot-keys */
};

/* Longest script body accepted (proto-max-bulk-len bounds it anyway). */
#define SCRIPT_BODY_MAX ((size_t)512 << 20)

/* ---- The shared registry (script_cache.c), any thread -------------------- */

/* Parse body's shebang line as Redis's evalExtractShebangFlags: *flags gets
 * SCRIPT_FLAG_* and *skip the length of the line (its '\n' stays, so line
 * numbers hold). Returns true, or false with Redis's error text (without
 * "ERR ") in err. Pure. */
bool script_shebang(const char *body, size_t len, uint32_t *flags, size_t *skip,
                    struct rbuf *err);

/* Remember body (copied) under its SHA1, whose hex digest goes to sha.
 * Returns 0, or -1 on out-of-memory. Idempotent. */
int script_cache_add(const char *body, size_t len, uint32_t flags, const char *sha);

/* A copy of the body stored under sha (40 lower-case hex characters) into
 * out, and its flags. False if there is none. */
bool script_cache_get(const char *sha, struct rbuf *out, uint32_t *flags);

/* The flags of the script stored under sha (as script_cache_get) into
 * *flags, without its body. False if there is none. */
bool script_cache_flags(const char *sha, uint32_t *flags);

/* Is a script stored under s[0..len) (case-insensitive, as Redis's dict)? */
bool script_cache_exists(const char *s, size_t len);

/* Forget every script (SCRIPT FLUSH). Each worker drops its compiled
 * functions the next time it runs a script (script_cache_epoch changes). */
void script_cache_flush(void);

/* How many scripts are stored and the bytes they take (INFO). */
void script_cache_stats(size_t *n, size_t *bytes);

/* Changes on every flush; a worker compares it with the epoch its Lua
 * state was built in. */
uint64_t script_cache_epoch(void);

/* ---- Running scripts (script_lua.c), on the executing worker's thread ---- */

/* What one EVAL needs. Borrowed for the call. */
struct script_call {
    const char *sha;              /* 40 lower-case hex characters */
    const char *body;             /* the body, or NULL for EVALSHA (looked up) */
    size_t body_len;
    const struct resp_arg *keys;  /* KEYS */
    size_t nkeys;
    const struct resp_arg *args;  /* ARGV */
    size_t nargs;
    bool ro;                      /* EVAL_RO / EVALSHA_RO */
    bool any_keys;                /* undeclared keys allowed: the script
                                     holds every shard (lua-allow-undeclared-keys) */
    const char *fname;            /* FCALL: the function's name (sha and body
                                     unused), else NULL */
    size_t fname_len;
    size_t argc;                  /* the whole command (FUNCTION STATS) */
    const struct resp_arg *argv;
};

/* Run sc in command context c (its shard, database and reply buffer): the
 * reply, or Redis's error, is appended to c->out. */
void script_run(struct cmd_ctx *c, const struct script_call *sc);

/* The calling worker thread is stopping: drop its Lua state (closed once
 * no suspended cross-shard script holds it). */
void script_thread_cleanup(void);

/* Compile body into this thread's Lua state and remember it under its SHA1
 * (SCRIPT LOAD, EVAL of a new body). Returns true with sha (41 bytes)
 * filled, or false after appending Redis's error reply to out. */
bool script_load(const char *body, size_t len, char *sha, struct rbuf *out);

/* Across shards: the script runs on the connection's thread as a coroutine
 * that stops at each redis.call; the caller runs the command (struct
 * script_pending, script_internal.h) on its shard inside the script's
 * transaction and resumes the script with the reply. */
struct script_xrun;
/* The command a script running across shards waits for (struct script_xrun). */
struct script_pending {
    const struct cmd_def *d;     /* the command */
    size_t argc;                 /* its arguments, copied */
    struct resp_arg *argv;
    unsigned shard;              /* where it runs */
    bool raise;                  /* redis.call (raise on an error reply) */
    void *thread;                /* the lua_State that called it (the
                                    script's coroutine, or a thread of its
                                    pcall): where an error is raised */
};

enum { SCRIPT_X_DONE = 0, SCRIPT_X_CALL = 1 };

/* Start sc (copied as needed) with home the shard for keyless commands,
 * proto the client's protocol and origin the client (on this thread). SCRIPT_X_DONE: the reply (or error) is
 * in out and *xp is NULL; SCRIPT_X_CALL: *xp waits for the command
 * script_xrun_pending describes. */
struct conn;
int script_xrun_start(const struct script_call *sc, unsigned home, int proto,
                      const struct conn *origin, struct rbuf *out, struct script_xrun **xp);

/* The command x waits for (borrowed until the next resume or free), and
 * the protocol its reply must be in. */
const struct script_pending *script_xrun_pending(const struct script_xrun *x);
int script_xrun_proto(const struct script_xrun *x);

/* Resume x with the command's reply[0..len) (oom: it was lost). Returns
 * as script_xrun_start; after SCRIPT_X_DONE the caller frees x. */
int script_xrun_resume(struct script_xrun *x, const char *reply, size_t len, bool oom,
                       struct rbuf *out);
/* The call x waits for ran at once on this thread (its shard's own): the
 * next resume counts the busy clock from the step before, as the thread
 * was never free in between. */
void script_xrun_continue(struct script_xrun *x);

/* Free x (NULL is fine). */
void script_xrun_free(struct script_xrun *x);

/* ---- Long scripts (script_busy.c), any thread ---------------------------- */

enum {
    SCRIPT_KILL_OK = 0,
    SCRIPT_KILL_NOTBUSY = 1,
    SCRIPT_KILL_UNKILLABLE = 2,
    SCRIPT_KILL_OTHER = 3, /* only scripts of the other kind are busy */
};

/* SCRIPT KILL (function false) or FUNCTION KILL (true): ask every script
 * of that kind running past busy-reply-threshold to stop.
 * SCRIPT_KILL_NOTBUSY if none is busy, SCRIPT_KILL_UNKILLABLE if one has
 * written (it keeps running), SCRIPT_KILL_OTHER if only the other kind is
 * busy (Redis's "-BUSY ... use the other KILL"), else SCRIPT_KILL_OK. */
int script_kill(bool function);

/* SCRIPT KILL (function false) or FUNCTION KILL (true): kill and reply to
 * c with Redis's texts. */
void script_kill_reply(struct cmd_ctx *c, bool function);

enum { SCRIPT_STATS_NONE = 0, SCRIPT_STATS_EVAL = 1, SCRIPT_STATS_FUNCTION = 2 };

/* FUNCTION STATS' running_script: for a busy function, append its map
 * (name, command, duration_ms) to out and return SCRIPT_STATS_FUNCTION;
 * nothing appended otherwise (SCRIPT_STATS_EVAL: an EVAL is busy). */
int script_busy_stats(struct rbuf *out, int proto);

/* SHUTDOWN NOSAVE: stop every busy script, written or not. */
void script_kill_all(void);

/* Is c the client of a script running past busy-reply-threshold? Its
 * later commands are not refused with -BUSY but wait for the script, as
 * Redis leaves that client unread until the script ends. c is only
 * compared, never read. */
bool script_busy_origin(const struct conn *c);

/* Bytes all Lua states hold (INFO used_memory_lua). */
size_t script_memory_used(void);

/* ---- Conversions (script_conv.c) ------------------------------------------ */

struct lua_State;

/* Push the Lua value of one RESP reply in p[0..n) (Redis's
 * redisProtocolToLuaType). Returns the bytes used, 0 if p holds no whole
 * reply (nothing is pushed then). */
size_t script_resp_to_lua(struct lua_State *L, const char *p, size_t n);

/* Append the reply for the Lua value on top of L's stack, popping it
 * (Redis's luaReplyToRedisReply). proto is the client's protocol, resp
 * the script's (redis.setresp). */
void script_lua_to_resp(struct lua_State *L, struct rbuf *out, int proto, int resp);

/* Append the error reply "-" + s[0..n), CR and LF as spaces; unlike
 * resp_error, a leading '-' in s is kept (Redis replies "--X" for it). */
void script_reply_error(struct rbuf *out, const char *s, size_t n);

/* Push Redis's error table {err = "CODE message"} for text (a reply with
 * or without its leading '-': Redis's luaPushErrorBuff). */
void script_push_error(struct lua_State *L, const char *text, size_t len);

/* ---- Commands (script_cmd.c) ----------------------------------------------- */

/* The command table fragment merged by cmd_table.c. */
extern const struct cmd_def cmd_script_defs[];
extern const size_t cmd_script_ndefs;

#endif
