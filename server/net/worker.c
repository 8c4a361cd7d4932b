/* worker.c — the server's side of each shard thread: adopts its listening
 * sockets, accepts clients, runs the end-of-turn flush (reply writes, then
 * one mailbox post per destination shard), the 1 s tick (idle timeout,
 * settings refresh) and the orderly close at shutdown. Runs on the worker's
 * own thread, except worker_get/worker_stats_read. */
#include "server/net/worker.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "common/clock.h"
#include "server/net/clientmem.h"
#include "server/net/conn.h"
#include "server/util/log.h"
#include "server/net/outbuf.h"
#include "server/net/reply_fifo.h"

/* The tick period: Redis checks client timeouts from its 10 Hz cron, but a
 * timeout is given in whole seconds, so once a second is precise enough. */
#define WORKER_TICK_MS 1000

static _Thread_local struct worker *current_worker;

struct worker *worker_current(void)
{
    return current_worker;
}

struct worker *worker_get(unsigned i)
{
    return i < server.nworkers ? server.workers[i] : NULL;
}

void worker_stats_read(const struct worker *w, struct worker_stats_snap *o)
{
#define RD(f) o->f = atomic_load_explicit(&w->stats.f, memory_order_relaxed)
    RD(connected);
    RD(conns_total);
    RD(conns_rejected);
    RD(cmds);
    RD(ops_executed);
    RD(batches_sent);
    RD(net_in);
    RD(net_out);
    RD(proto_errors);
    RD(qbuf_limit_kills);
    RD(obuf_limit_kills);
    RD(timeouts);
    RD(reads);
    RD(writes);
    RD(moved_in);
#undef RD
}

void worker_foreach_conn(struct worker *w, void (*fn)(void *arg, struct conn *c), void *arg)
{
    struct conn *c = w->conns;
    while (c) {
        struct conn *next = c->next; /* fn may kill c; it is freed later */
        if (!(c->flags & CONN_CLOSING))
            fn(arg, c);
        c = next;
    }
}

/* Re-read the options this worker caches. CONFIG SET stores them with
 * atomic writes (config.c), so atomic loads make this race-free. */
static void settings_refresh(struct worker *w)
{
    struct config *cfg = &server.cfg;
    struct worker_settings *s = &w->set;
    s->timeout = __atomic_load_n(&cfg->timeout, __ATOMIC_RELAXED);
    s->maxclients = __atomic_load_n(&cfg->maxclients, __ATOMIC_RELAXED);
    s->databases = __atomic_load_n(&cfg->databases, __ATOMIC_RELAXED);
    s->qbuf_limit = __atomic_load_n(&cfg->client_query_buffer_limit, __ATOMIC_RELAXED);
    const struct config_obuf_limit *ob = &cfg->client_obuf[CONFIG_OBUF_NORMAL];
    s->obuf.hard = __atomic_load_n(&ob->hard, __ATOMIC_RELAXED);
    s->obuf.soft = __atomic_load_n(&ob->soft, __ATOMIC_RELAXED);
    s->obuf.soft_seconds = __atomic_load_n(&ob->soft_seconds, __ATOMIC_RELAXED);
    ob = &cfg->client_obuf[CONFIG_OBUF_PUBSUB];
    s->obuf_pubsub.hard = __atomic_load_n(&ob->hard, __ATOMIC_RELAXED);
    s->obuf_pubsub.soft = __atomic_load_n(&ob->soft, __ATOMIC_RELAXED);
    s->obuf_pubsub.soft_seconds = __atomic_load_n(&ob->soft_seconds, __ATOMIC_RELAXED);
    s->lim.max_inline = __atomic_load_n(&cfg->max_inline, __ATOMIC_RELAXED);
    s->lim.max_multibulk = __atomic_load_n(&cfg->max_multibulk, __ATOMIC_RELAXED);
    s->lim.max_bulk = __atomic_load_n(&cfg->proto_max_bulk_len, __ATOMIC_RELAXED);
    s->protected_mode = __atomic_load_n(&cfg->protected_mode, __ATOMIC_RELAXED);
    s->move_clients = __atomic_load_n(&cfg->move_clients, __ATOMIC_RELAXED);
}

const char *worker_requirepass(void)
{
    /* CONFIG SET never frees an old string while the server runs. */
    const char *p = __atomic_load_n(&server.cfg.requirepass, __ATOMIC_ACQUIRE);
    return p && *p ? p : NULL;
}

void worker_want_flush(struct worker *w, struct conn *c)
{
    if (c->flags & (CONN_IN_FLUSH_LIST | CONN_CLOSING))
        return;
    c->flags |= CONN_IN_FLUSH_LIST;
    c->flush_next = w->flush_list;
    w->flush_list = c;
}

