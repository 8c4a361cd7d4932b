/* server.h — process-wide server state: the configuration, the shard group
 * whose threads are the workers, the listening sockets, server-wide counters,
 * and the stop request. Created by main() on the main thread before the
 * workers start; afterwards workers read it, and mutable parts are atomics
 * or guarded by the config lock. */
#ifndef SKV_SERVER_SERVER_H
#define SKV_SERVER_SERVER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "server/core/config.h"
#include "shard/shard.h"

/* Version reported by INFO server, HELLO and --version. */
#define SERVER_VERSION "0.1.0"
/* The Redis version we answer as (HELLO, INFO redis_version): clients such
 * as redis-py pick features from it; we follow Redis 7.0 behaviour. */
#define SERVER_REDIS_VERSION "7.0.15"

/* Most addresses "bind" may list (Redis: CONFIG_BINDADDR_MAX is 16). */
#define SERVER_MAX_BIND 16

struct worker;

struct server {
    struct config cfg;              /* the configuration; guarded by cfg_lock
                                       once workers run (CONFIG GET/SET) */
    uv_rwlock_t cfg_lock;           /* readers: CONFIG GET, worker refresh;
                                       writer: CONFIG SET */
    struct shard_group *group;      /* the workers: one shard + loop each */
    unsigned nworkers;              /* shard_group_size(group) */
    struct worker **workers;        /* worker i = shard i's user state */
    int *listen_fds;                /* nworkers * nbind listening sockets made
                                       on the main thread (SO_REUSEPORT, so the
                                       kernel spreads connections); worker i
                                       adopts fds [i*nbind, (i+1)*nbind), -1
                                       once handed over */
    unsigned nbind;                 /* addresses in cfg.bind */
    int port_claim_fd;              /* keeps other shardkv-servers off our port
                                       despite SO_REUSEPORT (server.c,
                                       claim_port); -1 when none */
    int unix_fd;                    /* the unixsocket listener made on the main
                                       thread for worker 0; -1 once adopted or
                                       when there is none */
    bool unix_bound;                /* we created cfg.unixsocket's file: remove
                                       it at shutdown */
    int port;                       /* the port actually bound (cfg.port, or
                                       the kernel's choice when cfg.port is 0) */
    int64_t start_ms;               /* Unix ms at start-up (INFO uptime) */
    pid_t pid;                      /* getpid() at start-up */
    char run_id[41];                /* 40 random hex chars (INFO run_id) */
    _Atomic uint64_t next_conn_id;  /* CLIENT ID source; first id is 1 */
    _Atomic unsigned nclients;      /* connected clients, all workers (maxclients) */
    _Atomic bool stopping;          /* shutdown started: accept nothing more */
    _Atomic unsigned busy_scripts;  /* scripts running past busy-reply-threshold
                                       (script_lua.c): other commands get -BUSY */
    _Atomic unsigned busy_functions; /* of which functions (FCALL): the -BUSY
                                       text names FUNCTION KILL */
    uv_loop_t *main_loop;           /* the main thread's loop (signals, stop) */
    uv_async_t stop_async;          /* wakes the main loop for server_request_stop */
    _Atomic int exit_code;          /* process exit status after a stop request */
};

/* The one server of this process. */
extern struct server server;

/* Redis's -BUSY text (without '-') for the scripts busy now: it names
 * FUNCTION KILL when every busy script is a function (Redis has one busy
 * script; here several workers may each have one). Any thread. */
static inline const char *server_busy_error(void)
{
    unsigned f = atomic_load_explicit(&server.busy_functions, memory_order_relaxed);
    return f && f == atomic_load_explicit(&server.busy_scripts, memory_order_relaxed)
               ? "BUSY Redis is busy running a script. You can only call FUNCTION KILL or "
                 "SHUTDOWN NOSAVE."
               : "BUSY Redis is busy running a script. You can only call SCRIPT KILL or "
                 "SHUTDOWN NOSAVE.";
}

/* Ask the server to shut down (SHUTDOWN command, signals): stop accepting,
 * write pending replies, stop the workers and exit with exit_code. Any
 * thread; returns at once. Idempotent. */
void server_request_stop(int exit_code);

/* Lock the configuration for reading (CONFIG GET) or writing (CONFIG SET).
 * Any thread. Keep the critical sections short. */
void server_config_rdlock(void);
void server_config_wrlock(void);
void server_config_unlock_rd(void);
void server_config_unlock_wr(void);

/* Start-up and tear-down, main thread: open the listeners, start the
 * workers. server_start returns 0 or a negative code after logging why. */
int server_start(void);
/* Stop the workers (after pending replies are written, bounded by a
 * timeout), close listeners and free everything server_start made. */
void server_stop(void);

#endif
