/* hist.h — a log-linear latency histogram in the manner of HdrHistogram,
 * for shardkv-bench: 128 linear sub-buckets per power of two, so every
 * recorded value is known to within 1/128 (0.8 %). Not thread-safe: each
 * thread records into its own and the results are merged. */
#ifndef SKV_CLIENT_HIST_H
#define SKV_CLIENT_HIST_H

#include <stdint.h>

/* Sub-bucket resolution: 2^7 = 128 steps per doubling. */
#define HIST_SUB_BITS 7
/* Largest value kept exactly in range: 2^40 ns is 18 minutes; larger
 * values are counted in the last bucket. */
#define HIST_MAX_BITS 40
/* Buckets: 256 exact ones below 2^8, then 128 per doubling up to 2^40. */
#define HIST_BUCKETS ((HIST_MAX_BITS - HIST_SUB_BITS + 1) << HIST_SUB_BITS)

struct hist {
    uint64_t counts[HIST_BUCKETS]; /* values per bucket */
    uint64_t total;                /* values recorded */
    uint64_t max;                  /* largest value recorded, exact */
    uint64_t min;                  /* smallest value recorded, exact */
    double sum;                    /* for the mean */
};

void hist_init(struct hist *h);
void hist_record(struct hist *h, uint64_t v);
/* Add src's values to dst. */
void hist_merge(struct hist *dst, const struct hist *src);
/* The value at percentile p (0..100): the highest value of the bucket that
 * holds it, capped by the exact max. 0 when empty. */
uint64_t hist_percentile(const struct hist *h, double p);
/* Bucket index of v and the highest value that bucket holds (tests). */
unsigned hist_index(uint64_t v);
uint64_t hist_bucket_top(unsigned idx);

#endif
