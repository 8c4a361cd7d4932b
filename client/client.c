/* client.c — the synchronous client of libshardkv: connect with a timeout,
 * encode commands, pipelining, poll()-based read/write timeouts, the typed
 * helpers, and the ketama pool. A handle is used by one thread at a time. */
#include "client/reply.h"
#include "protocol/resp_enc.h"
#include "client/shardkv.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/clock.h"

/* Bytes asked of each read(): large enough that a pipelined burst of
 * replies arrives in a few calls. */
#define CLIENT_READ_CHUNK 65536
/* Stack room for the lengths of a command's arguments before we allocate. */
#define CLIENT_STACK_ARGS 16

struct skv_client {
    int fd;                     /* connected non-blocking socket, or -1 */
    struct skv_options opts;    /* copied at connect */
    struct rbuf out;            /* encoded commands not yet written, owned */
    struct reply_parser parser; /* replies read but not yet returned */
    int broken;                 /* 0, or the error that broke the connection:
                                   every later call returns it */
    char err[256];              /* detail of the last failure */
};

void skv_options_init(struct skv_options *o)
{
    memset(o, 0, sizeof(*o));
    o->connect_timeout_ms = 5000;
    o->read_timeout_ms = 0;
    o->tcp_nodelay = true;
    o->reconnect_min_ms = 100;
    o->reconnect_max_ms = 5000;
}

const char *skv_errstr(int code)
{
    switch (code) {
    case 0:
        return "success";
    case SKV_EIO:
        return "I/O error";
    case SKV_ETIMEOUT:
        return "timeout";
    case SKV_EEOF:
        return "connection closed by server";
    case SKV_EPROTO:
        return "protocol error";
    case SKV_ENOMEM:
        return "out of memory";
    case SKV_ESERVER:
        return "server error reply";
    case SKV_ETYPE:
        return "unexpected reply type";
    case SKV_EINVAL:
        return "invalid argument";
    case SKV_ECONNECT:
        return "connection failed";
    case SKV_ENOTCONN:
        return "not connected";
    case SKV_ETOOBIG:
        return "reply too large";
    default:
        return "unknown error";
    }
}

static int set_err(struct skv_client *c, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int set_err(struct skv_client *c, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err, sizeof(c->err), fmt, ap);
    va_end(ap);
    return code;
}

/* Mark the connection unusable: the byte stream's position is unknown. */
static int breakc(struct skv_client *c, int code)
{
    if (c->broken == 0)
        c->broken = code;
    return code;
}

const char *skv_last_error(const struct skv_client *c)
{
    return c->err;
}

int skv_fd(const struct skv_client *c)
{
    return c->fd;
}

/* Wait for events on fd for at most timeout_ms (0: forever). Returns 0,
 * SKV_ETIMEOUT or SKV_EIO. */
static int wait_fd(int fd, short events, int timeout_ms)
{
    struct pollfd pfd = {.fd = fd, .events = events};
    uint64_t deadline = timeout_ms > 0 ? clock_mono_ns() + (uint64_t)timeout_ms * 1000000u : 0;
    for (;;) {
        int t = -1;
        if (timeout_ms > 0) {
            uint64_t now = clock_mono_ns();
            if (now >= deadline)
                return SKV_ETIMEOUT;
            t = (int)((deadline - now + 999999) / 1000000);
        }
        int n = poll(&pfd, 1, t);
        if (n > 0)
            return 0;
        if (n == 0)
            return SKV_ETIMEOUT;
        if (errno != EINTR)
            return SKV_EIO;
    }
}

/* Try one resolved address: non-blocking connect bounded by timeout_ms. */
static int try_connect(const struct addrinfo *ai, int timeout_ms, int *fdp, int *err)
{
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
    if (fd < 0) {
        *err = errno;
        return SKV_ECONNECT;
    }
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
        if (errno != EINPROGRESS) {
            *err = errno;
            close(fd);
            return SKV_ECONNECT;
        }
        int rc = wait_fd(fd, POLLOUT, timeout_ms);
        if (rc < 0) {
            *err = rc == SKV_ETIMEOUT ? ETIMEDOUT : errno;
            close(fd);
            return rc == SKV_ETIMEOUT ? SKV_ETIMEOUT : SKV_ECONNECT;
        }
        int soerr = 0;
        socklen_t sl = sizeof(soerr);
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0 || soerr != 0) {
            *err = soerr ? soerr : errno;
            close(fd);
            return SKV_ECONNECT;
        }
    }
    *fdp = fd;
    return 0;
}

