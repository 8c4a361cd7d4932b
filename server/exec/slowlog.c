/* slowlog.c — the slow log and the command clock (see slowlog.h). Entries
 * are added by whichever thread ran the slow command and read by SLOWLOG
 * on a connection's thread, all under one mutex that fast runs never
 * touch. */
#include "server/exec/slowlog.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"
#include "common/int64str.h"
#include "server/net/conn.h"
#include "server/exec/latency.h"
#include "server/core/server.h"

_Atomic uint64_t slowlog_gate = UINT64_MAX;

/* Clock ticks per microsecond, from the calibration (1000 for ns). */
static double ticks_per_us = 1000.0;
double slowlog_ns_per_tick = 1.0;

/* One logged command, Redis's slowlogEntry. */
struct entry {
    struct entry *next;   /* older entry */
    struct entry *prev;   /* newer entry */
    int64_t id;           /* unique, increasing */
    int64_t time;         /* Unix seconds when it was logged */
    int64_t duration;     /* microseconds it ran */
    unsigned argc;        /* arguments kept (at most SLOWLOG_MAX_ARGC) */
    char *peer;           /* client "ip:port" ("" when unknown) */
    char *name;           /* client name ("" when none or unknown) */
    struct {
        char *p;          /* the argument as logged (maybe shortened) */
        size_t n;         /* its length */
    } argv[];
};

static struct {
    pthread_mutex_t lock; /* guards everything below */
    struct entry *head;   /* newest */
    struct entry *tail;   /* oldest */
    uint64_t len;         /* entries */
    int64_t next_id;      /* id of the next entry */
} log_ = {.lock = PTHREAD_MUTEX_INITIALIZER};

void slowlog_setup(void)
{
#if defined(__x86_64__)
    uint64_t n0 = clock_mono_ns(), t0 = slowlog_clock();
    struct timespec ts = {0, 10 * 1000 * 1000};
    nanosleep(&ts, NULL);
    uint64_t n1 = clock_mono_ns(), t1 = slowlog_clock();
    if (n1 > n0 && t1 > t0)
        ticks_per_us = (double)(t1 - t0) * 1000.0 / (double)(n1 - n0);
    slowlog_ns_per_tick = 1000.0 / ticks_per_us;
#endif
    slowlog_refresh();
}

uint64_t slowlog_ticks_to_us(uint64_t n)
{
    return (uint64_t)((double)n / ticks_per_us);
}

void slowlog_refresh(void)
{
    int64_t slow = __atomic_load_n(&server.cfg.slowlog_log_slower_than, __ATOMIC_RELAXED);
    int64_t lat = __atomic_load_n(&server.cfg.latency_monitor_threshold, __ATOMIC_RELAXED);
    /* The smaller of the two bounds, in µs; UINT64_MAX when both are off. */
    double us = -1;
    if (slow >= 0)
        us = (double)slow;
    if (lat > 0 && (us < 0 || (double)lat * 1000.0 < us))
        us = (double)lat * 1000.0;
    uint64_t gate = UINT64_MAX;
    if (us >= 0) {
        double t = us * ticks_per_us;
        gate = t >= 1.8e19 ? UINT64_MAX - 1 : (uint64_t)t;
    }
    atomic_store_explicit(&slowlog_gate, gate, memory_order_relaxed);
}

static void entry_free(struct entry *e)
{
    for (unsigned i = 0; i < e->argc; i++)
        free(e->argv[i].p);
    free(e->peer);
    free(e->name);
    free(e);
}

static char *dup_text(const char *p, size_t n)
{
    char *s = malloc(n + 1);
    if (s) {
        memcpy(s, p, n);
        s[n] = '\0';
    }
    return s;
}

/* An argument as Redis's slowlogCreateEntry keeps it. */
static bool keep_arg(struct entry *e, unsigned j, const struct resp_arg *a)
{
    char buf[SLOWLOG_MAX_STRING + 64];
    if (a->len > SLOWLOG_MAX_STRING) {
        memcpy(buf, a->ptr, SLOWLOG_MAX_STRING);
        int n = snprintf(buf + SLOWLOG_MAX_STRING, sizeof buf - SLOWLOG_MAX_STRING,
                         "... (%zu more bytes)", a->len - SLOWLOG_MAX_STRING);
        e->argv[j].n = SLOWLOG_MAX_STRING + (size_t)n;
        e->argv[j].p = dup_text(buf, e->argv[j].n);
    } else {
        e->argv[j].n = a->len;
        e->argv[j].p = dup_text(a->ptr, a->len);
    }
    return e->argv[j].p != NULL;
}

