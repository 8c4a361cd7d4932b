/* daemon.h — what redis-server does to its process at start-up and exit:
 * detach into the background (daemonize), the pid file, and fitting the
 * open-file limit to maxclients. Main thread, before the workers start
 * (daemon_detach before any thread exists). */
#ifndef SKV_SERVER_DAEMON_H
#define SKV_SERVER_DAEMON_H

/* The pid file of a daemonized server without a "pidfile" option (Redis
 * uses /var/run/redis.pid). */
#define DAEMON_DEFAULT_PIDFILE "/var/run/shardkv-server.pid"

/* File descriptors kept apart from clients: listeners, the log, snapshot
 * files, each thread's event loop. Redis's CONFIG_MIN_RESERVED_FDS. */
#define DAEMON_RESERVED_FDS 32

/* Fork; the parent exits 0 at once, the child starts a new session and
 * points standard input, output and error at /dev/null (Redis's
 * daemonize()). Call before any thread or event loop exists. Returns 0 in
 * the child, or a negative errno if fork failed (nothing changed). */
int daemon_detach(void);

/* Write getpid() and a newline to path (created 0644, replaced). Returns 0
 * or a negative errno; the caller logs it, as Redis does, and goes on. */
int daemon_write_pidfile(const char *path);

/* Remove path if it still holds our pid (a second server started with
 * the same pidfile must not lose its file when we stop). */
void daemon_remove_pidfile(const char *path);

/* Make room for *maxclients clients plus DAEMON_RESERVED_FDS: raise
 * RLIMIT_NOFILE if it is lower; if that fails, lower *maxclients to what the
 * limit allows and log Redis's three warnings. Returns 0, or -1 when the
 * limit leaves no room for even one client (logged; the caller exits). */
int daemon_fit_nofile(unsigned *maxclients);

#endif
