/* tval_rdb_list.c — lists in Redis's RDB object format (the list part of
 * tval_rdb.h's codec). Written as Redis 7.0 writes them: type 18
 * (QUICKLIST_2), the node count, then per node its container (2, PACKED)
 * and its listpack as a string, or, for a node kept compressed, its LZF
 * bytes as an LZF string. Read: 18 (PACKED and PLAIN nodes), 14 (a
 * quicklist of ziplists, Redis 3.2-6.2), 10 (one ziplist) and 1 (counted
 * elements), every blob validated before use. Encoding runs on any thread
 * that may read the list, decoding on the thread that will own it. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "shard/listpack.h"
#include "shard/quicklist.h"
#include "shard/rdb.h"
#include "shard/rdb_legacy.h"
#include "shard/tval_rdb_internal.h"

/* Redis's quicklist node containers in RDB type 18. */
enum { CONTAINER_PLAIN = 1, CONTAINER_PACKED = 2 };

/* The string-encoding marker of an LZF string (0xC0 | 3). */
#define LZF_MARKER 0xC3u

static int bad(struct tval_rdb_reader *r, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int bad(struct tval_rdb_reader *r, int code, const char *fmt, ...)
{
    if (r->err && r->errlen && !r->err[0]) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(r->err, r->errlen, fmt, ap);
        va_end(ap);
    }
    return code;
}

/* ------------------------------------------------------------------ encode */

int tval_rdb_list_encode(const struct tval *tv, struct tval_rdb_buf *b)
{
    const struct quicklist *ql = tv->u.ql;
    /* Redis counts nodes; an empty list is never stored, but say 0. */
    if (tval_rdb_put_len(b, ql ? quicklist_node_count(ql) : 0))
        return TVAL_RDB_ENOMEM;
    for (const struct quicklist_node *n = ql ? quicklist_node_first(ql) : NULL; n;
         n = quicklist_node_next(n)) {
        struct quicklist_blob blob;
        quicklist_node_blob(n, &blob);
        if (tval_rdb_list_encode_node(b, &blob))
            return TVAL_RDB_ENOMEM;
    }
    return 0;
}

int tval_rdb_list_encode_node(struct tval_rdb_buf *b, const struct quicklist_blob *blob)
{
    if (tval_rdb_put_len(b, CONTAINER_PACKED))
        return TVAL_RDB_ENOMEM;
    if (!blob->compressed)
        return tval_rdb_put_string(b, blob->data, blob->len) ? TVAL_RDB_ENOMEM : 0;
    /* Redis's rdbSaveLzfBlob: marker, compressed and raw lengths. */
    unsigned char hdr[1 + 9 + 9];
    size_t h = 0;
    hdr[h++] = LZF_MARKER;
    h += rdb_encode_len(hdr + h, blob->len);
    h += rdb_encode_len(hdr + h, blob->raw_len);
    if (tval_rdb_buf_append(b, hdr, h) || tval_rdb_buf_append(b, blob->data, blob->len))
        return TVAL_RDB_ENOMEM;
    return 0;
}

/* ------------------------------------------------------------------ decode */

/* A list being built: elements pushed at the tail, or whole listpacks. */
struct lbuild {
    struct tval_rdb_reader *r;        /* the input, for messages */
    struct mem_acct *a;  /* what the list is charged to */
    struct quicklist *ql;/* the list */
};

static int push(struct lbuild *lb, const void *s, size_t n)
{
    int rc = quicklist_push(lb->a, lb->ql, QUICKLIST_TAIL, s, n);
    if (rc == QUICKLIST_ETOOBIG)
        return bad(lb->r, TVAL_RDB_ECORRUPT, "a list element of %zu bytes", n);
    if (rc < 0)
        return bad(lb->r, TVAL_RDB_ENOMEM, "out of memory building a list");
    return 0;
}

static int push_legacy(void *arg, const unsigned char *s, size_t n)
{
    return push(arg, s, n);
}

/* One ziplist blob (types 10 and 14): validated whole first, then its
 * entries pushed. */
