/* conn.c — client connections: accept, read into a growable query buffer,
 * parse commands in a loop and hand them to dispatch, write completed reply
 * slots in request order with gathered writes, backpressure, and the careful
 * close that waits for requests still out on other shards. Runs on the
 * connection's worker thread only. */
#include "server/net/conn.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/hash.h"
#include "server/util/log.h"
#include "server/net/outbuf.h"
#include "server/core/server.h"
#include "server/net/worker.h"
#include "server/net/reply_fifo.h"

/* Smallest free room offered to a read. 16 KiB is Redis's PROTO_IOBUF_LEN:
 * one read syscall takes what a typical pipelined burst sends. */
#define CONN_READ_CHUNK (16 * 1024)
/* A query buffer that has grown past this and is fully consumed is freed,
 * so one big SET does not pin its buffer for the life of the connection. */
#define CONN_IBUF_KEEP (64 * 1024)
/* Backpressure: stop parsing a client's pipeline while this many of its
 * requests wait for replies, or while this many reply bytes are queued for
 * it. Both bound what one client can make the server hold (replies of
 * requests in flight arrive all at once, so the count bounds their bytes
 * too), and both are far above what a pipeline needs for full batching. */
#define CONN_MAX_WAITING 256
#define CONN_OUT_SOFT ((size_t)4 << 20)
/* Most slots (buffers) gathered into one uv_write. IOV_MAX is 1024. */
#define CONN_MAX_IOV 256
/* write_ready copies the replies it is about to write into one buffer
 * when there are at least CONN_GATHER_MIN_IOV of them and they fit in
 * CONN_GATHER_MAX bytes (on its stack): below that the iovecs are cheap,
 * above it the copy is not. */
#define CONN_GATHER_MIN_IOV 4
#define CONN_GATHER_MAX 4096
/* Replies ready ahead of one still due from another shard wait for it up
 * to this many bytes (see hold_replies): a pipelined burst then costs one
 * write instead of two, and 16 KiB is Redis's reply buffer per client. */
#define CONN_HOLD_BYTES (16 * 1024)

/* A client moves to the worker of the shard its last CONN_MOVE_RUN keyed
 * commands all went to (conn_move): two pipelines of 16, or 32 round trips.
 * Each move doubles the run the next one needs, CONN_MOVE_DOUBLINGS times at
 * most (then 4,096), so a client alternating between shards in long runs
 * soon stops moving. */
#define CONN_MOVE_RUN 32u
#define CONN_MOVE_DOUBLINGS 7

/* A gathered write in flight: it owns the slots whose bytes it sends. */
struct wreq {
    uv_write_t req;      /* libuv request; req.data unused */
    struct conn *c;      /* the connection (alive: writes finish before close) */
    struct slot *slots;  /* chain of slots being written */
    size_t bytes;        /* total bytes in bufs */
    unsigned nbufs;      /* entries in bufs */
    uv_buf_t bufs[];     /* the gathered buffers */
};

/* The execution layer's entry points (conn_set_processor). */
static struct conn_processor proc;

void conn_set_processor(const struct conn_processor *p)
{
    proc = *p;
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf);

/* Free a chain of slots linked through next. */
static void free_slots(struct slot *s)
{
    while (s) {
        struct slot *next = s->next;
        reply_fifo_slot_free(s);
        s = next;
    }
}
static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
static void on_close(uv_handle_t *h);

bool conn_is_closing(const struct conn *c)
{
    return (c->flags & (CONN_CLOSING | CONN_CLOSE_AFTER_REPLY)) != 0;
}

int conn_set_str(char **member, const char *p, size_t n)
{
    char *copy = NULL;
    if (n > 0) {
        copy = malloc(n + 1);
        if (!copy)
            return -1;
        memcpy(copy, p, n);
        copy[n] = '\0';
    }
    free(*member);
    *member = copy;
    return 0;
}

/* Guards every conn's name against the one reader that is not its owner:
 * a slow-log entry made on another worker's shard thread (conn_name_dup).
 * Only renames and such entries take it, so nothing on the request path
 * pays for it; the owner reads its own name without it. */
static pthread_mutex_t name_lock = PTHREAD_MUTEX_INITIALIZER;

int conn_set_name(struct conn *c, const char *p, size_t n)
{
    pthread_mutex_lock(&name_lock);
    int rc = conn_set_str(&c->name, p, n);
    pthread_mutex_unlock(&name_lock);
    return rc;
}

char *conn_name_dup(const struct conn *c)
{
    pthread_mutex_lock(&name_lock);
    char *s = strdup(c->name ? c->name : "");
    pthread_mutex_unlock(&name_lock);
    return s;
}

/* Format a socket address as Redis does: "ip:port", "[ip6]:port". */
static void format_addr(const struct sockaddr_storage *ss, char *out, size_t n)
{
    char ip[64] = "?";
    int port = 0;
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
        uv_ip4_name(a, ip, sizeof ip);
        port = ntohs(a->sin_port);
        snprintf(out, n, "%s:%d", ip, port);
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
        uv_ip6_name(a, ip, sizeof ip);
        port = ntohs(a->sin6_port);
        snprintf(out, n, "[%s]:%d", ip, port);
    } else {
        snprintf(out, n, "?:0");
    }
}

/* Redis 7.0's islocalClient: the peer is exactly 127.0.0.1 or ::1 (a
 * client from 127.0.0.2 is not local to Redis 7.0 either), or a Unix
 * socket. */
