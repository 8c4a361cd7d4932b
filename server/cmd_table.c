/* cmd_table.c — the one command table: merges the families' fragments
 * (strings, keys, server/connection, multi-key, all-shard) into one array and indexes
 * it with a small open-addressing hash of the lower-case name. Built once,
 * on first use, then read-only: any thread may look commands up. */
#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "server/cmd.h"
#include "server/cmd_allshards.h"
#include "server/cmd_impl.h"
#include "server/cmd_multi.h"
#include "server/cmd_pubsub.h"
#include "server/cmd_server.h"
#include "server/cmd_txn.h"
#include "server/persist.h"

/* Room for every command we will ever have (Redis 7.0 has ~240). */
#define CMD_MAX 512
/* Index slots: a power of two at least twice CMD_MAX, so probes stay short. */
#define CMD_INDEX 1024
/* Longest command name (Redis's longest is 20 bytes). */
#define CMD_NAME_MAX 32

static struct cmd_def table[CMD_MAX];
static size_t ntable;
static int16_t index_of[CMD_INDEX]; /* -1 = empty, else position in table */
static pthread_once_t once = PTHREAD_ONCE_INIT;

static uint32_t name_hash(const char *s, size_t n)
{
    uint32_t h = 2166136261u; /* FNV-1a: tiny inputs, no flooding concern */
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 16777619u;
    }
    return h;
}

static void add_family(const struct cmd_def *defs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const char *name = defs[i].name;
        size_t len = strlen(name);
        uint32_t h = name_hash(name, len) & (CMD_INDEX - 1);
        bool dup = false;
        while (index_of[h] >= 0) {
            if (strcmp(table[index_of[h]].name, name) == 0) {
                dup = true;
                break;
            }
            h = (h + 1) & (CMD_INDEX - 1);
        }
        /* Two families defining one command is a build mistake; the first
         * definition wins so the server still runs. */
        if (dup || ntable == CMD_MAX)
            continue;
        table[ntable] = defs[i];
        index_of[h] = (int16_t)ntable;
        ntable++;
    }
}

static void build(void)
{
    memset(index_of, 0xff, sizeof index_of);
    add_family(cmd_server_defs, cmd_server_ndefs);
    add_family(cmd_string_defs, cmd_string_ndefs);
    add_family(cmd_keys_defs, cmd_keys_ndefs);
    add_family(cmd_multi_defs, cmd_multi_ndefs);
    add_family(cmd_allshards_defs, cmd_allshards_ndefs);
    add_family(cmd_txn_defs, cmd_txn_ndefs);
    add_family(cmd_persist_defs, cmd_persist_ndefs);
    add_family(cmd_pubsub_defs, cmd_pubsub_ndefs);
}

const struct cmd_def *cmd_lookup(const char *name, size_t len)
{
    pthread_once(&once, build);
    if (len == 0 || len >= CMD_NAME_MAX)
        return NULL;
    char low[CMD_NAME_MAX];
    for (size_t i = 0; i < len; i++)
        low[i] = (char)tolower((unsigned char)name[i]);
    uint32_t h = name_hash(low, len) & (CMD_INDEX - 1);
    while (index_of[h] >= 0) {
        const struct cmd_def *d = &table[index_of[h]];
        if (strlen(d->name) == len && memcmp(d->name, low, len) == 0)
            return d;
        h = (h + 1) & (CMD_INDEX - 1);
    }
    return NULL;
}

const struct cmd_def *cmd_table(size_t *n)
{
    pthread_once(&once, build);
    *n = ntable;
    return table;
}
