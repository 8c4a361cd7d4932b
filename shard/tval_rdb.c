/* tval_rdb.c — the RDB object codec for hashes, sets and strings (see
 * tval_rdb.h): Redis 7.0's bytes out; every encoding Redis 7.0 loads in,
 * validated and converted to our encodings by the thresholds in force.
 * Encoding runs on any thread that may read the value; decoding on the
 * thread that will own it. */
#include "shard/tval_rdb.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shard/intset.h"
#include "shard/kvmap.h"
#include "shard/listpack.h"
#include "shard/lzf.h"
#include "shard/quicklist.h"
#include "shard/rdb.h"
#include "shard/rdb_legacy.h"
#include "shard/tval_rdb_internal.h"
#include "shard/tval_rdb_zset.h"
#include "shard/zset.h"

/* The special-encoding marker of an RDB length byte, and its encodings. */
#define ENCVAL 0xC0u
enum { ENC_INT8 = 0, ENC_INT16 = 1, ENC_INT32 = 2, ENC_LZF = 3 };
/* Redis tries integer encoding on strings of at most 11 bytes
 * ("-2147483648"); LZF is rdb_encode_lzf_string's. */
#define INT_ENC_MAX_LEN 11
/* Below this many elements duplicates in a small container are looked for
 * by a linear search per element; from it on, with a scratch map. */
#define DUP_LINEAR_MAX 64

const char *tval_rdb_strerror(int err)
{
    switch (err) {
    case 0: return "success";
    case TVAL_RDB_ENOMEM: return "out of memory";
    case TVAL_RDB_ECORRUPT: return "corrupt value";
    case TVAL_RDB_ETYPE: return "unsupported value type";
    case TVAL_RDB_EEMPTY: return "empty container";
    default: return "unknown error";
    }
}

/* ------------------------------------------------------------------ buffer */

