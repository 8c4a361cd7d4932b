/* txn_watch.h — the per-shard WATCH tables, as the transaction code sees
 * them (the client side of WATCH is server/txn/txn.h's txn_watch_* and
 * cmd_txn.c). Owner thread of the shard only. */
#ifndef SKV_SERVER_TXN_WATCH_H
#define SKV_SERVER_TXN_WATCH_H

#include <stdbool.h>
#include <stddef.h>

struct shard;

/* Does anyone watch a key on s? (The check every write makes first.) */
bool txn_watch_any(struct shard *s);

/* (db, key) on s changed: mark every live watcher dirty, drop the
 * registrations of clients that have unwatched. */
void txn_watch_touch(struct shard *s, unsigned db, const void *key, size_t len);

/* Everything on s may have changed (FLUSHALL, SWAPDB): mark all watchers. */
void txn_watch_touch_all(struct shard *s);

/* The key hook behind WATCH (cmd_hook_key, registered at start-up): a
 * command modified (db, key), or every key of db when key is NULL, on
 * c->shard. Cheap when nobody watches anything there. */
struct cmd_ctx;
void txn_watch_on_modified(struct cmd_ctx *c, unsigned db, const void *key, size_t len);

#endif
