/* async.c — the asynchronous client of libshardkv on the caller's libuv
 * loop: non-blocking connect, commands batched into one write per loop
 * turn, replies matched to callbacks in order, a read timeout, and
 * reconnection with exponential backoff. Runs only on the loop's thread. */
#include "client/reply.h"
#include "client/shardkv.h"
#include "protocol/resp_enc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

/* Bytes offered to each read: see CLIENT_READ_CHUNK in client.c. */
#define ASYNC_READ_CHUNK 65536

enum async_state {
    ASYNC_RESOLVING,  /* name lookup in flight */
    ASYNC_CONNECTING, /* TCP connect in flight */
    ASYNC_CONNECTED,  /* established */
    ASYNC_WAITING,    /* disconnected; reconnect timer armed (or not, when
                         reconnecting is disabled) */
    ASYNC_CLOSING,    /* skv_async_close called; waiting for handle closes */
};

/* A command waiting for its reply. */
struct pending {
    skv_async_reply_fn cb; /* called exactly once */
    void *privdata;        /* passed to cb */
};

/* One TCP connection attempt and its lifetime; a fresh one per attempt,
 * since a closed uv handle cannot be reused before its close callback. */
struct conn {
    uv_tcp_t tcp;         /* the socket; data points to this conn */
    uv_connect_t creq;    /* the connect request */
    struct skv_async *ac; /* owner, or NULL once the owner dropped it */
    bool writing;         /* a uv_write is in flight */
};

/* A write in flight: owns the bytes it sends. */
struct wreq {
    uv_write_t req;    /* libuv request; data unused */
    struct conn *conn; /* connection it was issued on */
    char *buf;         /* bytes being written, owned */
};

struct skv_async {
    uv_loop_t *loop;                 /* the caller's loop */
    char *host;                      /* copy of the host */
    int port;                        /* port */
    struct skv_options opts;         /* copied options */
    skv_async_connect_fn on_connect; /* attempt callback, may be NULL */
    void *data;                      /* for on_connect */
    enum async_state state;          /* see enum */
    struct conn *conn;               /* current connection, NULL when none */
    uv_getaddrinfo_t gai;            /* lookup request (ASYNC_RESOLVING) */
    uv_timer_t timer;                /* reconnect delay, connect and read timeouts */
    uv_prepare_t prepare;            /* flushes out once per loop turn */
    int open_handles;                /* of timer and prepare, not yet closed */
    int delay_ms;                    /* next reconnect delay */
    struct rbuf out;                 /* commands not yet handed to uv_write */
    struct pending *q;               /* ring of commands awaiting replies, in
                                        send order (queued and written ones) */
    size_t qhead, qlen, qcap;        /* ring position, count, capacity */
    struct reply_parser parser;      /* replies of the current connection */
    int busy;                        /* nested callbacks running: freeing waits */
    bool gai_pending;                /* the lookup request is in flight */
};

static void start_attempt(struct skv_async *ac);
static void maybe_free(struct skv_async *ac);
static void timer_cb(uv_timer_t *t);

bool skv_async_connected(const struct skv_async *ac)
{
    return ac->state == ASYNC_CONNECTED;
}

/* Call the oldest pending callback with r (borrowed; freed here). */
static void pop_call(struct skv_async *ac, struct skv_reply *r)
{
    struct pending p = ac->q[ac->qhead];
    ac->qhead = (ac->qhead + 1) % ac->qcap;
    ac->qlen--;
    ac->busy++;
    p.cb(ac, r, p.privdata);
    ac->busy--;
    skv_reply_free(r);
}

/* Fail every pending command with an error reply saying why. */
static void fail_pending(struct skv_async *ac, const char *why)
{
    char msg[200];
    snprintf(msg, sizeof(msg), "ERR %s", why);
    /* Unsent bytes belong to commands failed here; drop them before any
     * callback runs, since a callback may queue new commands. */
    ac->out.len = 0;
    /* Only the commands pending now: those queued by callbacks stay. A
     * callback may also close the handle, which fails the rest itself. */
    size_t n = ac->qlen;
    while (n-- > 0 && ac->qlen > 0) {
        struct skv_reply *r = reply_new_str(SKV_REPLY_ERROR, msg, strlen(msg));
        if (r != NULL) {
            pop_call(ac, r);
            continue;
        }
        /* No memory even for the message: the callback borrows its reply,
         * so one on the stack will do. */
        static char oom[] = "ERR out of memory";
        struct skv_reply tmp = {.type = SKV_REPLY_ERROR, .str = oom, .len = sizeof(oom) - 1};
        struct pending p = ac->q[ac->qhead];
        ac->qhead = (ac->qhead + 1) % ac->qcap;
        ac->qlen--;
        ac->busy++;
        p.cb(ac, &tmp, p.privdata);
        ac->busy--;
    }
}