static bool is_local(const struct sockaddr_storage *ss)
{
    if (ss->ss_family == AF_INET)
        return ((const struct sockaddr_in *)ss)->sin_addr.s_addr == htonl(INADDR_LOOPBACK);
    if (ss->ss_family == AF_INET6)
        return IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)ss)->sin6_addr);
    return ss->ss_family == AF_UNIX;
}

struct conn *conn_accept(struct worker *w, uv_stream_t *listener)
{
    return conn_accept_fd(w, listener, -1);
}

/* Make c's socket handle on loop: a pipe for a Unix socket client, else
 * TCP. Returns 0 or a libuv error. */
static int sock_init(struct conn *c, uv_loop_t *loop)
{
    return c->is_unix ? uv_pipe_init(loop, &c->sock.pipe, 0) : uv_tcp_init(loop, &c->sock.tcp);
}

/* Hand the socket fd to c's handle. Returns 0 or a libuv error (the
 * handle did not adopt fd). */
static int sock_open(struct conn *c, int fd)
{
    return c->is_unix ? uv_pipe_open(&c->sock.pipe, fd) : uv_tcp_open(&c->sock.tcp, fd);
}

struct conn *conn_accept_fd(struct worker *w, uv_stream_t *listener, int sfd)
{
    struct conn *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->is_unix = listener->type == UV_NAMED_PIPE;
    int rc = sock_init(c, &w->shard->loop);
    if (rc != 0) {
        free(c);
        return NULL;
    }
    c->sock.handle.data = c;
    c->w = w;
    int arc = sfd < 0 ? uv_accept(listener, &c->sock.stream) : sock_open(c, sfd);
    if (arc != 0) {
        if (sfd >= 0)
            close(sfd); /* the handle did not adopt it */
        uv_close(&c->sock.handle, (uv_close_cb)free);
        return NULL;
    }
    if (resp_parser_init(&c->parser, &w->set.lim) != 0) {
        uv_close(&c->sock.handle, (uv_close_cb)free);
        return NULL;
    }
    c->id = atomic_fetch_add(&server.next_conn_id, 1);
    c->proto = RESP2;
    c->authenticated = worker_requirepass() == NULL;
    c->created_ms = c->last_ms = clock_wall_ms();
    uv_os_fd_t fd = -1;
    uv_fileno(&c->sock.handle, &fd);
    c->fd = fd;
    if (c->is_unix) {
        /* Redis shows a Unix client as "<socket path>:0" on both sides, and
         * counts it as local (protected mode). */
        snprintf(c->addr, sizeof c->addr, "%s:0", server.cfg.unixsocket);
        memcpy(c->laddr, c->addr, sizeof c->laddr);
        c->local = true;
    } else {
        struct sockaddr_storage ss;
        int len = sizeof ss;
        if (uv_tcp_getpeername(&c->sock.tcp, (struct sockaddr *)&ss, &len) == 0) {
            format_addr(&ss, c->addr, sizeof c->addr);
            c->local = is_local(&ss);
        }
        len = sizeof ss;
        if (uv_tcp_getsockname(&c->sock.tcp, (struct sockaddr *)&ss, &len) == 0)
            format_addr(&ss, c->laddr, sizeof c->laddr);
        uv_tcp_nodelay(&c->sock.tcp, 1);
    }

    /* Link first so that a close from here on finds it in the list. */
    worker_conn_link(w, c);
    atomic_fetch_add_explicit(&w->stats.connected, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&w->stats.conns_total, 1, memory_order_relaxed);
    atomic_fetch_add(&server.nclients, 1);
    return c;
}

void conn_start(struct conn *c)
{
    if (uv_read_start(&c->sock.stream, alloc_cb, on_read) != 0)
        conn_close(c);
}

/* Free c's memory and what it owns; it is in no list. */
static void conn_free(struct conn *c)
{
    free_slots(c->head);
    if (proc.on_free)
        proc.on_free(c);
    resp_parser_deinit(&c->parser);
    free(c->ibuf);
    free(c->name);
    free(c->lib_name);
    free(c->lib_ver);
    free(c);
}

/* Free everything once the socket is closed and nothing in flight can come
 * back to this connection. */
void conn_release(struct conn *c)
{
    if (!(c->flags & CONN_CLOSING) || !c->handle_closed || c->inflight > 0 ||
        (c->flags & CONN_IN_FLUSH_LIST))
        return;
    worker_conn_unlink(c->w, c);
    conn_free(c);
}

void conn_close(struct conn *c)
{
    if (c->flags & CONN_CLOSING)
        return;
    c->flags |= CONN_CLOSING;
    if (c->ps)
        proc.unsubscribe_all(c); /* no message is queued for it from now on */
    if (c->blocked && proc.hangup)
        proc.hangup(c);
    atomic_fetch_sub_explicit(&c->w->stats.connected, 1, memory_order_relaxed);
    atomic_fetch_sub(&server.nclients, 1);
    if (c->direct_out > 0) {
        /* Another thread may still send to the fd: closing it now would let
         * a new connection reuse the number and receive that reply. */
        uv_read_stop(&c->sock.stream);
        c->close_deferred = true;
        return;
    }
    uv_close(&c->sock.handle, on_close);
}

