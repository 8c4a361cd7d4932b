/* cmd_multi.h — commands whose keys may live on several shards (MGET, MSET,
 * MSETNX, DEL, UNLINK, EXISTS, TOUCH, RENAME, RENAMENX, COPY), plus MOVE.
 * Planned on the connection's thread, executed as parts on the owning
 * shards, merged back in key order. Also the merge steps that the
 * all-shard commands (cmd_allshards.c) share. */
#ifndef SKV_SERVER_CMD_MULTI_H
#define SKV_SERVER_CMD_MULTI_H

#include <stdbool.h>
#include <stddef.h>

#include "protocol/resp.h"
#include "server/exec/cmd.h"
#include "server/route/dispatch.h"

struct conn;
struct fan;
struct req;
struct txn;

/* The command table fragment merged by cmd_table.c. */
extern const struct cmd_def cmd_multi_defs[];
extern const size_t cmd_multi_ndefs;

/* Plan and launch command d (flagged CMD_MULTIKEY or CMD_ALLSHARDS; the
 * latter are passed on to cmd_allshards_dispatch) for c: a single request
 * when every key is on one shard (checked against intent locks there),
 * else a fan-out whose parts run in a transaction (server/txn/txn.h) holding
 * intent locks on all its keys, so it is atomic across shards. argv is
 * borrowed for the call. Connection's thread. */
void cmd_multi_dispatch(struct conn *c, const struct cmd_def *d, size_t argc,
                        const struct resp_arg *argv, int home);

/* The one shard d (CMD_MULTIKEY) would run on whole, routed like a
 * single-key command, or -1 when it may span shards, names no key or has
 * bad arguments (the planner answers those). Dispatch asks while c's
 * earlier commands are still out, so that a pipeline of such commands
 * follows or joins that unit instead of waiting for it; passed back to
 * cmd_multi_dispatch as home (-1: not asked), which then routes d there
 * without asking the planner again.
 * Connection's thread; pure. */
int cmd_multi_home(const struct conn *c, const struct cmd_def *d, size_t argc,
                   const struct resp_arg *argv);

/* Where a planned command goes: standalone (t == NULL: its own slot, and
 * its own transaction when it spans shards), or one command of EXEC (its
 * parts run in EXEC's transaction t, the reply is appended to out). */
struct mplan {
    struct conn *c;               /* the client (db, proto, settings) */
    struct txn *t;                /* EXEC's transaction, or NULL */
    struct rbuf *out;             /* EXEC: where the reply goes */
    void (*finished)(void *arg);  /* EXEC: runs when the reply is complete */
    void *arg;                    /* its argument */
    bool sync;                    /* EXEC: set when the reply was written
                                     during planning (finished never runs) */
    bool homed;                   /* dispatch found d's one shard (home) */
    unsigned home;                /* cmd_multi_home's answer, if homed */
};

/* How a CMD_MULTIKEY or CMD_ALLSHARDS command is split over shards: its
 * cmd_def.plan. The definitions of MGET, MSET, ... point at one each
 * (cmd_multi.c, cmd_allshards.c); the planners read it instead of
 * recognising commands. */
struct cmd_plan {
    /* The planner: NULL plans by keys (each shard gets its keys, part
     * runs there, step merges). */
    void (*plan)(struct mplan *p, const struct cmd_def *d, size_t argc,
                 const struct resp_arg *argv);
    /* With a planner: cmd_multi_home for d (NULL: -1, always planned). It
     * must name the shard the planner routes d to whole, or -1. */
    int (*home)(const struct conn *c, const struct cmd_def *d, size_t argc,
                const struct resp_arg *argv);
    /* Intent locks the key specs cannot describe (a key in another
     * database: COPY ... DB, MOVE), declared after the specs' own; NULL:
     * none. Returns 0 or -1 on out-of-memory. */
    int (*lock_more)(struct txn *t, const struct cmd_def *d, unsigned db, size_t argc,
                     const struct resp_arg *argv);
    cmd_exec_fn part;        /* what each shard runs */
    fan_step_fn step;        /* merges the parts on the connection's thread */
    const char *part_name;   /* the parts' argv[0]; NULL: the command's */
    unsigned span;           /* arguments per key (MSET's pairs: 2), 0 = 1 */
    bool rounds;             /* step may ask for more rounds (MSETNX): the
                                shards cannot conclude as their part runs */
    bool nx;                 /* RENAMENX: only if the target is missing */
    bool copy;               /* COPY (a rename otherwise) */
    bool events_dest_first;  /* its keyspace events across shards begin with
                                its last key's (LMOVE pushes, then pops:
                                Redis reports them so); otherwise in key
                                order (notify_publish_parts) */
    /* All-shard commands run standalone at one point of the global order
     * (txn_all_shards): what each shard runs there (ctx->priv is the
     * job), and whether the reply is the sum of the shards' counts (else
     * +OK). NULL: always as a fan-out. */
    cmd_exec_fn all_shards;
    bool sum;
};

/* Plan d (any keyed or all-shard command) inside EXEC as p says. On return
 * either p->sync is true and the reply is in p->out, or p->finished will
 * run (possibly already has run) once it is. Connection's thread. */
void cmd_multi_plan(struct mplan *p, const struct cmd_def *d, size_t argc,
                    const struct resp_arg *argv);

/* Declare on t the intent locks command d (arguments argv, database db)
 * needs: its keys by Redis key spec, exclusive unless d is read-only;
 * COPY's destination in its DB; shard-wide locks for all-shard commands.
 * Returns 0 or -1 on out-of-memory. */
int cmd_multi_lock_keys(struct txn *t, const struct cmd_def *d, unsigned db, size_t argc,
                        const struct resp_arg *argv);

/* Planning helpers shared with cmd_allshards.c: the reply buffer for an
 * answer known at planning time (NULL: out of memory, the conn is closing),
 * a whole command sent to one shard, a fan-out (NULL if it could not start;
 * an error reply has been written; one_round: step always finishes after
 * the first round, so each shard may conclude as its part runs), and its
 * launch. */
struct rbuf *cmd_multi_plan_reply_buf(struct mplan *p);
void cmd_multi_plan_error(struct mplan *p, const char *err);
void cmd_multi_plan_route(struct mplan *p, const struct cmd_def *d, unsigned shard,
                          cmd_exec_fn exec, size_t argc, const struct resp_arg *argv);
struct fan *cmd_multi_plan_fan(struct mplan *p, const struct cmd_def *d, size_t argc,
                               const struct resp_arg *argv, fan_step_fn step, bool one_round);
void cmd_multi_plan_go(struct mplan *p, struct fan *f);

/* Fan-out steps (fan_step_fn) shared by several commands: reply the sum of
 * the parts' ival, or +OK; either forwards the first part error instead. */
bool cmd_multi_sum_step(struct fan *f, struct req **parts, size_t n, struct rbuf *out);
bool cmd_multi_ok_step(struct fan *f, struct req **parts, size_t n, struct rbuf *out);

/* Reply err (e.g. "ERR syntax error") to c at once, in order. */
void cmd_multi_reply_error(struct conn *c, const char *err);

#endif