static void conn_closed(uv_handle_t *h)
{
    free(h->data);
}

/* Drop the current connection (if any): close it, fail pending commands,
 * and schedule a reconnect unless closing. */
static void lose_conn(struct skv_async *ac, const char *why)
{
    struct conn *cn = ac->conn;
    ac->conn = NULL;
    if (cn != NULL) {
        cn->ac = NULL;
        uv_close((uv_handle_t *)&cn->tcp, conn_closed);
    }
    reply_parser_deinit(&ac->parser);
    reply_parser_init(&ac->parser);
    uv_timer_stop(&ac->timer);
    if (ac->state != ASYNC_CLOSING)
        ac->state = ASYNC_WAITING;
    fail_pending(ac, why);
}

/* After a failed attempt or a lost connection: arm the backoff timer. */
static void schedule_reconnect(struct skv_async *ac)
{
    if (ac->state != ASYNC_WAITING || ac->opts.reconnect_min_ms <= 0)
        return;
    int d = ac->delay_ms;
    uv_timer_start(&ac->timer, timer_cb, (uint64_t)d, 0);
    /* Exponential backoff, doubling up to the cap. */
    if (ac->delay_ms < ac->opts.reconnect_max_ms / 2)
        ac->delay_ms *= 2;
    else if (ac->opts.reconnect_max_ms > 0)
        ac->delay_ms = ac->opts.reconnect_max_ms;
}

static void attempt_failed(struct skv_async *ac, int status, const char *why)
{
    char msg[160];
    snprintf(msg, sizeof(msg), "connection failed: %s", why);
    lose_conn(ac, msg);
    if (ac->on_connect != NULL && ac->state != ASYNC_CLOSING) {
        ac->busy++;
        ac->on_connect(ac, status, ac->data);
        ac->busy--;
    }
    schedule_reconnect(ac);
    maybe_free(ac);
}

/* The read timeout runs while replies are awaited: (re)started when bytes
 * arrive (restart = true) or, if not running, when a write goes out; stopped
 * when nothing is pending. So it fires after read_timeout_ms without a byte
 * from a server that owes replies, however many commands are still sent. */
static void arm_read_timeout(struct skv_async *ac, bool restart)
{
    if (ac->opts.read_timeout_ms <= 0 || ac->state != ASYNC_CONNECTED)
        return;
    if (ac->qlen == 0)
        uv_timer_stop(&ac->timer);
    else if (restart || !uv_is_active((uv_handle_t *)&ac->timer))
        uv_timer_start(&ac->timer, timer_cb, (uint64_t)ac->opts.read_timeout_ms, 0);
}

static void write_cb(uv_write_t *req, int status);

/* Hand everything buffered to one uv_write, unless one is in flight (then
 * write_cb comes back here). */
static void flush(struct skv_async *ac)
{
    struct conn *cn = ac->conn;
    if (ac->state != ASYNC_CONNECTED || cn == NULL || cn->writing || ac->out.len == 0)
        return;
    struct wreq *w = malloc(sizeof(*w));
    if (w == NULL) {
        lose_conn(ac, "connection lost: out of memory");
        schedule_reconnect(ac);
        return;
    }
    w->conn = cn;
    w->buf = ac->out.ptr;
    uv_buf_t b = uv_buf_init(ac->out.ptr, (unsigned)ac->out.len);
    ac->out.ptr = NULL;
    ac->out.len = ac->out.cap = 0;
    int rc = uv_write(&w->req, (uv_stream_t *)&cn->tcp, &b, 1, write_cb);
    if (rc < 0) {
        free(w->buf);
        free(w);
        lose_conn(ac, uv_strerror(rc));
        schedule_reconnect(ac);
        return;
    }
    cn->writing = true;
    arm_read_timeout(ac, false);
}

static void write_cb(uv_write_t *req, int status)
{
    struct wreq *w = (struct wreq *)req;
    struct conn *cn = w->conn;
    free(w->buf);
    free(w);
    cn->writing = false;
    struct skv_async *ac = cn->ac;
    if (ac == NULL)
        return; /* connection already dropped */
    if (status < 0) {
        char msg[160];
        snprintf(msg, sizeof(msg), "connection lost: %s", uv_strerror(status));
        lose_conn(ac, msg);
        schedule_reconnect(ac);
        maybe_free(ac);
        return;
    }
    flush(ac);
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct conn *cn = h->data;
    size_t avail = 0;
    char *p = cn->ac ? reply_parser_space(&cn->ac->parser, ASYNC_READ_CHUNK, &avail) : NULL;
    *buf = uv_buf_init(p, p ? (unsigned)(avail > UINT32_MAX ? UINT32_MAX : avail) : 0);
}

