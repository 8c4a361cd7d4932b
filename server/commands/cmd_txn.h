/* cmd_txn.h — MULTI, EXEC, DISCARD, WATCH and UNWATCH: the per-client
 * queue of commands between MULTI and EXEC, EXEC as one transaction across
 * every shard its commands touch (server/txn/txn.h), and WATCH's optimistic
 * check. Runs on the client's worker thread; the parts of EXEC run on the
 * shards as transaction hops. */
#ifndef SKV_SERVER_CMD_TXN_H
#define SKV_SERVER_CMD_TXN_H

#include <stdbool.h>
#include <stddef.h>

#include "protocol/resp.h"
#include "server/exec/cmd.h"

struct conn;

/* The command table fragment merged by cmd_table.c. */
extern const struct cmd_def cmd_txn_defs[];
extern const size_t cmd_txn_ndefs;

/* Called by dispatch_command for a known, well-formed command d while c
 * has MULTI/WATCH state (c->txc != NULL): inside MULTI every command but
 * EXEC, DISCARD, MULTI, WATCH and QUIT is queued (+QUEUED) or refused
 * (error reply; EXEC will abort). Returns true if it took the command.
 * argv is borrowed (copied when queued). c's thread. */
bool cmd_txn_intercept(struct conn *c, const struct cmd_def *d, size_t argc,
                       const struct resp_arg *argv);

/* Is c between MULTI and EXEC (its commands are being queued)? */
bool cmd_txn_in_multi(const struct conn *c);

/* A command of c was refused before running (unknown, wrong arity, no
 * auth): inside MULTI that makes EXEC fail with EXECABORT, as in Redis. */
void cmd_txn_flag_error(struct conn *c);

/* Does c hold no MULTI queue and no WATCH (it may move to another worker:
 * conn_processor.movable)? c's thread. */
bool cmd_txn_movable(const struct conn *c);

/* c is being freed: drop its queue and its WATCH registrations. */
void cmd_txn_conn_free(struct conn *c);

#endif