static char *dup_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static char *dup_msg(const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    return strdup(tmp);
}

struct skv_client *skv_connect(const char *host, int port, const struct skv_options *opts,
                               char **err)
{
    if (err != NULL)
        *err = NULL;
    if (host == NULL || port <= 0 || port > 65535) {
        if (err != NULL)
            *err = dup_msg("invalid host or port");
        return NULL;
    }
    struct skv_client *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        if (err != NULL)
            *err = dup_msg("out of memory");
        return NULL;
    }
    if (opts != NULL)
        c->opts = *opts;
    else
        skv_options_init(&c->opts);
    c->fd = -1;
    reply_parser_init(&c->parser);

    char portstr[16];
    snprintf(portstr, sizeof(portstr), "%d", port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res = NULL;
    int gai = getaddrinfo(host, portstr, &hints, &res);
    if (gai != 0) {
        if (err != NULL)
            *err = dup_msg("cannot resolve %s: %s", host, gai_strerror(gai));
        skv_close(c);
        return NULL;
    }
    int rc = SKV_ECONNECT, syserr = 0;
    for (struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
        rc = try_connect(ai, c->opts.connect_timeout_ms, &c->fd, &syserr);
        if (rc == 0)
            break;
    }
    freeaddrinfo(res);
    if (rc < 0) {
        if (err != NULL)
            *err = dup_msg("could not connect to %s:%d: %s", host, port,
                           rc == SKV_ETIMEOUT ? "connect timeout" : strerror(syserr));
        skv_close(c);
        return NULL;
    }
    if (c->opts.tcp_nodelay) {
        int one = 1;
        setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    }
    return c;
}

void skv_close(struct skv_client *c)
{
    if (c == NULL)
        return;
    if (c->fd >= 0)
        close(c->fd);
    reply_parser_deinit(&c->parser);
    free(c->out.ptr);
    free(c);
}

static int oreserve(struct skv_client *c, size_t n)
{
    return rbuf_reserve(&c->out, n) == 0 ? 0 : SKV_ENOMEM;
}

int skv_append_raw(struct skv_client *c, const void *buf, size_t len)
{
    if (c->broken)
        return c->broken;
    if (oreserve(c, len) < 0)
        return set_err(c, SKV_ENOMEM, "out of memory");
    memcpy(c->out.ptr + c->out.len, buf, len);
    c->out.len += len;
    return 0;
}

int skv_append(struct skv_client *c, int argc, const char **argv, const size_t *argvlen)
{
    if (c->broken)
        return c->broken;
    if (argc <= 0 || argv == NULL)
        return set_err(c, SKV_EINVAL, "empty command");
    /* protocol/'s encoder: the command goes in whole or not at all. */
    if (resp_command(&c->out, argc, argv, argvlen) != 0) {
        c->out.oom = false; /* nothing was appended; the buffer is intact */
        return set_err(c, SKV_ENOMEM, "out of memory encoding the command");
    }
    return 0;
}

/* Wait, within the read timeout, until c's socket is ready for events (a
 * read or write that would block). Returns 0, or the error that breaks c
 * (timeout_msg names which direction timed out). */
static int wait_io(struct skv_client *c, short events, const char *timeout_msg)
{
    int rc = wait_fd(c->fd, events, c->opts.read_timeout_ms);
    if (rc == SKV_ETIMEOUT)
        return breakc(c, set_err(c, SKV_ETIMEOUT, "%s", timeout_msg));
    if (rc < 0)
        return breakc(c, set_err(c, SKV_EIO, "poll: %s", strerror(errno)));
    return 0;
}

