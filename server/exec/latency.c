/* latency.c — the latency monitor and LATENCY (see latency.h). Events are
 * few and fixed by the code that reports them, so they live in a small
 * array under one mutex, in the order they first occurred. */
#include "server/exec/latency.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/clock.h"
#include "server/exec/cmdhist.h"
#include "server/core/server.h"

/* Events the monitor can hold: "command" and "fast-command" today. */
#define LATENCY_EVENTS_MAX 16

/* One event's time series, Redis's struct latencyTimeSeries. */
struct series {
    const char *event;    /* static name; NULL: free slot */
    int idx;              /* next sample slot */
    int64_t max;          /* all-time highest, ms */
    struct {
        int64_t time;     /* Unix seconds; 0: empty */
        int64_t latency;  /* ms */
    } samples[LATENCY_TS_LEN];
};

static struct {
    pthread_mutex_t lock;               /* guards everything below */
    struct series ev[LATENCY_EVENTS_MAX]; /* events, in first-seen order */
    unsigned n;                         /* slots in use */
} mon = {.lock = PTHREAD_MUTEX_INITIALIZER};

static struct series *find(const char *event, size_t len)
{
    for (unsigned i = 0; i < mon.n; i++)
        if (strlen(mon.ev[i].event) == len && memcmp(mon.ev[i].event, event, len) == 0)
            return &mon.ev[i];
    return NULL;
}

void latency_add_sample(const char *event, int64_t ms)
{
    int64_t now = clock_wall_ms() / 1000;
    pthread_mutex_lock(&mon.lock);
    struct series *ts = find(event, strlen(event));
    if (!ts && mon.n < LATENCY_EVENTS_MAX) {
        ts = &mon.ev[mon.n++];
        memset(ts, 0, sizeof *ts);
        ts->event = event;
    }
    if (ts) {
        if (ms > ts->max)
            ts->max = ms;
        /* One sample per second: the highest of that second. */
        int prev = (ts->idx + LATENCY_TS_LEN - 1) % LATENCY_TS_LEN;
        if (ts->samples[prev].time == now) {
            if (ms > ts->samples[prev].latency)
                ts->samples[prev].latency = ms;
        } else {
            ts->samples[ts->idx].time = now;
            ts->samples[ts->idx].latency = ms;
            ts->idx = (ts->idx + 1) % LATENCY_TS_LEN;
        }
    }
    pthread_mutex_unlock(&mon.lock);
}

static void latest_exec(struct cmd_ctx *c)
{
    pthread_mutex_lock(&mon.lock);
    resp_array(c->out, mon.n);
    for (unsigned i = 0; i < mon.n; i++) {
        const struct series *ts = &mon.ev[i];
        int last = (ts->idx + LATENCY_TS_LEN - 1) % LATENCY_TS_LEN;
        resp_array(c->out, 4);
        resp_bulk_cstr(c->out, ts->event);
        resp_int(c->out, ts->samples[last].time);
        resp_int(c->out, ts->samples[last].latency);
        resp_int(c->out, ts->max);
    }
    pthread_mutex_unlock(&mon.lock);
}

static void history_exec(struct cmd_ctx *c)
{
    pthread_mutex_lock(&mon.lock);
    const struct series *ts = find(c->argv[2].ptr, c->argv[2].len);
    size_t n = 0;
    for (int j = 0; ts && j < LATENCY_TS_LEN; j++)
        n += ts->samples[j].time != 0;
    resp_array(c->out, n);
    for (int j = 0; ts && j < LATENCY_TS_LEN; j++) {
        int i = (ts->idx + j) % LATENCY_TS_LEN;
        if (ts->samples[i].time == 0)
            continue;
        resp_array(c->out, 2);
        resp_int(c->out, ts->samples[i].time);
        resp_int(c->out, ts->samples[i].latency);
    }
    pthread_mutex_unlock(&mon.lock);
}

/* Drop the events named name (NULL: all); returns how many. Under the lock. */
static int reset_event(const struct resp_arg *name)
{
    int resets = 0;
    for (unsigned i = 0; i < mon.n;) {
        /* Redis compares names case-insensitively here. */
        if (!name || (strlen(mon.ev[i].event) == name->len &&
                      strncasecmp(mon.ev[i].event, name->ptr, name->len) == 0)) {
            memmove(&mon.ev[i], &mon.ev[i + 1], (mon.n - i - 1) * sizeof mon.ev[0]);
            mon.n--;
            resets++;
        } else {
            i++;
        }
    }
    return resets;
}

