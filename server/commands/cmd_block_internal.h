/* cmd_block_internal.h — what the blocking commands' files share: the
 * parsed command, the waiter one blocked client is, and the calls between
 * the client's side (cmd_block.c, the client's worker) and the per-shard
 * waiter registry (cmd_block_reg.c, each key's shard). Not for other
 * families. */
#ifndef SKV_SERVER_CMD_BLOCK_INTERNAL_H
#define SKV_SERVER_CMD_BLOCK_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "protocol/resp.h"
#include "server/exec/cmd.h"
#include "shard/mailbox.h"

struct conn;
struct fan;
struct req;
struct shard;
struct txn;

/* Which pop a blocking command does. */
enum blk_kind {
    BK_LPOP,  /* BLPOP */
    BK_RPOP,  /* BRPOP */
    BK_ZMIN,  /* BZPOPMIN */
    BK_ZMAX,  /* BZPOPMAX */
    BK_LMPOP, /* BLMPOP */
    BK_ZMPOP, /* BZMPOP */
    BK_LMOVE, /* BLMOVE, BRPOPLPUSH */
};

/* A parsed blocking command. */
struct blk_spec {
    enum blk_kind kind;
    size_t kfirst;       /* argv index of the first key */
    size_t nkeys;        /* keys waited on (LMOVE: the source only) */
    int64_t timeout_ms;  /* relative; 0: forever */
    bool left;           /* pop from the head (LEFT, MIN) */
    bool to_left;        /* LMOVE: push to the head */
    size_t count_at;     /* MPOP: argv index of COUNT's value, 0: none */
};

/* Why a claimed waiter stopped waiting (set by its claimer). */
enum {
    OUT_SERVED,  /* reply (or element to push) in reply */
    OUT_TIMEOUT, /* timeout, or CLIENT UNBLOCK ... TIMEOUT */
    OUT_ERROR,   /* CLIENT UNBLOCK ... ERROR */
    OUT_GONE,    /* the client disconnected (or the server stops) */
    OUT_OOM,     /* out of memory: the reply is an error */
};

/* One blocked client, shared by its worker and every shard it waits on. */
struct blk_waiter {
    _Atomic int claimed;     /* 0 while waiting; the first to set it serves */
    _Atomic int refs;        /* the fan's, one per registration and message */
    _Atomic int unblock;     /* CLIENT UNBLOCK asked: 0, or 1 + error */
    uint64_t client_id;      /* CLIENT ID, for CLIENT UNBLOCK */
    unsigned origin;         /* the client's worker */
    unsigned db;             /* SELECTed database */
    int proto;               /* RESP version of the reply */
    struct blk_spec sp;      /* the command */
    const struct cmd_def *cmd; /* its definition */
    size_t argc;             /* its arguments (copied; trailing bytes) */
    struct resp_arg *argv;
    /* Written by the claimer before the wake message; read by the origin
     * after it. */
    int outcome;             /* OUT_* */
    struct rbuf reply;       /* the reply */
    /* The origin's thread only: */
    struct fan *f;           /* the command's fan */
    int64_t deadline_ms;     /* 0: none */
    bool parked;             /* the fan is parked, the waiter in `parked` */
    bool woken;              /* its wake message came */
    bool gone;               /* claimed by cmd_block_hangup: resume at the
                                next tick */
    struct txn *mtxn;        /* a move the source's shard started for it
                                (blk_move_reserve), written there before
                                the transaction's ready runs here */
    struct txn *mready;      /* that move, ready (its locks held), for the
                                step that parks the fan to run */
    bool move_req;           /* BLMOVE across shards: the first try found
                                data, a move transaction is to start */
    bool moving;             /* its move transaction is out: the client
                                stays blocked, the timer leaves it alone
                                (its fan is busy) until the move ends */
    bool done;               /* the command is over (the fan is freed) */
    struct blk_waiter *prev, *next; /* this worker's parked waiters */
    struct blk_waiter *tnext;       /* blocked table (table_lock) */
};

/* The fan's state (the client's worker). */
struct blk_state {
    struct blk_spec sp;
    size_t ki;               /* key being tried */
    struct blk_waiter *w;    /* NULL inside EXEC (never blocks) */
    bool *reg_shards;        /* shards holding a registration of w */
    int mstage;              /* BLMOVE across shards: the move's round out
                                (MS_*, cmd_block_move.c), 0: none */
    struct rbuf elem;        /* then: the element moved */
};

/* ---- Waiters (any thread holding a reference) ----------------------------- */

/* A waiter for conn c's command d, parsed as sp (argv copied), one
 * reference, owned by the caller. NULL on out-of-memory. c's thread. */