void worker_conn_link(struct worker *w, struct conn *c)
{
    conn_list_push(&w->conns, c);
}

void worker_conn_unlink(struct worker *w, struct conn *c)
{
    conn_list_unlink(&w->conns, c);
}

static void accept_by_hand(struct worker *w, uv_stream_t *l);

void worker_serve_busy(struct worker *w, const struct conn *skip)
{
    w->serving_busy = true;
    if (!w->stopping) {
        for (unsigned i = 0; i < w->nlisteners; i++)
            accept_by_hand(w, (uv_stream_t *)&w->listeners[i]);
        if (w->has_unix)
            accept_by_hand(w, (uv_stream_t *)&w->unix_listener);
    }
    for (struct conn *c = w->conns; c; c = c->next)
        if (c != skip)
            conn_poll_input(c);
    /* Write what that answered; skip's reply is still being made. */
    struct conn *list = w->flush_list, *keep = NULL;
    w->flush_list = NULL;
    while (list) {
        struct conn *c = list;
        list = c->flush_next;
        if (c == skip) {
            keep = c;
            continue;
        }
        c->flush_next = NULL;
        c->flags &= ~CONN_IN_FLUSH_LIST;
        if (c->flags & CONN_CLOSING)
            conn_release(c);
        else
            conn_flush(c);
    }
    if (keep) {
        keep->flush_next = w->flush_list;
        w->flush_list = keep;
    }
    w->serving_busy = false;
}

/* The features' hooks (worker_set_hooks). */
static struct worker_hooks hooks;

void worker_set_hooks(const struct worker_hooks *h)
{
    hooks = *h;
}

/* End of every loop turn: write what completed, then post this turn's
 * request batches, one message per destination shard. */
static void on_flush(uv_check_t *h)
{
    struct worker *w = h->data;
    /* Keyspace events of the cron, messages for other workers: before
     * this turn's replies are written (app/hooks.c says why). */
    if (hooks.turn_begin)
        hooks.turn_begin(w);
    while (w->flush_list) {
        struct conn *c = w->flush_list;
        w->flush_list = c->flush_next;
        c->flush_next = NULL;
        c->flags &= ~CONN_IN_FLUSH_LIST;
        if (c->flags & CONN_CLOSING)
            conn_release(c); /* its free waited for it to leave the list */
        else
            conn_flush(c);
    }
    if (hooks.turn_end)
        hooks.turn_end(w);
    if (w->stopping) {
        bool busy = false;
        for (struct conn *c = w->conns; c && !busy; c = c->next)
            busy = c->nslots > 0 || c->nwrites > 0 || c->inflight > 0;
        atomic_store(&w->busy, busy);
    }
}

static void on_tick(uv_timer_t *t)
{
    struct worker *w = t->data;
    int64_t now = clock_wall_ms();
    settings_refresh(w);
    if (hooks.tick)
        hooks.tick(w, now);
    outbuf_tick(w);
    clientmem_tick(w);
    if (w->set.timeout == 0)
        return;
    int64_t idle_ms = (int64_t)w->set.timeout * 1000;
    struct conn *c = w->conns;
    while (c) {
        struct conn *next = c->next;
        /* A client waiting for replies is not idle (Redis exempts blocked
         * clients the same way). */
        if (!(c->flags & CONN_CLOSING) && c->nwaiting == 0 && now - c->last_ms > idle_ms) {
            log_verbose("Closing idle client id=%llu addr=%s", (unsigned long long)c->id, c->addr);
            atomic_fetch_add_explicit(&w->stats.timeouts, 1, memory_order_relaxed);
            conn_close(c);
        }
        c = next;
    }
}

/* Redis 7.0's reply to a client refused by protected mode, word for word. */
static const char protected_mode_denied[] =
    "DENIED Redis is running in protected mode because protected mode is enabled and no "
    "password is set for the default user. In this mode connections are only accepted from "
    "the loopback interface. If you want to connect from external computers to Redis you may "
    "adopt one of the following solutions: 1) Just disable protected mode sending the command "
    "'CONFIG SET protected-mode no' from the loopback interface by connecting to Redis from "
    "the same host the server is running, however MAKE SURE Redis is not publicly accessible "
    "from internet if you do so. Use CONFIG REWRITE to make this change permanent. 2) "
    "Alternatively you can just disable the protected mode by editing the Redis configuration "
    "file, and setting the protected mode option to 'no', and then restarting the server. 3) "
    "If you started the server manually just for testing, restart it with the "
    "'--protected-mode no' option. 4) Setup a an authentication password for the default "
    "user. NOTE: You only need to do one of the above things in order for the server to start "
    "accepting connections from the outside.";

/* A client just accepted on w: refused (stopping, maxclients, protected
 * mode) or started. */
