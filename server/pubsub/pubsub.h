/* pubsub.h — Pub/Sub across workers: who is subscribed to what, and the
 * delivery of published messages to subscribers on every worker.
 *
 * Each worker keeps its own tables of its own clients' subscriptions and
 * delivers to them on its own thread. A server-wide registry counts the
 * subscriptions of every name per worker, so a PUBLISH on any worker
 * knows at once how many clients receive the message (its reply) and which
 * workers have any: the message goes to those as one reference-counted
 * copy, into each one's inbox before PUBLISH returns (so before its reply
 * can leave), and a worker delivers its inbox before any command of a
 * subscribed client runs: a subscriber's reply comes after every message
 * published before it sent the command, as in Redis. The registry is read
 * under the publishing worker's own lock and written under all of them
 * (a "big-reader" lock): publishing never contends with another worker,
 * (un)subscribing briefly stops every publisher. docs/DESIGN.md, Pub/Sub.
 *
 * Everything here runs on worker threads (each shard thread is one), and
 * a conn is touched only on its own worker's. */
#ifndef SKV_SERVER_PUBSUB_H
#define SKV_SERVER_PUBSUB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "protocol/resp.h"
#include "protocol/resp_enc.h"

struct conn;
struct worker;
struct slot;

/* The three namespaces a client can subscribe in. */
enum pubsub_kind {
    PUBSUB_CHANNEL = 0, /* SUBSCRIBE / PUBLISH */
    PUBSUB_PATTERN = 1, /* PSUBSCRIBE: glob patterns over channels */
    PUBSUB_SHARD = 2,   /* SSUBSCRIBE / SPUBLISH (one server: no cluster) */
    PUBSUB_NKINDS
};

/* Set up the registry for nworkers workers, before they start (main
 * thread). Returns 0 or -1 on out-of-memory. */
int pubsub_setup(unsigned nworkers);

/* Free the registry once every worker has stopped (main thread). */
void pubsub_teardown(void);

/* Subscribe c (its worker's thread) to each of names[0..n) in namespace
 * kind, appending Redis's reply for each ("subscribe", name, count) to
 * out, as push frames in RESP3. Names are copied. */
void pubsub_subscribe(struct conn *c, enum pubsub_kind kind, const struct resp_arg *names,
                      size_t n, struct rbuf *out);

/* Unsubscribe c from names[0..n) in kind, or from every name of kind if
 * n == 0, with Redis's replies (one with a null name when there was
 * nothing to leave). out NULL: silently (RESET, close). */
void pubsub_unsubscribe(struct conn *c, enum pubsub_kind kind, const struct resp_arg *names,
                        size_t n, struct rbuf *out);

/* Drop every subscription of c silently: the client closes or RESETs. */
void pubsub_conn_reset(struct conn *c);

/* Publish msg on channel (kind PUBSUB_CHANNEL: channel and pattern
 * subscribers; PUBSUB_SHARD: shard-channel subscribers), from any worker
 * thread. Subscribers on this worker get it before this returns (a RESP3
 * publisher subscribed to its own channel sees the message before the
 * reply, as in Redis); it is in every other receiving worker's inbox
 * before this returns, and reaches their subscribers before any command
 * those send after this call's reply (pubsub_catch_up), in one order per
 * worker for all publishers. Returns the number of clients it goes to,
 * counting every subscription that completed before the call. Bytes are
 * copied. */
long long pubsub_publish(enum pubsub_kind kind, const char *channel, size_t chlen,
                         const char *msg, size_t len);

/* The client whose command causes the messages published next on this
 * thread (its keyspace events), and where its own frames go: before that
 * command's reply, as Redis emits events while the command runs. */
struct pubsub_origin {
    const struct conn *c; /* the command's client, or NULL: none */
    struct slot *slot;    /* its pending reply slot (the request is out; the
                             reply is appended after the frames), or NULL */
    struct rbuf *out;     /* or: the client's own reply stream, where the
                             reply already is, from at */
    size_t at;            /* where its frames go in out (advances) */
};

/* Set (o copied) or clear (NULL) this thread's origin for the messages
 * published next. notify.c, around publishing one command's events. */
void pubsub_set_origin(const struct pubsub_origin *o);

/* Where the origin's next frame would go in its out (origin.at, advanced
 * past the frames put there since pubsub_set_origin). */
size_t pubsub_origin_at(void);

/* End of w's loop turn: wake the workers this turn's messages went to
 * (once each). */
void pubsub_flush(struct worker *w);

/* Deliver the messages other workers have put in w's inbox, if any: before
 * a subscribed client's command runs, so that its reply comes after every
 * message published before it was sent. w's thread. */
void pubsub_catch_up(struct worker *w);

/* Subscriptions of c in each namespace (CLIENT LIST sub=, psub=, ssub=).
 * c's thread. */
void pubsub_conn_counts(const struct conn *c, unsigned counts[PUBSUB_NKINDS]);

/* Clients subscribed to name in kind (channel or shard), server-wide
 * (PUBSUB NUMSUB / SHARDNUMSUB). */
long long pubsub_numsub(enum pubsub_kind kind, const char *name, size_t len);

/* Distinct names with subscribers in kind, server-wide (PUBSUB NUMPAT,
 * INFO pubsub_channels / pubsub_patterns / pubsubshard_channels). */
long long pubsub_count(enum pubsub_kind kind);

/* Append the array of names in kind (channel or shard) with subscribers
 * that match the glob pattern pat (NULL: all) to out (PUBSUB CHANNELS /
 * SHARDCHANNELS). */
void pubsub_list(enum pubsub_kind kind, const char *pat, size_t plen, struct rbuf *out);

/* Does channel s match the Pub/Sub pattern pat as Redis's stringmatchlen
 * decides it (an empty channel matches only the empty pattern)? Pure. */
bool pubsub_match(const char *pat, size_t plen, const char *s, size_t slen);

#endif
