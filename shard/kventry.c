/* kventry.c — encoding of one map entry: integer parsing and formatting,
 * building, resizing and freeing entries, the expiry field, and the public
 * kventry_* accessors of kvmap.h. Runs on the owning shard's thread. */
#include "shard/kventry.h"

#include "shard/tval.h"

#include <assert.h>

_Static_assert(offsetof(struct kventry, flags) == sizeof(void *) && KVENTRY_TYPE_SHIFT == 5 &&
                   KVENTRY_TYPE_MASK == 0xE0u,
               "kvmap.h's inline kventry_type reads the type there");

static inline uint8_t *store_len(uint8_t *p, size_t len, bool wide)
{
    if (wide) {
        uint32_t v = (uint32_t)len;
        memcpy(p, &v, sizeof v);
        return p + sizeof v;
    }
    *p = (uint8_t)len;
    return p + 1;
}

/* Where vlen, then vcap, start inside data[]. */
static inline size_t vlen_off(unsigned f)
{
    return (f & KVENTRY_KLEN4) ? 4 : 1;
}

/* Record in vcap all the room e's block really has (the allocator may round
 * a request up), bounded by what the 32-bit field holds. */
static void store_room(struct kventry *e)
{
    assert(e->flags & KVENTRY_CAP);
    size_t head = KVENTRY_HDR + kventry_key_off(e->flags) + kventry_klen(e);
    size_t usable = mem_usable(e);
    assert(usable >= head + kventry_vbytes(e));
    size_t room = usable - head;
    if (room > KVENTRY_LEN_MAX)
        room = KVENTRY_LEN_MAX;
    store_len(e->data + vlen_off(e->flags) + 4, room, true);
}

size_t kventry_format_int64(int64_t v, char *buf)
{
    char tmp[KVENTRY_INT_STR_MAX];
    size_t n = 0;
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    size_t len = 0;
    if (v < 0)
        buf[len++] = '-';
    while (n)
        buf[len++] = tmp[--n];
    buf[len] = '\0';
    return len;
}

size_t kventry_strlen(const struct kventry *e)
{
    if (e->flags & KVENTRY_INT) {
        char buf[KVENTRY_INT_STR_MAX + 1];
        return kventry_format_int64(kventry_ival(e), buf);
    }
    return kventry_vbytes(e);
}

struct kventry *kventry_new(struct mem_acct *a, const void *key, size_t klen,
                            const struct kventry_val *v, int64_t expire_ms)
{
    unsigned f = 0;
    if (klen > KVENTRY_SHORT_LEN_MAX)
        f |= KVENTRY_KLEN4;
    if (v->is_int)
        f |= KVENTRY_INT | ((unsigned)v->type << KVENTRY_TYPE_SHIFT);
    else if (v->vlen > KVENTRY_SHORT_LEN_MAX)
        f |= KVENTRY_VLEN4;
    if (expire_ms != KVMAP_NO_EXPIRE)
        f |= KVENTRY_EXPIRE;
    size_t vbytes = v->is_int ? 8 : v->vlen;
    struct kventry *e = mem_alloc(a, KVENTRY_HDR + kventry_key_off(f) + klen + vbytes);
    if (!e)
        return NULL;
    assert(kv_untag(e) == e); /* the stamp's bits are free in every block address */
    e->link_ = NULL; /* no next, stamp 0 */
    e->flags = (uint8_t)f;
    uint8_t *p = store_len(e->data, klen, f & KVENTRY_KLEN4);
    if (!v->is_int)
        p = store_len(p, v->vlen, f & KVENTRY_VLEN4);
    if (f & KVENTRY_EXPIRE) {
        memcpy(p, &expire_ms, sizeof expire_ms);
        p += sizeof expire_ms;
    }
    if (klen)
        memcpy(p, key, klen);
    p += klen;
    if (v->is_int)
        memcpy(p, &v->iv, sizeof v->iv);
    else if (v->vlen && v->val)
        memcpy(p, v->val, v->vlen);
    return e;
}

void kventry_free(struct mem_acct *a, struct kventry *e)
{
    mem_free(a, e);
}

struct kventry *kventry_reserve(struct mem_acct *a, struct kventry *e, size_t need, size_t limit)
{
    unsigned f = e->flags;
    if ((f & KVENTRY_CAP) && need <= kventry_room(e))
        return e;
    char ibuf[KVENTRY_INT_STR_MAX + 1];
    size_t cur = (f & KVENTRY_INT) ? kventry_format_int64(kventry_ival(e), ibuf)
                                   : kventry_vbytes(e);
    assert(need >= cur && need <= KVENTRY_LEN_MAX);
    size_t want = need;
    if (need > cur) {
        want = need < KVENTRY_GROW_DOUBLE_MAX ? need * 2 : need + KVENTRY_GROW_DOUBLE_MAX;
        /* No room past what the limit would ever let the value use. */
        size_t cap = limit > need ? limit : need;
        if (cap > KVENTRY_LEN_MAX)
            cap = KVENTRY_LEN_MAX;
        if (want > cap)
            want = cap;
    }
    size_t klen = kventry_klen(e);
    unsigned nf = (f & ~KVENTRY_INT) | KVENTRY_VLEN4 | KVENTRY_CAP;
    size_t lens_old = kventry_lens_size(f), lens_new = kventry_lens_size(nf);
    /* Expiry, key and (string) value shift right as a block when the new
     * length fields are wider; an int's 8 bytes are replaced by its text. */
    size_t tail = ((f & KVENTRY_EXPIRE) ? 8 : 0) + klen + ((f & KVENTRY_INT) ? 0 : cur);
    struct kventry *n = mem_realloc(a, e, KVENTRY_HDR + kventry_key_off(nf) + klen + want);
    if (!n)
        return NULL;
    assert(kv_untag(n) == n);
    if (lens_new != lens_old)
        memmove(n->data + lens_new, n->data + lens_old, tail);
    n->flags = (uint8_t)nf;
    store_len(n->data + vlen_off(nf), cur, true);
    if (f & KVENTRY_INT)
        memcpy(kventry_valp(n), ibuf, cur);
    store_room(n);
    return n;
}