static void admit(struct worker *w, struct conn *c)
{
    if (w->stopping) {
        conn_close(c);
        return;
    }
    if (atomic_load(&server.nclients) > w->set.maxclients) {
        struct rbuf *out = reply_fifo_buf(c);
        if (!out) {
            conn_close(c);
            return;
        }
        resp_error(out, "ERR max number of clients reached");
        atomic_fetch_add_explicit(&w->stats.conns_rejected, 1, memory_order_relaxed);
        conn_close_after_reply(c);
        return;
    }
    if (w->set.protected_mode && !c->local && worker_requirepass() == NULL) {
        /* Redis 7.0's protected mode (clientAcceptHandler): a server that
         * anyone can reach and nobody needs a password for is the classic
         * way Redis instances got taken over, so without a password only
         * the loopback interface is served, and everyone else is told how
         * to change that. Nothing the client sent is read. */
        struct rbuf *out = reply_fifo_buf(c);
        if (!out) {
            conn_close(c);
            return;
        }
        resp_error(out, protected_mode_denied);
        atomic_fetch_add_explicit(&w->stats.conns_rejected, 1, memory_order_relaxed);
        conn_close_after_reply(c);
        return;
    }
    log_debug("Accepted %s", c->addr);
    conn_start(c);
}

static void on_connection(uv_stream_t *l, int status)
{
    struct worker *w = l->data;
    if (status < 0) {
        log_warn("Accepting client connection: %s", uv_strerror(status));
        return;
    }
    struct conn *c = conn_accept(w, l);
    if (c)
        admit(w, c);
}

/* Accept what waits on listener l without the loop (a busy script holds
 * it): a few at a time, as the loop would. */
static void accept_by_hand(struct worker *w, uv_stream_t *l)
{
    uv_os_fd_t lfd = -1;
    if (uv_fileno((uv_handle_t *)l, &lfd) != 0 || lfd < 0)
        return;
    for (int i = 0; i < 16; i++) {
        int fd = accept(lfd, NULL, NULL); /* the listener is non-blocking */
        if (fd < 0)
            return; /* EAGAIN: nothing more; errors: the loop sees them later */
        fcntl(fd, F_SETFD, FD_CLOEXEC); /* uv_*_open makes it non-blocking */
        struct conn *c = conn_accept_fd(w, l, fd);
        if (c)
            admit(w, c);
    }
}

/* A message asking a worker to do something on its own thread. */
struct wmsg {
    struct mbox_msg msg; /* first: the handler casts back */
};

static void on_config_msg(void *owner, struct mbox_msg *m)
{
    struct shard *s = owner;
    settings_refresh(s->user);
    free(m);
}

void worker_post_config_refresh(struct worker *w)
{
    struct wmsg *m = calloc(1, sizeof *m);
    if (!m)
        return; /* the tick refreshes within a second anyway */
    m->msg.handle = on_config_msg;
    shard_post(w->shard, &m->msg);
}

static void close_listener(struct worker *w)
{
    for (unsigned i = 0; i < w->nlisteners; i++)
        if (!uv_is_closing((uv_handle_t *)&w->listeners[i]))
            uv_close((uv_handle_t *)&w->listeners[i], NULL);
    if (w->has_unix && !uv_is_closing((uv_handle_t *)&w->unix_listener))
        uv_close((uv_handle_t *)&w->unix_listener, NULL);
}

void worker_quiesce(struct worker *w)
{
    /* A quiesce still in the mailbox when the stop came is delivered by the
     * stop's final drain, after worker_on_stop closed everything: starting
     * the closing flush handle again would count it active for good (libuv
     * does not uncount a handle that is closing) and the loop would never
     * end. Stopped is quiesced already. */
    if (uv_is_closing((uv_handle_t *)&w->flush))
        return;
    w->stopping = true;
    atomic_store(&w->busy, true); /* until the next flush pass looks */
    close_listener(w);
    for (struct conn *c = w->conns; c; c = c->next)
        if (!(c->flags & CONN_CLOSING))
            uv_read_stop(&c->sock.stream);
    uv_check_start(&w->flush, on_flush); /* make sure a pass runs */
}

static void on_quiesce_msg(void *owner, struct mbox_msg *m)
{
    struct shard *s = owner;
    worker_quiesce(s->user);
    free(m);
}

void worker_post_quiesce(struct worker *w)
{
    struct wmsg *m = calloc(1, sizeof *m);
    if (!m) {
        atomic_store(&w->busy, false); /* cannot ask: do not wait for it */
        return;
    }
    atomic_store(&w->busy, true);
    m->msg.handle = on_quiesce_msg;
    shard_post(w->shard, &m->msg);
}