int conn_direct_begin(struct conn *c)
{
    uv_os_fd_t fd;
    if (uv_fileno(&c->sock.handle, &fd) != 0)
        return -1;
    c->direct_out++;
    return fd;
}

void conn_direct_done(struct conn *c)
{
    assert(c->direct_out > 0);
    if (--c->direct_out == 0 && c->close_deferred) {
        c->close_deferred = false;
        uv_close(&c->sock.handle, on_close);
    }
}

static void on_close(uv_handle_t *h)
{
    struct conn *c = h->data;
    c->handle_closed = true;
    conn_release(c);
}

void conn_inflight_done(struct conn *c)
{
    assert(c->inflight > 0);
    c->inflight--;
    if (c->flags & CONN_CLOSING)
        conn_release(c);
    else
        worker_want_flush(c->w, c);
}

/* ---- Moving to another worker ------------------------------------------ *
 * A client whose commands keep going to one other shard pays a hop to that
 * shard's worker for each of them; on its owner's worker they run inline.
 * It moves only between commands, when nothing of it is in flight or
 * unwritten, so its program order and reply order cannot be disturbed. The
 * socket is handed over as a duplicate descriptor: the old loop closes its
 * handle (removing the descriptor from its epoll set), the new one opens a
 * handle on the duplicate. The kernel keeps whatever the client sends
 * meanwhile. */

static void on_move_msg(void *owner, struct mbox_msg *m);

/* Clients in transit, linked through next/prev (off every worker's list
 * meanwhile), and the walks under way, which stop new moves: a client
 * moving from a worker that a walk has not visited yet to one it has
 * visited already would be missed. Moves are rare (each doubles the run
 * the next needs) and walks are admin commands, so one lock serves. */
static pthread_mutex_t transit_lock = PTHREAD_MUTEX_INITIALIZER;
static struct conn *transit;
static unsigned walks;
static uint64_t walk_ids;

uint64_t conn_walk_begin(void)
{
    pthread_mutex_lock(&transit_lock);
    walks++;
    uint64_t id = ++walk_ids;
    pthread_mutex_unlock(&transit_lock);
    return id;
}

void conn_walk_end(void)
{
    pthread_mutex_lock(&transit_lock);
    walks--;
    pthread_mutex_unlock(&transit_lock);
}

void conn_foreach_moving(void (*fn)(void *arg, struct conn *c), void *arg)
{
    pthread_mutex_lock(&transit_lock);
    for (struct conn *c = transit; c; c = c->next)
        fn(arg, c);
    pthread_mutex_unlock(&transit_lock);
}

/* Put c in transit unless a walk is under way. */
static bool transit_enter(struct conn *c)
{
    pthread_mutex_lock(&transit_lock);
    bool ok = walks == 0;
    if (ok) {
        c->mv_kill = false;
        conn_list_push(&transit, c);
    }
    pthread_mutex_unlock(&transit_lock);
    return ok;
}

/* Take c out of transit: whether a CLIENT KILL matched it meanwhile. */
static bool transit_leave(struct conn *c)
{
    pthread_mutex_lock(&transit_lock);
    conn_list_unlink(&transit, c);
    bool kill = c->mv_kill;
    pthread_mutex_unlock(&transit_lock);
    return kill;
}

/* A moving client's destination is shutting down: it is closed, as the
 * shutdown closes every idle client. `from` still counts it. */
static void move_drop(struct conn *c, struct worker *from)
{
    close(c->move_fd);
    atomic_fetch_sub_explicit(&from->stats.connected, 1, memory_order_relaxed);
    atomic_fetch_sub(&server.nclients, 1);
    conn_free(c);
}

static void on_move_closed(uv_handle_t *h)
{
    struct conn *c = h->data;
    /* Stopping here means the destination may have stopped already (its
     * mailbox closed): do not post. */
    if (c->w->stopping) {
        transit_leave(c);
        move_drop(c, c->w);
    } else {
        shard_post(worker_get(c->mv_shard)->shard, &c->move_msg);
    }
}

bool conn_move(struct conn *c, struct worker *to)
{
    if (!to || to == c->w || c->w->stopping || c->in_process)
        return false;
    if (c->flags & (CONN_CLOSING | CONN_CLOSE_AFTER_REPLY | CONN_READ_EOF | CONN_PARSE_BLOCKED |
                    CONN_ORDER_WAIT | CONN_BARRIER | CONN_IN_FLUSH_LIST))
        return false;
    if (c->inflight || c->nslots || c->nwaiting || c->nwrites || c->wbytes || c->direct_out ||
        c->close_deferred || c->ord_out || c->ord_on_turn || c->blocked || c->ps)
        return false;
    if (atomic_load_explicit(&c->ob_transit, memory_order_relaxed) ||
        atomic_load_explicit(&c->ob_over, memory_order_relaxed))
        return false;
    if (proc.movable && !proc.movable(c))
        return false;
    int fd = fcntl(c->fd, F_DUPFD_CLOEXEC, 0);
    if (fd < 0) {
        c->mv_run = 0; /* out of descriptors: not again at every flush */
        return false;
    }
    /* Off this worker's list now, in transit (which CLIENT LIST and KILL
     * see); it still counts in this worker's `connected` until it
     * arrives, so INFO never misses it. */
    worker_conn_unlink(c->w, c);
    c->mv_shard = to->id;
    c->move_fd = fd;
    c->move_msg.handle = on_move_msg;
    if (!transit_enter(c)) {
        worker_conn_link(c->w, c); /* a walk is under way: later */
        close(fd);
        c->move_fd = -1;
        return false;
    }
    uv_close(&c->sock.handle, on_move_closed);
    return true;
}

