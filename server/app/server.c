/* server.c — process-wide state and its life cycle: listening sockets opened
 * on the main thread (one SO_REUSEPORT socket per worker and address, so the
 * kernel spreads connections, and a claim that keeps a second server off the
 * port), worker start-up through the shard group, the stop request, and an
 * orderly shutdown that lets pending replies go out first. Runs on the main
 * thread except where a function says otherwise. */
#include "server/core/server.h"
#include "server/exec/cmdhist.h"
#include "server/exec/slowlog.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/clock.h"
#include "server/commands/cmd_server.h"
#include "server/exec/cmdstats.h"
#include "server/util/log.h"
#include "server/memory/maxmemory.h"
#include "server/persist/persist.h"
#include "server/pubsub/notify.h"
#include "server/pubsub/pubsub.h"
#include "server/txn/txn.h"
#include "server/txn/txn_watch.h"
#include "server/net/worker.h"

/* How long shutdown waits for clients' pending replies to be written. A
 * SIGTERM must end the process within a second; half of it is for this. */
#define SERVER_DRAIN_MS 500
/* Poll period while waiting for workers to drain. */
#define SERVER_DRAIN_STEP_MS 5

/* Split cfg.bind ("127.0.0.1 ::1") into at most SERVER_MAX_BIND addresses
 * in buf. A leading '-' (Redis 7: "bind 127.0.0.1 -::1") marks an address
 * that may be skipped if this host does not have it: optional[i] is set and
 * the '-' dropped. Returns the count, or -1 if there are too many or none. */
static int split_bind(const char *bind, char addrs[][64], bool *optional)
{
    int n = 0;
    const char *p = bind && *bind ? bind : "127.0.0.1";
    while (*p) {
        while (*p == ' ')
            p++;
        if (!*p)
            break;
        size_t len = strcspn(p, " ");
        if (n == SERVER_MAX_BIND || len >= 64)
            return -1;
        optional[n] = *p == '-';
        if (optional[n]) {
            p++;
            len--;
        }
        memcpy(addrs[n], p, len);
        addrs[n][len] = '\0';
        /* Redis's "*" and "::*" mean every address of that family. */
        if (strcmp(addrs[n], "*") == 0)
            strcpy(addrs[n], "0.0.0.0");
        else if (strcmp(addrs[n], "::*") == 0)
            strcpy(addrs[n], "::");
        n++;
        p += len;
    }
    return n > 0 ? n : -1;
}

/* Open, bind and listen one SO_REUSEPORT socket. *port 0 lets the kernel
 * choose and stores its choice. Returns the fd, or a negative errno with
 * *op naming the call that failed ("bind", "listen", ...). */
static int listen_socket(const char *addr, int *port, int backlog, const char **op)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    socklen_t slen;
    if (uv_ip4_addr(addr, *port, (struct sockaddr_in *)&ss) == 0)
        slen = sizeof(struct sockaddr_in);
    else if (uv_ip6_addr(addr, *port, (struct sockaddr_in6 *)&ss) == 0)
        slen = sizeof(struct sockaddr_in6);
    else {
        *op = "address";
        return -EINVAL;
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        *op = "socket";
        return -errno;
    }
    int one = 1;
    *op = NULL;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0 ||
        (ss.ss_family == AF_INET6 &&
         setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) != 0))
        *op = "setsockopt";
    else if (bind(fd, (struct sockaddr *)&ss, slen) != 0)
        *op = "bind";
    else if (listen(fd, backlog) != 0)
        *op = "listen";
    if (*op != NULL) {
        int err = -errno;
        close(fd);
        return err;
    }
    if (*port == 0) {
        slen = sizeof ss;
        if (getsockname(fd, (struct sockaddr *)&ss, &slen) != 0) {
            *op = "getsockname";
            int err = -errno;
            close(fd);
            return err;
        }
        *port = ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
                                              : ((struct sockaddr_in6 *)&ss)->sin6_port);
    }
    return fd;
}

/* Claim TCP port `port` for this process by binding the abstract Unix
 * socket "shardkv-server/tcp-port/<port>". Our listeners use SO_REUSEPORT
 * so that the kernel spreads connections over the workers, but the kernel
 * lets any process of the same user join that set: a second server would
 * start silently and take a share of the first one's clients. The name
 * does for us what the plain bind of its one socket does for Redis: the
 * kernel gives it to one socket at a time (no check-then-act race), it
 * needs no file, it is freed when the process dies however it dies, and it
 * is per network namespace, as ports are. Any other program that binds
 * the port gets EADDRINUSE from the kernel, or gives it to us, as before.
 * Returns the fd to keep open while listening, or a negative errno
 * (-EADDRINUSE: another shardkv-server has the port). */
static int claim_port(int port)
{
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    /* sun_path[0] stays '\0': the abstract namespace. */
    int n = snprintf(sa.sun_path + 1, sizeof sa.sun_path - 1, "shardkv-server/tcp-port/%d",
                     port);
    socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    if (bind(fd, (struct sockaddr *)&sa, len) != 0) {
        int err = -errno;
        close(fd);
        return err;
    }
    return fd;
}

