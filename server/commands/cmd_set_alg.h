/* cmd_set_alg.h — set algebra (SINTER, SUNION, SDIFF and their STORE and
 * CARD forms) over member views, shared by the one-shard commands (views
 * into the shard's sets, cmd_set_ops.c) and the cross-shard ones (views
 * into the members fetched from each shard, cmd_set_multi.c). Pure: the
 * calling thread owns everything it is given. */
#ifndef SKV_SERVER_CMD_SET_ALG_H
#define SKV_SERVER_CMD_SET_ALG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "protocol/resp_enc.h"
#include "shard/tset.h"

enum setalg_op {
    SETALG_INTER, /* SINTER, SINTERSTORE, SINTERCARD */
    SETALG_UNION, /* SUNION, SUNIONSTORE */
    SETALG_DIFF,  /* SDIFF, SDIFFSTORE */
};

struct setalg_vset;

/* One source key of the operation: its members as views, and a way to
 * test membership. */
struct setalg_src {
    bool missing;               /* the key does not exist: an empty set */
    struct tset_member *v;      /* its members (views), n of them; NULL with
                                   tv set: listed from tv when needed */
    size_t n;
    struct tval *tv;            /* the set itself when it is local (tset_has
                                   answers membership), else NULL */
    bool own_v;                 /* v was listed here: setalg_src_deinit frees it */
    struct setalg_vset *idx;    /* built on demand when tv is NULL; freed by
                                   setalg_src_deinit */
};

/* Free what the algebra built for s (its index, a listing of tv); a v
 * given by the caller and tv stay the caller's. */
void setalg_src_deinit(struct setalg_src *s);

/* Run op over src[0..n) (SDIFF: the first minus the others). *res gets an
 * array (owned by the caller, free()d) of pointers to the result's members
 * (views into the sources), *nres their number. limit > 0 stops after that
 * many (SINTERCARD's LIMIT). Returns 0 or -1 when out of memory. */
int setalg_run(enum setalg_op op, struct setalg_src *src, size_t n, size_t limit,
               const struct tset_member ***res, size_t *nres);

/* A set of member views, for de-duplication (SUNION, SRANDMEMBER). */
/* A new empty one sized for about n members; NULL when out of memory.
 * Owned by the caller (setalg_vset_destroy). */
struct setalg_vset *setalg_vset_create(size_t n);
void setalg_vset_destroy(struct setalg_vset *s);
/* Add m (borrowed: it must outlive the set). Returns 1 if added, 0 if an
 * equal member was there, -1 when out of memory. */
int setalg_vset_add(struct setalg_vset *s, const struct tset_member *m);
/* Whether a member equal to p[0..len) is in s. */
bool setalg_vset_has(const struct setalg_vset *s, const char *p, size_t len);

#endif