/* c arrives on this worker (owner = its shard). */
static void on_move_msg(void *owner, struct mbox_msg *m)
{
    struct shard *s = owner;
    struct worker *w = s->user;
    struct conn *c = (struct conn *)((char *)m - offsetof(struct conn, move_msg));
    struct worker *from = c->w;
    bool kill = transit_leave(c);
    memset(&c->sock, 0, sizeof c->sock);
    int rc = w->stopping ? UV_ECANCELED : sock_init(c, &s->loop);
    if (rc != 0) {
        move_drop(c, from);
        return;
    }
    int fd = c->move_fd;
    c->move_fd = -1;
    c->mv_run = 0;
    if (c->mv_moves < CONN_MOVE_DOUBLINGS)
        c->mv_moves++;
    c->sock.handle.data = c;
    c->handle_closed = false;
    c->w = w;
    worker_conn_link(w, c);
    atomic_fetch_add_explicit(&w->stats.connected, 1, memory_order_relaxed);
    atomic_fetch_sub_explicit(&from->stats.connected, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&w->stats.moved_in, 1, memory_order_relaxed);
    rc = sock_open(c, fd);
    if (rc != 0) {
        close(fd); /* the handle did not adopt it */
        conn_close(c);
        return;
    }
    c->fd = fd;
    c->flags &= ~CONN_READ_PAUSED;
    conn_start(c);
    if (kill)
        conn_kill(c); /* CLIENT KILL found it in transit */
    else if (c->ioff < c->ilen && !(c->flags & CONN_CLOSING))
        conn_process_input(c); /* a command's first bytes came before the move */
}

void conn_close_after_reply(struct conn *c)
{
    c->flags |= CONN_CLOSE_AFTER_REPLY;
    worker_want_flush(c->w, c);
}

/* Forget unparsed input (the client is closing after its replies). Not
 * while the parse loop runs: it still holds offsets into the buffer, and
 * drops the input itself when it sees the flag. */
static void drop_input(struct conn *c)
{
    if (c->in_process)
        return;
    c->ilen = c->ioff = 0;
    c->ineed = 0;
    resp_parser_reset(&c->parser);
}

void conn_kill(struct conn *c)
{
    if (c->flags & CONN_CLOSING)
        return;
    c->flags |= CONN_CLOSE_AFTER_REPLY;
    drop_input(c);
    uv_read_stop(&c->sock.stream);
    worker_want_flush(c->w, c);
}

/* Is c allowed to take more commands from its buffer right now? */
static bool can_parse(const struct conn *c)
{
    if (c->flags & (CONN_CLOSING | CONN_CLOSE_AFTER_REPLY | CONN_BARRIER | CONN_ORDER_WAIT))
        return false;
    if (c->w->stopping)
        return false;
    /* Replies produced in this turn coalesce in the tail slot; everything
     * older is handed to uv_write at the end of each turn (wbytes). */
    size_t pending = c->wbytes;
    if (c->tail && c->tail->done)
        pending += slot_len(c->tail);
    /* Big replies anywhere count too (outbuf.h); a client at its output
     * limit takes nothing more: it is closed at the next flush. */
    return c->nwaiting < CONN_MAX_WAITING && outbuf_may_take(c, pending, CONN_OUT_SOFT);
}

/* Start or stop reading to match can_parse. */
static void update_reading(struct conn *c)
{
    if (c->flags & (CONN_CLOSING | CONN_READ_EOF))
        return;
    /* A blocked client is read though it parses nothing, so that its
     * hang-up is seen at once, as Redis does. */
    bool want = can_parse(c) || (c->blocked && !(c->flags & CONN_CLOSE_AFTER_REPLY));
    if (want && (c->flags & CONN_READ_PAUSED)) {
        if (uv_read_start(&c->sock.stream, alloc_cb, on_read) == 0)
            c->flags &= ~CONN_READ_PAUSED;
    } else if (!want && !(c->flags & CONN_READ_PAUSED)) {
        uv_read_stop(&c->sock.stream);
        c->flags |= CONN_READ_PAUSED;
    }
}

/* Reply a protocol error and close after it is written (Redis does the same:
 * the error, then the connection is gone). */
static void protocol_error(struct conn *c, const char *msg)
{
    struct rbuf *out = reply_fifo_buf(c);
    if (out)
        resp_errorf(out, "ERR %s", msg);
    if (proc.protocol_error)
        proc.protocol_error(c);
    log_verbose("Protocol error (%s) from client: id=%llu addr=%s", msg,
                (unsigned long long)c->id, c->addr);
    atomic_fetch_add_explicit(&c->w->stats.proto_errors, 1, memory_order_relaxed);
    c->flags |= CONN_CLOSE_AFTER_REPLY;
}

/* Redis's defence against cross-protocol scripting (processCommand's
 * securityWarningCommand): a web page can make a browser POST to this port,
 * and every line of the request, body included, would run as an inline
 * command. Such a request starts with a "POST" line and has a "Host:"
 * header, and neither is a command: the connection is closed with no reply
 * and nothing after it runs. Logged at most once a minute, as Redis does,
 * so an attacker cannot flood the log. Returns true if c is being closed. */