static void read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct conn *cn = s->data;
    struct skv_async *ac = cn->ac;
    if (ac == NULL || nread == 0)
        return;
    if (nread < 0) {
        char msg[160];
        snprintf(msg, sizeof(msg), "connection lost: %s",
                 nread == UV_EOF       ? "closed by server"
                 : nread == UV_ENOBUFS ? "out of memory"
                                       : uv_strerror((int)nread));
        lose_conn(ac, msg);
        schedule_reconnect(ac);
        maybe_free(ac);
        return;
    }
    reply_parser_commit(&ac->parser, (size_t)nread);
    ac->busy++;
    while (ac->conn == cn) {
        struct skv_reply *r;
        enum reply_status st = reply_parser_next(&ac->parser, &r);
        if (st == REPLY_AGAIN)
            break;
        if (st != REPLY_OK) {
            char msg[160];
            snprintf(msg, sizeof(msg), "connection lost: bad reply: %s", ac->parser.err);
            lose_conn(ac, msg);
            schedule_reconnect(ac);
            break;
        }
        if (r->type == SKV_REPLY_PUSH || ac->qlen == 0) {
            /* Out-of-band data (RESP3 push) or a reply nobody asked for:
             * nothing to hand it to. */
            skv_reply_free(r);
            continue;
        }
        pop_call(ac, r);
    }
    ac->busy--;
    if (ac->conn == cn)
        arm_read_timeout(ac, true);
    maybe_free(ac);
}

static void connect_cb(uv_connect_t *req, int status)
{
    struct conn *cn = req->data;
    struct skv_async *ac = cn->ac;
    if (ac == NULL)
        return; /* closed meanwhile; the handle is already closing */
    if (status < 0) {
        attempt_failed(ac, status == UV_ECANCELED ? SKV_ENOTCONN : SKV_ECONNECT,
                       uv_strerror(status));
        return;
    }
    if (ac->opts.tcp_nodelay)
        uv_tcp_nodelay(&cn->tcp, 1);
    int rc = uv_read_start((uv_stream_t *)&cn->tcp, alloc_cb, read_cb);
    if (rc < 0) {
        attempt_failed(ac, SKV_EIO, uv_strerror(rc));
        return;
    }
    ac->state = ASYNC_CONNECTED;
    ac->delay_ms = ac->opts.reconnect_min_ms;
    uv_timer_stop(&ac->timer);
    if (ac->on_connect != NULL) {
        ac->busy++;
        ac->on_connect(ac, 0, ac->data);
        ac->busy--;
    }
    flush(ac);
    maybe_free(ac);
}

static void gai_cb(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    struct skv_async *ac = req->data;
    ac->gai_pending = false;
    if (ac->state == ASYNC_CLOSING) {
        uv_freeaddrinfo(res);
        maybe_free(ac);
        return;
    }
    if (status < 0 || res == NULL) {
        uv_freeaddrinfo(res);
        ac->state = ASYNC_WAITING;
        attempt_failed(ac, SKV_ECONNECT, uv_strerror(status));
        return;
    }
    struct conn *cn = calloc(1, sizeof(*cn));
    if (cn == NULL) {
        uv_freeaddrinfo(res);
        ac->state = ASYNC_WAITING;
        attempt_failed(ac, SKV_ENOMEM, "out of memory");
        return;
    }
    cn->ac = ac;
    uv_tcp_init(ac->loop, &cn->tcp);
    cn->tcp.data = cn;
    cn->creq.data = cn;
    ac->conn = cn;
    ac->state = ASYNC_CONNECTING;
    int rc = uv_tcp_connect(&cn->creq, &cn->tcp, res->ai_addr, connect_cb);
    uv_freeaddrinfo(res);
    if (rc < 0) {
        attempt_failed(ac, SKV_ECONNECT, uv_strerror(rc));
        return;
    }
    if (ac->opts.connect_timeout_ms > 0)
        uv_timer_start(&ac->timer, timer_cb, (uint64_t)ac->opts.connect_timeout_ms, 0);
}

/* The one timer: reconnect delay (WAITING), connect timeout (CONNECTING),
 * read timeout (CONNECTED). */
static void timer_cb(uv_timer_t *t)
{
    struct skv_async *ac = t->data;
    switch (ac->state) {
    case ASYNC_WAITING:
        start_attempt(ac);
        break;
    case ASYNC_CONNECTING:
        attempt_failed(ac, SKV_ETIMEOUT, "connect timeout");
        break;
    case ASYNC_CONNECTED:
        lose_conn(ac, "connection lost: read timeout");
        schedule_reconnect(ac);
        maybe_free(ac);
        break;
    default:
        break;
    }
}

