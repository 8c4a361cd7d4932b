/* clock.h — the clocks shardkv reads: wall time in milliseconds (expiry is
 * absolute Unix ms, as in Redis and RDB files) and a monotonic clock for
 * time budgets and latency. Thread-safe. */
#ifndef SKV_COMMON_CLOCK_H
#define SKV_COMMON_CLOCK_H

#include <stdint.h>
#include <time.h>

/* Unix time in milliseconds (CLOCK_REALTIME). */
static inline int64_t clock_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Unix time in microseconds (CLOCK_REALTIME). */
static inline int64_t clock_wall_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Monotonic nanoseconds, for budgets and latency measurement. */
static inline uint64_t clock_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

#endif