/* Build an entry for d in c (no id yet), or NULL on out-of-memory. */
static struct entry *entry_new(const struct cmd_def *d, const struct cmd_ctx *c, int64_t us)
{
    unsigned argc = c->argc > SLOWLOG_MAX_ARGC ? SLOWLOG_MAX_ARGC : (unsigned)c->argc;
    struct entry *e = calloc(1, sizeof *e + argc * sizeof e->argv[0]);
    if (!e)
        return NULL;
    e->time = clock_wall_ms() / 1000;
    e->duration = us;
    bool ok = true;
    for (unsigned j = 0; j < argc && ok; j++) {
        char buf[64];
        if (argc != c->argc && j == argc - 1) {
            int n = snprintf(buf, sizeof buf, "... (%zu more arguments)", c->argc - argc + 1);
            e->argv[j].n = (size_t)n;
            e->argv[j].p = dup_text(buf, (size_t)n);
            ok = e->argv[j].p != NULL;
        } else if (j > 0 && (d->flags & CMD_REDACT)) {
            /* Secrets (AUTH's password) never reach the log, as Redis's
             * redactClientCommandArgument. */
            e->argv[j].n = strlen("(redacted)");
            e->argv[j].p = dup_text("(redacted)", e->argv[j].n);
            ok = e->argv[j].p != NULL;
        } else {
            ok = keep_arg(e, j, &c->argv[j]);
        }
        e->argc = j + 1;
    }
    /* The client, as Redis records it: its address never changes while a
     * request of it is out, so any thread may copy it; its name may (CLIENT
     * SETNAME on its own thread), so it is copied under the names' lock. */
    const struct conn *cn = c->script_call ? NULL : c->conn ? c->conn : c->origin;
    /* No client: a script's call, which Redis logs with its Lua client's
     * "?:0" and no name. */
    const char *peer = cn ? cn->addr : "?:0";
    e->peer = dup_text(peer, strlen(peer));
    e->name = cn ? conn_name_dup(cn) : dup_text("", 0);
    if (!ok || !e->peer || !e->name) {
        entry_free(e);
        return NULL;
    }
    return e;
}

void slowlog_note(const struct cmd_def *d, const struct cmd_ctx *c, uint64_t ticks)
{
    int64_t us = (int64_t)slowlog_ticks_to_us(ticks);
    int64_t lat = __atomic_load_n(&server.cfg.latency_monitor_threshold, __ATOMIC_RELAXED);
    /* Redis's latencyAddSampleIfNeeded, in whole milliseconds. */
    if (lat > 0 && us / 1000 >= lat)
        latency_add_sample((d->flags & CMD_FAST) ? "fast-command" : "command", us / 1000);
    int64_t slow = __atomic_load_n(&server.cfg.slowlog_log_slower_than, __ATOMIC_RELAXED);
    if (slow < 0 || us < slow || (d->flags & CMD_SKIP_SLOWLOG))
        return;
    struct entry *e = entry_new(d, c, us);
    if (!e)
        return; /* a lost entry, never a failed command */
    int64_t max = __atomic_load_n(&server.cfg.slowlog_max_len, __ATOMIC_RELAXED);
    struct entry *drop = NULL;
    pthread_mutex_lock(&log_.lock);
    e->id = log_.next_id++;
    e->next = log_.head;
    if (log_.head)
        log_.head->prev = e;
    log_.head = e;
    if (!log_.tail)
        log_.tail = e;
    log_.len++;
    /* Trim to the bound; freed outside the lock. */
    while (log_.len > (uint64_t)max && log_.tail) {
        struct entry *t = log_.tail;
        log_.tail = t->prev;
        if (log_.tail)
            log_.tail->next = NULL;
        else
            log_.head = NULL;
        log_.len--;
        t->next = drop;
        drop = t;
    }
    pthread_mutex_unlock(&log_.lock);
    while (drop) {
        struct entry *n = drop->next;
        entry_free(drop);
        drop = n;
    }
}

uint64_t slowlog_len(void)
{
    pthread_mutex_lock(&log_.lock);
    uint64_t n = log_.len;
    pthread_mutex_unlock(&log_.lock);
    return n;
}