static void http_request_kill(struct conn *c);

/* Are the 4 bytes at p the letters of `lower` (4 lower-case letters) in
 * any case? Setting bit 5 lower-cases a letter, and only that letter's two
 * cases give the lower-case byte. Inline: strncasecmp was 5% of a PING. */
static inline bool letters4_are(const char *p, const char *lower)
{
    uint32_t v, w;
    memcpy(&v, p, 4);
    memcpy(&w, lower, 4);
    return (v | 0x20202020u) == w;
}

static inline bool http_request_refused(struct conn *c, const struct resp_arg *name)
{
    /* Asked before every command: the lengths first, then the names. */
    if ((name->len != 4 || !letters4_are(name->ptr, "post")) &&
        (name->len != 5 || !letters4_are(name->ptr, "host") || name->ptr[4] != ':'))
        return false;
    http_request_kill(c);
    return true;
}

static void http_request_kill(struct conn *c)
{
    static _Atomic int64_t logged_s; /* when it was last logged, Unix s */
    int64_t now = (int64_t)time(NULL);
    int64_t last = atomic_load_explicit(&logged_s, memory_order_relaxed);
    if ((now - last > 60 || last - now > 60) &&
        atomic_compare_exchange_strong(&logged_s, &last, now))
        log_warn("Possible SECURITY ATTACK detected. It looks like somebody is sending POST or "
                 "Host: commands to Redis. This is likely due to an attacker attempting to use "
                 "Cross Protocol Scripting to compromise your Redis instance. Connection "
                 "aborted.");
    conn_kill(c);
}

/* Arguments a command may have and still join a lookahead run: GET, SET
 * with its options, INCRBY, EXPIRE... Longer ones end the run. */
#define CONN_RUN_ARGS 5

/* A command parsed ahead of its dispatch, in a lookahead run. */
struct run_cmd {
    size_t argc;                         /* arguments */
    size_t used;                         /* its bytes in ibuf */
    struct resp_arg argv[CONN_RUN_ARGS]; /* views into ibuf */
    uint64_t h;                          /* hash_key(argv[1]), when hashed */
    bool hashed;                         /* prefetch_run computed h */
};

char *conn_take_ibuf(struct conn *c, size_t bytes)
{
    if (!c->ibuf_lend || bytes < CONN_IBUF_KEEP)
        return NULL;
    char *p = c->ibuf;
    /* ilen and ioff stay: the parse loop moves ioff past this command to
     * ilen, and then resets both as for any consumed buffer. */
    c->ibuf = NULL;
    c->icap = 0;
    c->ibuf_lend = false;
    return p;
}

/* Ask for the hash-map cache lines of a run's local keys, buckets first and
 * then entries, before the first of them runs: a pipelined client's lookups
 * then overlap their misses instead of waiting for each in turn. The key is
 * taken to be argv[1], as it is for every single-key command; for any other
 * command the hint is only wasted. Remote keys are prefetched by their
 * owner when the batch arrives (route/batch.c). */
static void prefetch_run(struct conn *c, struct run_cmd *run, size_t n)
{
    struct worker *w = c->w;
    struct kvmap *db = shard_db(w->shard, c->db);
    uint64_t h[CONN_PREFETCH];
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (run[i].argc < 2)
            continue;
        /* Kept for dispatch, which routes by the same hash. */
        run[i].h = hash_key(run[i].argv[1].ptr, run[i].argv[1].len);
        run[i].hashed = true;
        if (shard_group_route_hash(server.group, run[i].h) != w->id)
            continue;
        kvmap_prefetch_bucket(db, run[i].h);
        h[m++] = run[i].h;
    }
    for (size_t i = 0; i < m; i++)
        kvmap_prefetch_entry(db, h[i]);
}

/* Parse up to CONN_PREFETCH small multibulk commands from ibuf + ioff
 * into run without dispatching them (ibuf does not move until the next
 * read, so their views stay valid). Stops early at anything else: *have is
 * then set and *st, *cmd, *used, *need hold that parse, which must be
 * handled before the parser is called again (an inline command's or a long
 * command's argv is the parser's own). Returns the run's length. */
static size_t parse_run(struct conn *c, struct run_cmd *run, bool *have, enum resp_status *st,
                        struct resp_cmd *cmd, size_t *used, size_t *need)
{
    size_t n = 0, off = c->ioff;
    *have = false;
    /* Until AUTH succeeds, Redis's small limits apply (resp.h), and each
     * command is parsed only after the one before it ran: a pipelined
     * "AUTH pw" then a big SET is parsed as Redis parses it. */
    c->parser.unauth = !c->authenticated && worker_requirepass() != NULL;
    while (off < c->ilen) {
        bool multibulk = c->ibuf[off] == '*';
        if (n > 0 && (n == CONN_PREFETCH || !multibulk || c->parser.unauth))
            break;
        *st = resp_parse(&c->parser, c->ibuf + off, c->ilen - off, cmd, used, need);
        if (*st != RESP_OK || !multibulk || cmd->argc > CONN_RUN_ARGS) {
            *have = true;
            break;
        }
        run[n].argc = cmd->argc;
        run[n].used = *used;
        run[n].hashed = false;
        memcpy(run[n].argv, cmd->argv, cmd->argc * sizeof cmd->argv[0]);
        off += *used;
        n++;
    }
    return n;
}

