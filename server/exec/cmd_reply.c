/* cmd_reply.c — reply helpers that commands of every layer share (exec/ and
 * commands/ both define commands: SLOWLOG and LATENCY live beside the
 * execution point that feeds them). Runs on whichever thread runs the
 * command. */
#include "protocol/resp_enc.h"
#include "server/exec/cmd.h"

void cmd_reply_help(struct cmd_ctx *c, const char *const *lines)
{
    size_t n = 0;
    while (lines[n] != NULL)
        n++;
    resp_array(c->out, n);
    for (size_t i = 0; i < n; i++)
        resp_simple(c->out, lines[i]);
}
