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
#include "server/core/notify_classes.h"
#include "shard/kvmap.h"
#include "shard/shard.h"
#include "shard/tval.h"

struct conn;
struct slot;

/* Command flags. The first group is Redis's, in the order COMMAND INFO
 * prints them (cmd_command.c's table); CMD_MAY_REPLICATE is hidden there, as
 * in Redis, and CMD_MOVABLE_KEYS is derived from the key specs when the
 * table is built. The second group is ours: where and how a command runs. */
enum {
    CMD_WRITE = 1u << 0,     /* may modify the keyspace */
    CMD_READONLY = 1u << 1,  /* reads only */
    CMD_DENYOOM = 1u << 2,   /* may grow memory: refused over maxmemory */
    CMD_ADMIN = 1u << 3,     /* administrative */
    CMD_PUBSUB = 1u << 4,    /* pub/sub related */
    CMD_NOSCRIPT = 1u << 5,  /* not allowed from a script */
    CMD_BLOCKING = 1u << 6,  /* may block the client */
    CMD_LOADING = 1u << 7,   /* allowed while loading the dataset */
    CMD_STALE = 1u << 8,     /* allowed on a replica with stale data */
    CMD_SKIP_MONITOR = 1u << 9,  /* not shown to MONITOR */
    CMD_SKIP_SLOWLOG = 1u << 10, /* not logged in the slow log */
    CMD_FAST = 1u << 11,     /* O(1) or O(log n) */
    CMD_NOAUTH = 1u << 12,   /* allowed before AUTH (AUTH, HELLO, QUIT) */
    CMD_MAY_REPLICATE = 1u << 13, /* may produce effects to propagate */
    CMD_NO_MANDATORY_KEYS = 1u << 14, /* may be called with no key */
    CMD_NO_ASYNC_LOADING = 1u << 15,  /* refused during an async load */
    CMD_NO_MULTI = 1u << 16, /* not allowed inside MULTI */
    CMD_MOVABLE_KEYS = 1u << 17, /* keys not at fixed positions (derived) */
    CMD_ALLOW_BUSY = 1u << 18,   /* allowed while a script is busy */
    CMD_REDIS_FLAGS = (1u << 19) - 1, /* mask of the above */

    CMD_CONN = 1u << 20,     /* runs on the connection's thread, no key */
    CMD_MULTIKEY = 1u << 21, /* keys may live on several shards: planned
                                (cmd_def.plan), fanned out */
    CMD_ALLSHARDS = 1u << 22, /* runs on every shard, results merged (DBSIZE, KEYS) */
    CMD_AFTER_PRIOR = 1u << 23, /* a CMD_CONN command that reads or writes keys
                                  on any shard (EXEC, WATCH, SAVE), or changes
                                  what commands do (CONFIG SET, FUNCTION
                                  DELETE, SCRIPT FLUSH): it waits until the
                                  client's earlier commands have run
                                  (program order, route/order.c) */
    CMD_MISCONF = 1u << 24,  /* refused with -MISCONF after a failed save though
                                it writes nothing: PING, so that health checks
                                see the failure (Redis's processCommand) */
    CMD_TXN_CONTROL = 1u << 25, /* runs at once inside MULTI instead of being
                                   queued (MULTI EXEC DISCARD WATCH QUIT, as
                                   Redis's processCommand lists them) */
    CMD_SETS_DB = 1u << 26,  /* changes the client's database (SELECT): EXEC
                                follows it when it declares the locks */
    CMD_NOT_QUEUED = 1u << 27, /* refused inside MULTI here though Redis queues
                                  it (BGSAVE: its cut would have to fall
                                  inside EXEC's transaction) */
    CMD_SUBSCRIBED = 1u << 28, /* allowed to a subscribed RESP2 client:
                                  (P|S)(UN)SUBSCRIBE, PING, QUIT, RESET */
    CMD_CONNLESS = 1u << 29, /* a CMD_CONN command whose exec needs no
                                connection (PING, ECHO, TIME): a script may
                                run it on its shard (c->conn NULL) */
    CMD_REDACT = 1u << 30,   /* its arguments are secrets: the slow log shows
                                "(redacted)" (AUTH, as Redis's
                                redactClientCommandArgument) */
    CMD_ENDS_MULTI = 1u << 31, /* ends or leaves a MULTI block (EXEC, DISCARD,
                                  QUIT, RESET): not refused in it over
                                  maxmemory, as Redis's processCommand
                                  exempts them */
};

