/* fake_server.h — a tiny RESP server for the client unit tests, run on its
 * own thread inside the test process, listening on 127.0.0.1 (port 0 or a
 * given one). It parses commands with protocol/resp.h and answers them from
 * a small in-memory table, or misbehaves on purpose (silent, closes in the
 * middle of a reply, sends scripted bytes). Header-only: each test file is
 * its own executable. */
#ifndef SKV_TEST_FAKE_SERVER_H
#define SKV_TEST_FAKE_SERVER_H

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "protocol/resp.h"

enum fake_mode {
    FAKE_KV,     /* answer SET/GET/DEL/MGET/MSET/INCRBY/EXPIRE/PING/ECHO;
                    HANG never answers; anything else -ERR unknown */
    FAKE_SILENT, /* read everything, never answer */
    FAKE_CLOSE,  /* on the first command send script[0..script_len/2),
                    then close the connection */
    FAKE_SCRIPT, /* on each command send script, split into chunk-byte
                    writes (0: one write) */
};

#define FAKE_MAX_KEYS 64

struct fake_server {
    int lfd;                   /* listening socket */
    int port;                  /* its port */
    enum fake_mode mode;       /* behaviour */
    const char *script;        /* FAKE_CLOSE / FAKE_SCRIPT bytes */
    size_t script_len;         /* bytes at script */
    size_t chunk;              /* FAKE_SCRIPT write size, 0 = all at once */
    pthread_t th;              /* server thread */
    atomic_bool stop;          /* ask the thread to finish */
    atomic_int commands;       /* commands parsed, all connections */
    atomic_int max_batch;      /* most commands parsed from one read
                                  before anything was answered */
    atomic_int accepted;       /* connections accepted */
    char *keys[FAKE_MAX_KEYS]; /* FAKE_KV table (server thread only) */
    size_t klen[FAKE_MAX_KEYS];
    char *vals[FAKE_MAX_KEYS];
    size_t vlen[FAKE_MAX_KEYS];
};

static void fake_send(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n > 0) {
        ssize_t w = send(fd, c, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;
        c += w;
        n -= (size_t)w;
    }
}