void conn_process_input(struct conn *c)
{
    if (c->in_process)
        return; /* a nested completion; the outer loop goes on */
    c->in_process = true;
    c->flags &= ~CONN_PARSE_BLOCKED;
    c->w->now_ms = clock_wall_ms();
    bool did = false;
    struct run_cmd run[CONN_PREFETCH];
    while (c->ioff < c->ilen) {
        if (!can_parse(c)) {
            c->flags |= CONN_PARSE_BLOCKED;
            break;
        }
        struct resp_cmd cmd;
        size_t used = 0, need = 0;
        enum resp_status st = RESP_OK;
        bool have;
        size_t n = parse_run(c, run, &have, &st, &cmd, &used, &need);
        if (n > 1)
            prefetch_run(c, run, n);
        /* Dispatch in order, checking before each command what the
         * one-at-a-time loop checked before parsing it. */
        size_t i = 0;
        c->lone_cmd = n == 1 && !have && c->ioff + run[0].used == c->ilen;
        for (; i < n && (i == 0 || can_parse(c)); i++) {
            did = true;
            c->ineed = 0;
            if (run[i].argc > 0 && !http_request_refused(c, &run[i].argv[0])) {
                c->last_ms = c->w->now_ms;
                c->ibuf_lend = c->icap > CONN_IBUF_KEEP && c->ioff + run[i].used == c->ilen;
                bool taken = proc.command(c, run[i].argc, run[i].argv,
                                                     run[i].hashed ? &run[i].h : NULL);
                c->ibuf_lend = false;
                if (!taken)
                    break; /* it waits for earlier ones (CONN_ORDER_WAIT) */
            }
            c->lone_cmd = false;
            /* The views into ibuf are dead from here on. */
            c->ioff += run[i].used;
        }
        if (i < n || (have && n > 0 && !can_parse(c))) {
            /* Stopped (barrier, backpressure, closing): the rest is parsed
             * again when parsing resumes, so forget any partial command. */
            resp_parser_reset(&c->parser);
            c->flags |= CONN_PARSE_BLOCKED;
            break;
        }
        if (!have)
            continue;
        if (st == RESP_AGAIN) {
            c->ineed = need;
            break;
        }
        did = true;
        if (st != RESP_OK) {
            protocol_error(c, c->parser.err ? c->parser.err : "Protocol error");
            break;
        }
        c->ineed = 0;
        if (cmd.argc > 0 && !http_request_refused(c, &cmd.argv[0])) {
            c->last_ms = c->w->now_ms;
            c->ibuf_lend = c->icap > CONN_IBUF_KEEP && c->ioff + used == c->ilen;
            bool taken = proc.command(c, cmd.argc, cmd.argv, NULL);
            c->ibuf_lend = false;
            if (!taken) {
                /* Parsed again once the client's earlier commands are back. */
                resp_parser_reset(&c->parser);
                c->flags |= CONN_PARSE_BLOCKED;
                break;
            }
        }
        c->ioff += used;
    }
    c->in_process = false;
    if (c->flags & CONN_CLOSE_AFTER_REPLY)
        drop_input(c); /* QUIT, protocol error, kill: the rest is never run */
    if (c->ioff == c->ilen) {
        c->ioff = c->ilen = 0;
        c->flags &= ~CONN_PARSE_BLOCKED; /* nothing left to parse */
        if (c->icap > CONN_IBUF_KEEP) {
            free(c->ibuf);
            c->ibuf = NULL;
            c->icap = 0;
        }
    }
    update_reading(c);
    if (did)
        worker_want_flush(c->w, c);
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct conn *c = h->data;
    (void)suggested;
    /* Move the unparsed tail to the front when that frees real room: the
     * parser keeps offsets relative to the start of its command. */
    if (c->ioff > 0 && (c->ioff >= c->icap / 2 || c->icap - c->ilen < CONN_READ_CHUNK)) {
        memmove(c->ibuf, c->ibuf + c->ioff, c->ilen - c->ioff);
        c->ilen -= c->ioff;
        c->ioff = 0;
    }
    size_t room = CONN_READ_CHUNK;
    if (c->ineed > room)
        room = c->ineed; /* a big bulk: read it straight in, one allocation */
    /* Never allocate much past the query buffer limit: the read that crosses
     * it is the one that closes the connection. */
    size_t limit = c->w->set.qbuf_limit + CONN_READ_CHUNK;
    if (c->ilen + room > limit)
        room = limit > c->ilen ? limit - c->ilen : CONN_READ_CHUNK;
    if (c->icap - c->ilen < room) {
        size_t ncap = c->icap ? c->icap * 2 : CONN_READ_CHUNK;
        if (ncap < c->ilen + room)
            ncap = c->ilen + room;
        if (ncap > limit && limit >= c->ilen + room)
            ncap = limit;
        char *p = realloc(c->ibuf, ncap);
        if (!p) {
            *buf = uv_buf_init(NULL, 0); /* on_read gets UV_ENOBUFS */
            return;
        }
        c->ibuf = p;
        c->icap = ncap;
    }
    *buf = uv_buf_init(c->ibuf + c->ilen, (unsigned)(c->icap - c->ilen > UINT32_MAX
                                                         ? UINT32_MAX
                                                         : c->icap - c->ilen));
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
    struct conn *c = st->data;
    (void)buf;
    if (nread == 0)
        return; /* EAGAIN */
    if (nread < 0) {
        if (nread == UV_ENOBUFS)
            log_warn("Closing client id=%llu addr=%s: out of memory for its query buffer",
                     (unsigned long long)c->id, c->addr);
        uv_read_stop(st);
        if (nread != UV_EOF) {
            conn_close(c);
            return;
        }
        /* The peer shut its write side (nc, redis-cli --pipe): answer what
         * it sent, then close. conn_flush closes once nothing is owed. */
        c->flags |= CONN_READ_EOF;
        /* A subscriber that hung up is gone for Pub/Sub at once, as Redis
         * frees it: messages are not answers it waits for, and would keep
         * it from ever draining. */
        if (c->ps)
            proc.unsubscribe_all(c);
        /* A blocked client that hung up is gone too, as Redis frees it. */
        if (c->blocked && proc.hangup)
            proc.hangup(c);
        worker_want_flush(c->w, c);
        return;
    }
    c->ilen += (size_t)nread;
    c->net_in += (uint64_t)nread;
    worker_stat_add(&c->w->stats.net_in, (uint64_t)nread);
    worker_stat_add(&c->w->stats.reads, 1);
    if (c->ilen - c->ioff > c->w->set.qbuf_limit) {
        log_warn("Closing client that reached max query buffer length: id=%llu addr=%s "
                 "qbuf=%zu (client-query-buffer-limit %zu)",
                 (unsigned long long)c->id, c->addr, c->ilen - c->ioff, c->w->set.qbuf_limit);
        atomic_fetch_add_explicit(&c->w->stats.qbuf_limit_kills, 1, memory_order_relaxed);
        conn_close(c);
        return;
    }
    conn_process_input(c);
}

