/* hist.c — log-linear histogram for shardkv-bench (see hist.h). Values
 * below 256 have a bucket each; above, a value with highest bit m falls in
 * bucket (m - 7) of 128 sub-buckets, indexed by its top 8 bits. */
#include "client/hist.h"

#include <string.h>

void hist_init(struct hist *h)
{
    memset(h, 0, sizeof(*h));
    h->min = UINT64_MAX;
}

unsigned hist_index(uint64_t v)
{
    const uint64_t top = (uint64_t)1 << HIST_MAX_BITS;
    if (v >= top)
        v = top - 1;
    if (v < (2u << HIST_SUB_BITS))
        return (unsigned)v;
    unsigned msb = 63u - (unsigned)__builtin_clzll(v);
    unsigned shift = msb - HIST_SUB_BITS;
    return shift * (1u << HIST_SUB_BITS) + (unsigned)(v >> shift);
}

uint64_t hist_bucket_top(unsigned idx)
{
    if (idx < (2u << HIST_SUB_BITS))
        return idx;
    unsigned shift = idx / (1u << HIST_SUB_BITS) - 1;
    uint64_t sub = idx - shift * (1u << HIST_SUB_BITS);
    return ((sub + 1) << shift) - 1;
}

void hist_record(struct hist *h, uint64_t v)
{
    h->counts[hist_index(v)]++;
    h->total++;
    h->sum += (double)v;
    if (v > h->max)
        h->max = v;
    if (v < h->min)
        h->min = v;
}

void hist_merge(struct hist *dst, const struct hist *src)
{
    for (unsigned i = 0; i < HIST_BUCKETS; i++)
        dst->counts[i] += src->counts[i];
    dst->total += src->total;
    dst->sum += src->sum;
    if (src->max > dst->max)
        dst->max = src->max;
    if (src->min < dst->min)
        dst->min = src->min;
}

uint64_t hist_percentile(const struct hist *h, double p)
{
    if (h->total == 0)
        return 0;
    if (p >= 100.0)
        return h->max;
    /* The rank of the value wanted, 1-based, rounded up (nearest rank). */
    double want = p / 100.0 * (double)h->total;
    uint64_t rank = (uint64_t)want;
    if ((double)rank < want || rank == 0)
        rank++;
    uint64_t seen = 0;
    for (unsigned i = 0; i < HIST_BUCKETS; i++) {
        seen += h->counts[i];
        if (seen >= rank) {
            uint64_t top = hist_bucket_top(i);
            return top < h->max ? top : h->max;
        }
    }
    return h->max;
}