/* Begin one attempt: resolve, then connect (continued in gai_cb). */
static void start_attempt(struct skv_async *ac)
{
    char portstr[16];
    snprintf(portstr, sizeof(portstr), "%d", ac->port);
    struct addrinfo hints;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    ac->state = ASYNC_RESOLVING;
    ac->gai.data = ac;
    int rc = uv_getaddrinfo(ac->loop, &ac->gai, gai_cb, ac->host, portstr, &hints);
    if (rc < 0) {
        ac->state = ASYNC_WAITING;
        attempt_failed(ac, SKV_ECONNECT, uv_strerror(rc));
        return;
    }
    ac->gai_pending = true;
}

static void prepare_cb(uv_prepare_t *h)
{
    struct skv_async *ac = h->data;
    uv_prepare_stop(h);
    flush(ac);
    maybe_free(ac);
}

static void handle_closed(uv_handle_t *h)
{
    struct skv_async *ac = h->data;
    ac->open_handles--;
    maybe_free(ac);
}

/* Free the handle once it is closing, no callback of ours is on the stack,
 * and libuv no longer refers to any of its parts. */
static void maybe_free(struct skv_async *ac)
{
    if (ac->state != ASYNC_CLOSING || ac->busy > 0 || ac->open_handles > 0 || ac->gai_pending)
        return;
    reply_parser_deinit(&ac->parser);
    free(ac->out.ptr);
    free(ac->q);
    free(ac->host);
    free(ac);
}

struct skv_async *skv_async_connect(uv_loop_t *loop, const char *host, int port,
                                    const struct skv_options *opts, skv_async_connect_fn cb,
                                    void *data)
{
    if (loop == NULL || host == NULL || port <= 0 || port > 65535)
        return NULL;
    struct skv_async *ac = calloc(1, sizeof(*ac));
    if (ac == NULL)
        return NULL;
    if ((ac->host = strdup(host)) == NULL) {
        free(ac);
        return NULL;
    }
    ac->loop = loop;
    ac->port = port;
    if (opts != NULL)
        ac->opts = *opts;
    else
        skv_options_init(&ac->opts);
    ac->on_connect = cb;
    ac->data = data;
    ac->delay_ms = ac->opts.reconnect_min_ms > 0 ? ac->opts.reconnect_min_ms : 1;
    reply_parser_init(&ac->parser);
    uv_timer_init(loop, &ac->timer);
    ac->timer.data = ac;
    uv_prepare_init(loop, &ac->prepare);
    ac->prepare.data = ac;
    ac->open_handles = 2;
    start_attempt(ac);
    return ac;
}

int skv_async_command(struct skv_async *ac, int argc, const char **argv, const size_t *argvlen,
                      skv_async_reply_fn cb, void *privdata)
{
    if (ac->state == ASYNC_CLOSING ||
        (ac->state == ASYNC_WAITING && ac->opts.reconnect_min_ms <= 0))
        return SKV_ENOTCONN; /* closed, or down for good */
    if (argc <= 0 || argv == NULL || cb == NULL)
        return SKV_EINVAL;
    /* Room for the callback first, then the bytes: all or nothing. */
    if (ac->qlen == ac->qcap) {
        size_t ncap = ac->qcap ? ac->qcap * 2 : 64;
        struct pending *nq = malloc(ncap * sizeof(*nq));
        if (nq == NULL)
            return SKV_ENOMEM;
        for (size_t i = 0; i < ac->qlen; i++)
            nq[i] = ac->q[(ac->qhead + i) % ac->qcap];
        free(ac->q);
        ac->q = nq;
        ac->qcap = ncap;
        ac->qhead = 0;
    }
    /* protocol/'s encoder: the command goes in whole or not at all. */
    if (resp_command(&ac->out, argc, argv, argvlen) != 0) {
        ac->out.oom = false; /* nothing was appended; the buffer is intact */
        return SKV_ENOMEM;
    }
    ac->q[(ac->qhead + ac->qlen) % ac->qcap] = (struct pending){cb, privdata};
    ac->qlen++;
    /* Written once per loop turn, just before the loop polls: every command
     * queued in this turn goes out in the same write. */
    if (ac->state == ASYNC_CONNECTED)
        uv_prepare_start(&ac->prepare, prepare_cb);
    return 0;
}

void skv_async_close(struct skv_async *ac)
{
    if (ac == NULL || ac->state == ASYNC_CLOSING)
        return;
    ac->state = ASYNC_CLOSING;
    lose_conn(ac, "client closed");
    if (ac->gai_pending)
        uv_cancel((uv_req_t *)&ac->gai); /* gai_cb still runs (UV_ECANCELED) */
    uv_close((uv_handle_t *)&ac->timer, handle_closed);
    uv_close((uv_handle_t *)&ac->prepare, handle_closed);
    maybe_free(ac);
}
