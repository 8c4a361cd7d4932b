/* zset_tree.c — the order-statistics B-tree of a big sorted set. Keys are
 * pointers to member blocks (score inside) ordered by (score, member); as
 * in a classic B-tree each key lives in exactly one node, inner nodes
 * included, so a removed member never lingers as a separator. Inner nodes
 * keep each child's element count, which makes rank and select O(log n).
 * Inserts reserve the nodes their splits need before changing anything,
 * so an allocation failure leaves the set as it was. Owner shard's thread
 * only. */
#include <assert.h>
#include <string.h>

#include "shard/zset_internal.h"

_Thread_local uint64_t zt_visits;

#define LEAF_BYTES  (sizeof(struct zt_node) + ZT_LEAF_MAX * sizeof(unsigned char *))
#define INNER_BYTES (sizeof(struct zt_inner))

static inline struct zt_inner *IN(struct zt_node *n)
{
    return (struct zt_inner *)n;
}

static inline const struct zt_inner *CIN(const struct zt_node *n)
{
    return (const struct zt_inner *)n;
}

static uint64_t sum_cnt(const struct zt_node *n, uint32_t upto)
{
    uint64_t s = 0;
    for (uint32_t i = 0; i < upto; i++)
        s += CIN(n)->cnt[i];
    return s;
}

/* Elements in the subtree of n. */
static uint64_t node_total(const struct zt_node *n)
{
    return n->leaf ? n->n : n->n + sum_cnt(n, n->n + 1u);
}

struct zset_big *zt_create(struct mem_acct *a)
{
    uint64_t bytes = 0;
    struct zset_big *z = zt_alloc(a, &bytes, sizeof *z);
    if (!z)
        return NULL;
    memset(z, 0, sizeof *z);
    z->bytes = bytes;
    return z;
}

/* ------------------------------------------------------------- searching */

/* First index i of n whose key is >= (s, m, len); *eq when it is equal. */
static uint32_t lower_bound(const struct zt_node *n, double s, const void *m, size_t len,
                            const unsigned char *self, bool *eq)
{
    uint32_t lo = 0, hi = n->n;
    *eq = false;
    while (lo < hi) {
        uint32_t mid = (lo + hi) / 2;
        const unsigned char *b = n->key[mid];
        int c;
        if (b == self) {
            c = 0;
        } else {
            size_t bl;
            const unsigned char *bm = zmem_member(b, &bl);
            c = zset_cmp(zmem_score(b), bm, bl, s, m, len);
        }
        if (c < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
            if (c == 0) {
                *eq = true;
                return mid;
            }
        }
    }
    return lo;
}

/* Lower bound of block b's own key (b may be in the tree). */
static uint32_t lower_bound_block(const struct zt_node *n, const unsigned char *b, bool *eq)
{
    size_t len;
    const unsigned char *m = zmem_member(b, &len);
    return lower_bound(n, zmem_score(b), m, len, b, eq);
}

uint64_t zt_rank(const struct zset_big *z, const unsigned char *b)
{
    uint64_t rank = 0;
    const struct zt_node *n = z->root;
    while (n) {
        zt_visits++;
        bool eq;
        uint32_t i = lower_bound_block(n, b, &eq);
        if (n->leaf) {
            assert(eq);
            return rank + i;
        }
        if (eq)
            return rank + sum_cnt(n, i + 1) + i;
        rank += sum_cnt(n, i) + i;
        n = CIN(n)->child[i];
    }
    assert(0 && "zt_rank: block not in the tree");
    return rank;
}

unsigned char *zt_select(const struct zset_big *z, uint64_t r, struct zset_path *p)
{
    struct zt_node *n = z->root;
    uint32_t d = 0;
    while (n) {
        zt_visits++;
        if (n->leaf) {
            assert(r < n->n);
            if (p) {
                p->s[d].node = n;
                p->s[d].idx = (uint32_t)r;
                p->depth = d + 1;
            }
            return n->key[r];
        }
        uint32_t i = 0;
        for (;; i++) {
            if (r < IN(n)->cnt[i])
                break;
            r -= IN(n)->cnt[i];
            assert(i < n->n);
            if (r == 0) {
                if (p) {
                    p->s[d].node = n;
                    p->s[d].idx = i;
                    p->depth = d + 1;
                }
                return n->key[i];
            }
            r--;
        }
        if (p) {
            p->s[d].node = n;
            p->s[d].idx = i;
        }
        d++;
        n = IN(n)->child[i];
    }
    return NULL;
}