/* Key spec flags (Redis's CMD_KEY_*), in COMMAND INFO's order. */
enum {
    CMD_KS_RO = 1u << 0,       /* read only */
    CMD_KS_RW = 1u << 1,       /* read and write */
    CMD_KS_OW = 1u << 2,       /* overwrite, not read */
    CMD_KS_RM = 1u << 3,       /* removed */
    CMD_KS_ACCESS = 1u << 4,   /* returns or copies user data */
    CMD_KS_UPDATE = 1u << 5,   /* updates data in place */
    CMD_KS_INSERT = 1u << 6,   /* only adds data */
    CMD_KS_DELETE = 1u << 7,   /* only removes data */
    CMD_KS_NOT_KEY = 1u << 8,  /* not a key, a name hashed like one */
    CMD_KS_INCOMPLETE = 1u << 9,     /* may not find every key */
    CMD_KS_VARIABLE_FLAGS = 1u << 10, /* flags depend on the arguments:
                                         cmd_def.getkeys tells them */
};

/* ACL categories that the flags and the group do not imply (Redis's
 * acl_categories), in COMMAND INFO's order. Implied ones are added when
 * COMMAND prints them: @write/@read/@admin+@dangerous/@pubsub/@fast or
 * @slow/@blocking from the flags, the data-type category from the group. */
enum {
    CMD_ACL_KEYSPACE = 1u << 0,
    CMD_ACL_READ = 1u << 1,
    CMD_ACL_WRITE = 1u << 2,
    CMD_ACL_SET = 1u << 3,
    CMD_ACL_SORTEDSET = 1u << 4,
    CMD_ACL_LIST = 1u << 5,
    CMD_ACL_HASH = 1u << 6,
    CMD_ACL_STRING = 1u << 7,
    CMD_ACL_BITMAP = 1u << 8,
    CMD_ACL_HYPERLOGLOG = 1u << 9,
    CMD_ACL_GEO = 1u << 10,
    CMD_ACL_STREAM = 1u << 11,
    CMD_ACL_PUBSUB = 1u << 12,
    CMD_ACL_ADMIN = 1u << 13,
    CMD_ACL_FAST = 1u << 14,
    CMD_ACL_SLOW = 1u << 15,
    CMD_ACL_BLOCKING = 1u << 16,
    CMD_ACL_DANGEROUS = 1u << 17,
    CMD_ACL_CONNECTION = 1u << 18,
    CMD_ACL_TRANSACTION = 1u << 19,
    CMD_ACL_SCRIPTING = 1u << 20,
    CMD_ACL_COUNT = 21,
};

/* A NULL-ended list of COMMAND INFO tips for cmd_def.tips. */
#define CMD_TIPS(...) ((const char *const[]){__VA_ARGS__, NULL})

/* Most key specs a command has (Redis's STATIC_KEY_SPECS_NUM). */
#define CMD_KEY_SPECS_MAX 4

/* One Redis key spec: where a run of keys starts (begin_search "index")
 * and how far it goes (find_keys "range", or "keynum" for commands that
 * say how many keys follow, as SINTERCARD 2 a b). */
struct cmd_key_spec {
    uint16_t flags;         /* CMD_KS_*; 0 ends the list */
    uint8_t begin;          /* begin_search index: the first argument looked at */
    bool keynum;            /* find_keys is keynum, else range */
    int8_t last;            /* range: last key relative to begin; -1 the
                               last argument, -2 the one before */
    int8_t step;            /* range and keynum: distance between keys */
    int8_t limit;           /* range: Redis's limit (0: none) */
    int8_t numkeys_at;      /* keynum: the count's index relative to begin */
    int8_t first_at;        /* keynum: the first key's index relative to begin */
    bool unknown;           /* begin_search and find_keys are "unknown" (SORT's
                               BY/GET and STORE keys): never matched here, so
                               the walk falls back on cmd_def.getkeys */
    const char *notes;      /* COMMAND INFO "notes", or NULL */
};

