/* pubsub_map.h — a small chained hash map from binary-safe names to a
 * pointer, for the Pub/Sub tables (channels, patterns, a client's own
 * subscriptions). Entries never move once added, so a pointer to an
 * entry's name stays valid until the entry is deleted. Not thread-safe:
 * each map has one owner (pubsub.c says which). */
#ifndef SKV_SERVER_PUBSUB_MAP_H
#define SKV_SERVER_PUBSUB_MAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct psmap_ent {
    struct psmap_ent *next; /* bucket chain */
    uint64_t h;             /* hash_key of the name */
    void *val;              /* the owner's value */
    size_t len;             /* name length */
    char key[];             /* the name (not NUL-terminated) */
};

struct psmap {
    struct psmap_ent **b;   /* buckets, a power of two; NULL while empty */
    size_t nb;              /* bucket count */
    size_t n;               /* entries */
};

/* An empty map (allocates nothing). */
void psmap_init(struct psmap *m);
/* Free every entry (not their values) and the buckets. */
void psmap_deinit(struct psmap *m);
/* The entry named key[0..len), or NULL. Borrowed. */
struct psmap_ent *psmap_find(const struct psmap *m, const void *key, size_t len);
/* Add key (absent: check with psmap_find first) with value val; returns
 * the entry or NULL on out-of-memory (the map is unchanged). */
struct psmap_ent *psmap_add(struct psmap *m, const void *key, size_t len, void *val);
/* Unlink and free e (its value is the caller's). */
void psmap_del(struct psmap *m, struct psmap_ent *e);
/* Iterate: pass NULL to start; returns the next entry or NULL at the end.
 * The map must not change during an iteration except by deleting the
 * entry just returned, after taking the next one. */
struct psmap_ent *psmap_next(const struct psmap *m, const struct psmap_ent *e);

#endif
