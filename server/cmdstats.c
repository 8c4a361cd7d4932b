/* cmdstats.c — INFO commandstats counters (see cmdstats.h). */
#include "server/cmdstats.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "server/cmd.h"
#include "server/cmd_server.h"
#include "server/server.h"
#include "server/worker.h"

const struct cmd_def *cmdstat_table_;
const bool *cmdstat_container_;

size_t cmdstat_count(void)
{
    size_t n;
    (void)cmd_table(&n);
    return n + cmd_server_sub_count();
}

uint16_t cmdstat_container_id(uint16_t id, size_t argc, const struct resp_arg *argv)
{
    if (argc < 2)
        return id; /* the container alone (its arity error) */
    size_t ncommands;
    int sub = cmd_server_sub_find(cmd_table(&ncommands)[id].name, &argv[1]);
    /* An unknown subcommand: Redis counts it nowhere. */
    return sub < 0 ? CMDSTAT_NONE : (uint16_t)(ncommands + (size_t)sub);
}

struct cmdstat *cmdstat_array_new(void)
{
    static bool container[CMDSTAT_NONE];
    if (!cmdstat_table_) {
        size_t n;
        const struct cmd_def *t = cmd_table(&n);
        for (size_t i = 0; i < n && i < CMDSTAT_NONE; i++)
            container[i] = strcmp(t[i].name, "client") == 0 || strcmp(t[i].name, "config") == 0 ||
                           strcmp(t[i].name, "command") == 0;
        cmdstat_container_ = container;
        cmdstat_table_ = t;
    }
    return calloc(cmdstat_count(), sizeof(struct cmdstat));
}

uint64_t cmdstat_now_(void)
{
    return clock_mono_ns();
}

bool cmdstat_sub_arity_rejects(uint16_t id, size_t argc)
{
    size_t ncommands;
    (void)cmd_table(&ncommands);
    if (id == CMDSTAT_NONE || id < ncommands)
        return false;
    int arity = cmd_server_sub_arity_of(cmd_server_sub_name(id - ncommands));
    return arity > 0 ? argc != (size_t)arity : argc < (size_t)-arity;
}

void cmdstat_reset(struct worker *w)
{
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

void cmdstat_info(struct rbuf *out)
{
    size_t ncmd;
    const struct cmd_def *t = cmd_table(&ncmd);
    size_t n = cmdstat_count();
    for (size_t id = 0; id < n; id++) {
        uint64_t calls = 0, rejected = 0, failed = 0, timed = 0, ns = 0;
        for (unsigned i = 0; i < server.nworkers; i++) {
            const struct cmdstat *s = server.workers[i]->cmdstats;
            if (!s)
                continue;
            calls += atomic_load_explicit(&s[id].calls, memory_order_relaxed);
            rejected += atomic_load_explicit(&s[id].rejected, memory_order_relaxed);
            failed += atomic_load_explicit(&s[id].failed, memory_order_relaxed);
            timed += atomic_load_explicit(&s[id].timed, memory_order_relaxed);
            ns += atomic_load_explicit(&s[id].ns, memory_order_relaxed);
        }
        if (calls == 0 && rejected == 0 && failed == 0)
            continue;
        double per_call = timed ? (double)ns / (double)timed / 1000.0 : 0.0;
        const char *name = id < ncmd ? t[id].name : cmd_server_sub_name(id - ncmd);
        char line[256];
        int len = snprintf(line, sizeof line,
                           "cmdstat_%s:calls=%" PRIu64 ",usec=%" PRIu64
                           ",usec_per_call=%.2f,rejected_calls=%" PRIu64
                           ",failed_calls=%" PRIu64 "\r\n",
                           name, calls, (uint64_t)(per_call * (double)calls + 0.5), per_call,
                           rejected, failed);
        if (len > 0)
            rbuf_append(out, line, (size_t)len < sizeof line ? (size_t)len : sizeof line - 1);
    }
}
