/* ketama.c — the consistent-hashing ring of libshardkv. It reproduces
 * twemproxy's `distribution: ketama` with `hash: fnv1a_64` (hashkit's
 * ketama_update, ketama_dispatch and hash_fnv1a_64, and server_pool_idx's
 * hash_tag handling), so a client and a twemproxy pool agree on every key's
 * server. Immutable once built: any thread may read a ring. */
#include "client/md5.h"
#include "client/shardkv.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* twemproxy's constants: 160 points for a server of average weight, made
 * from 40 MD5 digests of four 32-bit values each. */
#define KETAMA_POINTS_PER_SERVER 160
#define KETAMA_POINTS_PER_HASH   4
/* twemproxy formats "<name>-<i>" into a buffer of this size (snprintf may
 * truncate a long name; the truncated text is what it hashes). */
#define KETAMA_MAX_HOSTLEN 86
/* libmemcached compatibility in twemproxy: on this port the default server
 * name is the host alone. */
#define KETAMA_DEFAULT_PORT 11211

struct ketama_point {
    uint32_t value;  /* position on the circle */
    uint32_t server; /* index into the caller's server array */
    uint32_t seq;    /* insertion order: ties keep it, as glibc's stable
                        merge-sort qsort does for twemproxy */
};

struct skv_ring {
    struct ketama_point *points; /* sorted by value, then seq */
    size_t npoints;              /* entries in points */
    size_t nservers;             /* servers the ring was built from */
    char tag[2];                 /* hash_tag delimiters */
    bool has_tag;                /* hash_tag was given */
};

uint32_t skv_hash_fnv1a_64(const void *key, size_t klen)
{
    /* twemproxy keeps only the low 32 bits of the 64-bit basis and prime,
     * and widens each byte from (signed) char: bytes >= 0x80 are XORed in as
     * 0xffffff80.. on x86, where twemproxy runs. */
    const signed char *p = key;
    uint32_t h = (uint32_t)UINT64_C(0xcbf29ce484222325);
    for (size_t i = 0; i < klen; i++) {
        h ^= (uint32_t)(int32_t)p[i];
        h *= (uint32_t)UINT64_C(0x100000001b3);
    }
    return h;
}

static int point_cmp(const void *a, const void *b)
{
    const struct ketama_point *x = a, *y = b;
    if (x->value != y->value)
        return x->value < y->value ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

struct skv_ring *skv_ring_create(const struct skv_server *servers, size_t n, const char *hash_tag)
{
    if (servers == NULL || n == 0 || n > UINT32_MAX / 2)
        return NULL;
    if (hash_tag != NULL && hash_tag[0] != '\0' && strlen(hash_tag) != 2)
        return NULL;
    uint32_t total_weight = 0;
    for (size_t i = 0; i < n; i++) {
        if (servers[i].weight == 0 || servers[i].host == NULL ||
            servers[i].weight > UINT32_MAX - total_weight)
            return NULL;
        total_weight += servers[i].weight;
    }
    struct skv_ring *r = calloc(1, sizeof(*r));
    if (r == NULL)
        return NULL;
    r->nservers = n;
    if (hash_tag != NULL && hash_tag[0] != '\0') {
        r->has_tag = true;
        memcpy(r->tag, hash_tag, 2);
    }
    /* Points per server, exactly as twemproxy computes them: in float, from
     * the weight's share of the total, rounded down to a multiple of 4. */
    uint32_t *pps = calloc(n, sizeof(*pps));
    size_t total = 0;
    if (pps == NULL)
        goto fail;
    for (size_t i = 0; i < n; i++) {
        float pct = (float)servers[i].weight / (float)total_weight;
        pps[i] = (uint32_t)((floorf((float)(pct * KETAMA_POINTS_PER_SERVER / 4 * (float)n +
                                            0.0000000001))) *
                            4);
        total += pps[i];
    }
    r->points = calloc(total ? total : 1, sizeof(*r->points));
    if (r->points == NULL)
        goto fail;
    for (size_t i = 0; i < n; i++) {
        char name[KETAMA_MAX_HOSTLEN];
        char host[KETAMA_MAX_HOSTLEN];
        if (servers[i].name != NULL)
            snprintf(name, sizeof(name), "%s", servers[i].name);
        else if (servers[i].port == KETAMA_DEFAULT_PORT)
            snprintf(name, sizeof(name), "%s", servers[i].host);
        else
            snprintf(name, sizeof(name), "%s:%d", servers[i].host, servers[i].port);
        for (uint32_t k = 0; k < pps[i] / KETAMA_POINTS_PER_HASH; k++) {
            int hl = snprintf(host, sizeof(host), "%s-%u", name, k);
            size_t hostlen = hl < 0 ? 0 : (size_t)hl;
            /* twemproxy hashes snprintf's return value worth of bytes; when
             * truncated that would read past its buffer, so cap it. */
            if (hostlen >= sizeof(host))
                hostlen = sizeof(host) - 1;
            unsigned char d[16];
            md5_digest(host, hostlen, d);
            for (int x = 0; x < KETAMA_POINTS_PER_HASH; x++) {
                struct ketama_point *pt = &r->points[r->npoints];
                /* Little-endian 32-bit word x of the digest. */
                pt->value = (uint32_t)d[3 + x * 4] << 24 | (uint32_t)d[2 + x * 4] << 16 |
                            (uint32_t)d[1 + x * 4] << 8 | (uint32_t)d[x * 4];
                pt->server = (uint32_t)i;
                pt->seq = (uint32_t)r->npoints;
                r->npoints++;
            }
        }
    }
    free(pps);
    qsort(r->points, r->npoints, sizeof(*r->points), point_cmp);
    return r;
fail:
    free(pps);
    free(r->points);
    free(r);
    return NULL;
}

void skv_ring_destroy(struct skv_ring *r)
{
    if (r == NULL)
        return;
    free(r->points);
    free(r);
}

size_t skv_ring_locate(const struct skv_ring *r, const void *key, size_t klen)
{
    if (r->nservers == 1 || r->npoints == 0)
        return 0; /* twemproxy skips hashing for a single server */
    const char *k = key;
    if (r->has_tag && klen > 0) {
        const char *s = memchr(k, r->tag[0], klen);
        if (s != NULL) {
            const char *e = memchr(s + 1, r->tag[1], klen - (size_t)(s + 1 - k));
            if (e != NULL && e - s > 1) {
                klen = (size_t)(e - s - 1);
                k = s + 1;
            }
        }
    }
    uint32_t h = klen == 0 ? 0 : skv_hash_fnv1a_64(k, klen);
    /* First point at or after h, wrapping to the first point. */
    size_t lo = 0, hi = r->npoints;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (r->points[mid].value < h)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (hi == r->npoints)
        hi = 0;
    return r->points[hi].server;
}

size_t skv_ring_points(const struct skv_ring *r)
{
    return r->npoints;
}

uint32_t skv_ring_point(const struct skv_ring *r, size_t i, size_t *server)
{
    if (server != NULL)
        *server = r->points[i].server;
    return r->points[i].value;
}