int skv_flush(struct skv_client *c)
{
    if (c->broken)
        return c->broken;
    size_t off = 0;
    while (off < c->out.len) {
        ssize_t n = send(c->fd, c->out.ptr + off, c->out.len - off, MSG_NOSIGNAL);
        if (n > 0) {
            off += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            int rc = wait_io(c, POLLOUT, "write timeout");
            if (rc < 0)
                return rc;
            continue;
        }
        return breakc(c, set_err(c, SKV_EIO, "write: %s", strerror(errno)));
    }
    c->out.len = 0;
    return 0;
}

int skv_get_reply(struct skv_client *c, struct skv_reply **out)
{
    *out = NULL;
    if (c->broken)
        return c->broken;
    if (c->out.len > 0) {
        int rc = skv_flush(c);
        if (rc < 0)
            return rc;
    }
    for (;;) {
        enum reply_status st = reply_parser_next(&c->parser, out);
        if (st == REPLY_OK)
            return 0;
        if (st != REPLY_AGAIN) {
            int code = st == REPLY_ENOMEM    ? SKV_ENOMEM
                       : st == REPLY_ETOOBIG ? SKV_ETOOBIG
                                             : SKV_EPROTO;
            return breakc(c, set_err(c, code, "bad reply: %s", c->parser.err));
        }
        size_t avail;
        char *dst = reply_parser_space(&c->parser, CLIENT_READ_CHUNK, &avail);
        if (dst == NULL)
            return breakc(c, set_err(c, SKV_ENOMEM, "out of memory"));
        ssize_t n = recv(c->fd, dst, avail, 0);
        if (n > 0) {
            reply_parser_commit(&c->parser, (size_t)n);
            continue;
        }
        if (n == 0)
            return breakc(c, set_err(c, SKV_EEOF, "connection closed by server"));
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            int rc = wait_io(c, POLLIN, "read timeout");
            if (rc < 0)
                return rc;
            continue;
        }
        return breakc(c, set_err(c, SKV_EIO, "read: %s", strerror(errno)));
    }
}

int skv_command_r(struct skv_client *c, int argc, const char **argv, const size_t *argvlen,
                  struct skv_reply **out)
{
    *out = NULL;
    int rc = skv_append(c, argc, argv, argvlen);
    if (rc < 0)
        return rc;
    return skv_get_reply(c, out);
}

struct skv_reply *skv_command(struct skv_client *c, int argc, const char **argv,
                              const size_t *argvlen)
{
    struct skv_reply *r;
    return skv_command_r(c, argc, argv, argvlen, &r) < 0 ? NULL : r;
}

/* Run a command and check its reply: an ERROR reply becomes SKV_ESERVER
 * (text in c->err). On 0, *out is owned by the caller. */
static int run(struct skv_client *c, int argc, const char **argv, const size_t *lens,
               struct skv_reply **out)
{
    int rc = skv_command_r(c, argc, argv, lens, out);
    if (rc < 0)
        return rc;
    if ((*out)->type == SKV_REPLY_ERROR) {
        set_err(c, SKV_ESERVER, "%s", (*out)->str);
        skv_reply_free(*out);
        *out = NULL;
        return SKV_ESERVER;
    }
    return 0;
}

static int type_err(struct skv_client *c, struct skv_reply *r)
{
    set_err(c, SKV_ETYPE, "unexpected reply type %d", (int)r->type);
    skv_reply_free(r);
    return SKV_ETYPE;
}

int skv_set(struct skv_client *c, const void *key, size_t klen, const void *val, size_t vlen)
{
    const char *argv[3] = {"SET", key, val};
    size_t lens[3] = {3, klen, vlen};
    struct skv_reply *r;
    int rc = run(c, 3, argv, lens, &r);
    if (rc < 0)
        return rc;
    if (r->type != SKV_REPLY_STATUS)
        return type_err(c, r);
    skv_reply_free(r);
    return 0;
}