/* Log a listener that could not be made, and that the server gives up,
 * in Redis's words. */
static void listen_failed(const char *addr, int port, const char *op, int err)
{
    log_warn("Warning: Could not create server TCP listening socket %s:%d: %s: %s", addr, port,
             op, strerror(-err));
    log_warn("Failed listening on port %d (TCP), aborting.", port);
}

/* Open the Unix socket listener at path, as Redis does: a file left there
 * is removed first, and mode perm (if not 0) is applied. Returns the fd or
 * a negative errno. */
static int listen_unix(const char *path, unsigned perm, int backlog)
{
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof sa.sun_path)
        return -ENAMETOOLONG;
    strcpy(sa.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    unlink(path); /* a stale socket from a previous run; failure is fine */
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        int err = -errno;
        close(fd);
        return err;
    }
    server.unix_bound = true;
    if ((perm != 0 && chmod(path, perm) != 0) || listen(fd, backlog) != 0) {
        int err = -errno;
        close(fd);
        return err;
    }
    return fd;
}

static void close_fds(void)
{
    if (server.unix_fd >= 0) {
        close(server.unix_fd);
        server.unix_fd = -1;
    }
    if (server.unix_bound) {
        log_notice("Removing the unix socket file.");
        unlink(server.cfg.unixsocket);
        server.unix_bound = false;
    }
    if (server.port_claim_fd >= 0)
        close(server.port_claim_fd);
    server.port_claim_fd = -1;
    if (!server.listen_fds)
        return;
    for (unsigned i = 0; i < server.nworkers * server.nbind; i++)
        if (server.listen_fds[i] >= 0)
            close(server.listen_fds[i]);
    free(server.listen_fds);
    server.listen_fds = NULL;
}

static void free_workers(void)
{
    if (!server.workers)
        return;
    for (unsigned i = 0; i < server.nworkers; i++) {
        if (!server.workers[i])
            continue;
        free(server.workers[i]->out);
        free(server.workers[i]->ord_args);
        free(server.workers[i]->cmdstats);
        free(server.workers[i]->errstats);
        free(server.workers[i]);
    }
    free(server.workers);
    server.workers = NULL;
}

