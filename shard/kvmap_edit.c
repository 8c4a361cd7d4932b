/* kvmap_edit.c — the per-shard map's in-place value edits (APPEND,
 * SETRANGE): grow the entry's value where it lives instead of replacing
 * it. Split from kvmap.c, whose lookup and insert it shares through
 * kvmap_internal.h. Runs only on the owner thread. */
#include "shard/kvmap.h"

#include <assert.h>
#include <string.h>

#include "common/hash.h"
#include "shard/kventry.h"
#include "shard/kvmap_internal.h"

/* Where a key's live entry is, for commands that edit a value in place. */
struct edit_pos {
    uint64_t h;            /* hash of the key */
    struct kventry **link; /* link to the key's entry, NULL when absent */
    int ti;                /* table of that entry */
    uint64_t idx;          /* its bucket */
    bool live;             /* the entry exists and has not expired */
};

static void edit_find(struct kvmap *m, const void *key, size_t klen, int64_t now_ms,
                      struct edit_pos *p)
{
    kvmap_rehash_step(m, STEP_BUCKETS);
    p->h = hash_key_of(key, klen);
    p->ti = 0;
    p->idx = 0;
    p->link = kvmap_lookup(m, key, klen, p->h, &p->ti, &p->idx);
    p->live = p->link && !kventry_expired(kv_slot_get(p->link), now_ms);
    if (p->live)
        note_access(m, kv_slot_get(p->link), now_ms);
}

/* Store a new entry for a key whose old entry, if any, has expired: the
 * expired one is replaced (and counted) only once e exists, so running out
 * of memory before this point leaves the map as it was. */
static void edit_insert(struct kvmap *m, struct edit_pos *p, struct kventry *e)
{
    if (!p->link) {
        kvmap_insert_new(m, e, p->h);
        return;
    }
    report_event(m, KVMAP_EV_EXPIRED, kv_slot_get(p->link));
    kvmap_replace_at(m, p->ti, p->idx, p->link, e);
    m->expired++;
    report_event(m, KVMAP_EV_NEW, e);
}

/* Make room for need value bytes in the live entry at p and return it.
 * Capture comes first: kventry_reserve reallocs, which frees the old block
 * the hook would read. If the realloc fails, the segment has only been
 * captured and stamped, which changes no value: the map is unchanged. */
static struct kventry *edit_grow(struct kvmap *m, struct edit_pos *p, size_t need)
{
    struct kventry *e = kv_slot_get(p->link);
    touch(m, p->ti, p->idx);
    if (!(e->flags & KVENTRY_INT) && need <= kventry_room(e))
        return e;
    struct kventry *n = kvmap_entry_reserve(m, e, need);
    if (n)
        kv_slot_set(p->link, n); /* the block may have moved */
    return n;
}

int kvmap_append(struct kvmap *m, const void *key, size_t klen, const void *data, size_t len,
                 int64_t now_ms, size_t *newlen)
{
    ASSERT_WRITABLE(m);
    if (klen > m->max_key)
        return KVMAP_ETOOBIG;
    struct edit_pos p;
    edit_find(m, key, klen, now_ms, &p);
    /* Redis checks the type before the length (appendCommand). */
    if (p.live && kventry_type_of(kv_slot_get(p.link)) != TVAL_STRING)
        return KVMAP_EWRONGTYPE;
    if (len > m->max_value)
        return KVMAP_ETOOBIG;
    if (!p.live) {
        /* A new key is stored exactly as SET would store it. */
        struct kventry_val v = {.val = data, .vlen = len};
        if (kvmap_worth_int(data, len, &v.iv))
            v.is_int = true;
        struct kventry *e = kvmap_entry_new(m, key, klen, &v, KVMAP_NO_EXPIRE);
        if (!e)
            return KVMAP_ENOMEM;
        kventry_stamp_put(e, stamp_new(m, now_ms));
        edit_insert(m, &p, e);
        *newlen = len;
        return 0;
    }
    size_t cur = kventry_strlen(kv_slot_get(p.link));
    if (cur > m->max_value - len)
        return KVMAP_ETOOBIG;
    *newlen = cur + len;
    if (len == 0)
        return 0; /* nothing to write; an int stays an int */
    struct kventry *e = edit_grow(m, &p, cur + len);
    if (!e)
        return KVMAP_ENOMEM;
    memcpy(kventry_valp(e) + cur, data, len);
    kventry_set_vlen(e, cur + len);
    return 0;
}

int kvmap_setrange(struct kvmap *m, const void *key, size_t klen, size_t offset, const void *data,
                   size_t len, int64_t now_ms, size_t *newlen)
{
    ASSERT_WRITABLE(m);
    /* With bytes to write, the limit does not depend on the old value; with
     * none, Redis replies the length without checking it. */
    if (len > 0 && klen > m->max_key)
        return KVMAP_ETOOBIG;
    struct edit_pos p;
    edit_find(m, key, klen, now_ms, &p);
    /* Redis checks the type first (setrangeCommand). */
    if (p.live && kventry_type_of(kv_slot_get(p.link)) != TVAL_STRING)
        return KVMAP_EWRONGTYPE;
    if (len > 0 && (offset > m->max_value || len > m->max_value - offset))
        return KVMAP_ETOOBIG;
    size_t cur = p.live ? kventry_strlen(kv_slot_get(p.link)) : 0;
    if (len == 0) {
        *newlen = cur; /* Redis writes nothing and creates no key */
        return 0;
    }
    size_t end = offset + len;
    if (!p.live) {
        struct kventry_val v = {.vlen = end}; /* bytes filled below */
        if (offset == 0 && kvmap_worth_int(data, len, &v.iv))
            v.is_int = true; /* as SET would store it */
        struct kventry *e = kvmap_entry_new(m, key, klen, &v, KVMAP_NO_EXPIRE);
        if (!e)
            return KVMAP_ENOMEM;
        kventry_stamp_put(e, stamp_new(m, now_ms));
        if (!v.is_int) {
            memset(kventry_valp(e), 0, offset);
            memcpy(kventry_valp(e) + offset, data, len);
        }
        edit_insert(m, &p, e);
        *newlen = end;
        return 0;
    }
    size_t need = end > cur ? end : cur;
    struct kventry *e = edit_grow(m, &p, need);
    if (!e)
        return KVMAP_ENOMEM;
    uint8_t *v = kventry_valp(e);
    if (offset > cur)
        memset(v + cur, 0, offset - cur);
    memcpy(v + offset, data, len);
    if (need > cur)
        kventry_set_vlen(e, need);
    *newlen = need;
    return 0;
}
