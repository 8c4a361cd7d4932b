/* cmdhist.h — per-command latency histograms (Redis 7.0's latency
 * tracking: INFO latencystats and LATENCY HISTOGRAM). Every timed run of a
 * command (the slow log's clock, slowlog.h) is counted in its worker's
 * histogram for that command, allocated at the command's first run there:
 * log-linear buckets, 16 per power of two of nanoseconds (6% apart, where
 * Redis's HDR histograms keep 2 significant digits). One writer per
 * histogram (the worker's thread, relaxed stores); INFO and LATENCY sum
 * the workers from any thread. With latency-tracking off nothing is
 * counted; what was counted stays for LATENCY HISTOGRAM, as in Redis. */
#ifndef SKV_SERVER_CMDHIST_H
#define SKV_SERVER_CMDHIST_H

#include <stddef.h>
#include <stdint.h>

#include "server/core/server.h"
#include "server/exec/cmd.h"

/* Set up a histogram table for each of n workers; before they run.
 * Returns 0 or -ENOMEM. */
int cmdhist_setup(unsigned nworkers);
void cmdhist_teardown(void);

/* Is latency-tracking on? Callers test it before timing a run into
 * cmdhist_record, so that with it off the histograms cost one load. */
static inline bool cmdhist_enabled(void)
{
    return __atomic_load_n(&server.cfg.latency_tracking, __ATOMIC_RELAXED);
}

/* Count a run of d that took ns nanoseconds, on worker wid's thread. */
void cmdhist_record(unsigned wid, const struct cmd_def *d, uint64_t ns);

/* Zero worker wid's histograms (CONFIG RESETSTAT); its own thread. */
void cmdhist_reset(unsigned wid);

/* INFO latencystats: one line per command run since start or RESETSTAT,
 * "latency_percentiles_usec_<name>:p50=..,p99=..,p99.9=.." with the
 * percentiles of latency-tracking-info-percentiles, in its order, appended
 * to out; nothing while latency-tracking is off. Any thread. */
void cmdhist_info(struct rbuf *out);

/* LATENCY HISTOGRAM [command ...], on the connection's thread. */
void cmdhist_latency_exec(struct cmd_ctx *c);

#endif
