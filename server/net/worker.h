/* worker.h — the server's per-thread state, attached to each shard through
 * shard_group_opts.on_start (shard->user): the listening sockets of that
 * thread, its client list, the per-turn outgoing request batches, the idle
 * timer, cached configuration and counters. Everything here is touched only
 * by the worker's own thread unless marked atomic. */
#ifndef SKV_SERVER_WORKER_H
#define SKV_SERVER_WORKER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "protocol/resp.h"
#include "server/core/server.h"
#include "shard/shard.h"

struct conn;
struct batch;
struct cmdstat;
struct errstats;

/* Counters a worker keeps. Written by the owner thread with relaxed atomic
 * stores, so INFO may read a snapshot from any thread (worker_stats_read). */
struct worker_stats {
    _Atomic uint64_t connected;        /* clients open on this worker */
    _Atomic uint64_t conns_total;      /* connections accepted */
    _Atomic uint64_t conns_rejected;   /* refused by maxclients */
    _Atomic uint64_t cmds;             /* commands processed for clients here */
    _Atomic uint64_t ops_executed;     /* requests executed on this shard, from
                                          any worker (the shard's ops) */
    _Atomic uint64_t batches_sent;     /* request batches posted to other shards */
    _Atomic uint64_t net_in;           /* bytes read from clients */
    _Atomic uint64_t net_out;          /* bytes written to clients */
    _Atomic uint64_t proto_errors;     /* connections closed for protocol errors */
    _Atomic uint64_t qbuf_limit_kills; /* closed at client-query-buffer-limit */
    _Atomic uint64_t obuf_limit_kills; /* closed at client-output-buffer-limit */
    _Atomic uint64_t timeouts;         /* closed for idling past timeout */
    _Atomic uint64_t reads;            /* socket reads that brought bytes
                                          (INFO total_reads_processed) */
    _Atomic uint64_t writes;           /* socket writes of replies
                                          (total_writes_processed) */
    _Atomic uint64_t moved_in;         /* clients that moved here from another
                                          worker (conn_move) */
};

/* A plain copy of struct worker_stats. */
struct worker_stats_snap {
    uint64_t connected, conns_total, conns_rejected, cmds, ops_executed, batches_sent,
        net_in, net_out, proto_errors, qbuf_limit_kills, obuf_limit_kills, timeouts, reads,
        writes, moved_in;
};

/* Options a worker reads on every command or tick, cached on its own thread
 * so CONFIG SET never races with readers (refreshed by worker_config_changed). */
struct worker_settings {
    unsigned timeout;             /* idle seconds, 0 = never */
    unsigned maxclients;          /* server-wide limit */
    unsigned databases;           /* SELECT bound */
    size_t qbuf_limit;            /* client-query-buffer-limit */
    struct config_obuf_limit obuf; /* client-output-buffer-limit, normal class */
    struct config_obuf_limit obuf_pubsub; /* its pubsub class: subscribers */
    struct resp_limits lim;       /* parser limits for new connections */
    bool protected_mode;          /* protected-mode */
    bool move_clients;            /* move-clients (conn_move) */
};

struct glocal;

struct worker {
    unsigned id;                  /* = shard id */
    struct shard *shard;          /* the shard this thread owns */
    uv_tcp_t listeners[SERVER_MAX_BIND]; /* one per bind address */
    unsigned nlisteners;          /* listeners opened (closed in on_stop) */
    uv_pipe_t unix_listener;      /* the Unix socket (unixsocket): worker 0
                                     only, see has_unix */
    bool has_unix;                /* unix_listener is open */
    uv_timer_t tick;              /* 1 s: idle timeout, stats refresh */
    uv_check_t flush;             /* after each poll: post batches, write replies */
    struct conn *conns;           /* client list (doubly linked) */
    struct conn *flush_list;      /* conns with replies to write this turn */
    struct batch **out;           /* out[i]: requests for shard i this turn */
    struct conn *ord_turn;        /* connections that batched requests of a
                                     unit this turn (conn.ord_turn_next) */
    bool ord_grouped;             /* one of them spans shards: this turn's
                                     batches carry a group (dispatch.c) */
    void **ord_args;              /* per shard: its grouped batch, for
                                     txn_start_oneshot; NULL until needed */
    struct worker_settings set;   /* cached options */
    struct worker_stats stats;    /* counters */
    struct cmdstat *cmdstats;     /* INFO commandstats, one entry per command
                                     and subcommand (cmdstats.h); owned */
    struct errstats *errstats;    /* INFO errorstats (cmdstats.h); owned */
    bool stopping;                /* shutdown: accept and parse nothing */
    _Atomic bool busy;            /* while stopping: some client still has
                                     replies to write or requests in flight
                                     (read by the main thread) */
    bool serving_busy;            /* inside worker_serve_busy: commands run
                                     re-entrantly, under a busy script */
    int64_t now_ms;               /* wall clock read once per parse run or
                                     reply batch: commands run inline use it */
    /* Recycled request-path objects (route/req.c). A request, its slot and
     * its batch are all made and freed on this thread, so these free lists
     * need no locks; they spare the allocator two to four calls per
     * request. Bounded by DISPATCH_POOL_MAX entries each. */
    struct slot *slot_pool;       /* free slots, linked through next */
    unsigned nslot_pool;          /* entries in slot_pool */
    struct req *req_pool;         /* free small requests, linked through next */
    unsigned nreq_pool;           /* entries in req_pool */
    struct batch *batch_pool;     /* free batches, linked through their head */
    unsigned nbatch_pool;         /* entries in batch_pool */
    /* This turn's grouped requests for w's own shard (group_local.c),
     * NULL until one; and the free list of their logs. */
    struct glocal *glocal;
    struct glocal *glocal_pool;   /* linked through pool_next */
    unsigned nglocal_pool;        /* entries in glocal_pool */
};

