/* notify.c — keyspace notifications: the option's text form, a per-thread
 * queue of the events a command (or the cron) caused, and their
 * publication as Redis's __keyspace@<db>__:<key> and
 * __keyevent@<db>__:<event> messages. Runs on the shard threads (each is
 * a worker); the queue is the calling thread's own.
 *
 * Why a queue: a command reports its changes while it writes its reply,
 * and an array reply may be half written when a key expires under it
 * (MGET). Publishing into a subscriber's reply stream then would cut the
 * reply in two if that subscriber is the client itself (RESP3). So events
 * wait until the command returns (cmd_call), and go out in the order they
 * happened, before the next command runs. */
#include "server/pubsub/notify.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/util/log.h"
#include "server/exec/cmd.h"
#include "server/pubsub/pubsub.h"
#include "shard/shard.h"

/* One queued event; the key's bytes follow. */
struct event {
    const char *name; /* static event name ("set", "expired") */
    uint32_t cls;     /* its class, re-checked when published */
    unsigned db;      /* database index */
    size_t klen;      /* key length */
};

/* This thread's queue: events back to back, each padded to 8 bytes. */
static _Thread_local struct {
    char *buf;  /* records */
    size_t len; /* bytes used */
    size_t cap; /* bytes allocated */
} q;


static size_t rec_size(size_t klen)
{
    return (sizeof(struct event) + klen + 7) & ~(size_t)7;
}

void notify_key(uint32_t cls, const char *event, unsigned db, const void *key, size_t klen)
{
    if (!notify_wanted(cls))
        return;
    size_t need = rec_size(klen);
    if (need < klen || q.len + need < q.len) /* (sizes wrapped: cannot be) */
        return;
    if (q.len + need > q.cap) {
        size_t ncap = q.cap ? q.cap : 1024;
        while (ncap < q.len + need)
            ncap *= 2;
        char *nb = realloc(q.buf, ncap);
        if (!nb) {
            log_warn("keyspace notifications: out of memory, event '%s' dropped", event);
            return;
        }
        q.buf = nb;
        q.cap = ncap;
    }
    struct event *e = (struct event *)(void *)(q.buf + q.len);
    e->name = event;
    e->cls = cls;
    e->db = db;
    e->klen = klen;
    if (klen)
        memcpy(e + 1, key, klen);
    q.len += need;
    notify_pending = true;
}

/* Publish one event: the keyspace message, then the keyevent one, as
 * Redis's notifyKeyspaceEvent. */
static void publish(const struct event *e, uint32_t f)
{
    const char *key = (const char *)(e + 1);
    size_t elen = strlen(e->name);
    char small[256];
    /* "__keyspace@" + db + "__:" + key: 11 + 10 + 3 bytes around the key. */
    size_t cap = 32 + (e->klen > elen ? e->klen : elen);
    char *ch = cap <= sizeof small ? small : malloc(cap);
    if (!ch) {
        log_warn("keyspace notifications: out of memory, event '%s' dropped", e->name);
        return;
    }
    if (f & NOTIFY_KEYSPACE) {
        int n = snprintf(ch, cap, "__keyspace@%u__:", e->db);
        memcpy(ch + n, key, e->klen);
        pubsub_publish(PUBSUB_CHANNEL, ch, (size_t)n + e->klen, e->name, elen);
    }
    if (f & NOTIFY_KEYEVENT) {
        int n = snprintf(ch, cap, "__keyevent@%u__:%s", e->db, e->name);
        pubsub_publish(PUBSUB_CHANNEL, ch, (size_t)n, key, e->klen);
    }
    if (ch != small)
        free(ch);
}

void notify_flush(void)
{
    notify_pending = false;
    uint32_t f = atomic_load_explicit(&notify_classes, memory_order_relaxed);
    for (size_t at = 0; at < q.len;) {
        const struct event *e = (const struct event *)(const void *)(q.buf + at);
        /* A CONFIG SET since the event was queued applies to it too. */
        if (f & e->cls)
            publish(e, f);
        at += rec_size(e->klen);
    }
    q.len = 0;
    /* A burst (DEL of a million keys) does not keep its memory. */
    if (q.cap > 64 * 1024) {
        free(q.buf);
        q.buf = NULL;
        q.cap = 0;
    }
}

void notify_flush_cmd(const struct cmd_ctx *c, size_t reply_at)
{
    struct pubsub_origin o = {
        .c = c->origin,
        .slot = c->oslot,
        .out = c->reply_inline ? c->out : NULL,
        .at = reply_at,
    };
    pubsub_set_origin(&o);
    notify_flush();
    pubsub_set_origin(NULL);
}

void notify_thread_cleanup(void)
{
    free(q.buf);
    q.buf = NULL;
    q.len = q.cap = 0;
    notify_pending = false;
}

/* The databases' map hook: the map's index in this shard is its database
 * (SWAPDB swaps the maps, so the index is looked up, not stored). */
static void on_map_event(void *arg, struct kvmap *m, int ev, const void *key, size_t klen)
{
    struct shard *s = arg;
    uint32_t cls = ev == KVMAP_EV_NEW ? NOTIFY_NEW : NOTIFY_EXPIRED;
    if (!notify_wanted(cls))
        return;
    for (unsigned db = 0; db < s->ndb; db++) {
        if (s->db[db] == m) {
            notify_key(cls, ev == KVMAP_EV_NEW ? "new" : "expired", db, key, klen);
            return;
        }
    }
}

void notify_shard_attach(struct shard *s)
{
    for (unsigned db = 0; db < s->ndb; db++)
        kvmap_set_events(s->db[db], on_map_event, s);
}