void tval_rdb_buf_free(struct tval_rdb_buf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

/* Room for n more bytes. */
static int reserve(struct tval_rdb_buf *b, size_t n)
{
    if (b->cap - b->len >= n)
        return 0;
    if (n > SIZE_MAX / 2 - b->len)
        return TVAL_RDB_ENOMEM;
    size_t cap = b->cap ? b->cap : 256;
    while (cap - b->len < n)
        cap *= 2;
    unsigned char *p = realloc(b->p, cap);
    if (!p)
        return TVAL_RDB_ENOMEM;
    b->p = p;
    b->cap = cap;
    return 0;
}

static int put(struct tval_rdb_buf *b, const void *s, size_t n)
{
    if (reserve(b, n))
        return TVAL_RDB_ENOMEM;
    if (n)
        memcpy(b->p + b->len, s, n);
    b->len += n;
    return 0;
}

int tval_rdb_buf_append(struct tval_rdb_buf *b, const void *p, size_t n)
{
    return put(b, p, n);
}

static int put_len(struct tval_rdb_buf *b, uint64_t v)
{
    unsigned char l[9];
    return put(b, l, rdb_encode_len(l, v));
}

/* ------------------------------------------------------------------ encode */

int tval_rdb_put_string(struct tval_rdb_buf *b, const void *s, size_t len)
{
    unsigned char hdr[5]; /* an integer encoding */
    size_t n;

    if (len <= INT_ENC_MAX_LEN && (n = rdb_encode_int_string(hdr, s, len)) > 0)
        return put(b, hdr, n);
    if (!b->raw) {
        if (reserve(b, 7 + len))
            return TVAL_RDB_ENOMEM;
        if ((n = rdb_encode_lzf_string(b->p + b->len, s, len)) > 0) {
            b->len += n;
            return 0;
        }
    }
    if (put_len(b, len))
        return TVAL_RDB_ENOMEM;
    return put(b, s, len);
}

int tval_rdb_type(const struct tval *tv)
{
    if (tv->type == TVAL_LIST)
        return RDB_TYPE_LIST_QUICKLIST_2;
    if (tv->type == TVAL_ZSET)
        return tval_rdb_zset_type(tv);
    if (tv->type == TVAL_HASH)
        return tv->enc == TVAL_ENC_LISTPACK ? RDB_TYPE_HASH_LISTPACK : RDB_TYPE_HASH;
    return tv->enc == TVAL_ENC_INTSET ? RDB_TYPE_SET_INTSET : RDB_TYPE_SET;
}

/* Writes a hash table's entries: field (key) and, for a hash, value. */
struct ht_enc {
    struct tval_rdb_buf *b; /* output */
    bool values;            /* a hash: write each value after its field */
    int rc;                 /* first error */
};

static void ht_enc_one(void *arg, const struct kventry *e)
{
    struct ht_enc *x = arg;
    size_t klen, vlen;
    char ibuf[21];
    if (x->rc)
        return;
    const char *k = kventry_key(e, &klen);
    x->rc = tval_rdb_put_string(x->b, k, klen);
    if (!x->rc && x->values) {
        const char *v = kventry_value(e, ibuf, &vlen);
        x->rc = tval_rdb_put_string(x->b, v, vlen);
    }
}

int tval_rdb_encode_value(const struct tval *tv, struct tval_rdb_buf *b)
{
    if (tv->type == TVAL_ZSET)
        return tval_rdb_zset_encode(tv, b);
    switch (tv->enc) {
    case TVAL_ENC_LISTPACK:
        if (tv->type == TVAL_HASH)
            return tval_rdb_put_string(b, tv->u.lp, listpack_bytes(tv->u.lp));
        /* A set listpack goes out as a plain set: Redis 7.0 knows no set
         * listpack type. Integer entries become their text, which
         * tval_rdb_put_string integer-encodes again, as Redis would. */
        if (put_len(b, listpack_count(tv->u.lp)))
            return TVAL_RDB_ENOMEM;
        for (const unsigned char *p = listpack_first(tv->u.lp); p;
             p = listpack_next(tv->u.lp, p)) {
            char ibuf[LISTPACK_INTBUF_SIZE];
            size_t n;
            const unsigned char *s = listpack_get_text(p, ibuf, &n);
            if (tval_rdb_put_string(b, s, n))
                return TVAL_RDB_ENOMEM;
        }
        return 0;
    case TVAL_ENC_INTSET:
        return tval_rdb_put_string(b, tv->u.is, intset_blob_size(tv->u.is));
    case TVAL_ENC_HASHTABLE: {
        struct ht_enc x = {b, tv->type == TVAL_HASH, 0};
        if (put_len(b, kvmap_count(tv->u.ht)))
            return TVAL_RDB_ENOMEM;
        /* Segment by segment over both tables: each entry lives in exactly
         * one, so each is written once even mid-rehash. */
        for (int t = 0; t < 2 && !x.rc; t++) {
            size_t n = kvmap_segments(tv->u.ht, t);
            for (size_t s = 0; s < n && !x.rc; s++)
                kvmap_segment_visit(tv->u.ht, t, s, ht_enc_one, &x);
        }
        return x.rc;
    }
    case TVAL_ENC_QUICKLIST:
        return tval_rdb_list_encode(tv, b);
    default:
        return TVAL_RDB_ETYPE;
    }
}

int tval_rdb_encode(const struct tval *tv, struct tval_rdb_buf *b)
{
    unsigned char t = (unsigned char)tval_rdb_type(tv);
    if (put(b, &t, 1))
        return TVAL_RDB_ENOMEM;
    return tval_rdb_encode_value(tv, b);
}

/* EXPIRETIME_MS (when expire_ms >= 0), the type byte and the key. */
static int put_record_start(struct tval_rdb_buf *b, const void *key, size_t klen,
                            const struct tval *tv, int64_t expire_ms)
{
    if (expire_ms >= 0) {
        unsigned char e[9];
        e[0] = RDB_OPCODE_EXPIRETIME_MS;
        for (int i = 0; i < 8; i++)
            e[1 + i] = (unsigned char)((uint64_t)expire_ms >> (8 * i));
        if (put(b, e, sizeof e))
            return TVAL_RDB_ENOMEM;
    }
    unsigned char t = (unsigned char)tval_rdb_type(tv);
    if (put(b, &t, 1) || tval_rdb_put_string(b, key, klen))
        return TVAL_RDB_ENOMEM;
    return 0;
}

int tval_rdb_encode_record(struct tval_rdb_buf *b, const void *key, size_t klen,
                           const struct tval *tv, int64_t expire_ms)
{
    int rc = put_record_start(b, key, klen, tv, expire_ms);
    return rc ? rc : tval_rdb_encode_value(tv, b);
}

int tval_rdb_encode_head(struct tval_rdb_buf *b, const void *key, size_t klen,
                         const struct tval *tv, int64_t expire_ms)
{
    uint64_t n;
    if (tv->enc == TVAL_ENC_HASHTABLE)
        n = kvmap_count(tv->u.ht);
    else if (tv->enc == TVAL_ENC_SKIPLIST)
        n = zset_len(tv);
    else if (tv->enc == TVAL_ENC_QUICKLIST)
        n = tv->u.ql ? quicklist_node_count(tv->u.ql) : 0;
    else
        return TVAL_RDB_ETYPE;
    int rc = put_record_start(b, key, klen, tv, expire_ms);
    if (!rc && put_len(b, n))
        rc = TVAL_RDB_ENOMEM;
    return rc;
}

int tval_rdb_encode_element(struct tval_rdb_buf *b, bool hash, const struct kventry *e)
{
    struct ht_enc x = {b, hash, 0};
    ht_enc_one(&x, e);
    return x.rc;
}

/* ------------------------------------------------------------------ reader */

static int fail(struct tval_rdb_reader *r, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(struct tval_rdb_reader *r, int code, const char *fmt, ...)
{
    if (r->err && r->errlen && !r->err[0]) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(r->err, r->errlen, fmt, ap);
        va_end(ap);
    }
    return code;
}

static size_t left(const struct tval_rdb_reader *r)
{
    return (size_t)(r->end - r->p);
}

/* A length, or with enc not NULL a special-encoding marker (*enc true and
 * *v the encoding). */
static int get_len(struct tval_rdb_reader *r, uint64_t *v, bool *enc)
{
    if (enc)
        *enc = false;
    if (left(r) < 1)
        return fail(r, TVAL_RDB_ECORRUPT, "the value ends inside a length");
    unsigned b = *r->p++;
    switch (b >> 6) {
    case 0:
        *v = b & 0x3f;
        return 0;
    case 1:
        if (left(r) < 1)
            return fail(r, TVAL_RDB_ECORRUPT, "the value ends inside a length");
        *v = (uint64_t)(b & 0x3f) << 8 | *r->p++;
        return 0;
    case 2: {
        size_t n = b == 0x80 ? 4 : b == 0x81 ? 8 : 0;
        if (n == 0)
            return fail(r, TVAL_RDB_ECORRUPT, "bad length prefix 0x%02x", b);
        if (left(r) < n)
            return fail(r, TVAL_RDB_ECORRUPT, "the value ends inside a length");
        uint64_t x = 0;
        for (size_t i = 0; i < n; i++)
            x = x << 8 | *r->p++;
        *v = x;
        return 0;
    }
    default:
        if (!enc)
            return fail(r, TVAL_RDB_ECORRUPT, "a string encoding where a length belongs");
        *enc = true;
        *v = b & 0x3f;
        return 0;
    }
}

static int get_str(struct tval_rdb_reader *r, struct tval_rdb_str *o)
{
    uint64_t v = 0, clen, ulen; /* = 0: GCC -O3 cannot see get_len set it */
    bool enc;
    int rc = get_len(r, &v, &enc);
    if (rc)
        return rc;
    if (!enc) {
        if (v > left(r))
            return fail(r, TVAL_RDB_ECORRUPT, "a string of %llu bytes with %zu left",
                        (unsigned long long)v, left(r));
        o->s = r->p;
        o->n = (size_t)v;
        r->p += v;
        return 0;
    }
    switch (v) {
    case ENC_INT8:
    case ENC_INT16:
    case ENC_INT32: {
        size_t n = (size_t)1 << v;
        if (left(r) < n)
            return fail(r, TVAL_RDB_ECORRUPT, "the value ends inside an integer");
        uint64_t x = 0;
        for (size_t i = 0; i < n; i++)
            x |= (uint64_t)r->p[i] << (8 * i);
        r->p += n;
        int64_t iv = (int64_t)(x << (64 - 8 * n)) >> (64 - 8 * n);
        o->n = (size_t)snprintf(o->num, sizeof o->num, "%lld", (long long)iv);
        o->s = (const unsigned char *)o->num;
        return 0;
    }
    case ENC_LZF:
        if ((rc = get_len(r, &clen, NULL)) || (rc = get_len(r, &ulen, NULL)))
            return rc;
        if (clen > left(r))
            return fail(r, TVAL_RDB_ECORRUPT, "LZF data of %llu bytes with %zu left",
                        (unsigned long long)clen, left(r));
        /* The plain length is bounded by what the compressed bytes can
         * stand for: the allocation is proportional to real input. */
        if (clen == 0 || ulen == 0 || ulen > clen * LZF_MAX_EXPANSION || ulen > UINT32_MAX)
            return fail(r, TVAL_RDB_ECORRUPT, "impossible LZF lengths (%llu compressed, %llu plain)",
                        (unsigned long long)clen, (unsigned long long)ulen);
        if (o->hcap < ulen) {
            unsigned char *h = realloc(o->heap, (size_t)ulen);
            if (!h)
                return fail(r, TVAL_RDB_ENOMEM, "out of memory for a %llu-byte string",
                            (unsigned long long)ulen);
            o->heap = h;
            o->hcap = (size_t)ulen;
        }
        if (!lzf_decompress(r->p, (size_t)clen, o->heap, (size_t)ulen))
            return fail(r, TVAL_RDB_ECORRUPT, "LZF data that does not decompress");
        r->p += clen;
        o->s = o->heap;
        o->n = (size_t)ulen;
        return 0;
    default:
        return fail(r, TVAL_RDB_ECORRUPT, "unknown string encoding %llu", (unsigned long long)v);
    }
}

static void str_free(struct tval_rdb_str *o)
{
    free(o->heap);
    o->heap = NULL;
    o->hcap = 0;
}

int tval_rdb_decode_string(const unsigned char *p, size_t len, char **val, size_t *vlen,
                           size_t *used, char *err, size_t errlen)
{
    struct tval_rdb_reader r = {p, p + len, err, errlen};
    struct tval_rdb_str s = {0};
    if (err && errlen)
        err[0] = '\0';
    if (len < 1 || p[0] != RDB_TYPE_STRING)
        return fail(&r, TVAL_RDB_ETYPE, "not a string object");
    r.p++;
    int rc = get_str(&r, &s);
    if (rc == 0) {
        char *v = malloc(s.n ? s.n : 1);
        if (!v) {
            rc = fail(&r, TVAL_RDB_ENOMEM, "out of memory for a %zu-byte string", s.n);
        } else {
            if (s.n)
                memcpy(v, s.s, s.n);
            *val = v;
            *vlen = s.n;
            if (used)
                *used = (size_t)(r.p - p);
        }
    }
    str_free(&s);
    return rc;
}

/* ----------------------------------------------------------------- builder */

/* A hash or set being built from decoded elements, in the encoding Redis's
 * loader would pick: small ones compact, converted to a hash table once a
 * threshold is passed. Duplicates are refused in every encoding. */
struct build {
    struct tval_rdb_reader *r;     /* the input, for error messages */
    struct mem_acct *a;            /* what the value is charged to */
    const struct tval_limits *lim; /* thresholds */
    struct tval *tv;               /* the value so far */
    size_t n;                      /* elements (pairs for a hash) added */
    size_t maxlen;                 /* longest element so far (sets) */
    struct mem_acct seen_acct;     /* scratch account of seen */
    struct kvmap *seen;            /* a small container's elements, to find
                                      duplicates once it has DUP_LINEAR_MAX */
};

static int oom(struct build *b)
{
    return fail(b->r, TVAL_RDB_ENOMEM, "out of memory building a %zu-element value", b->n);
}

static int dup(struct build *b, const unsigned char *s, size_t n)
{
    return fail(b->r, TVAL_RDB_ECORRUPT, "duplicate %s '%.*s'",
                b->tv->type == TVAL_HASH ? "field" : "member", (int)(n > 40 ? 40 : n), s);
}

/* Free a value that never reached a map, now (no lazy queue: the caller
 * is failing and built it in the same call anyway). */
static void discard(struct mem_acct *a, struct tval *tv)
{
    if (!tv)
        return;
    if (tv->u.p) {
        switch (tv->enc) {
        case TVAL_ENC_LISTPACK: listpack_destroy(a, tv->u.lp); break;
        case TVAL_ENC_INTSET: intset_destroy(a, tv->u.is); break;
        case TVAL_ENC_HASHTABLE: kvmap_destroy(tv->u.ht); break;
        default: break;
        }
    }
    mem_free(a, tv);
}

/* Whether s[0..n) is already among a listpack's elements (fields only for
 * a hash): a linear search while the container is small, then a scratch
 * map of what was added. Returns 1 (yes), 0 (no, now recorded) or ENOMEM. */
static int seen_before(struct build *b, const unsigned char *s, size_t n)
{
    unsigned skip = b->tv->type == TVAL_HASH ? 1 : 0;
    const unsigned char *lp = b->tv->u.lp;
    if (!b->seen && b->n < DUP_LINEAR_MAX)
        return lp && listpack_find(lp, listpack_first(lp), s, n, skip) != NULL;
    if (!b->seen) {
        b->seen = kvmap_create(&b->seen_acct);
        if (!b->seen)
            return TVAL_RDB_ENOMEM;
        for (const unsigned char *p = lp ? listpack_first(lp) : NULL; p;) {
            char ibuf[LISTPACK_INTBUF_SIZE];
            size_t k;
            const unsigned char *t = listpack_get_text(p, ibuf, &k);
            if (kvmap_set(b->seen, t, k, "", 0, KVMAP_NO_EXPIRE, 0) < 0)
                return TVAL_RDB_ENOMEM;
            p = listpack_next(lp, p);
            if (p && skip)
                p = listpack_next(lp, p);
        }
    }
    int rc = kvmap_set(b->seen, s, n, "", 0, KVMAP_NO_EXPIRE, 0);
    return rc < 0 ? TVAL_RDB_ENOMEM : rc == 0;
}

/* Move a listpack or intset value into a new hash table. */
static int to_hashtable(struct build *b)
{
    struct tval *tv = b->tv;
    struct kvmap *ht = tval_table_new(b->a);
    if (!ht)
        return oom(b);
    if (tv->enc == TVAL_ENC_INTSET) {
        int64_t v;
        for (uint32_t i = 0; tv->u.is && intset_get(tv->u.is, i, &v); i++) {
            char num[24];
            int k = snprintf(num, sizeof num, "%lld", (long long)v);
            if (kvmap_set(ht, num, (size_t)k, "", 0, KVMAP_NO_EXPIRE, 0) < 0)
                goto nomem;
        }
        intset_destroy(b->a, tv->u.is);
    } else if (tv->u.lp) {
        const unsigned char *lp = tv->u.lp;
        for (const unsigned char *p = listpack_first(lp); p; p = listpack_next(lp, p)) {
            char kb[LISTPACK_INTBUF_SIZE], vb[LISTPACK_INTBUF_SIZE];
            size_t kn, vn = 0;
            const unsigned char *k = listpack_get_text(p, kb, &kn), *v = (const unsigned char *)"";
            if (tv->type == TVAL_HASH) {
                p = listpack_next(lp, p); /* validated: values pair fields */
                v = listpack_get_text(p, vb, &vn);
            }
            if (kvmap_set(ht, k, kn, v, vn, KVMAP_NO_EXPIRE, 0) < 0)
                goto nomem;
        }
        listpack_destroy(b->a, tv->u.lp);
    }
    tv->u.ht = ht;
    tv->enc = TVAL_ENC_HASHTABLE;
    return 0;
nomem:
    kvmap_destroy(ht);
    return oom(b);
}

static int ht_add(struct build *b, const unsigned char *k, size_t kn, const unsigned char *v,
                  size_t vn)
{
    if (!b->tv->u.ht && !(b->tv->u.ht = tval_table_new(b->a)))
        return oom(b);
    int rc = kvmap_set(b->tv->u.ht, k, kn, v, vn, KVMAP_NO_EXPIRE, 0);
    if (rc < 0)
        return oom(b);
    if (rc == 0)
        return dup(b, k, kn);
    b->n++;
    return 0;
}

/* Append to the listpack (created on first use); ETOOBIG is reported as 1
 * so that the caller converts instead. */
static int lp_append(struct build *b, const unsigned char *s, size_t n)
{
    if (!b->tv->u.lp && !(b->tv->u.lp = listpack_create(b->a)))
        return oom(b);
    int rc = listpack_append(b->a, &b->tv->u.lp, s, n);
    if (rc == LISTPACK_ETOOBIG)
        return 1;
    return rc < 0 ? oom(b) : 0;
}

/* Add one field and value (Redis's RDB_TYPE_HASH loading rules: a field or
 * value over hash-max-listpack-value, or more fields than
 * hash-max-listpack-entries, makes it a hash table). */
static int hash_add(struct build *b, const unsigned char *f, size_t fn, const unsigned char *v,
                    size_t vn)
{
    int rc;
    if (b->tv->enc == TVAL_ENC_LISTPACK) {
        if (fn > b->lim->hash_max_listpack_value || vn > b->lim->hash_max_listpack_value ||
            b->n + 1 > b->lim->hash_max_listpack_entries) {
            if ((rc = to_hashtable(b)))
                return rc;
        } else {
            if ((rc = seen_before(b, f, fn)) != 0)
                return rc < 0 ? oom(b) : dup(b, f, fn);
            size_t before = b->tv->u.lp ? listpack_bytes(b->tv->u.lp) : 0;
            if ((rc = lp_append(b, f, fn)) < 0)
                return rc;
            if (rc == 0 && (rc = lp_append(b, v, vn)) < 0)
                return rc;
            if (rc == 0) {
                b->n++;
                return 0;
            }
            /* Over the listpack's size limit: drop a half-added pair and
             * convert. Never happens with sane thresholds. */
            if (before && listpack_bytes(b->tv->u.lp) != before)
                listpack_delete(b->a, &b->tv->u.lp, listpack_last(b->tv->u.lp), NULL);
            if ((rc = to_hashtable(b)))
                return rc;
        }
    }
    return ht_add(b, f, fn, v, vn);
}

/* Add one set member (Redis 7.2's RDB_TYPE_SET loading rules: an intset
 * while every member is an integer and there are at most
 * set-max-intset-entries, else a listpack while small, else a hash
 * table). */
static int set_add(struct build *b, const unsigned char *s, size_t n)
{
    struct tval *tv = b->tv;
    int rc;
    if (n > b->maxlen)
        b->maxlen = n;
    if (tv->enc == TVAL_ENC_INTSET) {
        int64_t v;
        if (listpack_string_to_int64(s, n, &v)) {
            bool added;
            if (!tv->u.is && !(tv->u.is = intset_create(b->a)))
                return oom(b);
            if (intset_add(b->a, &tv->u.is, v, &added) < 0)
                return oom(b);
            if (!added)
                return dup(b, s, n);
            b->n++;
            return 0;
        }
        if (b->n < b->lim->set_max_listpack_entries && b->maxlen <= b->lim->set_max_listpack_value) {
            /* intset -> listpack, keeping the order of the integers. */
            unsigned char *lp = listpack_create(b->a);
            int64_t x;
            if (!lp)
                return oom(b);
            for (uint32_t i = 0; tv->u.is && intset_get(tv->u.is, i, &x); i++)
                if (listpack_append_int(b->a, &lp, x) < 0) {
                    listpack_destroy(b->a, lp);
                    return oom(b);
                }
            intset_destroy(b->a, tv->u.is);
            tv->u.lp = lp;
            tv->enc = TVAL_ENC_LISTPACK;
        } else if ((rc = to_hashtable(b))) {
            return rc;
        }
    }
    if (tv->enc == TVAL_ENC_LISTPACK) {
        if (b->n < b->lim->set_max_listpack_entries && n <= b->lim->set_max_listpack_value) {
            if ((rc = seen_before(b, s, n)) != 0)
                return rc < 0 ? oom(b) : dup(b, s, n);
            if ((rc = lp_append(b, s, n)) < 0)
                return rc;
            if (rc == 0) {
                b->n++;
                return 0;
            }
        }
        if ((rc = to_hashtable(b)))
            return rc;
    }
    return ht_add(b, s, n, (const unsigned char *)"", 0);
}

/* ----------------------------------------------------------------- loaders */

/* RDB_TYPE_HASH and RDB_TYPE_SET: a count, then strings. */
static int load_counted(struct build *b, bool hash)
{
    struct tval_rdb_str k = {0}, v = {0};
    uint64_t n;
    int rc = get_len(b->r, &n, NULL);
    if (rc)
        return rc;
    if (n == 0)
        return fail(b->r, TVAL_RDB_EEMPTY, "an empty %s", hash ? "hash" : "set");
    /* Every string takes at least one byte: a count the input cannot hold
     * is refused before anything is built. */
    if (n > left(b->r) / (hash ? 2 : 1))
        return fail(b->r, TVAL_RDB_ECORRUPT, "%llu elements in %zu bytes", (unsigned long long)n,
                    left(b->r));
    if (hash ? n > b->lim->hash_max_listpack_entries : n > b->lim->set_max_intset_entries)
        b->tv->enc = TVAL_ENC_HASHTABLE;
    for (uint64_t i = 0; i < n && rc == 0; i++) {
        if ((rc = get_str(b->r, &k)) != 0)
            break;
        if (hash) {
            if ((rc = get_str(b->r, &v)) == 0)
                rc = hash_add(b, k.s, k.n, v.s, v.n);
        } else {
            rc = set_add(b, k.s, k.n);
        }
    }
    str_free(&k);
    str_free(&v);
    return rc;
}

/* Elements of a legacy blob or listpack, handed to the builder: fields are
 * copied until their value arrives. */
struct feed {
    struct build *b;      /* the builder */
    bool hash;            /* pairs */
    bool have_field;      /* field holds a field waiting for its value */
    unsigned char *field; /* a copy of it (malloc'd) */
    size_t flen;          /* its length */
    size_t fcap;          /* room in field */
};

static int feed_one(void *arg, const unsigned char *s, size_t n)
{
    struct feed *f = arg;
    if (!f->hash)
        return set_add(f->b, s, n);
    if (!f->have_field) {
        if (f->fcap < n) {
            unsigned char *p = realloc(f->field, n);
            if (!p)
                return oom(f->b);
            f->field = p;
            f->fcap = n;
        }
        if (n)
            memcpy(f->field, s, n);
        f->flen = n;
        f->have_field = true;
        return 0;
    }
    f->have_field = false;
    return hash_add(f->b, f->field, f->flen, s, n);
}

/* A blob type: HASH_LISTPACK, SET_LISTPACK, HASH_ZIPLIST, HASH_ZIPMAP. */
static int load_blob(struct build *b, int type)
{
    struct tval_rdb_str s = {0};
    struct feed f = {b, b->tv->type == TVAL_HASH, false, NULL, 0, 0};
    const char *what = type == RDB_TYPE_HASH_ZIPMAP    ? "zipmap"
                       : type == RDB_TYPE_HASH_ZIPLIST ? "ziplist"
                                                       : "listpack";
    size_t count = 0;
    int rc = get_str(b->r, &s);
    if (rc)
        goto out;
    if (type == RDB_TYPE_HASH_ZIPLIST || type == RDB_TYPE_HASH_ZIPMAP) {
        /* Walk once to validate and count, then build. */
        rc = type == RDB_TYPE_HASH_ZIPLIST ? rdb_ziplist_walk(s.s, s.n, NULL, NULL, &count)
                                           : rdb_zipmap_walk(s.s, s.n, NULL, NULL, &count);
        if (rc == 0 && type == RDB_TYPE_HASH_ZIPMAP)
            count *= 2; /* pairs */
    } else {
        rc = listpack_validate(s.s, s.n, true);
        if (rc == 0)
            count = listpack_count(s.s);
    }
    if (rc) {
        rc = fail(b->r, TVAL_RDB_ECORRUPT, "%s integrity check failed", what);
        goto out;
    }
    if (f.hash && count % 2) {
        rc = fail(b->r, TVAL_RDB_ECORRUPT, "a hash %s with an odd number of entries", what);
        goto out;
    }
    if (count == 0) {
        rc = fail(b->r, TVAL_RDB_EEMPTY, "an empty %s", f.hash ? "hash" : "set");
        goto out;
    }
    if (f.hash ? count / 2 > b->lim->hash_max_listpack_entries
               : count > b->lim->set_max_listpack_entries)
        b->tv->enc = TVAL_ENC_HASHTABLE;
    if (type == RDB_TYPE_HASH_ZIPLIST)
        rc = rdb_ziplist_walk(s.s, s.n, feed_one, &f, NULL);
    else if (type == RDB_TYPE_HASH_ZIPMAP)
        rc = rdb_zipmap_walk(s.s, s.n, feed_one, &f, NULL);
    else
        for (const unsigned char *p = listpack_first(s.s); p && rc == 0;
             p = listpack_next(s.s, p)) {
            char ibuf[LISTPACK_INTBUF_SIZE];
            size_t n;
            const unsigned char *t = listpack_get_text(p, ibuf, &n);
            rc = feed_one(&f, t, n);
        }
    if (rc == RDB_LEGACY_ECORRUPT)
        rc = fail(b->r, TVAL_RDB_ECORRUPT, "%s integrity check failed", what);
out:
    free(f.field);
    str_free(&s);
    return rc;
}

/* SET_INTSET: the blob as is, or a hash table over set-max-intset-entries. */
static int load_intset(struct build *b)
{
    struct tval_rdb_str s = {0};
    int rc = get_str(b->r, &s);
    if (rc)
        ; /* s may hold a buffer already: freed below */
    else if (intset_validate(s.s, s.n, true) != 0) {
        rc = fail(b->r, TVAL_RDB_ECORRUPT, "intset integrity check failed");
    } else if (!(b->tv->u.is = intset_create_from(b->a, s.s, s.n))) {
        rc = oom(b);
    } else {
        b->n = intset_len(b->tv->u.is);
        if (b->n > b->lim->set_max_intset_entries)
            rc = to_hashtable(b);
    }
    str_free(&s);
    return rc;
}

int tval_rdb_decode(struct mem_acct *a, const unsigned char *p, size_t len,
                    const struct tval_limits *lim, struct tval **out, size_t *used, char *err,
                    size_t errlen)
{
    struct tval_rdb_reader r = {p, p + len, err, errlen};
    struct tval_limits own;
    int rc;

    if (err && errlen)
        err[0] = '\0';
    if (!lim) {
        tval_limits_get(&own);
        lim = &own;
    }
    if (len < 1)
        return fail(&r, TVAL_RDB_ECORRUPT, "no type byte");
    int type = *r.p++;
    int vtype, enc;
    if (tval_rdb_zset_type_known(type)) {
        rc = tval_rdb_zset_decode(a, type, r.p, left(&r), lim, out, used, err, errlen);
        if (rc == 0 && used)
            (*used)++; /* the type byte */
        return rc;
    }
    switch (type) {
    case RDB_TYPE_HASH:
    case RDB_TYPE_HASH_LISTPACK:
    case RDB_TYPE_HASH_ZIPLIST:
    case RDB_TYPE_HASH_ZIPMAP:
        vtype = TVAL_HASH;
        enc = TVAL_ENC_LISTPACK;
        break;
    case RDB_TYPE_SET:
    case RDB_TYPE_SET_INTSET:
        vtype = TVAL_SET;
        enc = TVAL_ENC_INTSET;
        break;
    case TVAL_RDB_TYPE_SET_LISTPACK:
        vtype = TVAL_SET;
        enc = TVAL_ENC_LISTPACK;
        break;
    case RDB_TYPE_LIST:
    case RDB_TYPE_LIST_ZIPLIST:
    case RDB_TYPE_LIST_QUICKLIST:
    case RDB_TYPE_LIST_QUICKLIST_2:
        rc = tval_rdb_list_decode(&r, type, a, lim, out);
        if (rc == 0 && used)
            *used = (size_t)(r.p - p);
        return rc;
    default:
        return fail(&r, TVAL_RDB_ETYPE, "RDB type %d is not a hash, a set or a list", type);
    }
    struct build b = {.r = &r, .a = a, .lim = lim};
    if (!(b.tv = tval_new(a, vtype, enc)))
        return fail(&r, TVAL_RDB_ENOMEM, "out of memory");
    switch (type) {
    case RDB_TYPE_HASH: rc = load_counted(&b, true); break;
    case RDB_TYPE_SET: rc = load_counted(&b, false); break;
    case RDB_TYPE_SET_INTSET: rc = load_intset(&b); break;
    default: rc = load_blob(&b, type); break;
    }
    if (b.seen)
        kvmap_destroy(b.seen);
    if (rc == 0 && !b.tv->u.p)
        rc = fail(&r, TVAL_RDB_EEMPTY, "an empty value");
    if (rc) {
        discard(a, b.tv);
        return rc;
    }
    *out = b.tv;
    if (used)
        *used = (size_t)(r.p - p);
    return 0;
}

/* ------------------------------------------------ for the type codecs */

int tval_rdb_read_len(struct tval_rdb_reader *r, uint64_t *v)
{
    return get_len(r, v, NULL);
}

int tval_rdb_read_string(struct tval_rdb_reader *r, struct tval_rdb_str *o)
{
    return get_str(r, o);
}

void tval_rdb_str_free(struct tval_rdb_str *o)
{
    str_free(o);
}

int tval_rdb_put_len(struct tval_rdb_buf *b, uint64_t v)
{
    return put_len(b, v);
}
