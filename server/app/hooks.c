/* hooks.c — the composition root: the lower layers (net/, exec/, txn/,
 * route/) call features only through hooks, and this file is where each
 * feature is plugged in, in one place, so the order in which they run is
 * read here. docs/DESIGN.md, "Layers and hooks". Main thread, at start-up,
 * before any worker runs; everything registered is read-only after. */
#include "server/app/hooks.h"

#include "protocol/resp_enc.h"
#include "server/exec/cmd.h"
#include "server/memory/maxmemory.h"
#include "server/persist/persist.h"
#include "server/pubsub/notify.h"
#include "server/txn/txn_watch.h"

/* ---- The execution point (exec/cmd_call.c) ----------------------------- */

/* Over maxmemory: evict first, and refuse what would only grow memory
 * (Redis's processCommand does both before any command). */
static bool admit(const struct cmd_def *d, struct cmd_ctx *c)
{
    if (maxmemory_admit(d, c))
        return true;
    resp_error(c->out, MAXMEMORY_OOM_ERROR);
    return false;
}

static void exec_hooks(void)
{
    cmd_exec_hooks = (struct cmd_exec_hooks){
        .admit = admit,
        .before_part = maxmemory_before_part,
        .key_event = notify_key,
        .flush_events = notify_flush,
    };
    /* WATCH hears of every modified key, the save points count them. */
    cmd_hook_key(txn_watch_on_modified);
    cmd_hook_call(persist_on_call);
}

void app_hooks_register(void)
{
    exec_hooks();
}
