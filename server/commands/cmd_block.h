/* cmd_block.h — blocking list and sorted-set pops (BLPOP BRPOP BLMOVE
 * BRPOPLPUSH BLMPOP BZPOPMIN BZPOPMAX BZMPOP): the waiters each shard keeps
 * per key, serving them after writes, and the clients' timeouts. The hooks
 * here are plugged in by app/hooks.c. */
#ifndef SKV_SERVER_CMD_BLOCK_H
#define SKV_SERVER_CMD_BLOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "server/exec/cmd.h"

struct worker;

/* The command table fragment merged by cmd_table.c. */
extern const struct cmd_def cmd_block_defs[];
extern const size_t cmd_block_ndefs;

/* cmd_hook_key listener: a key of the executing shard was modified; if
 * clients wait on it, it is served once the command (or the transaction
 * holding the key) is over, or at the end of this loop turn. */
void cmd_block_on_key(struct cmd_ctx *c, unsigned db, const void *key, size_t klen);

/* End of w's loop turn (worker_hooks.turn_end, before the batches are
 * posted): serve the waiters of keys written this turn. w's thread. */
void cmd_block_serve(struct worker *w);

/* cmd_exec_hooks.settle: after a command (or a transaction) on shard s,
 * serve the waiters of the keys it wrote before the next command, as Redis
 * does after each command. s's thread. */
void cmd_block_settle(struct shard *s);

/* Worker start and stop (w's thread): the timeout timer, and at stop every
 * waiter this thread still holds is freed. */
void cmd_block_thread_start(struct worker *w);
void cmd_block_thread_stop(struct worker *w);

/* conn_processor.hangup: blocked client c is closing or hung up. Its
 * waiter is claimed at once, so nothing is popped for it; its command ends
 * at the next timer tick. c's thread. */
struct conn;
void cmd_block_hangup(struct conn *c);

/* Clients blocked now, server-wide (INFO clients blocked_clients). */
uint64_t cmd_block_count(void);

/* CLIENT UNBLOCK: ask the blocked client `id` to stop waiting, as after
 * its timeout (error false) or with -UNBLOCKED (error true). Returns true
 * if that client was blocked. Any worker thread. */
bool cmd_block_unblock(uint64_t id, bool error);

#endif