uint64_t zt_count_below(const struct zset_big *z, zt_below_fn below, const void *arg)
{
    uint64_t rank = 0;
    const struct zt_node *n = z->root;
    while (n) {
        zt_visits++;
        uint32_t lo = 0, hi = n->n;
        while (lo < hi) {
            uint32_t mid = (lo + hi) / 2;
            if (below(arg, n->key[mid]))
                lo = mid + 1;
            else
                hi = mid;
        }
        if (n->leaf)
            return rank + lo;
        rank += sum_cnt(n, lo) + lo;
        n = CIN(n)->child[lo];
    }
    return rank;
}

unsigned char *zt_path_next(struct zset_path *p)
{
    if (!p->depth)
        return NULL;
    uint32_t d = p->depth - 1;
    struct zt_node *x = p->s[d].node;
    if (!x->leaf) {
        /* After key i comes the leftmost element of child i + 1. */
        uint32_t i = ++p->s[d].idx;
        struct zt_node *c = IN(x)->child[i];
        for (;;) {
            p->s[++d].node = c;
            p->s[d].idx = 0;
            if (c->leaf)
                break;
            c = IN(c)->child[0];
        }
        p->depth = d + 1;
        return c->key[0];
    }
    if (p->s[d].idx + 1u < x->n)
        return x->key[++p->s[d].idx];
    /* Up to the first ancestor with a key after the child we came from. */
    while (d > 0) {
        d--;
        if (p->s[d].idx < p->s[d].node->n) {
            p->depth = d + 1;
            return p->s[d].node->key[p->s[d].idx];
        }
    }
    p->depth = 0;
    return NULL;
}

unsigned char *zt_path_prev(struct zset_path *p)
{
    if (!p->depth)
        return NULL;
    uint32_t d = p->depth - 1;
    struct zt_node *x = p->s[d].node;
    if (!x->leaf) {
        /* Before key i comes the rightmost element of child i. */
        struct zt_node *c = IN(x)->child[p->s[d].idx];
        for (;;) {
            p->s[++d].node = c;
            if (c->leaf) {
                p->s[d].idx = c->n - 1u;
                break;
            }
            p->s[d].idx = c->n;
            c = IN(c)->child[c->n];
        }
        p->depth = d + 1;
        return c->key[c->n - 1];
    }
    if (p->s[d].idx > 0)
        return x->key[--p->s[d].idx];
    while (d > 0) {
        d--;
        if (p->s[d].idx > 0) {
            p->depth = d + 1;
            return p->s[d].node->key[--p->s[d].idx];
        }
    }
    p->depth = 0;
    return NULL;
}

/* ------------------------------------------------------------- inserting */

static struct zt_node *take_leaf(struct zset_big *z)
{
    struct zt_node *n = z->spare_leaf;
    assert(n);
    z->spare_leaf = NULL;
    n->n = 0;
    n->leaf = 1;
    return n;
}

static struct zt_node *take_inner(struct zset_big *z)
{
    struct zt_node *n = z->spare_inner;
    assert(n);
    z->spare_inner = (struct zt_node *)(void *)n->key[0];
    n->n = 0;
    n->leaf = 0;
    return n;
}