/* A run of keys in one command's argv: argv[first], argv[first + step],
 * ... up to argv[last], each with the spec's flags. */
struct cmd_key_range {
    uint32_t first;         /* argument index of the first key */
    uint32_t last;          /* of the last one (>= first) */
    uint32_t step;          /* >= 1 */
    uint16_t flags;         /* CMD_KS_* of these keys */
};

/* Iterator over a command's keys (cmd_keys_init / cmd_keys_next): the
 * runs resolved from its key specs (or its getkeys function), walked in
 * order. On the caller's stack; borrows nothing. */
struct cmd_keys {
    struct cmd_key_range r[CMD_KEY_SPECS_MAX]; /* the runs */
    unsigned n;             /* runs in r */
    unsigned i;             /* current run */
    size_t pos;             /* next argument index in run i */
};

struct cmd_def;
struct cmd_plan; /* multi-shard planning (server/commands/cmd_multi.h) */

/* Resolve d's keys in argv into at most CMD_KEY_SPECS_MAX runs in out,
 * for a command whose key specs cannot say it (keys whose flags depend
 * on the arguments; numkeys forms with a twist). Returns the number of
 * runs, or -1 if argv does not hold the keys it should (Redis's "Invalid
 * arguments specified for command"). Pure. */
typedef int (*cmd_getkeys_fn)(const struct cmd_def *d, size_t argc, const struct resp_arg *argv,
                              struct cmd_key_range *out);

/* The flags one call of d has, from its arguments, where they differ from
 * d->flags (Redis's getCommandFlags: a script's shebang flags make EVAL a
 * write, deny-oom command or not). Pure, but may read the script cache or
 * the function library. */
typedef uint32_t (*cmd_flags_fn)(const struct cmd_def *d, size_t argc,
                                 const struct resp_arg *argv);

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
    struct conn *conn;          /* the client (server/net/conn.h) when the command
                                   runs on the connection's own thread (CMD_CONN
                                   commands); NULL when it runs on a shard
                                   thread for a batched request */
    bool script_call;           /* a script's redis.call: the slow log shows
                                   Redis's Lua client (?:0, no name) */
    const struct conn *origin;  /* the client that sent it, wherever it runs
                                   (its script's, for a script's call); another thread may
                                   read only its addr, fixed while a request
                                   is out, and its name through conn_name_dup
                                   (the slow log's client) */
    /* Inside EXEC (cmd_txn.c): a CMD_CONN command that asks every worker
     * (dispatch_broadcast) writes its reply into out and calls
     * sub_finished(sub_arg) when done, after setting sub_started. NULL
     * outside EXEC. */
    void (*sub_finished)(void *arg);
    void *sub_arg;
    bool sub_started;
    /* Where Pub/Sub frames for the origin itself go, so that a keyspace
     * event the command causes reaches its own client before its reply
     * (Redis emits events while the command runs): oslot, the origin's
     * pending reply slot while the request is out (the reply is appended
     * to it later; origin-side memory, only its worker touches it), or,
     * with reply_inline, out itself, the origin's reply stream, where this
     * run's reply begins. Neither: frames go after the reply. */
    struct slot *oslot;
    bool reply_inline;
    /* A part of a command spanning shards (a fan-out part, a hop of EXEC
     * or of a script): its keyspace events are recorded here instead of
     * published, and the origin publishes every part's events in the
     * command's order (notify_publish_parts). NULL: published at once. */
    struct rbuf *events;
    /* Keys this command reported modified (cmd_key_modified): the command's
     * own account of what it changed, for WATCH and the save-point dirty
     * counter, never guessed from its reply. Zeroed by cmd_call. */
    uint64_t dirty;
};

typedef void (*cmd_exec_fn)(struct cmd_ctx *c);

