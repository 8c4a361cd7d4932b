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
 * happened, before the next command runs; the client's own frames are put
 * before its reply, where Redis, emitting them while the command runs,
 * has them. A part of a command spanning shards records its events
 * instead, and the command's thread publishes every part's in the
 * command's order (notify_publish_parts). */
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

/* The queue is empty again. A burst (DEL of a million keys) does not
 * keep its memory. */
static void queue_reset(void)
{
    notify_pending = false;
    q.len = 0;
    if (q.cap > 64 * 1024) {
        free(q.buf);
        q.buf = NULL;
        q.cap = 0;
    }
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
    queue_reset();
}

void notify_flush_cmd(const struct cmd_ctx *c, size_t reply_at)
{
    if (c->events) {
        /* A part of a command spanning shards: its origin publishes. */
        if (rbuf_append(c->events, q.buf, q.len) == 0) {
            queue_reset();
            return;
        }
        c->events->oom = false;
        log_warn("keyspace notifications: out of memory, events published out of order");
    }
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

/* One recorded event of a part, and where it goes in the command's order. */
struct ev_ref {
    const struct event *e; /* in its part's events */
    size_t rank;           /* argument index of its key, SIZE_MAX if none */
    size_t seq;            /* parts in order, events in order within one */
};

/* A key of the command, for finding an event's rank. */
struct key_ref {
    const char *p; /* its bytes */
    size_t len;    /* their length */
    size_t pos;    /* its argument index */
};

static int key_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
    size_t n = alen < blen ? alen : blen;
    int r = n ? memcmp(a, b, n) : 0; /* (an empty key's bytes may be NULL) */
    return r ? r : (alen > blen) - (alen < blen);
}

static int key_ref_cmp(const void *x, const void *y)
{
    const struct key_ref *a = x, *b = y;
    int r = key_cmp(a->p, a->len, b->p, b->len);
    return r ? r : (a->pos > b->pos) - (a->pos < b->pos);
}

static int ev_ref_cmp(const void *x, const void *y)
{
    const struct ev_ref *a = x, *b = y;
    if (a->rank != b->rank)
        return a->rank < b->rank ? -1 : 1;
    return (a->seq > b->seq) - (a->seq < b->seq);
}

/* The first argument index of key among keys[0..n) (sorted), SIZE_MAX if
 * it is not one of them. */
static size_t key_rank(const struct key_ref *keys, size_t n, const char *k, size_t klen)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (key_cmp(keys[mid].p, keys[mid].len, k, klen) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < n && key_cmp(keys[lo].p, keys[lo].len, k, klen) == 0)
        return keys[lo].pos;
    return SIZE_MAX;
}

/* The keys of command d (its key specs) in argv, sorted by bytes; *n
 * gets their count. The last one ranks first with dest_first. NULL when
 * there are none or no memory (then every event ranks alike: parts in
 * order). */
static struct key_ref *command_keys(const struct cmd_def *d, size_t argc,
                                    const struct resp_arg *argv, bool dest_first, size_t *n)
{
    *n = 0;
    struct cmd_keys it;
    if (!d || cmd_keys_init(&it, d, argc, argv) <= 0)
        return NULL;
    struct key_ref *keys = malloc(argc * sizeof *keys);
    if (!keys)
        return NULL;
    size_t pos;
    while (cmd_keys_next(&it, &pos, NULL) && *n < argc)
        keys[(*n)++] = (struct key_ref){argv[pos].ptr, argv[pos].len, pos};
    if (dest_first && *n > 0)
        keys[*n - 1].pos = 0; /* (argument 0 is the command's name) */
    qsort(keys, *n, sizeof *keys, key_ref_cmp);
    return keys;
}

void notify_publish_parts(const struct conn *c, struct rbuf *out, size_t *at,
                          const struct cmd_def *d, size_t argc, const struct resp_arg *argv,
                          bool dest_first, const struct rbuf *events)
{
    size_t total = 0;
    for (size_t pos = 0; pos < events->len; total++) {
        const struct event *e = (const struct event *)(const void *)(events->ptr + pos);
        pos += rec_size(e->klen);
    }
    if (total == 0)
        return;
    /* Without the command (one request's events, from one shard) or with
     * one event, the order they happened in is the order. */
    struct ev_ref *v = d && total > 1 ? malloc(total * sizeof *v) : NULL;
    size_t nkeys = 0;
    struct key_ref *keys = v && total > 1 ? command_keys(d, argc, argv, dest_first, &nkeys) : NULL;
    struct pubsub_origin o = {.c = c, .out = out, .at = at ? *at : 0};
    pubsub_set_origin(&o);
    uint32_t f = atomic_load_explicit(&notify_classes, memory_order_relaxed);
    size_t k = 0;
    for (size_t pos = 0; pos < events->len;) {
        const struct event *e = (const struct event *)(const void *)(events->ptr + pos);
        pos += rec_size(e->klen);
        if (!v) { /* (nothing to order, or no memory to: as they come) */
            if (f & e->cls)
                publish(e, f);
            continue;
        }
        v[k].e = e;
        v[k].rank = keys ? key_rank(keys, nkeys, (const char *)(e + 1), e->klen) : 0;
        v[k].seq = k;
        k++;
    }
    if (v) {
        /* Redis's order: a multi-key command handles its keys in argument
         * order, and each key's events come from one shard in order. */
        qsort(v, k, sizeof *v, ev_ref_cmp);
        for (size_t i = 0; i < k; i++)
            if (f & v[i].e->cls)
                publish(v[i].e, f);
    }
    if (at)
        *at = pubsub_origin_at();
    pubsub_set_origin(NULL);
    free(keys);
    free(v);
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
