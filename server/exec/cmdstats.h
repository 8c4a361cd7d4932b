/* cmdstats.h — per-command counters for INFO commandstats, and error
 * replies by code for INFO errorstats, as Redis 7 keeps them. Per command:
 * calls, rejected calls (refused before running: arity, NOAUTH, not allowed
 * in MULTI), failed calls (ran and replied with an error) and the time
 * spent running. Each worker counts what its thread sees in its own
 * array (one writer per counter, relaxed atomics so INFO may read from any
 * thread); INFO sums the workers. Subcommands of CLIENT, COMMAND and CONFIG
 * have their own entries ("client|setname"), as in Redis: the table's
 * index of a definition is its entry.
 *
 * Time is sampled, not measured on every call: one run in CMDSTAT_SAMPLE of
 * each command on each worker is timed (the first one always), and usec is
 * the sampled mean times the calls. A clock read costs ~24 ns on the
 * 2-vCPU VM, 4% of a pipelined request; sampling makes it noise. Commands
 * that fan out over shards are timed from start to merged reply. */
#ifndef SKV_SERVER_CMDSTATS_H
#define SKV_SERVER_CMDSTATS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "protocol/resp.h"
#include "server/exec/cmd.h"

struct worker;

/* One in this many runs of a command (per worker) is timed. */
#define CMDSTAT_SAMPLE 16
/* No entry: a command we do not know. */
#define CMDSTAT_NONE UINT16_MAX

/* One command's counters on one worker. */
struct cmdstat {
    _Atomic uint64_t calls;    /* ran (on the connection's worker's count) */
    _Atomic uint64_t rejected; /* refused before running */
    _Atomic uint64_t failed;   /* ran and replied with an error */
    _Atomic uint64_t runs;     /* executions on this worker (for sampling) */
    _Atomic uint64_t timed;    /* of which timed */
    _Atomic uint64_t ns;       /* their total time */
};

/* Entries in a worker's array: every command, then every subcommand. */
size_t cmdstat_count(void);

/* For cmdstat_id: the table's start. Set up by cmdstat_array_new, before
 * any worker runs. */
extern const struct cmd_def *cmdstat_table_;

/* The entry of d (a command or a subcommand: dispatch resolves "CONFIG
 * GET" to config|get, as Redis's lookupCommand does), or CMDSTAT_NONE if
 * d is NULL. A subtraction. */
static inline uint16_t cmdstat_id(const struct cmd_def *d)
{
    return d ? (uint16_t)(d - cmdstat_table_) : CMDSTAT_NONE;
}

/* A zeroed array of cmdstat_count() entries for a worker (the caller frees
 * it with free()), or NULL on out-of-memory. The first call (before the
 * worker threads start) sets up what cmdstat_id reads. */
struct cmdstat *cmdstat_array_new(void);

/* One writer per counter (the array's worker): a relaxed load and store,
 * no locked add. */
static inline void cmdstat_bump_(_Atomic uint64_t *v, uint64_t by)
{
    atomic_store_explicit(v, atomic_load_explicit(v, memory_order_relaxed) + by,
                          memory_order_relaxed);
}

/* Count one call / rejection / failure of entry id in a worker's array a;
 * the worker's thread only. Nothing for CMDSTAT_NONE or a NULL array. */
static inline void cmdstat_call(struct cmdstat *a, uint16_t id)
{
    if (a && id != CMDSTAT_NONE)
        cmdstat_bump_(&a[id].calls, 1);
}
static inline void cmdstat_reject(struct cmdstat *a, uint16_t id)
{
    if (a && id != CMDSTAT_NONE)
        cmdstat_bump_(&a[id].rejected, 1);
}
static inline void cmdstat_fail(struct cmdstat *a, uint16_t id)
{
    if (a && id != CMDSTAT_NONE)
        cmdstat_bump_(&a[id].failed, 1);
}

/* The clock the samples read (clock_mono_ns), out of line. */
uint64_t cmdstat_now_(void);

/* A run of entry id starts: its clock reading if this run is one to time
 * (one in CMDSTAT_SAMPLE), else 0. Pass it to cmdstat_run_end when the
 * run is over. */
static inline uint64_t cmdstat_run_begin(struct cmdstat *a, uint16_t id)
{
    if (!a || id == CMDSTAT_NONE)
        return 0;
    uint64_t runs = atomic_load_explicit(&a[id].runs, memory_order_relaxed);
    atomic_store_explicit(&a[id].runs, runs + 1, memory_order_relaxed);
    return runs % CMDSTAT_SAMPLE == 0 ? cmdstat_now_() : 0;
}
static inline void cmdstat_run_end(struct cmdstat *a, uint16_t id, uint64_t t0)
{
    if (t0 == 0 || !a || id == CMDSTAT_NONE)
        return;
    uint64_t now = cmdstat_now_();
    cmdstat_bump_(&a[id].timed, 1);
    cmdstat_bump_(&a[id].ns, now > t0 ? now - t0 : 0);
}

/* True if the reply bytes p[0..n) are an error reply. */
static inline bool cmdstat_is_error(const char *p, size_t n)
{
    return n > 0 && p[0] == '-';
}

/* Error replies by code (the first word: "ERR", "WRONGTYPE", ...), one
 * table per worker. Codes are added, never removed or rewritten, so INFO
 * can read a published entry from any thread; past ERRSTAT_MAX codes new
 * ones are counted in the total only (Redis's limit too). */
#define ERRSTAT_MAX 128
#define ERRSTAT_CODE_MAX 32
struct errstats {
    _Atomic unsigned n;        /* entries published (release) */
    _Atomic uint64_t total;    /* every error reply (total_error_replies) */
    struct {
        char code[ERRSTAT_CODE_MAX];
        _Atomic uint64_t count;
    } v[ERRSTAT_MAX];
};

/* Count one error reply whose bytes begin at p (n bytes, "-CODE ..."), or
 * whose code is code (a C string); the worker's thread only. */
void errstat_reply(struct errstats *e, const char *p, size_t n);
void errstat_code(struct errstats *e, const char *code);

/* A command's whole reply p[0..n) is known, on worker w: if it is an
 * error, count a failure of entry id (CMDSTAT_NONE: none) and its code. */
void cmdstat_reply(struct worker *w, uint16_t id, const char *p, size_t n);

/* Zero w's counters; w's thread only (CONFIG RESETSTAT). */
void cmdstat_reset(struct worker *w);

/* An error code's count summed over the workers, for INFO. */
struct errstat_total {
    const char *code; /* a worker's published copy (lives with the server) */
    uint64_t count;
};

/* Every error code summed over the workers into m (room for ERRSTAT_MAX);
 * returns how many. And the sum of every worker's error replies. Any
 * thread. */
size_t errstat_sum(struct errstat_total m[ERRSTAT_MAX]);
uint64_t errstat_total(void);

/* One entry's counters summed over the workers, for INFO. */
struct cmdstat_total {
    const char *name; /* "get", "client|setname" (static storage) */
    uint64_t calls, rejected, failed;
    uint64_t timed, ns; /* sampled runs and their time */
};

/* Entry id (< cmdstat_count()) summed over every worker. Any thread. */
void cmdstat_sum(size_t id, struct cmdstat_total *out);

#endif