void conn_poll_input(struct conn *c)
{
    if (c->flags & (CONN_CLOSING | CONN_READ_EOF | CONN_READ_PAUSED) || c->in_process)
        return;
    uv_stream_t *st = &c->sock.stream;
    uv_buf_t buf;
    alloc_cb((uv_handle_t *)st, 0, &buf);
    if (!buf.base) {
        on_read(st, UV_ENOBUFS, &buf);
        return;
    }
    ssize_t n = recv(c->fd, buf.base, buf.len, MSG_DONTWAIT);
    if (n > 0)
        on_read(st, n, &buf);
    else if (n == 0)
        on_read(st, UV_EOF, &buf);
    else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
        on_read(st, UV_ECONNRESET, &buf);
}

/* ---- Output ------------------------------------------------------------ */

static void on_write(uv_write_t *req, int status)
{
    struct wreq *wr = (struct wreq *)req;
    struct conn *c = wr->c;
    c->wbytes -= wr->bytes;
    c->nwrites--;
    if (status == 0) {
        c->net_out += wr->bytes;
        worker_stat_add(&c->w->stats.net_out, wr->bytes);
        worker_stat_add(&c->w->stats.writes, 1);
    }
    free_slots(wr->slots);
    free(wr);
    if (c->flags & CONN_CLOSING)
        return;
    if (status < 0) {
        conn_close(c);
        return;
    }
    worker_want_flush(c->w, c);
}

/* Should the completed replies at the head of c's FIFO wait for the reply
 * behind them? Yes while that one is a plain request out on another shard
 * (it comes back within a loop turn or two, and the client of a pipeline
 * waits for the whole burst anyway) and what waits is small. Redis, too,
 * answers a pipelined burst with one write per event-loop turn. Never for a
 * fan-out (it may take several rounds) or a client that is closing. */
static bool hold_replies(const struct conn *c)
{
    if (c->nwaiting == 0 || (c->flags & CONN_CLOSE_AFTER_REPLY))
        return false;
    size_t bytes = 0;
    unsigned n = 0;
    for (const struct slot *s = c->head; s; s = s->next) {
        if (!s->done)
            return s->fan == NULL;
        bytes += slot_len(s);
        if (bytes >= CONN_HOLD_BYTES || ++n >= CONN_MAX_IOV)
            return false;
    }
    return false;
}

/* Write the completed prefix of c's slot FIFO, CONN_MAX_IOV slots per
 * gathered write: detached slots belong to the write until it finishes.
 * uv_try_write first, so a reply that fits the socket costs no request. */
