/* cmd.h — the command table and the context a command runs in. A command's
 * exec function runs on the thread that owns the shard of its key(s): it
 * reads and writes only that shard's maps and appends its reply (RESP2/3
 * bytes) to ctx->out, which travels back to the connection's thread. */
#ifndef SKV_SERVER_CMD_H
#define SKV_SERVER_CMD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "protocol/resp.h"
#include "protocol/resp_enc.h"
#include "shard/kvmap.h"
#include "shard/shard.h"
#include "shard/tval.h"

struct conn;

/* Command flags (Redis's names where Redis has them). */
enum {
    CMD_WRITE = 1u << 0,     /* may modify the keyspace */
    CMD_READONLY = 1u << 1,  /* reads only */
    CMD_FAST = 1u << 2,      /* O(1) or O(log n) */
    CMD_ADMIN = 1u << 3,     /* administrative */
    CMD_NOAUTH = 1u << 4,    /* allowed before AUTH (AUTH, HELLO, QUIT) */
    CMD_CONN = 1u << 5,      /* runs on the connection's thread, no key */
    CMD_MULTIKEY = 1u << 6,  /* keys may live on several shards: fanned out */
    CMD_ALLSHARDS = 1u << 7, /* runs on every shard, results merged (DBSIZE, KEYS) */
    CMD_AFTER_PRIOR = 1u << 8, /* a CMD_CONN command that reads or writes keys
                                  on any shard (EXEC, WATCH, SAVE): it waits
                                  until the client's earlier commands have
                                  run (program order, dispatch.c) */
    CMD_MISCONF = 1u << 9,   /* refused with -MISCONF after a failed save though
                                it writes nothing: PING, so that health checks
                                see the failure (Redis's processCommand) */
    CMD_DENYOOM = 1u << 10,  /* may grow memory: refused over maxmemory */
    CMD_NOSCRIPT = 1u << 11, /* not allowed from a script */
    CMD_MAY_REPLICATE = 1u << 12, /* may produce effects to propagate */
    CMD_NO_MULTI = 1u << 13, /* not allowed inside MULTI */
    CMD_BLOCKING = 1u << 14, /* may block the client */
    CMD_PUBSUB = 1u << 15,   /* pub/sub related */
    CMD_LOADING = 1u << 16,  /* allowed while loading the dataset */
    CMD_STALE = 1u << 17,    /* allowed on a replica with stale data */
    CMD_SUBSCRIBED = 1u << 18, /* allowed to a subscribed RESP2 client:
                                  (P|S)(UN)SUBSCRIBE, PING, QUIT, RESET */
};

/* What a command sees while it runs on the owning shard's thread. */
struct cmd_ctx {
    struct shard *shard;        /* executing shard (this thread owns it) */
    struct kvmap *db;           /* the selected database on this shard */
    unsigned dbidx;             /* its index */
    int proto;                  /* RESP2 or RESP3: how to encode replies */
    size_t argc;                /* arguments including the command name */
    const struct resp_arg *argv;/* borrowed for the call */
    struct rbuf *out;           /* reply bytes go here */
    int64_t now_ms;             /* one clock reading per batch: Redis also
                                   freezes time within a command */
    void *priv;                 /* per-command scratch for fanned-out parts */
    struct conn *conn;          /* the client (server/conn.h) when the command
                                   runs on the connection's own thread (CMD_CONN
                                   commands); NULL when it runs on a shard
                                   thread for a batched request */
    /* Inside EXEC (cmd_txn.c): a CMD_CONN command that asks every worker
     * (dispatch_broadcast) writes its reply into out and calls
     * sub_finished(sub_arg) when done, after setting sub_started. NULL
     * outside EXEC. */
    void (*sub_finished)(void *arg);
    void *sub_arg;
    bool sub_started;
    /* Keys this command reported modified (cmd_key_modified): the command's
     * own account of what it changed, for WATCH and the save-point dirty
     * counter, never guessed from its reply. */
    uint64_t dirty;
};

typedef void (*cmd_exec_fn)(struct cmd_ctx *c);

struct cmd_def {
    const char *name;       /* lower case, as COMMAND reports it */
    int arity;              /* Redis arity: >0 exact, <0 at least -arity */
    uint32_t flags;         /* CMD_* */
    int first_key;          /* Redis key spec: first key argument (0: none) */
    int last_key;           /* last key argument, -1 for the last argument */
    int key_step;           /* distance between keys */
    cmd_exec_fn exec;       /* runs on the owner shard (or conn thread for CMD_CONN) */
    const char *summary;    /* COMMAND DOCS summary */
    const char *group;      /* COMMAND DOCS group ("string", "hash", ...) */
    const char *since;      /* Redis version that introduced it ("2.0.0") */
};

/* Look a command up by name, case-insensitively. NULL if unknown. */
const struct cmd_def *cmd_lookup(const char *name, size_t len);

/* The whole table, for COMMAND COUNT/LIST/INFO/DOCS. *n gets its length. */
const struct cmd_def *cmd_table(size_t *n);

/* Does a Redis arity (n: exactly n arguments, -n: at least n) allow argc? */
static inline bool cmd_arity_allows(int arity, size_t argc)
{
    return arity > 0 ? argc == (size_t)arity : argc >= (size_t)-arity;
}

/* Arity check per Redis's rule. */
static inline bool cmd_arity_ok(const struct cmd_def *d, size_t argc)
{
    return cmd_arity_allows(d->arity, argc);
}

/* Helpers for exec functions: parse arguments the way Redis does and reply
 * the exact Redis error on failure (return false after replying). */
bool cmd_arg_int64(struct cmd_ctx *c, const struct resp_arg *a, int64_t *v);
bool cmd_arg_double(struct cmd_ctx *c, const struct resp_arg *a, long double *v);
bool cmd_arg_eq(const struct resp_arg *a, const char *lit); /* case-insensitive */

/* Look key up for a command that works on values of type (TVAL_* of
 * shard/tval.h): the entry, or NULL when the key is missing. When it holds
 * another type, reply Redis's WRONGTYPE error, set *wrong and return NULL;
 * otherwise *wrong is false. Borrowed, valid until the map is next written.
 * The _w form is for a command about to change the value in place: the
 * entry counts as written (kvmap_find_w), so call it only then. */
struct kventry *cmd_lookup_type(struct cmd_ctx *c, const struct resp_arg *key, int type,
                                bool *wrong);
struct kventry *cmd_lookup_type_w(struct cmd_ctx *c, const struct resp_arg *key, int type,
                                  bool *wrong);

/* Report that the command modified key (borrowed) in the executing shard's
 * database: Redis's signalModifiedKey. Every write calls it once per key it
 * changed, after the change; WATCH and the dirty counter hang off it. */
void cmd_key_modified(struct cmd_ctx *c, const void *key, size_t klen);

/* Standard replies. */
void cmd_reply_ok(struct cmd_ctx *c);
void cmd_reply_syntax(struct cmd_ctx *c);       /* -ERR syntax error */
void cmd_reply_wrongtype(struct cmd_ctx *c);    /* -WRONGTYPE ... */

#endif
