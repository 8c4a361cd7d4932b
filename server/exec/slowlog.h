/* slowlog.h — the slow log (SLOWLOG, Redis's slowlog.c) and the clock that
 * times every command run for it and for the latency monitor (latency.h).
 * cmd_call reads the cycle counter before and after each run and compares
 * the difference with one precomputed gate; only a run at or over the gate
 * (rare) takes the out-of-line path, which adds a slow log entry under the
 * log's mutex and/or a latency sample. Entries are global, ids monotonic;
 * the mutex is taken only to add, read or reset, never on a fast run.
 * Any thread. */
#ifndef SKV_SERVER_SLOWLOG_H
#define SKV_SERVER_SLOWLOG_H

#include <stdatomic.h>
#include <stdint.h>

#include "server/exec/cmd.h"

#if defined(__x86_64__)
#include <x86intrin.h>
#else
#include "common/clock.h"
#endif

/* Redis's SLOWLOG_ENTRY_MAX_ARGC and SLOWLOG_ENTRY_MAX_STRING: what an
 * entry keeps of a command's arguments. */
#define SLOWLOG_MAX_ARGC 32
#define SLOWLOG_MAX_STRING 128

/* Runs of at least this many clock ticks take the slow path; UINT64_MAX
 * when both the slow log and the latency monitor are off. Written by
 * slowlog_refresh, read relaxed by every command. */
extern _Atomic uint64_t slowlog_gate;

/* The command clock: the CPU's invariant cycle counter on x86-64 (a few
 * ns, against ~24 for clock_gettime on the 2-vCPU VM, paid twice per
 * command), else monotonic ns. Converted by slowlog_ticks_to_us. */
static inline uint64_t slowlog_clock(void)
{
#if defined(__x86_64__)
    return __rdtsc();
#else
    return clock_mono_ns();
#endif
}

/* Calibrate the clock against CLOCK_MONOTONIC (sleeps ~10 ms) and set the
 * gate from the configuration. Once, at start-up, before workers run. */
void slowlog_setup(void);

/* Recompute the gate after CONFIG SET (slowlog-log-slower-than,
 * latency-monitor-threshold) or at start-up. Any thread. */
void slowlog_refresh(void);

/* Nanoseconds per clock tick (set by slowlog_setup). */
extern double slowlog_ns_per_tick;

/* Microseconds in n clock ticks. */
uint64_t slowlog_ticks_to_us(uint64_t n);

/* A run of d in c took ticks (>= the gate): add a slow log entry if it is
 * at or over slowlog-log-slower-than and d may be logged, and a latency
 * sample ("command", or "fast-command" for CMD_FAST) if at or over
 * latency-monitor-threshold. Copies what it keeps; borrows c. The
 * executing thread. */
void slowlog_note(const struct cmd_def *d, const struct cmd_ctx *c, uint64_t ticks);

/* Entries in the log. Any thread. */
uint64_t slowlog_len(void);

/* SLOWLOG's subcommands, as struct cmd_def exec functions (cmd_server.c's
 * table holds the definitions). Run on the connection's thread. */
void slowlog_get_exec(struct cmd_ctx *c);
void slowlog_len_exec(struct cmd_ctx *c);
void slowlog_reset_exec(struct cmd_ctx *c);
void slowlog_help_exec(struct cmd_ctx *c);

/* The SLOWLOG container and its subcommands (slowlog.c). */
extern const struct cmd_def cmd_slowlog_defs[];
extern const size_t cmd_slowlog_ndefs;

#endif
