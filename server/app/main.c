/* main.c — shardkv-server's entry point: load the configuration, start the
 * workers, then wait on the main thread's own loop for SIGTERM/SIGINT or a
 * SHUTDOWN request and stop in order. The main thread serves no clients. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "common/hash.h"
#include "common/mem.h"
#include "server/app/hooks.h"
#include "server/util/daemon.h"
#include "server/util/log.h"
#include "server/persist/persist.h"
#include "server/core/server.h"

static uv_signal_t sig_term;
static uv_signal_t sig_int;

static void close_main_handles(void)
{
    /* Waits for a running snapshot, refuses new ones, closes its timer. */
    persist_teardown();
    uv_close((uv_handle_t *)&sig_term, NULL);
    uv_close((uv_handle_t *)&sig_int, NULL);
    uv_close((uv_handle_t *)&server.stop_async, NULL);
}

/* A stop request (signal or SHUTDOWN): closing our handles ends the loop. */
static void on_stop(uv_async_t *h)
{
    (void)h;
    close_main_handles();
}

static void on_signal(uv_signal_t *h, int signum)
{
    (void)h;
    log_warn("Received %s scheduling shutdown...", signum == SIGINT ? "SIGINT" : "SIGTERM");
    /* With save points configured Redis saves before exiting, and stays up
     * if it cannot (the data would be lost otherwise). The main thread
     * serves no clients, so waiting here holds nobody up. */
    if (persist_shutdown_save(false) != 0)
        return;
    server_request_stop(0);
}

/* 40 random hex characters, as Redis's run_id. */
static void make_run_id(char out[41])
{
    unsigned char raw[20];
    if (uv_random(NULL, NULL, raw, sizeof raw, 0, NULL) != 0)
        memset(raw, 0, sizeof raw);
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < sizeof raw; i++) {
        out[2 * i] = hex[raw[i] >> 4];
        out[2 * i + 1] = hex[raw[i] & 15];
    }
    out[40] = '\0';
}

int main(int argc, char **argv)
{
    /* A client that disconnects while we write must not kill the server,
     * nor must the terminal it was started from closing (SIGHUP): Redis
     * ignores both. */
    signal(SIGPIPE, SIG_IGN);
    signal(SIGHUP, SIG_IGN);
    /* Every feature hangs off the layers below before anything runs. */
    app_hooks_register();

    char err[512];
    int rc = config_load(&server.cfg, argc, argv, err, sizeof err);
    if (rc < 0) {
        fprintf(stderr, "shardkv-server: %s\n", err);
        config_deinit(&server.cfg);
        return 2;
    }
    if (rc > 0) {
        config_deinit(&server.cfg);
        return 0; /* --help, --version */
    }
    int lrc = log_setup(server.cfg.loglevel, server.cfg.logfile);
    if (lrc != 0) {
        fprintf(stderr, "shardkv-server: cannot open log file '%s': %s\n", server.cfg.logfile,
                strerror(-lrc));
        config_deinit(&server.cfg);
        return 2;
    }
    for (size_t i = 0; i < server.cfg.nwarnings; i++)
        log_warn("%s", server.cfg.warnings[i]);
    /* Before any thread or loop exists: only the calling thread survives a
     * fork. The parent exits 0 here; errors after this point are in the
     * log only, as with redis-server. */
    if (server.cfg.daemonize && daemon_detach() != 0) {
        fprintf(stderr, "shardkv-server: cannot fork into the background\n");
        config_deinit(&server.cfg);
        return 1;
    }
    if (hash_seed_random() != 0)
        log_warn("No randomness for the hash seed: keys hash with a fixed seed");
    make_run_id(server.run_id);

    uv_loop_t loop;
    if (uv_loop_init(&loop) != 0 || uv_rwlock_init(&server.cfg_lock) != 0) {
        fprintf(stderr, "shardkv-server: cannot initialise the main loop\n");
        return 1;
    }
    server.main_loop = &loop;
    uv_async_init(&loop, &server.stop_async, on_stop);
    uv_signal_init(&loop, &sig_term);
    uv_signal_init(&loop, &sig_int);
    uv_signal_start(&sig_term, on_signal, SIGTERM);
    uv_signal_start(&sig_int, on_signal, SIGINT);

    log_notice("shardkv %s (Redis %s protocol) starting, pid=%d", SERVER_VERSION,
               SERVER_REDIS_VERSION, (int)getpid());
    int frc = daemon_fit_nofile(&server.cfg.maxclients);
    if (frc != 0 || server_start() != 0) {
        close_main_handles();
        uv_run(&loop, UV_RUN_DEFAULT);
        uv_loop_close(&loop);
        uv_rwlock_destroy(&server.cfg_lock);
        config_deinit(&server.cfg);
        log_teardown();
        return 1;
    }
    log_notice("Server initialized: %u threads (shards), %u databases, allocator %s",
               server.nworkers, server.cfg.databases, mem_allocator_name());
    log_notice("Running mode=sharded, port=%d, bind=%s", server.port,
               server.cfg.bind ? server.cfg.bind : "127.0.0.1");
    if (persist_setup(&loop) != 0)
        log_warn("Could not start the save-point timer: save points are not checked");
    /* Redis writes a pid file when told to, and always when daemonized. */
    const char *pidfile = NULL;
    if (server.cfg.pidfile != NULL && server.cfg.pidfile[0] != '\0')
        pidfile = server.cfg.pidfile;
    else if (server.cfg.daemonize)
        pidfile = DAEMON_DEFAULT_PIDFILE;
    if (pidfile != NULL) {
        int prc = daemon_write_pidfile(pidfile);
        if (prc != 0)
            log_warn("Failed to write PID file: %s", strerror(-prc));
    }
    log_notice("Ready to accept connections tcp");
    if (server.cfg.unixsocket != NULL && server.cfg.unixsocket[0] != '\0')
        log_notice("The server is now ready to accept connections at %s", server.cfg.unixsocket);

    /* From here the main thread only waits (signals, save points, the
     * stop): its allocator cache would keep what start-up freed (a third
     * of a MB, counted in used_memory) for nothing. */
    mem_thread_cache_off();
    uv_run(&loop, UV_RUN_DEFAULT);

    log_warn("User requested shutdown...");
    server_stop();
    uv_loop_close(&loop);
    uv_rwlock_destroy(&server.cfg_lock);
    if (pidfile != NULL) {
        log_notice("Removing the pid file.");
        daemon_remove_pidfile(pidfile);
    }
    log_warn("shardkv is now ready to exit, bye bye...");
    int code = atomic_load(&server.exit_code);
    config_deinit(&server.cfg);
    log_teardown();
    return code;
}