static void fake_sendf(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fake_sendf(int fd, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    fake_send(fd, buf, (size_t)n);
}

static void fake_bulk(int fd, const char *p, size_t n)
{
    fake_sendf(fd, "$%zu\r\n", n);
    fake_send(fd, p, n);
    fake_send(fd, "\r\n", 2);
}

static int fake_find(struct fake_server *s, const char *k, size_t n)
{
    for (int i = 0; i < FAKE_MAX_KEYS; i++)
        if (s->keys[i] && s->klen[i] == n && memcmp(s->keys[i], k, n) == 0)
            return i;
    return -1;
}

static bool fake_is(const struct resp_arg *a, const char *name)
{
    return a->len == strlen(name) && strncasecmp(a->ptr, name, a->len) == 0;
}

static void fake_put(struct fake_server *s, const struct resp_arg *k, const struct resp_arg *v)
{
    int i = fake_find(s, k->ptr, k->len);
    if (i < 0) {
        for (i = 0; i < FAKE_MAX_KEYS && s->keys[i]; i++)
            ;
        if (i == FAKE_MAX_KEYS)
            return;
        s->keys[i] = malloc(k->len + 1);
        memcpy(s->keys[i], k->ptr, k->len);
        s->klen[i] = k->len;
    } else {
        free(s->vals[i]);
    }
    s->vals[i] = malloc(v->len + 1);
    memcpy(s->vals[i], v->ptr, v->len);
    s->vlen[i] = v->len;
}

static void fake_del(struct fake_server *s, int i)
{
    free(s->keys[i]);
    free(s->vals[i]);
    s->keys[i] = s->vals[i] = NULL;
}

/* Answer one command in FAKE_KV mode. */
static void fake_kv(struct fake_server *s, int fd, const struct resp_cmd *c)
{
    const struct resp_arg *a = c->argv;
    if (fake_is(&a[0], "PING")) {
        fake_sendf(fd, "+PONG\r\n");
    } else if (fake_is(&a[0], "ECHO") && c->argc == 2) {
        fake_bulk(fd, a[1].ptr, a[1].len);
    } else if (fake_is(&a[0], "HANG")) {
        /* never answered */
    } else if (fake_is(&a[0], "SET") && c->argc == 3) {
        fake_put(s, &a[1], &a[2]);
        fake_sendf(fd, "+OK\r\n");
    } else if (fake_is(&a[0], "GET") && c->argc == 2) {
        int i = fake_find(s, a[1].ptr, a[1].len);
        if (i < 0)
            fake_sendf(fd, "$-1\r\n");
        else
            fake_bulk(fd, s->vals[i], s->vlen[i]);
    } else if (fake_is(&a[0], "DEL") && c->argc >= 2) {
        int n = 0;
        for (size_t j = 1; j < c->argc; j++) {
            int i = fake_find(s, a[j].ptr, a[j].len);
            if (i >= 0) {
                fake_del(s, i);
                n++;
            }
        }
        fake_sendf(fd, ":%d\r\n", n);
    } else if (fake_is(&a[0], "MGET") && c->argc >= 2) {
        fake_sendf(fd, "*%zu\r\n", c->argc - 1);
        for (size_t j = 1; j < c->argc; j++) {
            int i = fake_find(s, a[j].ptr, a[j].len);
            if (i < 0)
                fake_sendf(fd, "$-1\r\n");
            else
                fake_bulk(fd, s->vals[i], s->vlen[i]);
        }
    } else if (fake_is(&a[0], "MSET") && c->argc >= 3 && c->argc % 2 == 1) {
        for (size_t j = 1; j < c->argc; j += 2)
            fake_put(s, &a[j], &a[j + 1]);
        fake_sendf(fd, "+OK\r\n");
    } else if (fake_is(&a[0], "INCRBY") && c->argc == 3) {
        int i = fake_find(s, a[1].ptr, a[1].len);
        long long cur = 0;
        char tmp[32];
        if (i >= 0) {
            snprintf(tmp, sizeof(tmp), "%.*s", (int)s->vlen[i], s->vals[i]);
            char *end;
            cur = strtoll(tmp, &end, 10);
            if (*end != '\0') {
                fake_sendf(fd, "-ERR value is not an integer or out of range\r\n");
                return;
            }
        }
        snprintf(tmp, sizeof(tmp), "%.*s", (int)a[2].len, a[2].ptr);
        cur += strtoll(tmp, NULL, 10);
        snprintf(tmp, sizeof(tmp), "%lld", cur);
        struct resp_arg v = {tmp, strlen(tmp)};
        fake_put(s, &a[1], &v);
        fake_sendf(fd, ":%lld\r\n", cur);
    } else if (fake_is(&a[0], "EXPIRE") && c->argc == 3) {
        fake_sendf(fd, ":%d\r\n", fake_find(s, a[1].ptr, a[1].len) >= 0);
    } else {
        fake_sendf(fd, "-ERR unknown command '%.*s'\r\n", (int)a[0].len, a[0].ptr);
    }
}

/* Serve one connection until it closes, the mode ends it, or stop. */
static void fake_conn(struct fake_server *s, int fd)
{
    struct resp_parser p;
    resp_parser_init(&p, NULL);
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    bool done = false;
    while (!done && !atomic_load(&s->stop)) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        if (poll(&pfd, 1, 20) <= 0)
            continue;
        if (len == cap)
            buf = realloc(buf, cap *= 2);
        ssize_t n = recv(fd, buf + len, cap - len, 0);
        if (n <= 0)
            break;
        len += (size_t)n;
        /* Parse every complete command of this read before answering, to
         * measure how many came together. */
        int batch = 0;
        size_t off = 0;
        for (;;) {
            struct resp_cmd cmd;
            size_t used = 0;
            enum resp_status st = resp_parse(&p, buf + off, len - off, &cmd, &used, NULL);
            if (st != RESP_OK)
                break;
            off += used;
            if (cmd.argc == 0)
                continue;
            batch++;
            /* Recorded before this command is answered: a client that has
             * its reply must already see the count that includes it. */
            if (batch > atomic_load(&s->max_batch))
                atomic_store(&s->max_batch, batch);
            atomic_fetch_add(&s->commands, 1);
            if (s->mode == FAKE_KV) {
                fake_kv(s, fd, &cmd);
            } else if (s->mode == FAKE_CLOSE) {
                fake_send(fd, s->script, s->script_len / 2);
                done = true;
                break;
            } else if (s->mode == FAKE_SCRIPT) {
                size_t step = s->chunk ? s->chunk : s->script_len;
                for (size_t o = 0; o < s->script_len; o += step) {
                    size_t m = s->script_len - o < step ? s->script_len - o : step;
                    fake_send(fd, s->script + o, m);
                    if (s->chunk)
                        usleep(1000); /* let each piece arrive on its own */
                }
            }
        }
        memmove(buf, buf + off, len - off);
        len -= off;
    }
    free(buf);
    resp_parser_deinit(&p);
    close(fd);
}