/* A command: everything the server knows about it. Definitions live with
 * their family (cmd_string.c, ...) in designated-initializer form; fields
 * marked "derived" are filled in by cmd_table.c and never written in a
 * definition. */
struct cmd_def {
    const char *name;       /* lower case, as COMMAND reports it; a
                               subcommand's is "container|sub" */
    int arity;              /* Redis arity: >0 exact, <0 at least -arity */
    uint32_t flags;         /* CMD_* */
    uint32_t acl;           /* CMD_ACL_* beyond those the flags and group imply */
    uint32_t acl_drop;      /* CMD_ACL_* the group implies that Redis does not
                               give it (SORT: "generic" without @keyspace) */
    struct cmd_key_spec keys[CMD_KEY_SPECS_MAX]; /* key specs, in order */
    cmd_getkeys_fn getkeys; /* resolves the keys instead of the specs when
                               they cannot (CMD_KS_VARIABLE_FLAGS), or when
                               they do not fit argv; NULL: the specs alone */
    cmd_flags_fn call_flags; /* a call's own flags (cmd_flags_fn); NULL:
                               flags, whatever the arguments */
    cmd_exec_fn exec;       /* runs on the owner shard (or conn thread for
                               CMD_CONN); NULL for a container, whose
                               subcommand runs instead */
    const struct cmd_plan *plan; /* CMD_MULTIKEY / CMD_ALLSHARDS: how it is
                               split over shards (server/commands/cmd_multi.h) */
    const struct cmd_def *subcommands; /* nested definitions, ended by one
                               with a NULL name; NULL: none */
    const char *const *tips; /* COMMAND INFO tips, NULL-ended, or NULL */
    const char *summary;    /* COMMAND DOCS summary */
    const char *since;      /* Redis version that introduced it ("2.0.0") */
    const char *group;      /* COMMAND DOCS group ("string", "hash", ...) */
    const char *complexity; /* COMMAND DOCS complexity, or NULL */
    /* Derived (cmd_table.c): */
    const struct cmd_def *parent; /* a subcommand's container, else NULL */
    const struct cmd_def *subs;   /* the subcommands, in the table */
    uint16_t nsubs;         /* how many */
    uint16_t nkeyspecs;     /* specs in keys[] */
    int first_key;          /* Redis's legacy key triple, from the specs: */
    int last_key;           /* first key argument (0: none), last (-1: */
    int key_step;           /* the last argument), step */
};

/* Say what fills the command table: add_all adds every family with
 * cmd_table_add (commands/cmd_table.c's cmd_table_families). Called at
 * start-up (app/hooks.c) before the first lookup, which builds the table. */
void cmd_table_set_families(void (*add_all)(void));

/* Add n definitions (copied) to the table being built; only from the
 * add_all given to cmd_table_set_families. A name already in the table
 * keeps its first definition. */
void cmd_table_add(const struct cmd_def *defs, size_t n);

/* Look a command up by name, case-insensitively. NULL if unknown. */
const struct cmd_def *cmd_lookup(const char *name, size_t len);

/* The subcommand of container d named sub (case-insensitive), or NULL. */
const struct cmd_def *cmd_lookup_sub(const struct cmd_def *d, const struct resp_arg *sub);

/* The command argv calls, as Redis's lookupCommand: the container's
 * subcommand when argv[0] is a container and argc >= 2. NULL if unknown;
 * *container then says whether argv[0] alone is a (container) command. */
const struct cmd_def *cmd_lookup_argv(size_t argc, const struct resp_arg *argv,
                                      const struct cmd_def **container);

/* The top-level commands, for COMMAND COUNT/LIST/INFO/DOCS. *n gets their
 * number. The subcommands follow them in the same array (cmd_table_all). */
const struct cmd_def *cmd_table(size_t *n);

/* Every definition, commands then subcommands: a definition's index in it
 * is its INFO commandstats entry. *n gets the total. */
const struct cmd_def *cmd_table_all(size_t *n);

/* Does a Redis arity (n: exactly n arguments, -n: at least n) allow argc? */
static inline bool cmd_arity_allows(int arity, size_t argc)
{
    return arity > 0 ? argc == (size_t)arity : argc >= (size_t)-arity;
}

