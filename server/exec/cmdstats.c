/* cmdstats.c — INFO commandstats counters (see cmdstats.h). */
#include "server/exec/cmdstats.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "server/exec/cmd.h"
#include "server/core/server.h"
#include "server/net/worker.h"

const struct cmd_def *cmdstat_table_;

size_t cmdstat_count(void)
{
    size_t n;
    (void)cmd_table_all(&n);
    return n;
}

struct cmdstat *cmdstat_array_new(void)
{
    if (!cmdstat_table_) {
        size_t n;
        cmdstat_table_ = cmd_table_all(&n);
    }
    return calloc(cmdstat_count(), sizeof(struct cmdstat));
}

uint64_t cmdstat_now_(void)
{
    return clock_mono_ns();
}

void errstat_reply(struct errstats *e, const char *p, size_t n)
{
    char code[ERRSTAT_CODE_MAX];
    size_t len = 0;
    for (size_t i = 1; i < n && len < sizeof code - 1; i++) {
        if (p[i] == ' ' || p[i] == '\r' || p[i] == '\n')
            break;
        code[len++] = p[i];
    }
    code[len] = '\0';
    errstat_code(e, code);
}

void errstat_code(struct errstats *e, const char *code)
{
    if (!e)
        return;
    cmdstat_bump_(&e->total, 1);
    unsigned n = atomic_load_explicit(&e->n, memory_order_relaxed);
    for (unsigned i = 0; i < n; i++) {
        if (strcmp(e->v[i].code, code) == 0) {
            cmdstat_bump_(&e->v[i].count, 1);
            return;
        }
    }
    if (n == ERRSTAT_MAX)
        return;
    snprintf(e->v[n].code, sizeof e->v[n].code, "%s", code);
    atomic_store_explicit(&e->v[n].count, 1, memory_order_relaxed);
    atomic_store_explicit(&e->n, n + 1, memory_order_release);
}

void cmdstat_reply(struct worker *w, uint16_t id, const char *p, size_t n)
{
    if (!cmdstat_is_error(p, n))
        return;
    cmdstat_fail(w->cmdstats, id);
    errstat_reply(w->errstats, p, n);
}

void cmdstat_reset(struct worker *w)
{
    if (w->errstats) {
        struct errstats *e = w->errstats;
        atomic_store_explicit(&e->total, 0, memory_order_relaxed);
        unsigned n = atomic_load_explicit(&e->n, memory_order_relaxed);
        for (unsigned i = 0; i < n; i++)
            atomic_store_explicit(&e->v[i].count, 0, memory_order_relaxed);
    }
    if (!w->cmdstats)
        return;
    size_t n = cmdstat_count();
    for (size_t i = 0; i < n; i++) {
        struct cmdstat *s = &w->cmdstats[i];
        atomic_store_explicit(&s->calls, 0, memory_order_relaxed);
        atomic_store_explicit(&s->rejected, 0, memory_order_relaxed);
        atomic_store_explicit(&s->failed, 0, memory_order_relaxed);
        atomic_store_explicit(&s->runs, 0, memory_order_relaxed);
        atomic_store_explicit(&s->timed, 0, memory_order_relaxed);
        atomic_store_explicit(&s->ns, 0, memory_order_relaxed);
    }
}

void cmdstat_sum(size_t id, struct cmdstat_total *out)
{
    size_t n;
    const struct cmd_def *t = cmd_table_all(&n);
    *out = (struct cmdstat_total){.name = id < n ? t[id].name : ""};
    for (unsigned i = 0; i < server.nworkers; i++) {
        const struct cmdstat *s = server.workers[i]->cmdstats;
        if (!s)
            continue;
        out->calls += atomic_load_explicit(&s[id].calls, memory_order_relaxed);
        out->rejected += atomic_load_explicit(&s[id].rejected, memory_order_relaxed);
        out->failed += atomic_load_explicit(&s[id].failed, memory_order_relaxed);
        out->timed += atomic_load_explicit(&s[id].timed, memory_order_relaxed);
        out->ns += atomic_load_explicit(&s[id].ns, memory_order_relaxed);
    }
}

uint64_t errstat_total(void)
{
    uint64_t total = 0;
    for (unsigned i = 0; i < server.nworkers; i++)
        if (server.workers[i]->errstats)
            total += atomic_load_explicit(&server.workers[i]->errstats->total,
                                          memory_order_relaxed);
    return total;
}

size_t errstat_sum(struct errstat_total m[ERRSTAT_MAX])
{
    /* Merge by code: each worker registered its codes in its own order. */
    size_t nm = 0;
    for (unsigned i = 0; i < server.nworkers; i++) {
        const struct errstats *e = server.workers[i]->errstats;
        if (!e)
            continue;
        unsigned n = atomic_load_explicit(&e->n, memory_order_acquire);
        for (unsigned j = 0; j < n; j++) {
            uint64_t c = atomic_load_explicit(&e->v[j].count, memory_order_relaxed);
            size_t k = 0;
            while (k < nm && strcmp(m[k].code, e->v[j].code) != 0)
                k++;
            if (k == nm) {
                if (nm == ERRSTAT_MAX)
                    continue;
                m[nm++] = (struct errstat_total){.code = e->v[j].code, .count = 0};
            }
            m[k].count += c;
        }
    }
    return nm;
}
