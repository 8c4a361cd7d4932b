/* shard.h — the shard runtime: N threads, each running one libuv loop that
 * owns one shard (its databases of kvmaps, its memory account and counters)
 * and drains one mailbox. Work reaches a shard only as messages in its
 * mailbox, so no map is ever touched by two threads. The server attaches its
 * listeners and connections to the same loops through the start hook. */
#ifndef SKV_SHARD_SHARD_H
#define SKV_SHARD_SHARD_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "common/mem.h"
#include "shard/kvmap.h"
#include "shard/mailbox.h"

struct shard_group;

/* Counters a shard keeps; read by its owner, or copied out through a message.
 * ops and batches are bumped by the message handlers (the runtime cannot
 * see inside a message); expired_active by the runtime's cron. */
struct shard_counters {
    uint64_t ops;           /* operations executed on this shard */
    uint64_t batches;       /* mailbox messages handled */
    uint64_t expired_active;/* keys reaped by the active expiry cycle */
    uint64_t hits;          /* read lookups that found their key (INFO
                               keyspace_hits, Redis's lookupKeyRead) */
    uint64_t misses;        /* read lookups that did not (keyspace_misses) */
    double stale_perc;      /* share of volatile keys the active expiry
                               found expired, smoothed (Redis's
                               expired_stale_perc, 0..100) */
    uint64_t expire_capped; /* its ticks that ran out of time (Redis's
                               expired_time_cap_reached_count) */
};

struct shard {
    unsigned id;                   /* index in the group, 0..n-1 */
    struct shard_group *group;     /* back-pointer, borrowed */
    uv_loop_t loop;                /* this shard's event loop */
    uv_thread_t thread;            /* the owner thread */
    struct mailbox mbox;           /* requests and replies for this thread */
    struct mem_acct mem;           /* bytes held by this shard's maps */
    struct kvmap **db;             /* ndb maps, created on the owner thread */
    unsigned ndb;                  /* databases (SELECT 0..ndb-1) */
    uv_timer_t cron;               /* active expiry + idle rehash, every 10 ms */
    uv_async_t stop_async;         /* asks the loop to wind down */
    struct shard_counters ctr;     /* owner-thread counters */
    int arena;                     /* jemalloc arena index, -1 without */
    void *user;                    /* the embedder's per-thread state (server) */
};

struct shard_group_opts {
    unsigned nshards;              /* threads/shards; 0 = online CPUs */
    unsigned ndb;                  /* databases per shard; 0 = 16 */
    size_t max_value;              /* value limit; 0 = KVMAP_DEFAULT_MAX_VALUE */
    /* Microseconds a shard polls its empty mailbox before sleeping (see
     * mailbox_set_idle_spin); 0 = never. For in-process callers that post
     * back to back; a server whose loops also wait on sockets leaves it 0. */
    unsigned idle_spin_us;
    /* Run on each shard thread after its maps exist and before its loop
     * runs; a non-zero return stops start-up (shard_group_start fails). */
    int (*on_start)(struct shard *s, void *arg);
    /* Run on each shard thread when its loop is asked to stop, before the
     * shard closes its own handles: close the embedder's handles here. */
    void (*on_stop)(struct shard *s, void *arg);
    void *arg;                     /* passed to the hooks */
};

/* Create a group of shards (not yet running). Returns NULL on bad options or
 * out-of-memory. The caller owns it: shard_group_destroy. */
struct shard_group *shard_group_create(const struct shard_group_opts *opts);

/* Start every shard thread and wait until each has run its on_start hook.
 * Returns 0, or a negative code if a thread or hook failed (the group is
 * then stopped again and can only be destroyed). */
int shard_group_start(struct shard_group *g);

/* Ask every loop to stop (runs on_stop on each thread), join the threads.
 * Messages posted after this are not delivered. Idempotent. Any thread
 * except a shard thread. */
void shard_group_stop(struct shard_group *g);

/* Free the group and every map in it. After stop (or before start). */
void shard_group_destroy(struct shard_group *g);

/* Number of shards, and shard i. */
unsigned shard_group_size(const struct shard_group *g);
struct shard *shard_group_get(struct shard_group *g, unsigned i);

/* The shard that owns key: hash_shard(hash_key(key)). Any thread. */
unsigned shard_group_route(const struct shard_group *g, const void *key, size_t klen);
/* The same for a key whose hash_key() the caller already has. */
unsigned shard_group_route_hash(const struct shard_group *g, uint64_t h);

/* Post a message to shard s's mailbox; its handler runs on s's thread with
 * owner = s (struct shard *). Any thread. */
void shard_post(struct shard *s, struct mbox_msg *m);

/* The shard whose thread is calling, or NULL on a non-shard thread. */
struct shard *shard_current(void);

/* Database i of s (owner thread only). */
struct kvmap *shard_db(struct shard *s, unsigned i);

/* Active expiry, as Redis's activeExpireCycle adapts its effort: while more
 * than 1 in SHARD_EXPIRE_STALE_DIV of the entries a round looked at had
 * expired (Redis's acceptable stale share, 10%), the cycle reaps on in
 * rounds of SHARD_EXPIRE_ROUND_NS after the first 1 ms, up to
 * SHARD_EXPIRE_MAX_NS in all: 25% of the 10 ms cron tick, the bound of
 * Redis's slow cycle (a threshold of 5% gave no measurable gain). */
#define SHARD_EXPIRE_STALE_DIV 10
#define SHARD_EXPIRE_ROUND_NS  250000u
#define SHARD_EXPIRE_MAX_NS    2500000u

/* One active expiry cycle over s's databases at now_ms (each database's
 * scan resumes where the last cycle stopped); the cron runs one per tick.
 * Returns the keys reaped, also added to s->ctr.expired_active. Owner
 * thread only. */
uint64_t shard_expire_cycle(struct shard *s, int64_t now_ms);

#endif