void slowlog_get_exec(struct cmd_ctx *c)
{
    if (c->argc > 3) {
        /* Redis names the subcommand as the client spelled it. */
        resp_errorf(c->out,
                    "ERR unknown subcommand or wrong number of arguments for '%.*s'. Try "
                    "SLOWLOG HELP.",
                    (int)(c->argv[1].len > 64 ? 64 : c->argv[1].len), c->argv[1].ptr);
        return;
    }
    int64_t count = 10;
    if (c->argc == 3) {
        int64_t v;
        /* Redis's getRangeLongFromObjectOrReply: one message for "not a
         * number" and "out of range". */
        if (!int64str_parse(c->argv[2].ptr, c->argv[2].len, &v) || v < -1) {
            resp_error(c->out, "ERR count should be greater than or equal to -1");
            return;
        }
        count = v;
    }
    pthread_mutex_lock(&log_.lock);
    uint64_t n = count < 0 || (uint64_t)count > log_.len ? log_.len : (uint64_t)count;
    resp_array(c->out, n);
    struct entry *e = log_.head;
    for (uint64_t i = 0; i < n && e; i++, e = e->next) {
        resp_array(c->out, 6);
        resp_int(c->out, e->id);
        resp_int(c->out, e->time);
        resp_int(c->out, e->duration);
        resp_array(c->out, e->argc);
        for (unsigned j = 0; j < e->argc; j++)
            resp_bulk(c->out, e->argv[j].p, e->argv[j].n);
        resp_bulk_cstr(c->out, e->peer);
        resp_bulk_cstr(c->out, e->name);
    }
    pthread_mutex_unlock(&log_.lock);
}

void slowlog_len_exec(struct cmd_ctx *c)
{
    resp_int(c->out, (int64_t)slowlog_len());
}

void slowlog_reset_exec(struct cmd_ctx *c)
{
    pthread_mutex_lock(&log_.lock);
    struct entry *e = log_.head;
    log_.head = log_.tail = NULL;
    log_.len = 0;
    pthread_mutex_unlock(&log_.lock);
    while (e) {
        struct entry *n = e->next;
        entry_free(e);
        e = n;
    }
    resp_simple(c->out, "OK");
}

static const char *const slowlog_help[] = {
    "SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "GET [<count>]",
    "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
    "    Entries are made of:",
    "    id, timestamp, time in microseconds, arguments array, client IP and port,",
    "    client name",
    "LEN",
    "    Return the length of the slowlog.",
    "RESET",
    "    Reset the slowlog.",
    "HELP",
    "    Prints this help.",
    NULL,
};

void slowlog_help_exec(struct cmd_ctx *c)
{
    cmd_reply_help(c, slowlog_help);
}

static const struct cmd_def slowlog_subs[] = {
    { .name = "slowlog|get", .arity = -2, .exec = slowlog_get_exec,
      .flags = CMD_ADMIN | CMD_LOADING | CMD_STALE,
      .tips = CMD_TIPS("request_policy:all_nodes", "nondeterministic_output"),
      .group = "server", .since = "2.2.12",
      .complexity = "O(N) where N is the number of entries returned",
      .summary = "Get the slow log's entries" },
    { .name = "slowlog|help", .arity = 2, .exec = slowlog_help_exec,
      .flags = CMD_LOADING | CMD_STALE,
      .group = "server", .since = "6.2.0",
      .complexity = "O(1)",
      .summary = "Show helpful text about the different subcommands" },
    { .name = "slowlog|len", .arity = 2, .exec = slowlog_len_exec,
      .flags = CMD_ADMIN | CMD_LOADING | CMD_STALE,
      .tips = CMD_TIPS("request_policy:all_nodes", "response_policy:agg_sum",
                       "nondeterministic_output"),
      .group = "server", .since = "2.2.12",
      .complexity = "O(1)",
      .summary = "Get the slow log's length" },
    { .name = "slowlog|reset", .arity = 2, .exec = slowlog_reset_exec,
      .flags = CMD_ADMIN | CMD_LOADING | CMD_STALE,
      .tips = CMD_TIPS("request_policy:all_nodes", "response_policy:all_succeeded"),
      .group = "server", .since = "2.2.12",
      .complexity = "O(N) where N is the number of entries in the slowlog",
      .summary = "Clear all entries from the slow log" },
    { .name = NULL },
};

const struct cmd_def cmd_slowlog_defs[] = {
    { .name = "slowlog", .arity = -2, .subcommands = slowlog_subs,
      .flags = CMD_CONN,
      .group = "server", .since = "2.2.12",
      .complexity = "Depends on subcommand.",
      .summary = "A container for slow log commands" },
};
const size_t cmd_slowlog_ndefs = sizeof(cmd_slowlog_defs) / sizeof(cmd_slowlog_defs[0]);