void kventry_set_vlen(struct kventry *e, size_t n)
{
    assert((e->flags & KVENTRY_CAP) && n <= kventry_room(e));
    store_len(e->data + vlen_off(e->flags), n, true);
}

void kventry_expire_store(struct kventry *e, int64_t expire_ms)
{
    assert(e->flags & KVENTRY_EXPIRE);
    memcpy(e->data + kventry_lens_size(e->flags), &expire_ms, sizeof expire_ms);
}

/* Key and value bytes in use (what moves when the expiry field comes or
 * goes); spare room past the value needs no copying. */
static inline size_t body_size(const struct kventry *e)
{
    return kventry_klen(e) + kventry_vbytes(e);
}

void kventry_expire_remove(struct kventry *e)
{
    assert(e->flags & KVENTRY_EXPIRE);
    size_t lens = kventry_lens_size(e->flags);
    memmove(e->data + lens, e->data + lens + 8, body_size(e));
    e->flags &= (uint8_t)~KVENTRY_EXPIRE;
    if (e->flags & KVENTRY_CAP)
        store_room(e); /* the 8 bytes join the spare room */
}

bool kventry_expire_fits(const struct kventry *e)
{
    assert(!(e->flags & KVENTRY_EXPIRE));
    return KVENTRY_HDR + kventry_key_off(e->flags) + 8 + body_size(e) <= mem_usable(e);
}

void kventry_expire_insert(struct kventry *e, int64_t expire_ms)
{
    assert(kventry_expire_fits(e));
    size_t lens = kventry_lens_size(e->flags);
    memmove(e->data + lens + 8, e->data + lens, body_size(e));
    memcpy(e->data + lens, &expire_ms, sizeof expire_ms);
    e->flags |= KVENTRY_EXPIRE;
    if (e->flags & KVENTRY_CAP)
        store_room(e); /* the field took 8 bytes of the spare room */
}

struct kventry *kventry_copy_with_expire(struct mem_acct *a, const struct kventry *e,
                                         int64_t expire_ms)
{
    assert(!(e->flags & KVENTRY_EXPIRE));
    size_t lens = kventry_lens_size(e->flags);
    size_t body = body_size(e);
    struct kventry *n = mem_alloc(a, KVENTRY_HDR + lens + 8 + body);
    if (!n)
        return NULL;
    assert(kv_untag(n) == n);
    n->link_ = e->link_; /* next and stamp */
    n->flags = (uint8_t)(e->flags | KVENTRY_EXPIRE);
    memcpy(n->data, e->data, lens);
    memcpy(n->data + lens, &expire_ms, sizeof expire_ms);
    memcpy(n->data + lens + 8, e->data + lens, body);
    if (n->flags & KVENTRY_CAP)
        store_room(n);
    return n;
}

/* ------------------------------------------------------------------------
 * Public accessors (declared in kvmap.h)
 * ------------------------------------------------------------------------ */

const char *kventry_key(const struct kventry *e, size_t *klen)
{
    *klen = kventry_klen(e);
    return (const char *)kventry_keyp(e);
}

const char *kventry_value(const struct kventry *e, char buf[21], size_t *vlen)
{
    assert(kventry_type_of(e) == TVAL_STRING);
    if (e->flags & KVENTRY_INT) {
        *vlen = kventry_format_int64(kventry_ival(e), buf);
        return buf;
    }
    *vlen = kventry_vbytes(e);
    return (const char *)kventry_keyp(e) + kventry_klen(e);
}

bool kventry_int(const struct kventry *e, int64_t *v)
{
    if (!(e->flags & KVENTRY_INT) || kventry_type_of(e) != TVAL_STRING)
        return false;
    *v = kventry_ival(e);
    return true;
}

bool kventry_has_room(const struct kventry *e)
{
    return (e->flags & KVENTRY_CAP) != 0;
}

struct tval *kventry_tval(const struct kventry *e)
{
    if (kventry_type_of(e) == TVAL_STRING)
        return NULL;
    struct tval *tv;
    memcpy(&tv, kventry_keyp(e) + kventry_klen(e), sizeof tv);
    return tv;
}

int64_t kventry_expire(const struct kventry *e)
{
    return kventry_expire_ms(e);
}