/* The flags this call of d has: d->flags, or what its call_flags says. */
static inline uint32_t cmd_flags_of(const struct cmd_def *d, size_t argc,
                                    const struct resp_arg *argv)
{
    return d->call_flags ? d->call_flags(d, argc, argv) : d->flags;
}

/* Arity check per Redis's rule. */
static inline bool cmd_arity_ok(const struct cmd_def *d, size_t argc)
{
    return cmd_arity_allows(d->arity, argc);
}

/* ---- Keys ------------------------------------------------------------------
 * One key walk for everything that needs a command's keys: routing,
 * intent locks, held requests, COMMAND GETKEYS. */

/* Start walking d's keys in argv (argc arguments, argv[0] the name).
 * Returns the number of runs (0: no keys), or -1 when argv does not hold
 * the keys the specs describe (a numkeys count out of range: Redis's
 * invalid spec), which callers treat as "no keys" or an error. Pure. */
int cmd_keys_init(struct cmd_keys *it, const struct cmd_def *d, size_t argc,
                  const struct resp_arg *argv);

/* The next key: its argument index in *pos and its spec's CMD_KS_* flags
 * in *flags (may be NULL). False when there is none left. */
static inline bool cmd_keys_next(struct cmd_keys *it, size_t *pos, uint16_t *flags)
{
    while (it->i < it->n) {
        const struct cmd_key_range *r = &it->r[it->i];
        if (it->pos <= r->last) {
            *pos = it->pos;
            if (flags)
                *flags = r->flags;
            it->pos += r->step;
            return true;
        }
        if (++it->i < it->n)
            it->pos = it->r[it->i].first;
    }
    return false;
}

/* The argument index of d's first key in argv, 0 if it has none there:
 * what routes a single-key command. The legacy triple answers for fixed
 * positions (every hot command); movable keys take the walk. */
static inline size_t cmd_first_key(const struct cmd_def *d, size_t argc,
                                   const struct resp_arg *argv)
{
    if (!(d->flags & CMD_MOVABLE_KEYS))
        return d->first_key > 0 && (size_t)d->first_key < argc ? (size_t)d->first_key : 0;
    struct cmd_keys it;
    size_t pos;
    if (cmd_keys_init(&it, d, argc, argv) > 0 && cmd_keys_next(&it, &pos, NULL))
        return pos;
    return 0;
}

/* Does a key with these CMD_KS_* flags need an exclusive lock (any write)? */
static inline bool cmd_key_writes(uint16_t flags)
{
    return !(flags & CMD_KS_RO);
}

/* For getkeys functions of numkeys forms (SINTERCARD numkeys key...,
 * ZUNIONSTORE dst numkeys key..., EVAL script numkeys key...): the run of
 * keys whose count is argv[numkeys_at] and which start right after it,
 * step apart, with flags. Returns 1 with *out set, 0 for a count of 0, or
 * -1 if the count is not a non-negative integer or the keys would run
 * past argv. Pure. */
int cmd_keys_numkeys(size_t argc, const struct resp_arg *argv, size_t numkeys_at, size_t step,
                     uint16_t flags, struct cmd_key_range *out);

/* ---- Execution -------------------------------------------------------------
 * cmd_call is the one place a command runs (Redis's call()): directly on
 * the connection's thread, on its shard from a batch, held behind a
 * transaction's lock, as a hop of a transaction or queued by MULTI. It
 * times the run for INFO commandstats, and after a run that modified
 * something (cmd_key_modified) it calls the registered hooks: the dirty
 * counter for save points today; keyspace notifications, eviction and an
 * append-only log later. Calls and failures are counted where the reply
 * lands (dispatch.c), since a fanned-out command's reply is merged there. */

/* Run d (d->exec) in c on the calling thread, which owns c->shard. */
void cmd_call(const struct cmd_def *d, struct cmd_ctx *c);

/* Run part, one shard's share of a command split over shards (d its
 * command, NULL for an internal step), the same way; untimed, since the
 * command is timed where its parts are merged. */