int zt_reserve(struct zset_big *z, struct mem_acct *a, double score, const void *m, size_t len)
{
    uint32_t leaves = 0, inners = 0;
    if (!z->root) {
        leaves = 1;
    } else {
        /* Splits climb from the leaf through every full node above it. */
        struct zt_node *path[ZT_MAX_DEPTH];
        uint32_t d = 0;
        struct zt_node *n = z->root;
        for (;;) {
            path[d++] = n;
            if (n->leaf)
                break;
            bool eq;
            n = IN(n)->child[lower_bound(n, score, m, len, NULL, &eq)];
        }
        if (n->n == ZT_LEAF_MAX) {
            leaves = 1;
            uint32_t i = d - 1;
            while (i > 0 && path[i - 1]->n == ZT_INNER_MAX) {
                inners++;
                i--;
            }
            if (i == 0)
                inners++; /* a new root */
        }
    }
    if (leaves && !z->spare_leaf) {
        z->spare_leaf = zt_alloc(a, &z->bytes, LEAF_BYTES);
        if (!z->spare_leaf)
            return ZSET_ENOMEM;
    }
    uint32_t have = 0;
    for (struct zt_node *s = z->spare_inner; s; s = (struct zt_node *)(void *)s->key[0])
        have++;
    while (have < inners) {
        struct zt_node *s = zt_alloc(a, &z->bytes, INNER_BYTES);
        if (!s)
            return ZSET_ENOMEM; /* the spares stay for the next try, or the destroy */
        s->key[0] = (unsigned char *)(void *)z->spare_inner;
        z->spare_inner = s;
        have++;
    }
    return 0;
}

/* Put key (and, in an inner node, child c with count cc to its right) at
 * index i of n, which has room. */
static void put(struct zt_node *n, uint32_t i, unsigned char *key, struct zt_node *c, uint64_t cc)
{
    memmove(&n->key[i + 1], &n->key[i], (n->n - i) * sizeof n->key[0]);
    n->key[i] = key;
    if (!n->leaf) {
        struct zt_inner *x = IN(n);
        memmove(&x->child[i + 2], &x->child[i + 1], (n->n - i) * sizeof x->child[0]);
        memmove(&x->cnt[i + 2], &x->cnt[i + 1], (n->n - i) * sizeof x->cnt[0]);
        x->child[i + 1] = c;
        x->cnt[i + 1] = cc;
    }
    n->n++;
}

void zt_insert(struct zset_big *z, unsigned char *b)
{
    if (!z->root) {
        z->root = take_leaf(z);
        z->height = 1;
    }
    size_t len;
    const unsigned char *m = zmem_member(b, &len);
    double s = zmem_score(b);
    struct zset_path p;
    uint32_t d = 0;
    struct zt_node *n = z->root;
    for (;;) {
        zt_visits++;
        bool eq;
        uint32_t i = lower_bound(n, s, m, len, NULL, &eq);
        assert(!eq);
        p.s[d].node = n;
        p.s[d].idx = i;
        d++;
        if (n->leaf)
            break;
        IN(n)->cnt[i]++; /* the new element lands under child i */
        n = IN(n)->child[i];
    }
    z->count++;

    /* Insert at the bottom; split upwards while a node overflows. */
    unsigned char *key = b;
    struct zt_node *right = NULL;
    uint64_t rcnt = 0;
    for (;;) {
        d--;
        n = p.s[d].node;
        uint32_t i = p.s[d].idx;
        uint32_t max = n->leaf ? ZT_LEAF_MAX : ZT_INNER_MAX;
        if (n->n < max) {
            put(n, i, key, right, rcnt);
            return;
        }
        /* Split: max + 1 keys; the left keeps half, the median goes up. */
        unsigned char *keys[ZT_LEAF_MAX + 1];
        struct zt_node *kids[ZT_INNER_MAX + 2];
        uint64_t cnts[ZT_INNER_MAX + 2];
        memcpy(keys, n->key, i * sizeof keys[0]);
        keys[i] = key;
        memcpy(keys + i + 1, n->key + i, (max - i) * sizeof keys[0]);
        if (!n->leaf) {
            memcpy(kids, IN(n)->child, (i + 1) * sizeof kids[0]);
            memcpy(cnts, IN(n)->cnt, (i + 1) * sizeof cnts[0]);
            kids[i + 1] = right;
            cnts[i + 1] = rcnt;
            memcpy(kids + i + 2, IN(n)->child + i + 1, (max - i) * sizeof kids[0]);
            memcpy(cnts + i + 2, IN(n)->cnt + i + 1, (max - i) * sizeof cnts[0]);
        }
        uint32_t L = (max + 1) / 2, R = max - L;
        struct zt_node *y = n->leaf ? take_leaf(z) : take_inner(z);
        memcpy(n->key, keys, L * sizeof keys[0]);
        memcpy(y->key, keys + L + 1, R * sizeof keys[0]);
        n->n = (uint16_t)L;
        y->n = (uint16_t)R;
        if (!n->leaf) {
            memcpy(IN(n)->child, kids, (L + 1) * sizeof kids[0]);
            memcpy(IN(n)->cnt, cnts, (L + 1) * sizeof cnts[0]);
            memcpy(IN(y)->child, kids + L + 1, (R + 1) * sizeof kids[0]);
            memcpy(IN(y)->cnt, cnts + L + 1, (R + 1) * sizeof cnts[0]);
        }
        key = keys[L];
        right = y;
        rcnt = node_total(y);
        if (d == 0) {
            struct zt_node *r = take_inner(z);
            r->n = 1;
            r->key[0] = key;
            IN(r)->child[0] = n;
            IN(r)->child[1] = y;
            IN(r)->cnt[0] = node_total(n);
            IN(r)->cnt[1] = rcnt;
            z->root = r;
            z->height++;
            return;
        }
        /* The parent counted the new element under child i; now n and y
         * share that subtree minus the median, which the parent holds. */
        IN(p.s[d - 1].node)->cnt[p.s[d - 1].idx] = node_total(n);
    }
}