int server_start(void)
{
    struct config *cfg = &server.cfg;
    server.port_claim_fd = -1;
    server.unix_fd = -1;
    server.pid = getpid();
    server.start_ms = clock_wall_ms();
    atomic_store(&server.next_conn_id, 1);
    unsigned nw = cfg->threads ? cfg->threads : uv_available_parallelism();
    if (nw == 0)
        nw = 1;
    if (nw > TXN_MAX_SHARDS)
        nw = TXN_MAX_SHARDS; /* (the threads option's own limit) */

    char addrs[SERVER_MAX_BIND][64];
    bool optional[SERVER_MAX_BIND];
    int nb = split_bind(cfg->bind, addrs, optional);
    if (nb < 0) {
        log_warn("Invalid bind address list '%s'", cfg->bind ? cfg->bind : "");
        return -EINVAL;
    }
    /* Redis skips a "-" address this host does not have (say, -::1 without
     * IPv6): try each on a throw-away port first. */
    for (int b = 0; b < nb; b++) {
        int probe_port = 0;
        const char *op;
        int fd = optional[b] ? listen_socket(addrs[b], &probe_port, 1, &op) : 0;
        if (fd >= 0) {
            if (optional[b])
                close(fd);
            continue;
        }
        if (fd != -EADDRNOTAVAIL && fd != -EAFNOSUPPORT)
            continue; /* a real error: reported by the loop below */
        log_warn("Skipping optional bind address %s: %s", addrs[b], strerror(-fd));
        memmove(addrs[b], addrs[b + 1], sizeof addrs[0] * (size_t)(nb - b - 1));
        memmove(&optional[b], &optional[b + 1], sizeof optional[0] * (size_t)(nb - b - 1));
        nb--;
        b--;
    }
    if (nb == 0) {
        log_warn("None of the bind addresses '%s' exists on this host", cfg->bind);
        return -EADDRNOTAVAIL;
    }
    server.nbind = (unsigned)nb;
    server.nworkers = nw;
    server.listen_fds = malloc(sizeof(int) * nw * server.nbind);
    if (!server.listen_fds)
        return -ENOMEM;
    for (unsigned i = 0; i < nw * server.nbind; i++)
        server.listen_fds[i] = -1;
    int port = cfg->port;
    /* A fixed port is claimed before any socket is bound, so a second
     * server never listens, not even for a moment; port 0 is claimed as
     * soon as the kernel has picked a free one. */
    if (port != 0) {
        int fd = claim_port(port);
        if (fd < 0) {
            listen_failed(addrs[0], port, "bind", fd);
            close_fds();
            return fd;
        }
        server.port_claim_fd = fd;
    }
    for (unsigned w = 0; w < nw; w++) {
        for (unsigned b = 0; b < server.nbind; b++) {
            const char *op = "bind";
            int fd = listen_socket(addrs[b], &port, (int)cfg->tcp_backlog, &op);
            if (fd >= 0) {
                server.listen_fds[w * server.nbind + b] = fd;
                if (server.port_claim_fd < 0) {
                    fd = claim_port(port);
                    if (fd >= 0)
                        server.port_claim_fd = fd;
                }
            }
            if (fd < 0) {
                listen_failed(addrs[b], port, op, fd);
                close_fds();
                return fd;
            }
        }
    }
    server.port = port;
    if (cfg->unixsocket != NULL && cfg->unixsocket[0] != '\0') {
        int fd = listen_unix(cfg->unixsocket, cfg->unixsocketperm, (int)cfg->tcp_backlog);
        if (fd < 0) {
            log_warn("Failed opening Unix socket: %s", strerror(-fd));
            close_fds();
            return fd;
        }
        server.unix_fd = fd;
    }

    struct shard_group_opts opts = {
        .nshards = nw,
        .ndb = cfg->databases,
        .max_value = cfg->proto_max_bulk_len,
        .on_start = worker_on_start,
        .on_stop = worker_on_stop,
        .arg = NULL,
    };
    server.group = shard_group_create(&opts);
    if (!server.group) {
        log_warn("Could not create %u shards", nw);
        close_fds();
        return -ENOMEM;
    }
    /* Workers exist before their threads, so every thread may look at any
     * worker (worker_get) without racing its creation. */
    server.workers = calloc(nw, sizeof *server.workers);
    if (!server.workers) {
        shard_group_destroy(server.group);
        server.group = NULL;
        close_fds();
        return -ENOMEM;
    }
    for (unsigned i = 0; i < nw; i++) {
        struct worker *w = calloc(1, sizeof *w);
        struct batch **out = calloc(nw, sizeof *out);
        struct cmdstat *cs = cmdstat_array_new();
        struct errstats *es = calloc(1, sizeof *es);
        if (!w || !out || !cs || !es) {
            free(w);
            free(out);
            free(cs);
            free(es);
            free_workers();
            shard_group_destroy(server.group);
            server.group = NULL;
            close_fds();
            return -ENOMEM;
        }
        struct shard *s = shard_group_get(server.group, i);
        w->id = i;
        w->shard = s;
        w->out = out;
        w->cmdstats = cs;
        w->errstats = es;
        s->user = w;
        server.workers[i] = w;
    }
    slowlog_setup();
    if (pubsub_setup(nw) != 0 || maxmemory_setup(nw) != 0 || cmdhist_setup(nw) != 0) {
        pubsub_teardown();
        free_workers();
        shard_group_destroy(server.group);
        server.group = NULL;
        close_fds();
        return -ENOMEM;
    }
    int rc = shard_group_start(server.group);
    if (rc != 0) {
        log_warn("Could not start the worker threads: %s", uv_strerror(rc));
        shard_group_destroy(server.group);
        server.group = NULL;
        free_workers();
        pubsub_teardown();
        maxmemory_teardown();
        cmdhist_teardown();
        close_fds();
        return rc;
    }
    cmd_info_note_startup(); /* before the data set, as Redis's figure */
    maxmemory_sample_process(); /* the maps are empty: all of it is the rest */
    /* The RDB file goes into the shards before any client is accepted
     * (connections that arrive meanwhile wait in the listen backlog). */
    if (persist_load() != 0) {
        server_stop();
        return -EINVAL;
    }
    /* Keyspace events from now on: loading sends none, as in Redis. */
    notify_set(server.cfg.notify_keyspace_events);
    for (unsigned i = 0; i < nw; i++) {
        rc = worker_post_listen(server.workers[i]);
        if (rc != 0) {
            server_stop();
            return rc;
        }
    }
    return 0;
}

void server_stop(void)
{
    if (!server.group)
        return;
    atomic_store(&server.stopping, true);
    /* Stop accepting and reading everywhere, then give the replies already
     * owed a bounded time to be written. */
    for (unsigned i = 0; i < server.nworkers; i++)
        worker_post_quiesce(server.workers[i]);
    for (int waited = 0; waited < SERVER_DRAIN_MS; waited += SERVER_DRAIN_STEP_MS) {
        bool busy = false;
        for (unsigned i = 0; i < server.nworkers && !busy; i++)
            busy = atomic_load(&server.workers[i]->busy);
        if (!busy)
            break;
        uv_sleep(SERVER_DRAIN_STEP_MS);
    }
    shard_group_stop(server.group);
    shard_group_destroy(server.group);
    server.group = NULL;
    free_workers();
    pubsub_teardown();
    maxmemory_teardown();
    cmdhist_teardown();
    close_fds();
}
