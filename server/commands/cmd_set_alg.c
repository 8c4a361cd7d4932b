/* cmd_set_alg.c — set algebra over member views (see cmd_set_alg.h), with
 * a small open-addressing set of views for de-duplication and for the
 * membership of fetched sources. Pure; any thread. */
#include "server/commands/cmd_set_alg.h"

#include <stdlib.h>
#include <string.h>

#include "common/hash.h"

struct setalg_vset {
    const struct tset_member **slot; /* NULL = empty */
    size_t mask;                     /* slots - 1 (a power of two) */
    size_t n;                        /* members in it */
};

static bool vset_resize(struct setalg_vset *s, size_t slots)
{
    const struct tset_member **ns = calloc(slots, sizeof *ns);
    if (!ns)
        return false;
    size_t mask = slots - 1;
    if (s->slot) {
        for (size_t i = 0; i <= s->mask; i++) {
            const struct tset_member *m = s->slot[i];
            if (!m)
                continue;
            size_t j = (size_t)hash_key(m->ptr, m->len) & mask;
            while (ns[j])
                j = (j + 1) & mask;
            ns[j] = m;
        }
        free(s->slot);
    }
    s->slot = ns;
    s->mask = mask;
    return true;
}

struct setalg_vset *setalg_vset_create(size_t n)
{
    struct setalg_vset *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    size_t slots = 16;
    /* Load at most one half: probes stay short. */
    while (slots < n * 2 && slots < ((size_t)1 << 40))
        slots *= 2;
    if (!vset_resize(s, slots)) {
        free(s);
        return NULL;
    }
    return s;
}

void setalg_vset_destroy(struct setalg_vset *s)
{
    if (!s)
        return;
    free(s->slot);
    free(s);
}

static size_t vset_find(const struct setalg_vset *s, const char *p, size_t len, bool *found)
{
    size_t j = (size_t)hash_key(p, len) & s->mask;
    for (;;) {
        const struct tset_member *m = s->slot[j];
        if (!m) {
            *found = false;
            return j;
        }
        if (m->len == len && (len == 0 || memcmp(m->ptr, p, len) == 0)) {
            *found = true;
            return j;
        }
        j = (j + 1) & s->mask;
    }
}

int setalg_vset_add(struct setalg_vset *s, const struct tset_member *m)
{
    if ((s->n + 1) * 2 > s->mask + 1 && !vset_resize(s, (s->mask + 1) * 2))
        return -1;
    bool found;
    size_t j = vset_find(s, m->ptr, m->len, &found);
    if (found)
        return 0;
    s->slot[j] = m;
    s->n++;
    return 1;
}

bool setalg_vset_has(const struct setalg_vset *s, const char *p, size_t len)
{
    bool found;
    vset_find(s, p, len, &found);
    return found;
}

void setalg_src_deinit(struct setalg_src *s)
{
    setalg_vset_destroy(s->idx);
    s->idx = NULL;
    if (s->own_v) {
        free(s->v);
        s->v = NULL;
        s->own_v = false;
    }
}

/* List a local source's members when first needed. */
static int src_list(struct setalg_src *s)
{
    if (s->v || !s->tv || s->missing)
        return 0;
    if (tset_members(s->tv, &s->v, &s->n) < 0)
        return -1;
    s->own_v = true;
    return 0;
}

/* Membership in one source; -1 when out of memory building its index. */
static int src_has(struct setalg_src *s, const struct tset_member *m)
{
    if (s->missing)
        return 0;
    if (s->tv)
        return tset_has(s->tv, m->ptr, m->len) ? 1 : 0;
    if (!s->idx) {
        s->idx = setalg_vset_create(s->n);
        if (!s->idx)
            return -1;
        for (size_t i = 0; i < s->n; i++)
            if (setalg_vset_add(s->idx, &s->v[i]) < 0)
                return -1;
    }
    return setalg_vset_has(s->idx, m->ptr, m->len) ? 1 : 0;
}

int setalg_run(enum setalg_op op, struct setalg_src *src, size_t n, size_t limit,
               const struct tset_member ***res, size_t *nres)
{
    size_t cap = 0;
    *res = NULL;
    *nres = 0;
    if (n == 0)
        return 0;
    if (op == SETALG_INTER) {
        size_t small = 0;
        for (size_t i = 0; i < n; i++) {
            if (src[i].missing)
                return 0; /* with an empty set: empty */
            if (src[i].n < src[small].n)
                small = i;
        }
        cap = src[small].n;
    } else if (op == SETALG_DIFF) {
        cap = src[0].missing ? 0 : src[0].n;
    } else {
        for (size_t i = 0; i < n; i++)
            cap += src[i].missing ? 0 : src[i].n;
    }
    if (op == SETALG_INTER) {
        size_t small = 0;
        for (size_t i = 1; i < n; i++)
            if (src[i].n < src[small].n)
                small = i;
        if (src_list(&src[small]) < 0)
            return -1;
    } else {
        for (size_t i = 0; i < (op == SETALG_DIFF ? 1 : n); i++)
            if (src_list(&src[i]) < 0)
                return -1;
    }
    const struct tset_member **out = malloc((cap ? cap : 1) * sizeof *out);
    if (!out)
        return -1;
    size_t k = 0;
    int rc = 0;
    if (op == SETALG_UNION) {
        struct setalg_vset *seen = setalg_vset_create(cap);
        if (!seen) {
            free(out);
            return -1;
        }
        for (size_t i = 0; i < n && rc == 0; i++) {
            for (size_t j = 0; !src[i].missing && j < src[i].n; j++) {
                int a = setalg_vset_add(seen, &src[i].v[j]);
                if (a < 0) {
                    rc = -1;
                    break;
                }
                if (a)
                    out[k++] = &src[i].v[j];
            }
        }
        setalg_vset_destroy(seen);
    } else if (op == SETALG_INTER) {
        size_t small = 0;
        for (size_t i = 1; i < n; i++)
            if (src[i].n < src[small].n)
                small = i;
        for (size_t j = 0; j < src[small].n && rc == 0; j++) {
            const struct tset_member *m = &src[small].v[j];
            bool all = true;
            for (size_t i = 0; i < n && all; i++) {
                if (i == small)
                    continue;
                int h = src_has(&src[i], m);
                if (h < 0)
                    rc = -1;
                all = h > 0;
            }
            if (all) {
                out[k++] = m;
                if (limit && k >= limit)
                    break;
            }
        }
    } else if (!src[0].missing) {
        for (size_t j = 0; j < src[0].n && rc == 0; j++) {
            const struct tset_member *m = &src[0].v[j];
            bool any = false;
            for (size_t i = 1; i < n && !any; i++) {
                int h = src_has(&src[i], m);
                if (h < 0)
                    rc = -1;
                any = h != 0;
            }
            if (!any)
                out[k++] = m;
        }
    }
    if (rc < 0) {
        free(out);
        return -1;
    }
    *res = out;
    *nres = k;
    return 0;
}
