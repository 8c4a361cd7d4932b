/* cmdhist.c — per-command latency histograms (see cmdhist.h). */
#include "server/exec/cmdhist.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "server/core/server.h"
#include "server/exec/cmdstats.h"

/* Buckets: 16 per power of two from 2^4 ns up to 2^44 ns (~5 hours);
 * shorter runs share the first bucket, longer ones the last. */
#define SUB_BITS 4
#define SUBS (1u << SUB_BITS)
#define MIN_EXP SUB_BITS
#define MAX_EXP 44
#define NBUCKETS ((MAX_EXP - MIN_EXP + 1) * SUBS)

struct cmdhist {
    _Atomic uint64_t total;              /* runs counted */
    _Atomic uint64_t count[NBUCKETS];    /* runs per bucket */
};

static _Atomic(struct cmdhist *) **tables; /* [worker][command id] */
static unsigned ntables;
static size_t ncmds;

int cmdhist_setup(unsigned nworkers)
{
    ncmds = cmdstat_count();
    tables = calloc(nworkers ? nworkers : 1, sizeof *tables);
    if (!tables)
        return -ENOMEM;
    ntables = nworkers;
    for (unsigned i = 0; i < nworkers; i++) {
        tables[i] = calloc(ncmds, sizeof *tables[i]);
        if (!tables[i]) {
            cmdhist_teardown();
            return -ENOMEM;
        }
    }
    return 0;
}

void cmdhist_teardown(void)
{
    for (unsigned i = 0; tables && i < ntables; i++) {
        for (size_t j = 0; tables[i] && j < ncmds; j++)
            free(atomic_load_explicit(&tables[i][j], memory_order_relaxed));
        free(tables[i]);
    }
    free(tables);
    tables = NULL;
    ntables = 0;
}

static unsigned bucket_of(uint64_t ns)
{
    if (ns < (1u << MIN_EXP))
        return 0;
    unsigned e = 63u - (unsigned)__builtin_clzll(ns);
    if (e > MAX_EXP)
        return NBUCKETS - 1;
    unsigned sub = (unsigned)(ns >> (e - SUB_BITS)) & (SUBS - 1);
    return (e - MIN_EXP) * SUBS + sub;
}

/* The largest value bucket b holds, ns. */
static uint64_t bucket_top(unsigned b)
{
    unsigned e = b / SUBS + MIN_EXP, sub = b % SUBS;
    uint64_t base = 1ull << e, step = base >> SUB_BITS;
    return base + (sub + 1) * step - 1;
}

static inline void bump(_Atomic uint64_t *v)
{
    atomic_store_explicit(v, atomic_load_explicit(v, memory_order_relaxed) + 1,
                          memory_order_relaxed);
}

void cmdhist_record(unsigned wid, const struct cmd_def *d, uint64_t ns)
{
    uint16_t id = cmdstat_id(d);
    if (!tables || wid >= ntables || id == CMDSTAT_NONE || id >= ncmds)
        return;
    struct cmdhist *h = atomic_load_explicit(&tables[wid][id], memory_order_acquire);
    if (!h) {
        h = calloc(1, sizeof *h);
        if (!h)
            return; /* an uncounted run, never a failed command */
        atomic_store_explicit(&tables[wid][id], h, memory_order_release);
    }
    bump(&h->count[bucket_of(ns)]);
    bump(&h->total);
}

void cmdhist_reset(unsigned wid)
{
    if (!tables || wid >= ntables)
        return;
    for (size_t j = 0; j < ncmds; j++) {
        struct cmdhist *h = atomic_load_explicit(&tables[wid][j], memory_order_acquire);
        if (!h)
            continue;
        atomic_store_explicit(&h->total, 0, memory_order_relaxed);
        for (unsigned b = 0; b < NBUCKETS; b++)
            atomic_store_explicit(&h->count[b], 0, memory_order_relaxed);
    }
}

/* Command id's histogram summed over the workers into counts; returns
 * the total. */
static uint64_t sum(size_t id, uint64_t counts[NBUCKETS])
{
    memset(counts, 0, NBUCKETS * sizeof counts[0]);
    uint64_t total = 0;
    for (unsigned i = 0; tables && i < ntables; i++) {
        struct cmdhist *h = atomic_load_explicit(&tables[i][id], memory_order_acquire);
        if (!h)
            continue;
        for (unsigned b = 0; b < NBUCKETS; b++) {
            uint64_t n = atomic_load_explicit(&h->count[b], memory_order_relaxed);
            counts[b] += n;
            total += n;
        }
    }
    return total;
}

/* The value at percentile p (0..100): the top of the first bucket where
 * the running count reaches p% of total, as HDR's value_at_percentile. */