int skv_get(struct skv_client *c, const void *key, size_t klen, void **val, size_t *vlen)
{
    const char *argv[2] = {"GET", key};
    size_t lens[2] = {3, klen};
    struct skv_reply *r;
    *val = NULL;
    if (vlen != NULL)
        *vlen = 0;
    int rc = run(c, 2, argv, lens, &r);
    if (rc < 0)
        return rc;
    if (r->type == SKV_REPLY_NIL) {
        skv_reply_free(r);
        return 0;
    }
    if (r->type != SKV_REPLY_STRING)
        return type_err(c, r);
    /* Hand over the reply's own buffer: it is malloc'd and NUL-terminated. */
    *val = r->str;
    if (vlen != NULL)
        *vlen = r->len;
    r->str = NULL;
    skv_reply_free(r);
    return 1;
}

/* Commands whose answer is one integer. */
static int int_cmd(struct skv_client *c, int argc, const char **argv, const size_t *lens,
                   long long *res)
{
    struct skv_reply *r;
    int rc = run(c, argc, argv, lens, &r);
    if (rc < 0)
        return rc;
    if (r->type != SKV_REPLY_INTEGER)
        return type_err(c, r);
    *res = r->integer;
    skv_reply_free(r);
    return 0;
}

int skv_del(struct skv_client *c, const void *key, size_t klen)
{
    const char *argv[2] = {"DEL", key};
    size_t lens[2] = {3, klen};
    long long n;
    int rc = int_cmd(c, 2, argv, lens, &n);
    return rc < 0 ? rc : n > 0;
}

int skv_expire(struct skv_client *c, const void *key, size_t klen, int64_t seconds)
{
    char num[24];
    int nl = snprintf(num, sizeof(num), "%lld", (long long)seconds);
    const char *argv[3] = {"EXPIRE", key, num};
    size_t lens[3] = {6, klen, (size_t)nl};
    long long n;
    int rc = int_cmd(c, 3, argv, lens, &n);
    return rc < 0 ? rc : n > 0;
}

int skv_incrby(struct skv_client *c, const void *key, size_t klen, int64_t by, int64_t *result)
{
    char num[24];
    int nl = snprintf(num, sizeof(num), "%lld", (long long)by);
    const char *argv[3] = {"INCRBY", key, num};
    size_t lens[3] = {6, klen, (size_t)nl};
    long long n;
    int rc = int_cmd(c, 3, argv, lens, &n);
    if (rc == 0 && result != NULL)
        *result = n;
    return rc;
}

/* Argument vectors for MGET/MSET, on the stack when small. */
struct argvec {
    const char **argv;
    size_t *lens;
    const char *argv_s[CLIENT_STACK_ARGS];
    size_t lens_s[CLIENT_STACK_ARGS];
};

static int argvec_init(struct argvec *v, size_t n)
{
    if (n <= CLIENT_STACK_ARGS) {
        v->argv = v->argv_s;
        v->lens = v->lens_s;
        return 0;
    }
    v->argv = malloc(n * sizeof(*v->argv));
    v->lens = malloc(n * sizeof(*v->lens));
    if (v->argv == NULL || v->lens == NULL) {
        free(v->argv);
        free(v->lens);
        return SKV_ENOMEM;
    }
    return 0;
}

static void argvec_deinit(struct argvec *v)
{
    if (v->argv != v->argv_s) {
        free(v->argv);
        free(v->lens);
    }
}

int skv_mget(struct skv_client *c, size_t n, const void *const *keys, const size_t *klens,
             void **vals, size_t *vlens)
{
    if (n == 0 || n >= INT32_MAX)
        return set_err(c, SKV_EINVAL, "bad key count");
    struct argvec v;
    if (argvec_init(&v, n + 1) < 0)
        return set_err(c, SKV_ENOMEM, "out of memory");
    v.argv[0] = "MGET";
    v.lens[0] = 4;
    for (size_t i = 0; i < n; i++) {
        v.argv[i + 1] = keys[i];
        v.lens[i + 1] = klens[i];
    }
    struct skv_reply *r;
    int rc = run(c, (int)n + 1, v.argv, v.lens, &r);
    argvec_deinit(&v);
    if (rc < 0)
        return rc;
    if (r->type != SKV_REPLY_ARRAY || r->elements != n)
        return type_err(c, r);
    for (size_t i = 0; i < n; i++) {
        struct skv_reply *e = r->element[i];
        if (e->type != SKV_REPLY_STRING && e->type != SKV_REPLY_NIL)
            return type_err(c, r);
    }
    for (size_t i = 0; i < n; i++) {
        struct skv_reply *e = r->element[i];
        vals[i] = e->str; /* NULL for a nil element */
        vlens[i] = e->len;
        e->str = NULL;
    }
    skv_reply_free(r);
    return 0;
}