static void reset_exec(struct cmd_ctx *c)
{
    pthread_mutex_lock(&mon.lock);
    int resets = 0;
    if (c->argc == 2)
        resets = reset_event(NULL);
    for (size_t j = 2; j < c->argc; j++)
        resets += reset_event(&c->argv[j]);
    pthread_mutex_unlock(&mon.lock);
    resp_int(c->out, resets);
}

/* Redis's analyzeLatencyForEvent. */
struct stats {
    int samples;
    uint64_t avg, mad, min, max; /* ms */
    int64_t period;              /* seconds since the oldest sample */
};

static void analyze(const struct series *ts, struct stats *ls)
{
    memset(ls, 0, sizeof *ls);
    uint64_t sum = 0;
    int64_t oldest = 0;
    for (int j = 0; j < LATENCY_TS_LEN; j++) {
        if (ts->samples[j].time == 0)
            continue;
        uint64_t l = (uint64_t)ts->samples[j].latency;
        if (++ls->samples == 1 || l < ls->min)
            ls->min = l;
        if (l > ls->max)
            ls->max = l;
        sum += l;
        if (oldest == 0 || ts->samples[j].time < oldest)
            oldest = ts->samples[j].time;
    }
    if (ls->samples == 0)
        return;
    ls->avg = sum / (uint64_t)ls->samples;
    ls->period = clock_wall_ms() / 1000 - oldest;
    if (ls->period == 0)
        ls->period = 1;
    sum = 0;
    for (int j = 0; j < LATENCY_TS_LEN; j++) {
        if (ts->samples[j].time == 0)
            continue;
        int64_t d = (int64_t)ls->avg - ts->samples[j].latency;
        sum += (uint64_t)(d < 0 ? -d : d);
    }
    ls->mad = sum / (uint64_t)ls->samples;
}

/* Whether the process has transparent huge pages mapped (Redis's advice). */
static bool thp_in_use(void)
{
    FILE *f = fopen("/proc/self/smaps_rollup", "r");
    if (!f)
        return false;
    char line[256];
    bool used = false;
    while (fgets(line, sizeof line, f)) {
        long kb;
        if (sscanf(line, "AnonHugePages: %ld kB", &kb) == 1 && kb > 0)
            used = true;
    }
    fclose(f);
    return used;
}

