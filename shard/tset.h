/* tset.h — the set type's operations on a struct tval (shard/tval.h):
 * members added, removed, looked up, visited, scanned with SSCAN's cursor,
 * and picked at random, in the three encodings Redis 7.2 uses (an intset
 * while every member is an integer, a listpack while small, a hash table
 * of members with empty values above the thresholds), converting upwards
 * only. Owner shard's thread only, like the map that holds the value. */
#ifndef SKV_SHARD_TSET_H
#define SKV_SHARD_TSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/mem.h"
#include "shard/tval.h"

enum tset_err {
    TSET_ENOMEM = -1,  /* the allocator said no; the set is unchanged */
    TSET_ETOOBIG = -2, /* an encoding's size limit; the set is unchanged */
};

/* "-9223372036854775808" and a NUL: an integer member as text. */
#define TSET_INTBUF 21

/* One member as text: a view into the set, or an integer formatted into
 * buf. ptr stays valid until the set is next modified (or the struct
 * moves, for an integer). */
struct tset_member {
    const char *ptr;        /* the member's bytes */
    size_t len;             /* their length */
    char buf[TSET_INTBUF];  /* room for an integer member's text */
};

/* A new empty set charged to a, in the encoding a first member m[0..len)
 * gets when about hint members are coming (Redis 7.2's setTypeCreate: an
 * intset for an integer, a listpack when hint and len fit its limits, else
 * a hash table). Owned by the caller (tval_free). NULL when out of memory. */
struct tval *tset_create(struct mem_acct *a, const void *m, size_t len, size_t hint);

/* Add m[0..len) (borrowed) to tv, converting the encoding first when the
 * member or the new size would not fit it. Returns 1 if added, 0 if it was
 * there, TSET_ENOMEM or TSET_ETOOBIG (tv unchanged, though a conversion
 * already done stays: it holds the same members). */
int tset_add(struct mem_acct *a, struct tval *tv, const void *m, size_t len);

/* Remove m[0..len) from tv. Returns 1 if it was there, else 0. Never
 * converts (Redis never goes back to a smaller encoding). */
int tset_remove(struct mem_acct *a, struct tval *tv, const void *m, size_t len);

/* Whether m[0..len) is a member of tv. */
bool tset_has(const struct tval *tv, const void *m, size_t len);

/* Visit every member once, in the encoding's order. fn must not modify
 * tv; the member view is valid during the call only. */
typedef void (*tset_visit_fn)(void *arg, const char *m, size_t len);
void tset_each(struct tval *tv, tset_visit_fn fn, void *arg);

/* SSCAN: visit the members at cursor and return the next cursor (0 at the
 * end). A listpack or intset is visited whole at cursor 0, as Redis does;
 * a hash table a few buckets at a time with Redis's reverse-binary cursor
 * (every member present for the whole scan is seen at least once). */
uint64_t tset_scan(struct tval *tv, uint64_t cursor, tset_visit_fn fn, void *arg);

/* A random member of a non-empty tv into *out. Returns false when tv is
 * empty. */
bool tset_random(struct tval *tv, struct tset_member *out);

/* A random number from this thread's generator, the one tset_random
 * uses (SRANDMEMBER and SPOP shuffle with it). */
uint64_t tset_rand(void);

/* Every member as a view, into *v (n of them; an array owned by the
 * caller, free()d; an integer member's text is in its own element's buf).
 * Views are valid until tv is next modified. Returns 0 or TSET_ENOMEM
 * (nothing to free then). For SPOP, SRANDMEMBER and the set algebra,
 * which need random access. */
int tset_members(struct tval *tv, struct tset_member **v, size_t *n);

/* Convert tv to enc (a larger encoding: listpack or hash table) keeping
 * its members. Returns 0 or TSET_ENOMEM (tv unchanged). Exposed for the
 * RDB loader and tests. */
int tset_convert(struct mem_acct *a, struct tval *tv, int enc);

#endif
