/* persist.h — RDB persistence for the server: starting snapshots (SAVE,
 * BGSAVE, BGSAVE SCHEDULE, save points, shutdown), the state INFO and
 * LASTSAVE report, the count of changes since the last save, and loading
 * the file at start-up. Snapshots themselves are shard/snapshot.h. Process
 * state guarded by one mutex; callable from any thread unless a function
 * says otherwise. */
#ifndef SKV_SERVER_PERSIST_H
#define SKV_SERVER_PERSIST_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "server/exec/cmd.h"

/* Returns of the start functions. */
enum {
    PERSIST_STARTED = 0,     /* a snapshot was started (or queued, for
                                persist_save_async) */
    PERSIST_SCHEDULED = 1,   /* BGSAVE SCHEDULE: starts after the running one */
    PERSIST_EBUSY = -1,      /* a snapshot is already running */
    PERSIST_EDISABLED = -2,  /* no data directory configured: no persistence */
    PERSIST_ECLOSED = -3,    /* the server is shutting down */
    PERSIST_ESTART = -4,     /* the temp file or the writer could not be made
                                (logged) */
};

/* Someone waiting for a snapshot's end. fn runs once, on the snapshot's
 * writer thread (post to your own thread from it), with 0 or a negative
 * code; the waiter's memory is the caller's and is not touched after fn. */
struct persist_waiter {
    struct persist_waiter *next;          /* persist's list link */
    void (*fn)(void *arg, int status);    /* the notification */
    void *arg;                            /* passed to fn */
};

/* What INFO persistence shows. */
struct persist_info {
    bool enabled;                /* a data directory is configured */
    bool in_progress;            /* rdb_bgsave_in_progress */
    bool last_ok;                /* rdb_last_bgsave_status ok/err */
    int64_t last_save_s;         /* rdb_last_save_time (Unix s) */
    uint64_t changes;            /* rdb_changes_since_last_save */
    uint64_t saves;              /* rdb_saves: successful saves */
    int64_t last_bgsave_secs;    /* rdb_last_bgsave_time_sec, -1 if none */
    int64_t current_secs;        /* rdb_current_bgsave_time_sec, -1 if none */
    uint64_t last_keys;          /* keys in the last file written */
    uint64_t last_bytes;         /* its size */
};

/* Per-worker change counters, padded to a cache line each so workers never
 * share one; index = worker id modulo PERSIST_MAX_COUNTERS. */
#define PERSIST_MAX_COUNTERS 1024
struct persist_counter {
    _Atomic uint64_t n;          /* keys changed by commands on this worker */
    char pad[64 - sizeof(uint64_t)]; /* one cache line per counter */
};
extern struct persist_counter persist_changes[PERSIST_MAX_COUNTERS];

/* Count n changed keys (Redis's "dirty" counter). Worker thread w; one
 * relaxed add on its own line. */
static inline void persist_note_writes(unsigned worker, uint64_t n)
{
    atomic_fetch_add_explicit(&persist_changes[worker % PERSIST_MAX_COUNTERS].n, n,
                              memory_order_relaxed);
}

/* Functions in snapshots, plugged in by app/hooks.c at start-up (the
 * registry lives in commands/, above this layer). records: every library
 * as RDB function records, malloc'd into *out (0 or -1 on out-of-memory);
 * load: install one library read from a file (0, or -1 after logging
 * why). NULL: snapshots carry none and loading refuses them. */
struct persist_function_hooks {
    int (*records)(void **out, size_t *len);
    int (*load)(const char *code, size_t len);
};
extern struct persist_function_hooks persist_functions;

/* The call hook behind it (cmd_hook_call, registered at start-up): a
 * command that reported modified keys on c->shard counts them. */
struct cmd_ctx;
struct cmd_def;
void persist_on_call(const struct cmd_def *d, struct cmd_ctx *c);

/* Redis's reply to a write refused after a failed save (shared.bgsaveerr),
 * without the '-' and CRLF. */
#define PERSIST_MISCONF_ERR                                                                        \
    "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to "             \
    "persist to disk. Commands that may modify the data set are disabled, because this "           \
    "instance is configured to report errors during writes if RDB snapshotting fails "             \
    "(stop-writes-on-bgsave-error option). Please check the Redis logs for details about "         \
    "the RDB error."