static void *fake_main(void *arg)
{
    struct fake_server *s = arg;
    while (!atomic_load(&s->stop)) {
        struct pollfd pfd = {.fd = s->lfd, .events = POLLIN};
        if (poll(&pfd, 1, 20) <= 0)
            continue;
        int fd = accept(s->lfd, NULL, NULL);
        if (fd < 0)
            continue;
        atomic_fetch_add(&s->accepted, 1);
        fake_conn(s, fd);
    }
    return NULL;
}

/* Start a server on 127.0.0.1:port (0: any free port) with a script for
 * FAKE_CLOSE/FAKE_SCRIPT (set before the thread starts, so it needs no
 * synchronisation). Returns 0 or -1. */
static int fake_start_script(struct fake_server *s, enum fake_mode mode, int port,
                             const char *script, size_t script_len, size_t chunk)
{
    memset(s, 0, sizeof(*s));
    s->mode = mode;
    s->script = script;
    s->script_len = script_len;
    s->chunk = chunk;
    s->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s->lfd < 0)
        return -1;
    int one = 1;
    setsockopt(s->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t sl = sizeof(sa);
    if (bind(s->lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(s->lfd, 16) < 0 ||
        getsockname(s->lfd, (struct sockaddr *)&sa, &sl) < 0) {
        close(s->lfd);
        return -1;
    }
    s->port = ntohs(sa.sin_port);
    if (pthread_create(&s->th, NULL, fake_main, s) != 0) {
        close(s->lfd);
        return -1;
    }
    return 0;
}

static int fake_start(struct fake_server *s, enum fake_mode mode, int port)
{
    return fake_start_script(s, mode, port, NULL, 0, 0);
}

/* Stop the thread, close every socket, free the table. */
static void fake_stop(struct fake_server *s)
{
    atomic_store(&s->stop, true);
    pthread_join(s->th, NULL);
    close(s->lfd);
    for (int i = 0; i < FAKE_MAX_KEYS; i++)
        if (s->keys[i])
            fake_del(s, i);
}

/* A loopback listener that never accepts, its accept queue filled by
 * FAKE_FILL connections: Linux drops further SYNs, so a connect to it can
 * only time out. Returns its port; fake_unreachable_close frees it all. */
#define FAKE_FILL 4
struct fake_unreachable {
    int lfd;             /* the listener */
    int fill[FAKE_FILL]; /* the connections that fill its queue */
};

static int fake_unreachable_open(struct fake_unreachable *u)
{
    u->lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t sl = sizeof(sa);
    cr_assert_eq(bind(u->lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    cr_assert_eq(listen(u->lfd, 0), 0);
    cr_assert_eq(getsockname(u->lfd, (struct sockaddr *)&sa, &sl), 0);
    for (int i = 0; i < FAKE_FILL; i++) {
        u->fill[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        connect(u->fill[i], (struct sockaddr *)&sa, sizeof(sa));
    }
    usleep(50 * 1000); /* let the handshakes that can complete complete */
    return ntohs(sa.sin_port);
}

static void fake_unreachable_close(struct fake_unreachable *u)
{
    for (int i = 0; i < FAKE_FILL; i++)
        close(u->fill[i]);
    close(u->lfd);
}

#endif
