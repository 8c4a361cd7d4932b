/* cmd_allshards.h — commands that run on every shard and merge the results
 * on the connection's thread: DBSIZE, KEYS, RANDOMKEY, FLUSHDB, FLUSHALL,
 * SWAPDB, and SCAN, whose cursor names the shard it continues on. */
#ifndef SKV_SERVER_CMD_ALLSHARDS_H
#define SKV_SERVER_CMD_ALLSHARDS_H

#include <stddef.h>

#include "protocol/resp.h"
#include "server/exec/cmd.h"

struct conn;

/* The command table fragment merged by cmd_table.c. */
extern const struct cmd_def cmd_allshards_defs[];
extern const size_t cmd_allshards_ndefs;

struct mplan;

/* Check the arguments of d (flagged CMD_ALLSHARDS) and launch it as p says
 * (server/commands/cmd_multi.h): one part per shard in a transaction holding every
 * shard (shared for reads, so DBSIZE and KEYS answer from one point in the
 * global order; exclusive for FLUSHDB, FLUSHALL, SWAPDB), or one request to
 * the shard a SCAN cursor names. argv is borrowed for the call.
 * Connection's thread. */
void cmd_allshards_plan(struct mplan *p, const struct cmd_def *d, size_t argc,
                        const struct resp_arg *argv);

#endif
