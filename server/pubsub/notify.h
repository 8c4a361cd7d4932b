/* notify.h — keyspace notifications (Redis's notify-keyspace-events): the
 * event classes, the option's text form, and the events themselves, which
 * commands report with what they modified (cmd_key_modified), the maps
 * report for keys they create or reap (kvmap_set_events), and eviction
 * reports for the keys it deletes. Events are queued on the thread that
 * runs the command (a shard thread) and published after it, as messages on
 * __keyspace@<db>__:<key> and __keyevent@<db>__:<event>. docs/DESIGN.md,
 * Pub/Sub. */
#ifndef SKV_SERVER_NOTIFY_H
#define SKV_SERVER_NOTIFY_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "server/core/notify_classes.h"

struct shard;
struct cmd_ctx;
struct conn;
struct slot;
struct resp_arg;
struct rbuf;
struct cmd_def;

/* Queue an event of class cls named event (a static string) for key
 * (copied) in database db, if notify_wanted(cls). Calling thread: the one
 * running the command or cron that caused it; published at notify_flush. */
void notify_key(uint32_t cls, const char *event, unsigned db, const void *key, size_t klen);

/* A key evicted for maxmemory (shard/evict.c's caller): Redis's "evicted". */
static inline void notify_evicted(unsigned db, const void *key, size_t klen)
{
    notify_key(NOTIFY_EVICTED, "evicted", db, key, klen);
}

/* Publish this thread's queued events, in the order they happened. Called
 * at the end of every loop turn (events of the cron: active expiry, and
 * of eviction). */
void notify_flush(void);

/* The same after command c (cmd_call, when notify_pending): the frames
 * for c's own client go before its reply (cmd_ctx.oslot, or c->out from
 * reply_at), as Redis emits events while the command runs. */
void notify_flush_cmd(const struct cmd_ctx *c, size_t reply_at);

/* Publish the keyspace events that the parts of command argv (d, NULL if
 * unknown) recorded on their shards (cmd_ctx.events, gathered in part
 * order in events), in Redis's order: by the argument index of their keys
 * (a key's events all come from one shard, in the order they happened),
 * the last key's first with dest_first (LMOVE); with d NULL (one
 * request's events, recorded on one shard) as they were recorded. c is the command's
 * client; its own frames go into out at *at, advancing *at past them,
 * when out is not NULL (its reply is, or will be, after them), else after
 * its reply. The command's thread (its fan's), while its transaction
 * still holds the keys. */
void notify_publish_parts(const struct conn *c, struct rbuf *out, size_t *at,
                          const struct cmd_def *d, size_t argc, const struct resp_arg *argv,
                          bool dest_first, const struct rbuf *events);

/* The map hook of s's databases (kvmap_set_events): "new" and "expired".
 * Shard thread, at start-up. */
void notify_shard_attach(struct shard *s);

/* Free this thread's queue (a worker stopping). */
void notify_thread_cleanup(void);

#endif
