/* notify_classes.h — the notify-keyspace-events option (Redis's event
 * classes and their letters) and the per-thread "events queued" flag: what
 * the configuration and the execution point need of keyspace
 * notifications, below the Pub/Sub layer that queues and publishes the
 * events (server/pubsub/notify.h). Any thread. */
#ifndef SKV_SERVER_NOTIFY_CLASSES_H
#define SKV_SERVER_NOTIFY_CLASSES_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Event classes: Redis 7.0's NOTIFY_* bits, with the option's letter. */
enum {
    NOTIFY_KEYSPACE = 1 << 0,  /* K: __keyspace@<db>__:<key> messages */
    NOTIFY_KEYEVENT = 1 << 1,  /* E: __keyevent@<db>__:<event> messages */
    NOTIFY_GENERIC = 1 << 2,   /* g: DEL, EXPIRE, RENAME, ... */
    NOTIFY_STRING = 1 << 3,    /* $ */
    NOTIFY_LIST = 1 << 4,      /* l */
    NOTIFY_SET = 1 << 5,       /* s */
    NOTIFY_HASH = 1 << 6,      /* h */
    NOTIFY_ZSET = 1 << 7,      /* z */
    NOTIFY_EXPIRED = 1 << 8,   /* x: a key reaped because its TTL passed */
    NOTIFY_EVICTED = 1 << 9,   /* e: a key evicted for maxmemory */
    NOTIFY_STREAM = 1 << 10,   /* t */
    NOTIFY_KEY_MISS = 1 << 11, /* m: a read found no key (not in A) */
    NOTIFY_MODULE = 1 << 13,   /* d: module events (none here) */
    NOTIFY_NEW = 1 << 14,      /* n: a key was created (not in A) */
    NOTIFY_ALL = NOTIFY_GENERIC | NOTIFY_STRING | NOTIFY_LIST | NOTIFY_SET | NOTIFY_HASH |
                 NOTIFY_ZSET | NOTIFY_EXPIRED | NOTIFY_EVICTED | NOTIFY_STREAM | NOTIFY_MODULE,
};

/* The classes in force (notify_set). Read with one relaxed load per
 * reported change: with notifications off (0, the default) that load and
 * a branch is all a write pays. */
extern _Atomic uint32_t notify_classes;

/* Are keyspace or keyevent notifications on at all (K or E set)? Then
 * a command's events are published in the order its client sent it
 * (group_events.c, cmd_multi_plan.c). */
static inline bool notify_on(void)
{
    return atomic_load_explicit(&notify_classes, memory_order_relaxed) &
           (NOTIFY_KEYSPACE | NOTIFY_KEYEVENT);
}

/* Does an event of class cls go anywhere now (its class and K or E set)? */
static inline bool notify_wanted(uint32_t cls)
{
    uint32_t f = atomic_load_explicit(&notify_classes, memory_order_relaxed);
    return (f & cls) && (f & (NOTIFY_KEYSPACE | NOTIFY_KEYEVENT));
}

/* Parse the option's text ("KEA", "Ex", "") into *out as Redis's
 * keyspaceEventsStringToFlags. Returns 0, or -1 on a character that is no
 * class (Redis's error: NOTIFY_EINVAL_TEXT). Pure. */
int notify_parse(const char *s, size_t len, uint32_t *out);
#define NOTIFY_EINVAL_TEXT "Invalid event class character. Use 'Ag$lshzxeKEtmdn'."

/* Format classes as Redis 7.0's CONFIG GET prints them ("AKE", "xK");
 * buf holds at least 16 bytes. Returns buf. Pure. */
char *notify_format(uint32_t classes, char *buf);

/* Put classes in force for every thread (config: at load and on CONFIG
 * SET). */
void notify_set(uint32_t classes);

/* Events queued on this thread and not yet published (set by
 * server/pubsub/notify.c, which queues them). */
extern _Thread_local bool notify_pending;

#endif