static int load_ziplist(struct lbuild *lb, const struct tval_rdb_str *s)
{
    int rc = rdb_ziplist_walk(s->s, s->n, NULL, NULL, NULL);
    if (rc == 0)
        rc = rdb_ziplist_walk(s->s, s->n, push_legacy, lb, NULL);
    if (rc == RDB_LEGACY_ECORRUPT)
        rc = bad(lb->r, TVAL_RDB_ECORRUPT, "ziplist integrity check failed");
    return rc;
}

/* One PACKED node of type 18: a listpack, appended as a node of its own
 * (as Redis's quicklistAppendListpack); an empty one is skipped. */
static int load_listpack(struct lbuild *lb, const struct tval_rdb_str *s)
{
    if (listpack_validate(s->s, s->n, true) != 0)
        return bad(lb->r, TVAL_RDB_ECORRUPT, "listpack integrity check failed");
    if (listpack_count(s->s) == 0)
        return 0;
    unsigned char *lp = listpack_create_from(lb->a, s->s, s->n);
    if (!lp)
        return bad(lb->r, TVAL_RDB_ENOMEM, "out of memory for a %zu-byte listpack", s->n);
    if (quicklist_append_listpack(lb->a, lb->ql, lp) < 0) {
        listpack_destroy(lb->a, lp);
        return bad(lb->r, TVAL_RDB_ENOMEM, "out of memory building a list");
    }
    return 0;
}

static int load_nodes(struct lbuild *lb, int type)
{
    struct tval_rdb_reader *r = lb->r;
    struct tval_rdb_str s = {0};
    uint64_t n = 1, container = CONTAINER_PACKED;
    int rc = 0;
    if (type != RDB_TYPE_LIST_ZIPLIST && (rc = tval_rdb_read_len(r, &n)) != 0)
        return rc;
    /* Every element or node takes at least one byte of input. */
    if (n > (uint64_t)(r->end - r->p))
        return bad(r, TVAL_RDB_ECORRUPT, "%llu list entries in %zu bytes", (unsigned long long)n,
                   (size_t)(r->end - r->p));
    for (uint64_t i = 0; i < n && rc == 0; i++) {
        if (type == RDB_TYPE_LIST_QUICKLIST_2) {
            if ((rc = tval_rdb_read_len(r, &container)) != 0)
                break;
            if (container != CONTAINER_PLAIN && container != CONTAINER_PACKED) {
                rc = bad(r, TVAL_RDB_ECORRUPT, "bad quicklist container %llu",
                         (unsigned long long)container);
                break;
            }
        }
        if ((rc = tval_rdb_read_string(r, &s)) != 0)
            break;
        if (type == RDB_TYPE_LIST || container == CONTAINER_PLAIN)
            rc = push(lb, s.s, s.n);
        else if (type == RDB_TYPE_LIST_QUICKLIST_2)
            rc = load_listpack(lb, &s);
        else
            rc = load_ziplist(lb, &s);
    }
    tval_rdb_str_free(&s);
    return rc;
}

int tval_rdb_list_decode(struct tval_rdb_reader *r, int type, struct mem_acct *a,
                         const struct tval_limits *lim, struct tval **out)
{
    struct tval *tv = tval_new(a, TVAL_LIST, TVAL_ENC_QUICKLIST);
    struct quicklist *ql = tv ? quicklist_create(a, lim->list_max_listpack_size,
                                                 lim->list_compress_depth)
                              : NULL;
    if (!ql) {
        if (tv)
            tval_free(a, tv);
        return bad(r, TVAL_RDB_ENOMEM, "out of memory");
    }
    tv->u.ql = ql;
    struct lbuild lb = {r, a, ql};
    int rc = load_nodes(&lb, type);
    if (rc == 0 && quicklist_len(ql) == 0)
        rc = bad(r, TVAL_RDB_EEMPTY, "an empty list");
    if (rc) {
        /* Freed now, whatever its size: it never was in a map. */
        quicklist_destroy(a, ql);
        tv->u.ql = NULL;
        tval_free(a, tv);
        return rc;
    }
    *out = tv;
    return 0;
}