/* -------------------------------------------------------------- removing */

static void free_node(struct zset_big *z, struct mem_acct *a, struct zt_node *n)
{
    zt_free(a, &z->bytes, n);
}

static void cut(struct zt_node *n, uint32_t i)
{
    memmove(&n->key[i], &n->key[i + 1], (n->n - i - 1u) * sizeof n->key[0]);
    n->n--;
}

/* Merge child s + 1 of parent P into child s, with key s between them. */
static void merge(struct zset_big *z, struct mem_acct *a, struct zt_node *P, uint32_t s)
{
    struct zt_node *A = IN(P)->child[s], *B = IN(P)->child[s + 1];
    A->key[A->n] = P->key[s];
    memcpy(&A->key[A->n + 1], B->key, B->n * sizeof B->key[0]);
    if (!A->leaf) {
        memcpy(&IN(A)->child[A->n + 1], IN(B)->child, (B->n + 1u) * sizeof IN(B)->child[0]);
        memcpy(&IN(A)->cnt[A->n + 1], IN(B)->cnt, (B->n + 1u) * sizeof IN(B)->cnt[0]);
    }
    A->n = (uint16_t)(A->n + 1 + B->n);
    IN(P)->cnt[s] += 1 + IN(P)->cnt[s + 1];
    memmove(&P->key[s], &P->key[s + 1], (P->n - s - 1u) * sizeof P->key[0]);
    memmove(&IN(P)->child[s + 1], &IN(P)->child[s + 2], (P->n - s - 1u) * sizeof IN(P)->child[0]);
    memmove(&IN(P)->cnt[s + 1], &IN(P)->cnt[s + 2], (P->n - s - 1u) * sizeof IN(P)->cnt[0]);
    P->n--;
    free_node(z, a, B);
}

/* Child pi of P fell below its minimum: borrow from a sibling or merge.
 * Returns true when P lost a key (and may be short itself). */
