/* outbuf.h — client-output-buffer-limit: the reply bytes a client holds,
 * counted wherever they are (its reply slots, its socket writes, and big
 * replies still travelling back from the shard thread that produced them),
 * and the close of a client over its limits, as Redis does it. The owner
 * side runs on whichever shard thread produces a reply; the rest on the
 * connection's worker. */
#ifndef SKV_SERVER_OUTBUF_H
#define SKV_SERVER_OUTBUF_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "server/net/conn.h"
#include "server/net/worker.h"

/* Largest reply an owner shard sends straight to a client (direct_send,
 * route/batch.c): what a socket takes at once; bigger replies are left
 * to the connection's worker, which can wait for the socket. */
#define OUTBUF_DIRECT_MAX ((size_t)16 * 1024)

/* Is a reply of n bytes counted while it travels between threads? Only
 * replies too big to be sent directly (OUTBUF_DIRECT_MAX) are, so the hot
 * path of small replies pays no atomic read-modify-write on a line another
 * thread writes: one atomic add by the owner and one subtract by the
 * connection's thread per big reply, next to a copy of over 16 KiB.
 *
 * Why the uncounted part is bounded: a connection takes no new command
 * while CONN_MAX_WAITING (256) of its requests are out (conn.c, can_parse),
 * and each request has one reply, so at most 256 x 16 KiB = 4 MiB of
 * uncounted replies travel for one connection at any time. (A fan-out
 * command's parts are counted the same way, per part, also when they run
 * as a transaction's hops, txn.c.) */
static inline bool outbuf_big(size_t n)
{
    return n > OUTBUF_DIRECT_MAX;
}

/* Owner side, any shard thread: a big reply of n bytes (outbuf_big) was
 * just produced for c on the thread of worker w. Counts it in c's bytes in
 * transit and returns true, or, when c already holds its hard limit
 * (w's cached client-output-buffer-limit for c's class: pubsub while it
 * has subscriptions, else normal), counts
 * nothing, marks c to be closed and returns false: the caller drops the
 * reply (c is closed before anything after it is written). c stays
 * allocated while the request is out (conn.inflight). */
bool outbuf_produced(struct worker *w, struct conn *c, size_t n);

/* Connection side: a request whose reply counted `counted` bytes in transit
 * (0 if none) is back on c's thread and its reply is now in a slot. */
static inline void outbuf_landed(struct conn *c, size_t counted)
{
    if (counted == 0)
        return;
    /* Publish the bytes as held here before they leave the transit count,
     * so an owner reading both never sees them in neither. */
    atomic_store_explicit(&c->ob_local,
                          atomic_load_explicit(&c->ob_local, memory_order_relaxed) + counted,
                          memory_order_relaxed);
    atomic_fetch_sub_explicit(&c->ob_transit, counted, memory_order_relaxed);
}

/* Connection side: a reply of n bytes was just produced on c's own thread
 * into its slots. A big one counts at once, so a pipeline stops at the
 * limit within one parse run (outbuf_check recounts exactly at the next
 * flush). */
static inline void outbuf_local(struct conn *c, size_t n)
{
    if (!outbuf_big(n))
        return;
    atomic_store_explicit(&c->ob_local,
                          atomic_load_explicit(&c->ob_local, memory_order_relaxed) + n,
                          memory_order_relaxed);
}

/* May c take another command, as far as its replies go (conn.c,
 * can_parse)? queued: the reply bytes can_parse sees on this thread
 * (pending writes and the tail slot). No once an owner dropped a reply for
 * c. No while what c holds (queued, or the big replies counted here and in
 * transit, whichever is more) reaches the pause point: dflt without a
 * limit, which bounds what a client that does not read can make the server
 * hold; under a limit the lowest one, if higher, so that a client that
 * does not read reaches it and is closed, as Redis closes it, instead of
 * waiting forever. */
bool outbuf_may_take_slow(const struct conn *c, size_t queued, size_t dflt);
/* The same answer, with the common case inline (outbuf_may_take_slow is
 * the exact one). */
static inline bool outbuf_may_take(const struct conn *c, size_t queued, size_t dflt)
{
    /* Below dflt on every count, c is below every pause point: the common
     * case, asked before each command, without the limits' lookup. */
    if (!atomic_load_explicit(&c->ob_over, memory_order_relaxed) && queued < dflt &&
        atomic_load_explicit(&c->ob_local, memory_order_relaxed) +
                atomic_load_explicit(&c->ob_transit, memory_order_relaxed) <
            dflt)
        return true;
    return outbuf_may_take_slow(c, queued, dflt);
}

/* Connection side, before c's completed replies are written (conn_flush):
 * recount what c holds (slots, pending writes, transit), publish it for
 * the owners, and close c if it reached the hard limit, or has been at or
 * over the soft limit for more than soft-seconds, logging Redis's "Client
 * ... scheduled to be closed ASAP for overcoming of output buffer limits."
 * Returns true if c was closed. */
bool outbuf_check(struct conn *c);

/* Connection side, after c's replies were handed to the socket: publish
 * what c still holds (slots, pending writes), so that neither owners nor
 * can_parse go on seeing bytes that are gone. */
void outbuf_publish(struct conn *c);

/* Once a second on w's thread: a client over its soft limit that has gone
 * quiet is checked again, so it is closed when its seconds have passed even
 * if nothing new happens on it. */
void outbuf_tick(struct worker *w);

/* Connection side, Pub/Sub delivery: a message of n bytes was just
 * appended to c's replies. Counted at once, so a flood delivered within
 * one loop turn stops at the limit (outbuf_check recounts exactly at the
 * next flush). */
void outbuf_pubsub_added(struct conn *c, size_t n);

/* Connection side: does c hold its class's hard limit already (or has an
 * owner dropped a reply for it)? No more messages are given to it then;
 * it is closed at its next flush. */
bool outbuf_pubsub_full(const struct conn *c);

/* Bytes c holds in replies right now: slots, pending writes and transit
 * (CLIENT LIST omem). Connection side. */
size_t outbuf_held(const struct conn *c);

#endif
