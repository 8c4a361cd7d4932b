/* cmd_table.c — which families make up the command table: every
 * family's fragment (strings, keys, server/connection, multi-key,
 * all-shard, transactions, persistence, ...) is added here, in this order
 * (the first definition of a name wins). The table itself, what it derives
 * and the lookups are exec/cmd_lookup.c's; it calls cmd_table_families
 * once, on first use (registered by app/hooks.c). Any thread. */
#include "server/commands/cmd_block.h"
#include "server/commands/cmd_table.h"

#include "server/exec/cmd.h"
#include "server/commands/cmd_allshards.h"
#include "server/commands/cmd_impl.h"
#include "server/commands/cmd_multi.h"
#include "server/commands/cmd_pubsub.h"
#include "server/commands/cmd_server.h"
#include "server/commands/cmd_txn.h"
#include "server/commands/function.h"
#include "server/commands/script.h"
#include "server/exec/latency.h"
#include "server/exec/slowlog.h"
#include "server/persist/persist.h"

/* One family's definitions, in their order. */
static void add_family(const struct cmd_def *defs, size_t n)
{
    cmd_table_add(defs, n);
}

void cmd_table_families(void)
{
    add_family(cmd_server_defs, cmd_server_ndefs);
    add_family(cmd_string_defs, cmd_string_ndefs);
    add_family(cmd_keys_defs, cmd_keys_ndefs);
    add_family(cmd_hash_defs, cmd_hash_ndefs);
    add_family(cmd_set_defs, cmd_set_ndefs);
    add_family(cmd_list_defs, cmd_list_ndefs);
    add_family(cmd_zset_defs, cmd_zset_ndefs);
    add_family(cmd_zset_range_defs, cmd_zset_range_ndefs);
    add_family(cmd_zset_multi_defs, cmd_zset_multi_ndefs);
    add_family(cmd_sort_defs, cmd_sort_ndefs);
    add_family(cmd_block_defs, cmd_block_ndefs);
    add_family(cmd_dump_defs, cmd_dump_ndefs);
    add_family(cmd_multi_defs, cmd_multi_ndefs);
    add_family(cmd_allshards_defs, cmd_allshards_ndefs);
    add_family(cmd_txn_defs, cmd_txn_ndefs);
    add_family(cmd_persist_defs, cmd_persist_ndefs);
    add_family(cmd_pubsub_defs, cmd_pubsub_ndefs);
    add_family(cmd_script_defs, cmd_script_ndefs);
    add_family(cmd_function_defs, cmd_function_ndefs);
    add_family(cmd_slowlog_defs, cmd_slowlog_ndefs);
    add_family(cmd_latency_defs, cmd_latency_ndefs);
}