/* True while rdb_last_bgsave_status is err: the last background save
 * failed and no save has succeeded since. Written under persist's lock,
 * read by the workers before each command. */
extern _Atomic bool persist_last_failed;

/* The configuration half of Redis's writeCommandsDeniedByDiskError:
 * stop-writes-on-bgsave-error is yes and save points are in effect (a
 * data directory and at least one save point). Any thread; takes the
 * config read lock, so call it only once persist_last_failed is set. */
bool persist_stop_writes_configured(void);

/* Must a command with these flags (a call's, cmd_flags_of) be refused
 * with PERSIST_MISCONF_ERR? Redis refuses writes, and PING (CMD_MISCONF)
 * so that health checks notice, while stop-writes-on-bgsave-error is yes,
 * save points are configured and the last background save failed. One
 * relaxed load while saves succeed. Worker threads, before the command
 * runs or is queued by MULTI. */
static inline bool persist_writes_denied(uint32_t flags)
{
    return atomic_load_explicit(&persist_last_failed, memory_order_relaxed) &&
           (flags & (CMD_WRITE | CMD_MISCONF)) != 0 && persist_stop_writes_configured();
}

/* Main thread, after the workers started and before they accept clients:
 * check the data directory (missing, not a directory or not writable:
 * -1 after logging why, and the server exits 1, as Redis does for a dir
 * it cannot chdir to), remove the temp files of saves that dead processes
 * left in it (logged), then load dir/dbfilename if persistence is
 * on and the file exists. Keys are
 * routed to their shards in batches; keys already expired are dropped;
 * progress is logged about every second for big files. Returns 0, or -1
 * after logging why (missing type support, truncation, bad CRC, I/O):
 * the caller must then exit non-zero, since what was loaded so far is only
 * part of the file. Also validates the save and rdb-skip-non-string
 * options (-1 with a log line when they are malformed). */
int persist_load(void);

/* Main thread: start the 1 s save-point timer on loop. Returns 0 or a
 * negative libuv code. */
int persist_setup(uv_loop_t *loop);

/* Main thread, when a shutdown starts: if save points are configured (or
 * force), wait for a running snapshot and write a final one. Returns 0
 * when nothing was needed or the save succeeded, -1 if it failed. */
int persist_shutdown_save(bool force);

/* Main thread, before the workers stop: refuse new snapshots, wait for the
 * running one, close the timer, free everything. */
void persist_teardown(void);

/* True when a shutdown without SAVE/NOSAVE should save (persistence on and
 * at least one save point configured), as Redis does. */
bool persist_save_on_shutdown(void);

/* BGSAVE [SCHEDULE]. Returns PERSIST_STARTED, PERSIST_SCHEDULED (schedule
 * and one is running), or an error code. When it returns PERSIST_STARTED
 * and cut is not NULL, cut->fn runs (on some worker thread) once every
 * shard has taken the snapshot's cut, with 0 or PERSIST_ESTART: BGSAVE
 * holds its reply until then, so that the connection's next commands land
 * after the cut, as they would after Redis's fork. */
int persist_bgsave(bool schedule, struct persist_waiter *cut);

/* SAVE and SHUTDOWN SAVE: start a snapshot now, or right after the running
 * one ends, and notify w (linked by persist) with its result. Returns
 * PERSIST_STARTED or an error code (w is then not linked). */
int persist_save_async(struct persist_waiter *w);

/* LASTSAVE: Unix seconds of the last successful save (start-up time
 * before any). */
int64_t persist_lastsave(void);

/* Fill *out for INFO persistence. */
void persist_get_info(struct persist_info *out);

/* Command table fragment (cmd_persist.c): SAVE BGSAVE LASTSAVE. */
extern const struct cmd_def cmd_persist_defs[];
extern const size_t cmd_persist_ndefs;

/* SHUTDOWN's save step (cmd_persist.c), from cmd_shutdown on the client's
 * thread: when a save is due (save, or save points configured and not
 * nosave), start it and return true: the connection is answered (or
 * closed and the server stopped) when it ends. Returns false when no save
 * is due: the caller shuts down at once. */
bool persist_cmd_shutdown(struct cmd_ctx *c, bool save, bool nosave);

#endif