static void append(struct rbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void append(struct rbuf *b, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n > 0)
        rbuf_append(b, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
}

/* Redis's createLatencyReport, for the events this server reports. */
static void doctor_exec(struct cmd_ctx *c)
{
    int64_t thr = __atomic_load_n(&server.cfg.latency_monitor_threshold, __ATOMIC_RELAXED);
    int64_t slow = __atomic_load_n(&server.cfg.slowlog_log_slower_than, __ATOMIC_RELAXED);
    struct rbuf b;
    rbuf_init(&b);
    pthread_mutex_lock(&mon.lock);
    if (mon.n == 0 && thr == 0) {
        pthread_mutex_unlock(&mon.lock);
        append(&b, "I'm sorry, Dave, I can't do that. Latency monitoring is disabled in this "
                   "Redis instance. You may use \"CONFIG SET latency-monitor-threshold "
                   "<milliseconds>.\" in order to enable it. If we weren't in a deep space "
                   "mission I'd suggest to take a look at "
                   "https://redis.io/topics/latency-monitor.\n");
        goto reply;
    }
    bool slowlog_enable = false, slowlog_tuning = false, slowlog_inspect = false;
    bool scheduler = false, large_objects = false;
    int advices = 0;
    unsigned eventnum = 0;
    for (unsigned i = 0; i < mon.n; i++) {
        const struct series *ts = &mon.ev[i];
        struct stats ls;
        if (++eventnum == 1)
            append(&b, "Dave, I have observed latency spikes in this Redis instance. You don't "
                       "mind talking about it, do you Dave?\n\n");
        analyze(ts, &ls);
        append(&b,
               "%u. %s: %d latency spikes (average %" PRIu64 "ms, mean deviation %" PRIu64
               "ms, period %.2f sec). Worst all time event %" PRId64 "ms.",
               eventnum, ts->event, ls.samples, ls.avg, ls.mad,
               ls.samples ? (double)ls.period / ls.samples : 0.0, ts->max);
        if (strcasecmp(ts->event, "command") == 0) {
            if (slow < 0) {
                slowlog_enable = true;
                advices++;
            } else if (slow / 1000 > thr) {
                slowlog_tuning = true;
                advices++;
            }
            slowlog_inspect = large_objects = true;
            advices += 2;
        }
        if (strcasecmp(ts->event, "fast-command") == 0) {
            scheduler = true;
            advices++;
        }
        append(&b, "\n");
    }
    pthread_mutex_unlock(&mon.lock);
    bool thp = thp_in_use();
    if (thp)
        advices++;
    if (eventnum == 0 && advices == 0) {
        append(&b, "Dave, no latency spike was observed during the lifetime of this Redis "
                   "instance, not in the slightest bit. I honestly think you ought to sit down "
                   "calmly, take a stress pill, and think things over.\n");
        goto reply;
    }
    if (eventnum > 0 && advices == 0) {
        append(&b, "\nWhile there are latency events logged, I'm not able to suggest any easy "
                   "fix. Please use the Redis community to get some help, providing this report "
                   "in your help request.\n");
        goto reply;
    }
    append(&b, "\nI have a few advices for you:\n\n");
    if (slowlog_enable)
        append(&b, "- There are latency issues with potentially slow commands you are using. "
                   "Try to enable the Slow Log Redis feature using the command 'CONFIG SET "
                   "slowlog-log-slower-than %" PRId64 "'. If the Slow log is disabled Redis is "
                   "not able to log slow commands execution for you.\n", thr * 1000);
    if (slowlog_tuning)
        append(&b, "- Your current Slow Log configuration only logs events that are slower "
                   "than your configured latency monitor threshold. Please use 'CONFIG SET "
                   "slowlog-log-slower-than %" PRId64 "'.\n", thr * 1000);
    if (slowlog_inspect)
        append(&b, "- Check your Slow Log to understand what are the commands you are running "
                   "which are too slow to execute. Please check "
                   "https://redis.io/commands/slowlog for more information.\n");
    if (scheduler)
        append(&b, "- The system is slow to execute Redis code paths not containing system "
                   "calls. This usually means the system does not provide Redis CPU time to "
                   "run for long periods. You should try to:\n"
                   "  1) Lower the system load.\n"
                   "  2) Use a computer / VM just for Redis if you are running other software "
                   "in the same system.\n"
                   "  3) Check if you have a \"noisy neighbour\" problem.\n"
                   "  4) Check with 'redis-cli --intrinsic-latency 100' what is the intrinsic "
                   "latency in your system.\n"
                   "  5) Check if the problem is allocator-related by recompiling Redis with "
                   "MALLOC=libc, if you are using Jemalloc. However this may create "
                   "fragmentation problems.\n");
    if (large_objects)
        append(&b, "- Deleting, expiring or evicting (because of maxmemory policy) large "
                   "objects is a blocking operation. If you have very large objects that are "
                   "often deleted, expired, or evicted, try to fragment those objects into "
                   "multiple smaller objects.\n");
    if (thp)
        append(&b, "- I detected a non zero amount of anonymous huge pages used by your "
                   "process. This creates very serious latency events in different conditions, "
                   "especially when Redis is persisting on disk. To disable THP support use the "
                   "command 'echo never > /sys/kernel/mm/transparent_hugepage/enabled', make "
                   "sure to also add it into /etc/rc.local so that the command will be executed "
                   "again after a reboot. Note that even if you have already disabled THP, you "
                   "still need to restart the Redis process to get rid of the huge pages "
                   "already created.\n");
reply:
    if (b.oom)
        resp_error(c->out, "ERR out of memory");
    else
        resp_verbatim(c->out, c->proto, b.ptr ? b.ptr : "", b.len);
    rbuf_deinit(&b);
}

/* LATENCY GRAPH's drawing, as Redis's sparkline with fill: each sample a
 * column, its height in 4 rows of 3 steps ("_o#", '|' below the top), then
 * a blank row and each column's label written downwards. 80 columns a
 * band; bands are separated by an empty line. */
#define GRAPH_COLS 80
#define GRAPH_ROWS 4

struct graph_point {
    int64_t value;   /* ms */
    char label[24];  /* how long ago: "12s", "3m", "2h", "1d" */
};

static void draw_band(struct rbuf *b, const struct graph_point *p, size_t n, int64_t min,
                      int64_t max)
{
    static const char fill[] = "_o#";
    const int per_row = 3, steps = per_row * GRAPH_ROWS;
    double range = max - min == 0 ? 1.0 : (double)(max - min);
    char line[GRAPH_COLS];
    for (int row = 0; row < GRAPH_ROWS; row++) {
        for (size_t j = 0; j < n; j++) {
            int step = (int)((double)(int)((double)(p[j].value - min) * steps) / range);
            if (step < 0)
                step = 0;
            if (step >= steps)
                step = steps - 1;
            int idx = step - (GRAPH_ROWS - row - 1) * per_row;
            line[j] = idx >= per_row ? '|' : idx >= 0 ? fill[idx] : ' ';
        }
        rbuf_append(b, line, n);
        rbuf_append(b, "\n", 1);
    }
    /* The labels, one character per row, after a blank row. */
    memset(line, ' ', n);
    rbuf_append(b, line, n);
    rbuf_append(b, "\n", 1);
    for (size_t ch = 0;; ch++) {
        bool any = false;
        for (size_t j = 0; j < n; j++) {
            bool has = strlen(p[j].label) > ch;
            line[j] = has ? p[j].label[ch] : ' ';
            any |= has;
        }
        if (!any)
            break;
        rbuf_append(b, line, n);
        rbuf_append(b, "\n", 1);
    }
}

static void graph_exec(struct cmd_ctx *c)
{
    struct graph_point pts[LATENCY_TS_LEN];
    size_t n = 0;
    int64_t all_time = 0;
    char event[64];
    int64_t now = clock_wall_ms() / 1000;
    pthread_mutex_lock(&mon.lock);
    const struct series *ts = find(c->argv[2].ptr, c->argv[2].len);
    if (ts) {
        snprintf(event, sizeof event, "%s", ts->event);
        all_time = ts->max;
        for (int j = 0; j < LATENCY_TS_LEN; j++) {
            int i = (ts->idx + j) % LATENCY_TS_LEN;
            if (ts->samples[i].time == 0)
                continue;
            int64_t ago = now - ts->samples[i].time;
            struct graph_point *p = &pts[n++];
            p->value = ts->samples[i].latency;
            if (ago < 60)
                snprintf(p->label, sizeof p->label, "%llds", (long long)ago);
            else if (ago < 3600)
                snprintf(p->label, sizeof p->label, "%lldm", (long long)(ago / 60));
            else if (ago < 86400)
                snprintf(p->label, sizeof p->label, "%lldh", (long long)(ago / 3600));
            else
                snprintf(p->label, sizeof p->label, "%lldd", (long long)(ago / 86400));
        }
    }
    pthread_mutex_unlock(&mon.lock);
    if (!ts) {
        resp_errorf(c->out, "ERR No samples available for event '%.*s'",
                    (int)(c->argv[2].len > 128 ? 128 : c->argv[2].len), c->argv[2].ptr);
        return;
    }
    int64_t min = 0, max = 0;
    for (size_t i = 0; i < n; i++) {
        if (i == 0 || pts[i].value < min)
            min = pts[i].value;
        if (i == 0 || pts[i].value > max)
            max = pts[i].value;
    }
    struct rbuf b;
    rbuf_init(&b);
    append(&b, "%s - high %lld ms, low %lld ms (all time high %lld ms)\n", event, (long long)max,
           (long long)min, (long long)all_time);
    char dashes[GRAPH_COLS];
    memset(dashes, '-', sizeof dashes);
    rbuf_append(&b, dashes, sizeof dashes);
    rbuf_append(&b, "\n", 1);
    for (size_t j = 0; j < n; j += GRAPH_COLS) {
        if (j != 0)
            rbuf_append(&b, "\n", 1);
        draw_band(&b, pts + j, n - j < GRAPH_COLS ? n - j : GRAPH_COLS, min, max);
    }
    if (b.oom)
        resp_error(c->out, "ERR out of memory");
    else
        resp_verbatim(c->out, c->proto, b.ptr, b.len);
    rbuf_deinit(&b);
}

static const char *const latency_help[] = {
    "LATENCY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "DOCTOR",
    "    Return a human readable latency analysis report.",
    "GRAPH <event>",
    "    Return an ASCII latency graph for the <event> class.",
    "HISTORY <event>",
    "    Return time-latency samples for the <event> class.",
    "LATEST",
    "    Return the latest latency samples for all events.",
    "RESET [<event> ...]",
    "    Reset latency data of one or more <event> classes.",
    "    (default: reset all data for all event classes)",
    "HISTOGRAM [COMMAND ...]",
    "    Return a cumulative distribution of latencies in the format of a histogram for the "
    "specified command names.",
    "    If no commands are specified then all histograms are replied.",
    "HELP",
    "    Prints this help.",
    NULL,
};

static void help_exec(struct cmd_ctx *c)
{
    cmd_reply_help(c, latency_help);
}

#define LATENCY_FLAGS (CMD_ADMIN | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE)
static const struct cmd_def latency_subs[] = {
    { .name = "latency|doctor", .arity = 2, .exec = doctor_exec, .flags = LATENCY_FLAGS,
      .tips = CMD_TIPS("nondeterministic_output", "request_policy:all_nodes",
                       "response_policy:special"),
      .group = "server", .since = "2.8.13", .complexity = "O(1)",
      .summary = "Return a human readable latency analysis report." },
    { .name = "latency|graph", .arity = 3, .exec = graph_exec, .flags = LATENCY_FLAGS,
      .tips = CMD_TIPS("nondeterministic_output", "request_policy:all_nodes",
                       "response_policy:special"),
      .group = "server", .since = "2.8.13", .complexity = "O(1)",
      .summary = "Return a latency graph for the event." },
    { .name = "latency|histogram", .arity = -2, .exec = cmdhist_latency_exec,
      .flags = LATENCY_FLAGS,
      .tips = CMD_TIPS("nondeterministic_output", "request_policy:all_nodes",
                       "response_policy:special"),
      .group = "server", .since = "7.0.0",
      .complexity = "O(N) where N is the number of commands with latency information being "
                    "retrieved.",
      .summary = "Return the cumulative distribution of latencies of a subset of commands or "
                 "all." },
    { .name = "latency|help", .arity = 2, .exec = help_exec,
      .flags = CMD_LOADING | CMD_STALE,
      .group = "server", .since = "2.8.13", .complexity = "O(1)",
      .summary = "Show helpful text about the different subcommands." },
    { .name = "latency|history", .arity = 3, .exec = history_exec, .flags = LATENCY_FLAGS,
      .tips = CMD_TIPS("nondeterministic_output", "request_policy:all_nodes",
                       "response_policy:special"),
      .group = "server", .since = "2.8.13", .complexity = "O(1)",
      .summary = "Return timestamp-latency samples for the event." },
    { .name = "latency|latest", .arity = 2, .exec = latest_exec, .flags = LATENCY_FLAGS,
      .tips = CMD_TIPS("nondeterministic_output", "request_policy:all_nodes",
                       "response_policy:special"),
      .group = "server", .since = "2.8.13", .complexity = "O(1)",
      .summary = "Return the latest latency samples for all events." },
    { .name = "latency|reset", .arity = -2, .exec = reset_exec, .flags = LATENCY_FLAGS,
      .tips = CMD_TIPS("request_policy:all_nodes", "response_policy:all_succeeded"),
      .group = "server", .since = "2.8.13", .complexity = "O(1)",
      .summary = "Reset latency data for one or more events." },
    { .name = NULL },
};

const struct cmd_def cmd_latency_defs[] = {
    { .name = "latency", .arity = -2, .subcommands = latency_subs,
      .flags = CMD_CONN,
      .group = "server", .since = "2.8.13",
      .complexity = "Depends on subcommand.",
      .summary = "A container for latency diagnostics commands" },
};
const size_t cmd_latency_ndefs = sizeof(cmd_latency_defs) / sizeof(cmd_latency_defs[0]);