static bool fix(struct zset_big *z, struct mem_acct *a, struct zt_node *P, uint32_t pi)
{
    struct zt_node *x = IN(P)->child[pi];
    uint32_t min = x->leaf ? ZT_LEAF_MIN : ZT_INNER_MIN;
    if (x->n >= min)
        return false;
    struct zt_node *l = pi > 0 ? IN(P)->child[pi - 1] : NULL;
    struct zt_node *r = pi < P->n ? IN(P)->child[pi + 1] : NULL;
    if (l && l->n > min) {
        /* Rotate right: the separator comes down, l's last key goes up. */
        memmove(&x->key[1], &x->key[0], x->n * sizeof x->key[0]);
        x->key[0] = P->key[pi - 1];
        P->key[pi - 1] = l->key[l->n - 1];
        uint64_t moved = 1;
        if (!x->leaf) {
            memmove(&IN(x)->child[1], &IN(x)->child[0], (x->n + 1u) * sizeof IN(x)->child[0]);
            memmove(&IN(x)->cnt[1], &IN(x)->cnt[0], (x->n + 1u) * sizeof IN(x)->cnt[0]);
            IN(x)->child[0] = IN(l)->child[l->n];
            IN(x)->cnt[0] = IN(l)->cnt[l->n];
            moved += IN(x)->cnt[0];
        }
        l->n--;
        x->n++;
        IN(P)->cnt[pi - 1] -= moved;
        IN(P)->cnt[pi] += moved;
        return false;
    }
    if (r && r->n > min) {
        /* Rotate left. */
        x->key[x->n] = P->key[pi];
        P->key[pi] = r->key[0];
        uint64_t moved = 1;
        if (!x->leaf) {
            IN(x)->child[x->n + 1] = IN(r)->child[0];
            IN(x)->cnt[x->n + 1] = IN(r)->cnt[0];
            moved += IN(r)->cnt[0];
            memmove(&IN(r)->child[0], &IN(r)->child[1], r->n * sizeof IN(r)->child[0]);
            memmove(&IN(r)->cnt[0], &IN(r)->cnt[1], r->n * sizeof IN(r)->cnt[0]);
        }
        memmove(&r->key[0], &r->key[1], (r->n - 1u) * sizeof r->key[0]);
        r->n--;
        x->n++;
        IN(P)->cnt[pi] += moved;
        IN(P)->cnt[pi + 1] -= moved;
        return false;
    }
    merge(z, a, P, l ? pi - 1 : pi);
    return true;
}

void zt_remove(struct zset_big *z, struct mem_acct *a, unsigned char *b)
{
    struct zset_path p;
    uint32_t d = 0;
    struct zt_node *n = z->root;
    int found_at = -1;
    uint32_t found_i = 0;
    for (;;) {
        zt_visits++;
        uint32_t i;
        if (found_at < 0) {
            bool eq;
            i = lower_bound_block(n, b, &eq);
            if (eq) {
                found_at = (int)d;
                found_i = i;
                if (n->leaf) {
                    p.s[d].node = n;
                    p.s[d].idx = i;
                    d++;
                    break;
                }
                /* Replace it with its predecessor, the rightmost key of
                 * child i; that one is removed from its leaf instead. */
            }
        } else {
            i = n->leaf ? n->n - 1u : n->n;
        }
        p.s[d].node = n;
        p.s[d].idx = i;
        d++;
        if (n->leaf)
            break;
        IN(n)->cnt[i]--;
        n = IN(n)->child[i];
    }
    assert(found_at >= 0);
    z->count--;
    struct zt_node *leaf = p.s[d - 1].node;
    uint32_t li = p.s[d - 1].idx;
    if ((uint32_t)found_at != d - 1)
        p.s[found_at].node->key[found_i] = leaf->key[li];
    cut(leaf, li);

    /* Rebalance upwards. */
    for (uint32_t lv = d - 1; lv > 0; lv--) {
        if (!fix(z, a, p.s[lv - 1].node, p.s[lv - 1].idx))
            break;
    }
    struct zt_node *r = z->root;
    if (r->n == 0) {
        if (r->leaf) {
            z->root = NULL;
            z->height = 0;
        } else {
            z->root = IN(r)->child[0];
            z->height--;
        }
        free_node(z, a, r);
    }
}

/* ---------------------------------------------------------------- freeing */