/* What the features do at the worker loop's fixed points: one function
 * each, called directly (app/hooks.c composes the features that share a
 * point, in the order they must run); NULL: nothing. Set once before the
 * workers start, read-only after. All run on w's thread. */
struct worker_hooks {
    /* The thread started and w is current (notifications' map hooks). */
    void (*thread_start)(struct worker *w);
    /* Every loop turn, before its completed replies are written (events of
     * the cron, Pub/Sub messages for other workers). */
    void (*turn_begin)(struct worker *w);
    /* Every loop turn, after the replies are written (this turn's request
     * batches are posted). */
    void (*turn_end)(struct worker *w);
    /* Once a second, after the cached options were refreshed: now_ms is
     * the wall clock (INFO's samples, eviction in the background). */
    void (*tick)(struct worker *w, int64_t now_ms);
    /* The thread is stopping, before anything is closed. */
    void (*stop_begin)(struct worker *w);
    /* Every client was closed: last requests out, free lists and
     * per-thread state freed. */
    void (*stop_end)(struct worker *w);
};

/* Install the hooks (copied); before the workers start. */
void worker_set_hooks(const struct worker_hooks *h);

/* The worker running on the calling thread (NULL on other threads). */
struct worker *worker_current(void);

/* Worker i (any thread; the pointer is stable while the server runs). */
struct worker *worker_get(unsigned i);

/* Call fn for each client of w (w's thread only). fn may conn_kill the
 * client it is given but must not free it. */
void worker_foreach_conn(struct worker *w, void (*fn)(void *arg, struct conn *c), void *arg);

/* Copy w's counters (any thread). */
void worker_stats_read(const struct worker *w, struct worker_stats_snap *out);

/* Add n to counter v of the calling thread's own worker. Every counter
 * but `connected` has that one writer (INFO only reads them), so a plain
 * load and store will do: a locked add on every command and every socket
 * read or write cost some 5% of a pipelined GET's CPU. */
static inline void worker_stat_add(_Atomic uint64_t *v, uint64_t n)
{
    atomic_store_explicit(v, atomic_load_explicit(v, memory_order_relaxed) + n,
                          memory_order_relaxed);
}

/* shard_group hooks: create and destroy a worker on its thread. arg unused. */
int worker_on_start(struct shard *s, void *arg);
void worker_on_stop(struct shard *s, void *arg);

/* Stop accepting and reading (shutdown); pending replies are still written.
 * w's thread. worker_post_quiesce asks for it from any thread; w->busy
 * drops to false once w has nothing left to write. */
void worker_quiesce(struct worker *w);
void worker_post_quiesce(struct worker *w);

/* Ask w to start accepting on its listeners, once every worker has
 * started (any thread). Returns 0 or UV_ENOMEM. */
int worker_post_listen(struct worker *w);

/* Ask w to re-read its cached options now (any thread). */
void worker_post_config_refresh(struct worker *w);

/* Call after a successful config_set (with cfg_lock released): every worker
 * re-reads the options it caches (requirepass, timeout, maxclients, buffer
 * limits) on its own thread. Any thread. */
void worker_config_changed(void);

/* The password AUTH requires, or NULL. Read afresh on every call, so CONFIG
 * SET requirepass applies at once. Any thread. */
const char *worker_requirepass(void);

/* Put c at the head of w's client list (accepted, or moved here: conn.c). */
void worker_conn_link(struct worker *w, struct conn *c);

/* Remove c from w's list once it is fully closed, or as it moves away
 * (conn.c). */
void worker_conn_unlink(struct worker *w, struct conn *c);

/* A script on w's thread is busy and w's loop cannot run: read what w's
 * clients other than skip (the script's own) sent, answer it (dispatch
 * refuses all but the allow-busy commands) and write the answers. Called
 * from the script's hook on w's thread. */
void worker_serve_busy(struct worker *w, const struct conn *skip);

/* Queue c so its completed replies are written at the end of this loop turn. */
void worker_want_flush(struct worker *w, struct conn *c);

#endif
