/* cmd_set.h — what the set command files share: the exec functions of the
 * multi-key set commands run whole on one shard (cmd_set_ops.c), their
 * cross-shard planner (cmd_set_multi.c), and the reply helpers. Private to
 * server/cmd_set*.c and the table; exec functions run on the owner shard's
 * thread, planning on the connection's thread. */
#ifndef SKV_SERVER_CMD_SET_H
#define SKV_SERVER_CMD_SET_H

#include <stdbool.h>
#include <stddef.h>

#include "server/exec/cmd.h"
#include "server/commands/cmd_set_alg.h"

struct mplan;

/* The multi-key commands with every key on this shard (cmd_def.exec). */
void cmd_set_smove_exec(struct cmd_ctx *c);
void cmd_set_sinter_exec(struct cmd_ctx *c);      /* SINTER and SMEMBERS' twin */
void cmd_set_sintercard_exec(struct cmd_ctx *c);
void cmd_set_sinterstore_exec(struct cmd_ctx *c);
void cmd_set_sunion_exec(struct cmd_ctx *c);
void cmd_set_sunionstore_exec(struct cmd_ctx *c);
void cmd_set_sdiff_exec(struct cmd_ctx *c);
void cmd_set_sdiffstore_exec(struct cmd_ctx *c);

/* Their plans (cmd_def.plan, server/commands/cmd_multi.h): run whole on one shard
 * when every key is there, else as a transaction over the shards (fetch
 * the sources, compute on the connection's thread, write the
 * destination). */
extern const struct cmd_plan cmd_set_smove_plan;
extern const struct cmd_plan cmd_set_sinter_plan;
extern const struct cmd_plan cmd_set_sintercard_plan;
extern const struct cmd_plan cmd_set_sinterstore_plan;
extern const struct cmd_plan cmd_set_sunion_plan;
extern const struct cmd_plan cmd_set_sunionstore_plan;
extern const struct cmd_plan cmd_set_sdiff_plan;
extern const struct cmd_plan cmd_set_sdiffstore_plan;

/* Parse SINTERCARD's numkeys and LIMIT (argv as the command's); on error
 * write Redis's reply into err and return false. Any thread. */
bool cmd_set_parse_sintercard(size_t argc, const struct resp_arg *argv, size_t *numkeys,
                              size_t *limit, struct rbuf *err);

/* Reply the result of a SINTER/SUNION/SDIFF: a set (RESP3 '~') of res.
 * Any thread. */
void cmd_set_reply_members(struct rbuf *out, int proto, const struct tset_member *const *res,
                           size_t n);

/* Replace key in c's database with a set of res[0..n) (delete it when n
 * is 0), as the STORE form of op does, and report the change: Redis's
 * "sinterstore" (or sunionstore, sdiffstore), or "del" for an empty
 * result that deleted the key. Returns 1 if the key was written or
 * deleted, 0 if nothing changed (an empty result and no key), or a
 * KVMAP_E* error. Owner shard's thread. */
int cmd_set_store(struct cmd_ctx *c, enum setalg_op op, const void *key, size_t klen,
                  const struct tset_member *const *res, size_t n);

/* The STORE form's name, which is also its keyspace event. Static. */
const char *cmd_set_store_name(enum setalg_op op);

#endif