bool zt_destroy_step(struct zset_big *z, struct mem_acct *a, size_t n)
{
    if (!z->dying) {
        z->dying = true;
        z->kill.depth = 0;
        if (z->root) {
            z->kill.s[0].node = z->root;
            z->kill.s[0].idx = 0;
            z->kill.depth = 1;
        }
        if (z->spare_leaf)
            free_node(z, a, z->spare_leaf);
        while (z->spare_inner) {
            struct zt_node *s = z->spare_inner;
            z->spare_inner = (struct zt_node *)(void *)s->key[0];
            free_node(z, a, s);
        }
        z->spare_leaf = NULL;
    }
    size_t work = 0;
    struct zset_path *k = &z->kill;
    while (k->depth && work < n) {
        struct zt_node *x = k->s[k->depth - 1].node;
        if (!x->leaf && k->s[k->depth - 1].idx <= x->n) {
            struct zt_node *c = IN(x)->child[k->s[k->depth - 1].idx++];
            k->s[k->depth].node = c;
            k->s[k->depth].idx = 0;
            k->depth++;
            continue;
        }
        for (uint32_t i = 0; i < x->n; i++)
            zmem_free(a, &z->bytes, x->key[i]);
        work += x->n + 1u;
        free_node(z, a, x);
        k->depth--;
    }
    if (k->depth)
        return false;
    z->root = NULL;
    /* The index's tables: a mapped one is given back 1 MB per unit of n
     * beyond what the tree took. */
    if (!zindex_destroy_step(&z->ix, a, &z->bytes, (size_t)1 << 20))
        return false;
    uint64_t bytes = z->bytes;
    zt_free(a, &bytes, z);
    return true;
}

/* ------------------------------------------------------------- checking */

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c))                                                                                  \
            return -__LINE__;                                                                      \
    } while (0)

static int cmp_blocks(const unsigned char *x, const unsigned char *y)
{
    size_t lx, ly;
    const unsigned char *mx = zmem_member(x, &lx), *my = zmem_member(y, &ly);
    return zset_cmp(zmem_score(x), mx, lx, zmem_score(y), my, ly);
}

/* Check the subtree n at depth d, keys strictly between lo and hi (NULL:
 * unbounded); *total gets its element count. */
static int check_node(const struct zset_big *z, const struct zt_node *n, uint32_t d,
                      const unsigned char *lo, const unsigned char *hi, uint64_t *total)
{
    CHECK(d < z->height);
    CHECK(n->leaf == (d + 1 == z->height));
    uint32_t max = n->leaf ? ZT_LEAF_MAX : ZT_INNER_MAX;
    uint32_t min = n->leaf ? ZT_LEAF_MIN : ZT_INNER_MIN;
    CHECK(n->n <= max);
    CHECK(d == 0 ? n->n >= 1 : n->n >= min);
    for (uint32_t i = 0; i < n->n; i++) {
        const unsigned char *k = n->key[i];
        CHECK(!(zmem_score(k) != zmem_score(k))); /* never NaN */
        CHECK(i == 0 ? (!lo || cmp_blocks(lo, k) < 0) : cmp_blocks(n->key[i - 1], k) < 0);
        size_t len;
        const unsigned char *m = zmem_member(k, &len);
        CHECK(zindex_find(&z->ix, m, len) == k);
    }
    CHECK(!hi || !n->n || cmp_blocks(n->key[n->n - 1], hi) < 0);
    if (n->leaf) {
        *total = n->n;
        return 0;
    }
    uint64_t sum = n->n;
    for (uint32_t i = 0; i <= n->n; i++) {
        uint64_t t;
        int rc = check_node(z, CIN(n)->child[i], d + 1, i ? n->key[i - 1] : lo,
                            i < n->n ? n->key[i] : hi, &t);
        if (rc)
            return rc;
        CHECK(CIN(n)->cnt[i] == t);
        sum += t;
    }
    *total = sum;
    return 0;
}

int zt_check(const struct zset_big *z)
{
    CHECK(zindex_count(&z->ix) == z->count);
    if (!z->root) {
        CHECK(z->count == 0 && z->height == 0);
        return 0;
    }
    uint64_t total;
    int rc = check_node(z, z->root, 0, NULL, NULL, &total);
    if (rc)
        return rc;
    CHECK(total == z->count);
    return 0;
}