struct blk_waiter *blk_waiter_new(struct conn *c, const struct cmd_def *d,
                                  const struct blk_spec *sp, size_t argc,
                                  const struct resp_arg *argv);

/* Drop one reference; the last frees w. */
void blk_waiter_unref(struct blk_waiter *w);

/* Claim w: true for exactly one caller, who then decides its outcome. */
bool blk_waiter_claim(struct blk_waiter *w);

/* ---- The registry (the key's shard's thread) ------------------------------ */

/* Append w (taking a new reference) to the FIFO of (db, key) on this
 * shard. 0, or -1 on out-of-memory. */
int blk_reg_add(unsigned db, const struct resp_arg *key, struct blk_waiter *w);

/* Remove w from (db, key)'s FIFO on this shard, if it is there. */
void blk_reg_remove(unsigned db, const struct resp_arg *key, struct blk_waiter *w);

/* Ask shard `shard` to remove w's registrations there (a message taking a
 * reference). Returns false on out-of-memory (they stay until the key is
 * served or the shard stops). Any worker thread. */
bool blk_reg_post_purge(unsigned shard, struct blk_waiter *w);

/* Free every registration this shard holds (worker stop). */
void blk_reg_free_all(void);

/* A BLMOVE move transaction's check for w has run on the source's shard
 * (key): the key's FIFO, held for it, is served again. */
void blk_reg_move_done(unsigned db, const struct resp_arg *key, struct blk_waiter *w);

/* ---- The command (cmd_block_pop.c) ---------------------------------------- */

/* Parse argv as a `kind` command into sp, in Redis's order of checks. On
 * bad input, write the error to err (if not NULL) and return false. Pure. */
bool blk_parse(enum blk_kind kind, size_t argc, const struct resp_arg *argv,
               struct blk_spec *sp, struct rbuf *err);

/* The type a waiter of kind k takes (TVAL_LIST or TVAL_ZSET). */
int blk_want_type(enum blk_kind k);

/* Pop from key ki of sp (known to hold data of the right type) on c's
 * shard as the blocking command's reply into out (RESP version proto). An
 * LMOVE's keys are both on c's shard (blk_move_crosses). */
void blk_do_pop(struct cmd_ctx *c, const struct blk_spec *sp, const struct resp_arg *argv,
                size_t ki, struct rbuf *out, int proto);

/* Is sp a BLMOVE (BRPOPLPUSH) whose destination is on another shard than
 * `shard`? Then it is served by a transaction (cmd_block_move.c). */
bool blk_move_crosses(const struct blk_spec *sp, const struct resp_arg *argv, unsigned shard);

/* ---- The client's side (cmd_block.c) -------------------------------------- */

/* The wake message's handler (struct blk_wake_msg), on the waiter's
 * worker: its waiter was claimed and its outcome set. */
void blk_on_wake(void *owner, struct mbox_msg *m);

/* The fan's end (returns true, the step's answer): drops w's
 * registrations and the fan's reference, frees st. */
bool blk_finish(struct fan *f, struct blk_state *st);

/* From a step with no part out: reply if w was claimed, start its move
 * if one was asked, else park until a wake. Returns the step's answer. */
bool blk_wait(struct fan *f, struct blk_state *st, struct rbuf *out);

/* ---- BLMOVE across shards (cmd_block_move.c, the client's worker) -------- */

/* Start the move of st's waiter (unparked, the fan idle): a transaction
 * over both keys whose rounds the fan's step runs (blk_move_step). Returns
 * false on out-of-memory (nothing started). */
bool blk_move_start(struct fan *f, struct blk_state *st);

/* On the source's shard s (its thread), serving w (not claimed) from its
 * key's FIFO: start w's move as a transaction over both keys that w's
 * worker coordinates, its lock on the source counting from now
 * (txn_start_reserved), so that the element is w's, as Redis serves it
 * right after the write. Returns false on out-of-memory (nothing started). */
bool blk_move_reserve(struct shard *s, struct blk_waiter *w);

/* From a step with no part out: run the check round of the reserved move
 * that is ready for st's waiter (w->mready). Returns the step's answer. */
bool blk_move_take(struct fan *f, struct blk_state *st, struct rbuf *out);

/* The fan's step while st->mstage is set. */
bool blk_move_step(struct fan *f, struct blk_state *st, struct req **parts, size_t n,
                   struct rbuf *out);

/* The message that tells a client's worker its waiter was served. */
struct blk_wake_msg {
    struct mbox_msg msg;     /* first */
    struct blk_waiter *w;    /* a reference */
};

#endif
