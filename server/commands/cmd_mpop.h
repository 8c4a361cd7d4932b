/* cmd_mpop.h — the plan across shards that LMPOP and ZMPOP share (and
 * BLMPOP and BZMPOP inside EXEC, where they never block): Redis's
 * mpopGenericCommand over keys spread on several shards. Planned on the
 * connection's thread; its parts run on the keys' shards. */
#ifndef SKV_SERVER_CMD_MPOP_H
#define SKV_SERVER_CMD_MPOP_H

#include <stddef.h>
#include <stdint.h>

#include "protocol/resp.h"
#include "server/exec/cmd.h"

struct mplan;

/* One MPOP command, parsed by its family. */
struct cmd_mpop {
    int type;            /* the type popped: TVAL_LIST or TVAL_ZSET */
    size_t first;        /* the keys are argv[first .. first + numkeys) */
    size_t numkeys;
    const char *end;     /* the end word pop_part reads ("left", "max", ...) */
    int64_t count;       /* elements to pop, >= 1 */
    /* Runs on the chosen key's shard with argv [_, key, end, count] and
     * writes the command's whole reply (the key holds `type`: the
     * transaction has held it since the check). */
    cmd_exec_fn pop_part;
};

/* Plan MPOP command d (argv borrowed for the call) as p says: with every
 * key on one shard, d->exec runs there; otherwise one transaction over
 * all the keys whose first round asks each shard what its keys hold, and
 * whose second pops the first key, in argument order, that exists
 * (WRONGTYPE if it holds another type; a null array if none exists). */
void cmd_mpop_plan(struct mplan *p, const struct cmd_def *d, size_t argc,
                   const struct resp_arg *argv, const struct cmd_mpop *m);

#endif