static void write_ready(struct conn *c)
{
    if (hold_replies(c))
        return; /* written with the reply it waits for */
    while (c->head && c->head->done) {
        uv_buf_t bufs[CONN_MAX_IOV];
        unsigned n = 0;
        size_t bytes = 0;
        struct slot *first = c->head, *last = NULL, *s = c->head;
        while (s && s->done && n < CONN_MAX_IOV) {
            if (s->out.oom) {
                /* A reply that could not be built completely must not be
                 * sent: the client would misparse everything after it. */
                log_warn("Closing client id=%llu addr=%s: out of memory building a reply",
                         (unsigned long long)c->id, c->addr);
                conn_close(c);
                return;
            }
            size_t len = slot_len(s);
            if (len > 0)
                bufs[n++] = uv_buf_init((char *)slot_bytes(s), (unsigned)len);
            bytes += len;
            last = s;
            s = s->next;
            c->nslots--;
        }
        c->head = s;
        if (!s)
            c->tail = NULL;
        last->next = NULL;

        /* Try the fast path: the socket takes it all now, nothing queued.
         * Many small replies (a pipeline's, one slot each) are copied into
         * one buffer first: the kernel's cost per iovec is more than a
         * copy of a few dozen bytes. */
        size_t off = 0;
        if (c->nwrites == 0 && n > 0) {
            char gather[CONN_GATHER_MAX];
            uv_buf_t one;
            unsigned nb = n;
            const uv_buf_t *b = bufs;
            if (n >= CONN_GATHER_MIN_IOV && bytes <= sizeof gather) {
                size_t at = 0;
                for (unsigned i = 0; i < n; i++) {
                    memcpy(gather + at, bufs[i].base, bufs[i].len);
                    at += bufs[i].len;
                }
                one = uv_buf_init(gather, (unsigned)at);
                b = &one;
                nb = 1;
            }
            int r = uv_try_write(&c->sock.stream, b, nb);
            if (r > 0)
                off = (size_t)r;
            else if (r != UV_EAGAIN && r != UV_ENOSYS) {
                free_slots(first);
                conn_close(c);
                return;
            }
        }
        if (off == bytes) {
            c->net_out += bytes;
            worker_stat_add(&c->w->stats.net_out, bytes);
            worker_stat_add(&c->w->stats.writes, 1);
            free_slots(first);
            continue;
        }
        if (off > 0) {
            c->net_out += off;
            worker_stat_add(&c->w->stats.net_out, off);
        }
        /* Queue the rest, skipping what try_write took. */
        struct wreq *wr = malloc(sizeof *wr + n * sizeof(uv_buf_t));
        if (!wr) {
            free_slots(first);
            conn_close(c);
            return;
        }
        wr->c = c;
        wr->slots = first;
        wr->nbufs = 0;
        wr->bytes = bytes - off;
        for (unsigned i = 0; i < n; i++) {
            if (off >= bufs[i].len) {
                off -= bufs[i].len;
                continue;
            }
            wr->bufs[wr->nbufs++] = uv_buf_init(bufs[i].base + off, bufs[i].len - (unsigned)off);
            off = 0;
        }
        int r = uv_write(&wr->req, &c->sock.stream, wr->bufs, wr->nbufs, on_write);
        if (r != 0) {
            free_slots(first);
            free(wr);
            conn_close(c);
            return;
        }
        c->nwrites++;
        c->wbytes += wr->bytes;
    }
}

void conn_flush(struct conn *c)
{
    if (c->flags & CONN_CLOSING)
        return;
    /* Before writing: a reply an owner dropped at the limit left an empty
     * slot, and nothing after it may reach the client. */
    if (outbuf_check(c))
        return;
    write_ready(c);
    if (c->flags & CONN_CLOSING)
        return;
    outbuf_publish(c);
    /* Room again: go on with a pipeline that backpressure or a barrier
     * stopped. */
    if ((c->flags & CONN_PARSE_BLOCKED) && can_parse(c))
        conn_process_input(c);
    else
        update_reading(c);
    bool drained = c->nslots == 0 && c->nwrites == 0 && c->nwaiting == 0;
    if (drained && ((c->flags & CONN_CLOSE_AFTER_REPLY) ||
                    ((c->flags & CONN_READ_EOF) && !(c->flags & CONN_PARSE_BLOCKED))))
        conn_close(c);
    else if (drained && c->mv_run >= (CONN_MOVE_RUN << c->mv_moves) && c->w->set.move_clients)
        (void)conn_move(c, worker_get(c->mv_shard));
}

/* ---- CLIENT LIST ------------------------------------------------------- */

void conn_describe(const struct conn *c, int64_t now_ms, struct rbuf *out)
{
    char line[1024];
    struct conn_info info = {.cmd = "NULL"};
    if (proc.info)
        proc.info(c, &info);
    char flags[8];
    size_t nf = 0;
    if (c->blocked)
        flags[nf++] = 'b';
    if (c->ps)
        flags[nf++] = 'P';
    if (c->flags & CONN_CLOSE_AFTER_REPLY)
        flags[nf++] = 'c';
    if (c->is_unix)
        flags[nf++] = 'U';
    if (nf == 0)
        flags[nf++] = 'N';
    flags[nf] = '\0';
    int64_t age = (now_ms - c->created_ms) / 1000;
    int64_t idle = (now_ms - c->last_ms) / 1000;
    int n = snprintf(line, sizeof line,
                     "id=%llu addr=%s laddr=%s fd=%d name=%s age=%lld idle=%lld flags=%s "
                     "db=%u sub=%u psub=%u ssub=%u multi=-1 qbuf=%zu qbuf-free=%zu argv-mem=0 "
                     "multi-mem=0 rbs=%zu rbp=%zu obl=0 oll=%zu omem=%zu tot-mem=%zu events=r "
                     "cmd=%s user=default redir=-1 resp=%d lib-name=%s lib-ver=%s\n",
                     (unsigned long long)c->id, c->addr, c->laddr, c->fd, c->name ? c->name : "",
                     (long long)(age < 0 ? 0 : age), (long long)(idle < 0 ? 0 : idle), flags, c->db,
                     info.sub, info.psub, info.ssub,
                     c->ilen - c->ioff, c->icap - c->ilen, c->icap, c->ilen, c->nslots,
                     outbuf_held(c), sizeof *c + c->icap + outbuf_held(c),
                     info.cmd, c->proto, c->lib_name ? c->lib_name : "", c->lib_ver ? c->lib_ver : "");
    if (n > 0)
        rbuf_append(out, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
}
