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
#include "server/cmd.h"

struct conn;
struct fan;
struct req;

/* The command table fragment merged by cmd_table.c. */
extern const struct cmd_def cmd_multi_defs[];
extern const size_t cmd_multi_ndefs;

/* Plan and launch command d (flagged CMD_MULTIKEY or CMD_ALLSHARDS; the
 * latter are passed on to cmd_allshards_dispatch) for c: a single request
 * when every key is on one shard, else a fan-out. argv is borrowed for the
 * call. Connection's thread. */
void cmd_multi_dispatch(struct conn *c, const struct cmd_def *d, size_t argc,
                        const struct resp_arg *argv);

/* Fan-out steps (fan_step_fn) shared by several commands: reply the sum of
 * the parts' ival, or +OK; either forwards the first part error instead. */
bool cmd_multi_sum_step(struct fan *f, struct req **parts, size_t n, struct rbuf *out);
bool cmd_multi_ok_step(struct fan *f, struct req **parts, size_t n, struct rbuf *out);

/* Reply err (e.g. "ERR syntax error") to c at once, in order. */
void cmd_multi_reply_error(struct conn *c, const char *err);

#endif
