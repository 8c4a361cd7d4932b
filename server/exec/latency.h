/* latency.h — the latency monitor (LATENCY, Redis's latency.c): per event
 * ("command", "fast-command"), a ring of the last 160 per-second maxima
 * over latency-monitor-threshold. Samples come from the slow path of the
 * one execution point (slowlog_note), so a fast run costs nothing here;
 * adding one takes the monitor's mutex. Any thread. */
#ifndef SKV_SERVER_LATENCY_H
#define SKV_SERVER_LATENCY_H

#include <stdint.h>

#include "server/exec/cmd.h"

/* Redis's LATENCY_TS_LEN: samples kept per event. */
#define LATENCY_TS_LEN 160

/* Record ms for event (a static name), as Redis's latencyAddSample. */
void latency_add_sample(const char *event, int64_t ms);

/* The LATENCY container and its subcommands (latency.c). */
extern const struct cmd_def cmd_latency_defs[];
extern const size_t cmd_latency_ndefs;

#endif
