/* outbuf.c — client-output-buffer-limit: counting a client's reply bytes
 * wherever they are, refusing big replies for a client already at its hard
 * limit (on the shard thread that produces them), and closing clients over
 * their limits (on the connection's worker). See outbuf.h. */
#include "server/net/outbuf.h"

#include <stdint.h>

#include "common/clock.h"
#include "server/util/log.h"
#include "server/net/worker.h"
#include "server/net/reply_fifo.h"

/* Redis counts only the reply list that overflows a client's 16 KiB reply
 * buffer (getClientOutputBufferMemoryUsage), so replies that fit that
 * buffer never close a client, however low its limit: the same here. */
#define OUTBUF_FREE ((size_t)16 * 1024)

/* The limits of c's class: Redis's pubsub class while it has
 * subscriptions, else normal; as cached by worker w. */
static const struct config_obuf_limit *limit_of(const struct worker *w, const struct conn *c)
{
    return atomic_load_explicit(&c->ob_pubsub, memory_order_relaxed) ? &w->set.obuf_pubsub
                                                                      : &w->set.obuf;
}

/* The bytes of held that count against the limits. */
static size_t used_of(size_t held)
{
    return held > OUTBUF_FREE ? held - OUTBUF_FREE : 0;
}

bool outbuf_produced(struct worker *w, struct conn *c, size_t n)
{
    uint64_t hard = limit_of(w, c)->hard;
    if (atomic_load_explicit(&c->ob_over, memory_order_relaxed))
        return false;
    size_t transit = atomic_fetch_add_explicit(&c->ob_transit, n, memory_order_relaxed) + n;
    if (hard == 0 ||
        used_of(transit + atomic_load_explicit(&c->ob_local, memory_order_relaxed)) < hard)
        return true;
    atomic_fetch_sub_explicit(&c->ob_transit, n, memory_order_relaxed);
    atomic_store_explicit(&c->ob_over, true, memory_order_relaxed);
    return false;
}

bool outbuf_may_take_slow(const struct conn *c, size_t queued, size_t dflt)
{
    if (atomic_load_explicit(&c->ob_over, memory_order_relaxed))
        return false;
    size_t counted = atomic_load_explicit(&c->ob_local, memory_order_relaxed) +
                     atomic_load_explicit(&c->ob_transit, memory_order_relaxed);
    size_t held = used_of(counted > queued ? counted : queued);
    const struct config_obuf_limit *l = limit_of(c->w, c);
    uint64_t hard = l->hard, soft = l->soft;
    uint64_t lim = hard && (!soft || hard < soft) ? hard : soft;
    return held < (lim > dflt ? lim : dflt);
}

/* Bytes in c's slots and pending socket writes. */
static size_t held_here(const struct conn *c)
{
    size_t bytes = c->wbytes;
    for (const struct slot *s = c->head; s; s = s->next)
        bytes += slot_len(s);
    return bytes;
}

size_t outbuf_held(const struct conn *c)
{
    return held_here(c) + atomic_load_explicit(&c->ob_transit, memory_order_relaxed);
}

/* Redis's checkClientOutputBufferLimits: the hard limit at once, the soft
 * one after it held for more than soft_seconds (whole seconds, as Redis
 * counts them). */
static bool over_limits(struct conn *c, size_t used, const struct config_obuf_limit *lim)
{
    bool hard = lim->hard && used >= lim->hard;
    bool soft = lim->soft && used >= lim->soft;
    if (!soft) {
        c->ob_soft_since = 0;
        return hard;
    }
    int64_t now = clock_wall_ms() / 1000; /* (w->now_ms is stale on a quiet worker) */
    if (c->ob_soft_since == 0) {
        c->ob_soft_since = now;
        return hard;
    }
    return hard || now - c->ob_soft_since > lim->soft_seconds;
}

void outbuf_publish(struct conn *c)
{
    const struct config_obuf_limit *lim = limit_of(c->w, c);
    if (lim->hard || lim->soft || atomic_load_explicit(&c->ob_local, memory_order_relaxed))
        atomic_store_explicit(&c->ob_local, held_here(c), memory_order_relaxed);
}

bool outbuf_check(struct conn *c)
{
    const struct config_obuf_limit *lim = limit_of(c->w, c);
    bool over = atomic_load_explicit(&c->ob_over, memory_order_relaxed);
    if (!over && lim->hard == 0 && lim->soft == 0 &&
        atomic_load_explicit(&c->ob_local, memory_order_relaxed) == 0)
        return false; /* no limit and no big reply held: nothing to count */
    size_t here = held_here(c);
    atomic_store_explicit(&c->ob_local, here, memory_order_relaxed);
    size_t used = used_of(here + atomic_load_explicit(&c->ob_transit, memory_order_relaxed));
    if (!over_limits(c, used, lim) && !over)
        return false;
    struct rbuf desc;
    rbuf_init(&desc);
    conn_describe(c, clock_wall_ms(), &desc);
    int n = desc.len > 0 ? (int)desc.len - 1 : 0; /* without its "\n" */
    log_warn("Client %.*s scheduled to be closed ASAP for overcoming of output buffer limits.",
             n, desc.ptr ? desc.ptr : "");
    rbuf_deinit(&desc);
    atomic_fetch_add_explicit(&c->w->stats.obuf_limit_kills, 1, memory_order_relaxed);
    conn_close(c);
    return true;
}

void outbuf_tick(struct worker *w)
{
    for (struct conn *c = w->conns; c; c = c->next)
        if (c->ob_soft_since != 0 && !(c->flags & CONN_CLOSING))
            worker_want_flush(w, c);
}

bool outbuf_pubsub_full(const struct conn *c)
{
    uint64_t hard = limit_of(c->w, c)->hard;
    if (atomic_load_explicit(&c->ob_over, memory_order_relaxed))
        return true;
    return hard && used_of(atomic_load_explicit(&c->ob_local, memory_order_relaxed) +
                           atomic_load_explicit(&c->ob_transit, memory_order_relaxed)) >= hard;
}

void outbuf_pubsub_added(struct conn *c, size_t n)
{
    atomic_store_explicit(&c->ob_local,
                          atomic_load_explicit(&c->ob_local, memory_order_relaxed) + n,
                          memory_order_relaxed);
}