/* Start accepting. Not done in on_start: a client accepted before every
 * shard's mailbox exists could make this worker post to one that does not
 * exist yet, so the main thread sends this once all shards run. */
static void on_listen_msg(void *owner, struct mbox_msg *m)
{
    struct shard *s = owner;
    struct worker *w = s->user;
    free(m);
    for (unsigned i = 0; i < w->nlisteners; i++) {
        int rc = uv_listen((uv_stream_t *)&w->listeners[i], (int)server.cfg.tcp_backlog,
                           on_connection);
        if (rc != 0) {
            log_warn("Worker %u cannot listen: %s", w->id, uv_strerror(rc));
            server_request_stop(1);
            return;
        }
    }
    if (w->has_unix) {
        int rc = uv_listen((uv_stream_t *)&w->unix_listener, (int)server.cfg.tcp_backlog,
                           on_connection);
        if (rc != 0) {
            log_warn("Worker %u cannot listen on the Unix socket: %s", w->id, uv_strerror(rc));
            server_request_stop(1);
        }
    }
}

void worker_config_changed(void)
{
    for (unsigned i = 0; i < server.nworkers; i++)
        worker_post_config_refresh(server.workers[i]);
}

int worker_post_listen(struct worker *w)
{
    struct wmsg *m = calloc(1, sizeof *m);
    if (!m)
        return UV_ENOMEM;
    m->msg.handle = on_listen_msg;
    shard_post(w->shard, &m->msg);
    return 0;
}

int worker_on_start(struct shard *s, void *arg)
{
    (void)arg;
    struct worker *w = s->user; /* allocated by server_start before the threads */
    current_worker = w;
    char name[8];
    snprintf(name, sizeof name, "W%u", s->id);
    log_set_thread_name(name);
    settings_refresh(w);
    if (hooks.thread_start)
        hooks.thread_start(w);

    int rc = uv_check_init(&s->loop, &w->flush);
    if (rc == 0) {
        w->flush.data = w;
        rc = uv_check_start(&w->flush, on_flush);
    }
    if (rc == 0)
        rc = uv_timer_init(&s->loop, &w->tick);
    if (rc == 0) {
        w->tick.data = w;
        rc = uv_timer_start(&w->tick, on_tick, WORKER_TICK_MS, WORKER_TICK_MS);
        uv_unref((uv_handle_t *)&w->tick);
    }
    for (unsigned i = 0; rc == 0 && i < server.nbind; i++) {
        int *fd = &server.listen_fds[w->id * server.nbind + i];
        uv_tcp_t *l = &w->listeners[i];
        rc = uv_tcp_init(&s->loop, l);
        if (rc != 0)
            break;
        l->data = w;
        w->nlisteners++;
        rc = uv_tcp_open(l, *fd);
        if (rc != 0)
            break;
        *fd = -1; /* the handle owns it now */
    }
    /* The Unix socket has one listener, on worker 0: its clients are local
     * tools (redis-cli -s, health checks, sidecars), not the load that the
     * per-worker TCP sockets spread; their commands still reach every shard. */
    if (rc == 0 && w->id == 0 && server.unix_fd >= 0) {
        rc = uv_pipe_init(&s->loop, &w->unix_listener, 0);
        if (rc == 0) {
            w->unix_listener.data = w;
            w->has_unix = true;
            rc = uv_pipe_open(&w->unix_listener, server.unix_fd);
            if (rc == 0)
                server.unix_fd = -1; /* the handle owns it now */
        }
    }
    if (rc != 0)
        log_warn("Worker %u failed to start: %s", s->id, uv_strerror(rc));
    return rc;
}

void worker_on_stop(struct shard *s, void *arg)
{
    (void)arg;
    struct worker *w = s->user;
    if (hooks.stop_begin)
        hooks.stop_begin(w);
    w->stopping = true;
    close_listener(w);
    /* No flush pass runs again: take every conn off the list, or its free
     * (which waits for it to leave the list) would never happen. */
    while (w->flush_list) {
        struct conn *c = w->flush_list;
        w->flush_list = c->flush_next;
        c->flush_next = NULL;
        c->flags &= ~CONN_IN_FLUSH_LIST;
        if (c->flags & CONN_CLOSING)
            conn_release(c);
    }
    for (struct conn *c = w->conns; c; c = c->next)
        conn_close(c);
    /* Requests queued this turn still go out (app/hooks.c), then the
     * free lists go. */
    if (hooks.stop_end)
        hooks.stop_end(w);
    reply_fifo_drain(w);
    if (!uv_is_closing((uv_handle_t *)&w->flush))
        uv_close((uv_handle_t *)&w->flush, NULL);
    if (!uv_is_closing((uv_handle_t *)&w->tick))
        uv_close((uv_handle_t *)&w->tick, NULL);
}