static uint64_t at_percentile(const uint64_t counts[NBUCKETS], uint64_t total, double p)
{
    uint64_t want = (uint64_t)((p / 100.0) * (double)total + 0.5);
    if (want == 0)
        want = 1;
    uint64_t run = 0;
    for (unsigned b = 0; b < NBUCKETS; b++) {
        run += counts[b];
        if (run >= want)
            return bucket_top(b);
    }
    return bucket_top(NBUCKETS - 1);
}

void cmdhist_info(struct rbuf *out)
{
    /* Off: the section is empty, as Redis's, whatever was counted. */
    if (!cmdhist_enabled())
        return;
    const struct config_pctl *l = __atomic_load_n(&server.cfg.latency_tracking_info_percentiles,
                                                  __ATOMIC_ACQUIRE);
    size_t np = l ? l->n : 0;
    /* Each value's name once, not per command. */
    char (*names)[64] = malloc((np ? np : 1) * sizeof *names);
    if (!names)
        return;
    for (size_t i = 0; i < np; i++)
        config_pctl_name(l->v[i], names[i]);
    size_t n;
    const struct cmd_def *t = cmd_table_all(&n);
    uint64_t counts[NBUCKETS];
    for (size_t id = 0; id < n && id < ncmds; id++) {
        uint64_t total = sum(id, counts);
        if (total == 0)
            continue;
        /* Redis's fillPercentileDistributionLatencies. */
        char field[128];
        int len = snprintf(field, sizeof field, "latency_percentiles_usec_%s:", t[id].name);
        rbuf_append(out, field, (size_t)len < sizeof field ? (size_t)len : sizeof field - 1);
        for (size_t i = 0; i < np; i++) {
            len = snprintf(field, sizeof field, "%sp%s=%.3f", i ? "," : "", names[i],
                           (double)at_percentile(counts, total, l->v[i]) / 1000.0);
            rbuf_append(out, field, (size_t)len < sizeof field ? (size_t)len : sizeof field - 1);
        }
        rbuf_append(out, "\r\n", 2);
    }
    free(names);
}

/* One command's entry of LATENCY HISTOGRAM: {calls, histogram_usec} with
 * the running count at each power of two from 1024 ns, where it grew, the
 * bound printed as Redis's HDR iterator prints it (the power's highest
 * equivalent value at 2 significant digits, in µs). */
static void reply_one(struct cmd_ctx *c, const char *name, const uint64_t counts[NBUCKETS],
                      uint64_t total)
{
    resp_bulk_cstr(c->out, name);
    resp_map(c->out, c->proto, 2);
    resp_bulk_cstr(c->out, "calls");
    resp_int(c->out, (int64_t)total);
    resp_bulk_cstr(c->out, "histogram_usec");
    uint64_t bounds[64], cums[64];
    size_t np = 0;
    uint64_t prev = 0, run = 0;
    unsigned b = 0;
    for (unsigned e = 10; e <= MAX_EXP + 1 && prev < total; e++) {
        uint64_t limit = (1ull << e) + (1ull << e) / 128 - 1;
        while (b < NBUCKETS && bucket_top(b) <= limit)
            run += counts[b++];
        if (e == MAX_EXP + 1)
            while (b < NBUCKETS)
                run += counts[b++];
        if (run > prev) {
            bounds[np] = limit / 1000;
            cums[np++] = run;
        }
        prev = run;
    }
    resp_map(c->out, c->proto, np);
    for (size_t i = 0; i < np; i++) {
        resp_int(c->out, (int64_t)bounds[i]);
        resp_int(c->out, (int64_t)cums[i]);
    }
}

void cmdhist_latency_exec(struct cmd_ctx *c)
{
    size_t n;
    const struct cmd_def *t = cmd_table_all(&n);
    uint64_t counts[NBUCKETS];
    /* The commands asked for (all when none), each once, with runs. */
    bool *want = calloc(n ? n : 1, sizeof *want);
    if (!want) {
        resp_error(c->out, "ERR out of memory");
        return;
    }
    for (size_t id = 0; id < n; id++) {
        bool asked = c->argc == 2;
        for (size_t j = 2; j < c->argc && !asked; j++)
            asked = strlen(t[id].name) == c->argv[j].len &&
                    strncasecmp(t[id].name, c->argv[j].ptr, c->argv[j].len) == 0;
        want[id] = asked && id < ncmds && sum(id, counts) > 0;
    }
    size_t nrep = 0;
    for (size_t id = 0; id < n; id++)
        nrep += want[id];
    resp_map(c->out, c->proto, nrep);
    for (size_t id = 0; id < n; id++) {
        if (!want[id])
            continue;
        uint64_t total = sum(id, counts);
        reply_one(c, t[id].name, counts, total);
    }
    free(want);
}
