/* pubsub_map.c — the chained hash map behind the Pub/Sub tables (see
 * pubsub_map.h). Growth rehashes at once: the tables hold subscriptions,
 * not the keyspace, and doubling keeps the total cost linear. Runs on the
 * map owner's thread. */
#include "server/pubsub/pubsub_map.h"

#include <stdlib.h>
#include <string.h>

#include "common/hash.h"

/* First bucket array: small, since most channels have few subscribers and
 * most clients few subscriptions. */
#define PSMAP_MIN_BUCKETS 8

void psmap_init(struct psmap *m)
{
    m->b = NULL;
    m->nb = m->n = 0;
}

void psmap_deinit(struct psmap *m)
{
    for (size_t i = 0; i < m->nb; i++) {
        struct psmap_ent *e = m->b[i];
        while (e) {
            struct psmap_ent *next = e->next;
            free(e);
            e = next;
        }
    }
    free(m->b);
    psmap_init(m);
}

struct psmap_ent *psmap_find(const struct psmap *m, const void *key, size_t len)
{
    if (m->n == 0)
        return NULL;
    uint64_t h = hash_key(key, len);
    for (struct psmap_ent *e = m->b[h & (m->nb - 1)]; e; e = e->next)
        if (e->h == h && e->len == len && (len == 0 || memcmp(e->key, key, len) == 0))
            return e;
    return NULL;
}

/* Double the bucket array (or make the first one). Returns 0 or -1. */
static int grow(struct psmap *m)
{
    size_t nb = m->nb ? m->nb * 2 : PSMAP_MIN_BUCKETS;
    struct psmap_ent **b = calloc(nb, sizeof *b);
    if (!b)
        return -1;
    for (size_t i = 0; i < m->nb; i++) {
        struct psmap_ent *e = m->b[i];
        while (e) {
            struct psmap_ent *next = e->next;
            e->next = b[e->h & (nb - 1)];
            b[e->h & (nb - 1)] = e;
            e = next;
        }
    }
    free(m->b);
    m->b = b;
    m->nb = nb;
    return 0;
}

struct psmap_ent *psmap_add(struct psmap *m, const void *key, size_t len, void *val)
{
    if (m->n >= m->nb && grow(m) != 0 && m->nb == 0)
        return NULL; /* (a failed growth of a non-empty map only lengthens chains) */
    if (len > SIZE_MAX - sizeof(struct psmap_ent))
        return NULL;
    struct psmap_ent *e = malloc(sizeof *e + len);
    if (!e)
        return NULL;
    e->h = hash_key(key, len);
    e->val = val;
    e->len = len;
    if (len)
        memcpy(e->key, key, len);
    struct psmap_ent **head = &m->b[e->h & (m->nb - 1)];
    e->next = *head;
    *head = e;
    m->n++;
    return e;
}

void psmap_del(struct psmap *m, struct psmap_ent *e)
{
    struct psmap_ent **p = &m->b[e->h & (m->nb - 1)];
    while (*p != e)
        p = &(*p)->next;
    *p = e->next;
    free(e);
    m->n--;
}

struct psmap_ent *psmap_next(const struct psmap *m, const struct psmap_ent *e)
{
    size_t i = 0;
    if (e) {
        if (e->next)
            return e->next;
        i = (e->h & (m->nb - 1)) + 1;
    }
    for (; i < m->nb; i++)
        if (m->b[i])
            return m->b[i];
    return NULL;
}