void cmd_call_part(const struct cmd_def *d, cmd_exec_fn part, struct cmd_ctx *c);

/* cmd_exec_hooks.settle for shard s (the calling thread's), unless a run
 * is under way on this thread: the sequencer's call after a transaction
 * concluded on s. */
void cmd_settle(struct shard *s);

/* A key a command reported modified: db and key (borrowed for the call),
 * or key NULL for "every key of db", and db CMD_DB_ALL for every
 * database (FLUSHALL, SWAPDB). Runs on the executing shard's thread,
 * inside the command, right after the change. */
#define CMD_DB_ALL UINT32_MAX
typedef void (*cmd_key_hook_fn)(struct cmd_ctx *c, unsigned db, const void *key, size_t klen);
/* After a command (or part) that modified something ran: c->dirty keys. */
typedef void (*cmd_call_hook_fn)(const struct cmd_def *d, struct cmd_ctx *c);

/* Register hooks; before any worker runs (start-up, or a test). Returns 0,
 * or -1 when the registry is full (CMD_HOOKS_MAX). */
#define CMD_HOOKS_MAX 8
int cmd_hook_key(cmd_key_hook_fn fn);
int cmd_hook_call(cmd_call_hook_fn fn);

/* What the features above the execution point do at its fixed places: one
 * listener each, called directly through the pointer (NULL: nobody
 * listens, as in unit tests). Filled in once at start-up by app/server.c
 * (the memory bound's admission, keyspace notifications), read-only
 * after. */
struct cmd_exec_hooks {
    /* Before a command runs, asked only while a memory bound is set:
     * evict, and return false to refuse the command, having written its
     * error reply (Redis's -OOM). */
    bool (*admit)(const struct cmd_def *d, struct cmd_ctx *c);
    /* Before a part of a split command runs, while a bound is set: make
     * room (whether it may run was decided before the split). */
    void (*before_part)(struct cmd_ctx *c);
    /* A keyspace event of a class that is on (notify_wanted): queue it
     * (key borrowed) for the end of the command. */
    void (*key_event)(uint32_t cls, const char *event, unsigned db, const void *key,
                      size_t klen);
    /* After a command c, when this thread has events queued
     * (notify_pending): publish them, the origin's own frames placed
     * before c's reply (c->oslot, or c->out from reply_at). */
    void (*flush_events)(const struct cmd_ctx *c, size_t reply_at);
    /* After a command or part that ran on shard s's thread outside any
     * other run there (a script's redis.call, a command queued by EXEC, a
     * pop this hook makes), and after a transaction concluded there
     * (cmd_settle): finish what it left for its end before the next
     * command on s, of any client, is even judged (blocked clients served
     * first, as Redis's handleClientsBlockedOnKeys does after each
     * command; a BLMOVE's reservation, txn_start_reserved, then holds that
     * command back). */
    void (*settle)(struct shard *s);
};
extern struct cmd_exec_hooks cmd_exec_hooks;

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
void cmd_reply_wrongtype(struct cmd_ctx *c);

/* A further event of a change already reported (SET ... EX: "set", then
 * "expire"; SREM that empties the set: "srem", then "del"). Only the
 * event; nothing counts as modified again. */
static inline void cmd_key_notify(struct cmd_ctx *c, uint32_t cls, const char *event,
                                  const void *key, size_t klen)
{
    if (__builtin_expect(notify_wanted(cls), 0) && cmd_exec_hooks.key_event)
        cmd_exec_hooks.key_event(cls, event, c->dbidx, key, klen);
}
/* A read that found no key: Redis's "keymiss" (class m). */
static inline void cmd_key_miss(struct cmd_ctx *c, const void *key, size_t klen)
{
    cmd_key_notify(c, NOTIFY_KEY_MISS, "keymiss", key, klen);
}
/* A read lookup's outcome (Redis's lookupKeyRead): counted in the shard's
 * keyspace hits or misses, and a miss is a "keymiss". Every read of a key
 * by a command goes through here (or cmd_lookup_type); writes' lookups
 * (Redis's lookupKeyWrite) do not. Returns e. */
