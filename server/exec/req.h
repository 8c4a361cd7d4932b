/* req.h — a request: one command, or one part of a fanned-out command,
 * bound for the shard that runs it. The routing layer (route/dispatch.c)
 * makes, sends and completes requests; the transaction sequencer
 * (txn/txn.c) holds them behind intent locks and runs them as a
 * transaction's hops. Made on the origin thread, run on the owner. */
#ifndef SKV_SERVER_REQ_H
#define SKV_SERVER_REQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "protocol/resp.h"
#include "protocol/resp_enc.h"
#include "server/exec/cmd.h"

struct conn;
struct fan;
struct slot;

/* One request that runs on some shard: a single-key command, or one part of
 * a fanned-out command. Allocated with its argument bytes in one block on
 * the origin thread, executed on the owner, completed back on the origin.
 * The first cache line (64 bytes on LP64) holds all the owner reads of a
 * single request, and argv follows the struct: a remote GET moves two lines
 * to its owner, a SET with a small value three. For a single request the
 * owner writes nothing here but direct_sent (its reply goes into the
 * batch), so the origin's copy of these lines stays valid. */
struct req {
    /* Read by the owner. */
    const struct cmd_def *cmd;   /* the command (stats, the intent-lock
                                    check); NULL for a fan-out part, unless
                                    it waits behind transactions as its
                                    command would (a blocking command's try) */
    cmd_exec_fn exec;            /* what the owner runs: cmd->exec or a part fn */
    struct resp_arg *argv;       /* views into this block's trailing bytes */
    struct conn *conn;           /* origin connection; the owner uses only the
                                    pointer (a transaction's per-client order) */
    size_t argc;                 /* arguments */
    unsigned db;                 /* SELECTed database at parse time */
    int proto;                   /* RESP version at parse time */
    /* Direct reply: >= 0 when the owner may send the reply straight to
     * this socket, because the request was its connection's only pending
     * one and nothing was being written (dispatch_route). The connection
     * then writes nothing and keeps its fd open until the request is back.
     * -1 otherwise. */
    int direct_fd;
    unsigned shard;              /* destination shard */
    struct fan *fan;             /* fan-out it belongs to, NULL for single */
    /* The origin's. */
    struct req *next;            /* free-list link */
    struct slot *slot;           /* its slot, NULL for fan-out parts */
    bool pooled;                 /* a fixed-size block from the origin
                                    worker's free list (route/req.c) */
    size_t bidx;                 /* its entry in this turn's batch */
    struct req *ord_next;        /* next request of its connection's unit
                                    batched this turn (conn.ord_first) */
    char *lent;                  /* the connection's read buffer argv points
                                    into (conn_take_ibuf), freed with the
                                    request; NULL: argv follows the struct */
    /* Written by the owner for fan-out parts and held requests only. */
    struct rbuf out;             /* reply or part result bytes */
    int64_t ival;                /* part integer result (counts, sums) */
    uint64_t uval;               /* part unsigned result (cursors) */
    size_t *ends;                /* per-element end offsets in out (MGET
                                    parts), allocated by the part, freed here */
    size_t nends;                /* entries in ends */
    int64_t i_arg;               /* part integer input (TTL, flags, db) */
    struct rbuf events;          /* a fan-out part's keyspace events, recorded
                                    by the owner (cmd_ctx.events) for the
                                    origin to publish in the command's order */
    size_t direct_sent;          /* reply bytes the owner sent directly */
    size_t ob_counted;           /* reply bytes counted in transit for its
                                    connection (server/net/outbuf.h), owner-set
                                    for big replies only, 0 otherwise */
    /* While held on its owner shard behind a transaction's intent lock
     * (server/txn/txn.h); the shard's thread only. */
    struct req *held_next;       /* next held request of the shard, FIFO */
    void *held_ctx;              /* the batch it came in, NULL if local */
    uint64_t held_upto;          /* it waits for no transaction after this
                                    id: the last one scheduled on the shard
                                    when it arrived, or the reservation
                                    (txn_start_reserved) it is held behind */
    bool held_counted;           /* counted in the shard's per-client table */
    bool khashed;                /* khash is known */
    /* Last, beside argv, which the owner loads anyway: */
    uint64_t khash;              /* hash_key() of its first key (routing's) */
};

#endif