int skv_mset(struct skv_client *c, size_t n, const void *const *keys, const size_t *klens,
             const void *const *vals, const size_t *vlens)
{
    if (n == 0 || n >= INT32_MAX / 2)
        return set_err(c, SKV_EINVAL, "bad key count");
    struct argvec v;
    if (argvec_init(&v, 2 * n + 1) < 0)
        return set_err(c, SKV_ENOMEM, "out of memory");
    v.argv[0] = "MSET";
    v.lens[0] = 4;
    for (size_t i = 0; i < n; i++) {
        v.argv[2 * i + 1] = keys[i];
        v.lens[2 * i + 1] = klens[i];
        v.argv[2 * i + 2] = vals[i];
        v.lens[2 * i + 2] = vlens[i];
    }
    struct skv_reply *r;
    int rc = run(c, (int)(2 * n + 1), v.argv, v.lens, &r);
    argvec_deinit(&v);
    if (rc < 0)
        return rc;
    if (r->type != SKV_REPLY_STATUS)
        return type_err(c, r);
    skv_reply_free(r);
    return 0;
}

/* ------------------------------------------------------------------ pool */

struct skv_pool {
    struct skv_ring *ring;     /* key placement */
    size_t n;                  /* servers */
    char **hosts;              /* copies of the hosts */
    int *ports;                /* ports */
    struct skv_client **conns; /* connection per server, NULL until used */
    struct skv_options opts;   /* for every connection */
};

struct skv_pool *skv_pool_create(const struct skv_server *servers, size_t n, const char *hash_tag,
                                 const struct skv_options *opts)
{
    struct skv_ring *ring = skv_ring_create(servers, n, hash_tag);
    if (ring == NULL)
        return NULL;
    struct skv_pool *p = calloc(1, sizeof(*p));
    if (p == NULL) {
        skv_ring_destroy(ring);
        return NULL;
    }
    p->ring = ring;
    p->n = n;
    p->hosts = calloc(n, sizeof(*p->hosts));
    p->ports = calloc(n, sizeof(*p->ports));
    p->conns = calloc(n, sizeof(*p->conns));
    if (p->hosts == NULL || p->ports == NULL || p->conns == NULL)
        goto fail;
    for (size_t i = 0; i < n; i++) {
        if ((p->hosts[i] = strdup(servers[i].host)) == NULL)
            goto fail;
        p->ports[i] = servers[i].port;
    }
    if (opts != NULL)
        p->opts = *opts;
    else
        skv_options_init(&p->opts);
    return p;
fail:
    skv_pool_destroy(p);
    return NULL;
}

struct skv_client *skv_pool_client(struct skv_pool *p, const void *key, size_t klen, int *code)
{
    size_t i = skv_ring_locate(p->ring, key, klen);
    if (p->conns[i] != NULL && p->conns[i]->broken) {
        skv_close(p->conns[i]);
        p->conns[i] = NULL;
    }
    if (p->conns[i] == NULL) {
        char *err = NULL;
        p->conns[i] = skv_connect(p->hosts[i], p->ports[i], &p->opts, &err);
        free(err);
        if (p->conns[i] == NULL) {
            if (code != NULL)
                *code = SKV_ECONNECT;
            return NULL;
        }
    }
    if (code != NULL)
        *code = 0;
    return p->conns[i];
}

void skv_pool_destroy(struct skv_pool *p)
{
    if (p == NULL)
        return;
    for (size_t i = 0; i < p->n; i++) {
        if (p->conns != NULL)
            skv_close(p->conns[i]);
        if (p->hosts != NULL)
            free(p->hosts[i]);
    }
    free(p->conns);
    free(p->hosts);
    free(p->ports);
    skv_ring_destroy(p->ring);
    free(p);
}