static inline struct kventry *cmd_key_read(struct cmd_ctx *c, struct kventry *e,
                                           const void *key, size_t klen)
{
    if (e) {
        if (c->shard)
            c->shard->ctr.hits++;
        return e;
    }
    if (c->shard)
        c->shard->ctr.misses++;
    cmd_key_miss(c, key, klen);
    return NULL;
}
/* The same, counted but with no "keymiss" (OBJECT: LOOKUP_NONOTIFY). */
static inline void cmd_key_read_quiet(struct cmd_ctx *c, const struct kventry *e)
{
    if (c->shard) {
        if (e)
            c->shard->ctr.hits++;
        else
            c->shard->ctr.misses++;
    }
}

/* Inline: GET and SET pay for the type check on every request. */
static inline struct kventry *cmd_check_type(struct cmd_ctx *c, struct kventry *e, int type,
                                             bool *wrong)
{
    *wrong = e && kventry_type(e) != type;
    if (__builtin_expect(*wrong, 0)) {
        cmd_reply_wrongtype(c);
        return NULL;
    }
    return e;
}

/* A read (Redis's lookupKeyRead): a missing key is a "keymiss" event. */
static inline struct kventry *cmd_lookup_type(struct cmd_ctx *c, const struct resp_arg *key,
                                              int type, bool *wrong)
{
    struct kventry *e = kvmap_find(c->db, key->ptr, key->len, c->now_ms);
    return cmd_check_type(c, cmd_key_read(c, e, key->ptr, key->len), type, wrong);
}

/* The lookup of a write before it changes anything (Redis's
 * lookupKeyWrite): as cmd_lookup_type, without the "keymiss". */
static inline struct kventry *cmd_lookup_type_probe(struct cmd_ctx *c,
                                                    const struct resp_arg *key, int type,
                                                    bool *wrong)
{
    return cmd_check_type(c, kvmap_find(c->db, key->ptr, key->len, c->now_ms), type, wrong);
}

/* A key of the wrong type gets its segment stamped too: that only makes a
 * running snapshot capture it early, which changes nothing it saves. */
static inline struct kventry *cmd_lookup_type_w(struct cmd_ctx *c, const struct resp_arg *key,
                                                int type, bool *wrong)
{
    return cmd_check_type(c, kvmap_find_w(c->db, key->ptr, key->len, c->now_ms), type, wrong);
}

/* Report that the command modified key (borrowed) in database db of the
 * executing shard, and the keyspace event that change is (class cls, a
 * NOTIFY_* of server/core/notify_classes.h, and event, a static name such as "set";
 * 0 and NULL: none): Redis's signalModifiedKey with its
 * notifyKeyspaceEvent. Every write calls it once per key it changed,
 * after the change, and not for a key it left alone (SETNX on an
 * existing key, DEL of a missing one); WATCH and the dirty counter hang
 * off it (cmd_hook_key), and the event is queued for the command's end
 * (cmd_exec_hooks.key_event: notify.c) when its class is on. */
void cmd_key_modified(struct cmd_ctx *c, uint32_t cls, const char *event, const void *key,
                      size_t klen);
/* The same for a key in another database (MOVE, COPY ... DB). */
void cmd_key_modified_db(struct cmd_ctx *c, unsigned db, uint32_t cls, const char *event,
                         const void *key, size_t klen);
/* Every key of database db (CMD_DB_ALL: of every database) may have
 * changed, n keys counted as dirty: FLUSHDB, FLUSHALL, SWAPDB. No event:
 * Redis sends none for these. */
void cmd_db_modified(struct cmd_ctx *c, unsigned db, uint64_t n);

/* Standard replies. */
void cmd_reply_ok(struct cmd_ctx *c);
void cmd_reply_syntax(struct cmd_ctx *c);       /* -ERR syntax error */
void cmd_reply_wrongtype(struct cmd_ctx *c);    /* -WRONGTYPE ... */

/* Reply a NULL-terminated array of help lines as simple strings (the HELP
 * subcommands; exec/cmd_reply.c). */
void cmd_reply_help(struct cmd_ctx *c, const char *const *lines);

#endif
