/* listpack.h — Redis's listpack: a compact, contiguous list of strings and
 * integers, byte for byte as Redis 7.0 lays it out, so that the blob of a
 * small hash or set can go into an RDB file as-is and one read from a Redis
 * RDB file can be used as-is. Pure: no threads, no global state; a listpack
 * belongs to one thread at a time (its shard), and a read-only listpack may
 * be read by several.
 *
 * Layout (all integers little-endian):
 *
 *   <total bytes: u32> <count: u16, 65535 = "unknown, walk to count">
 *   <entry> ... <0xFF>
 *
 * An entry is <encoding + data> <backlen>. The first byte says what follows:
 *
 *   0xxxxxxx              integer 0..127
 *   10llllll <l bytes>    string up to 63 bytes
 *   110xxxxx xxxxxxxx     integer, 13-bit two's complement (-4096..4095)
 *   1110llll llllllll     string up to 4095 bytes (12-bit length, big end first)
 *   0xF0 <u32 len>        string up to 2^32-1 bytes
 *   0xF1 / 0xF2 / 0xF3 / 0xF4   integer in 2 / 3 / 4 / 8 bytes
 *   0xF5..0xFE            never used; 0xFF ends the listpack
 *
 * The backlen is the size of <encoding + data> in 1..5 bytes of 7 bits each,
 * written so that it reads right to left: the rightmost byte holds the low
 * 7 bits and every byte but the leftmost has its top bit set. It is what
 * makes walking backwards possible. */
#ifndef SKV_SHARD_LISTPACK_H
#define SKV_SHARD_LISTPACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mem_acct;

/* Header: 4-byte total size and 2-byte count; then at least the 0xFF end. */
#define LISTPACK_HDR_SIZE   6
#define LISTPACK_EMPTY_SIZE (LISTPACK_HDR_SIZE + 1)
/* The count field saturates here: the real count is found by walking. */
#define LISTPACK_COUNT_UNKNOWN 65535
/* "-9223372036854775808" and a NUL: the longest integer as text. */
#define LISTPACK_INTBUF_SIZE 21
/* The total size is a u32, so no listpack (nor string in one) is larger. */
#define LISTPACK_MAX_BYTES UINT32_MAX

enum listpack_err {
    LISTPACK_ENOMEM = -1,   /* the allocator said no; the listpack is unchanged */
    LISTPACK_ETOOBIG = -2,  /* the result would exceed LISTPACK_MAX_BYTES; unchanged */
    LISTPACK_ECORRUPT = -3, /* listpack_validate: the blob is not a valid listpack */
};

/* Where listpack_insert puts the new entry relative to the given one. */
enum listpack_where {
    LISTPACK_BEFORE,
    LISTPACK_AFTER,
};

/* One entry's value, as listpack_get reads it: a string view into the
 * listpack, or an integer. Valid until the listpack is next modified. */
struct listpack_entry {
    const unsigned char *str; /* the string's bytes; NULL when the entry is an integer */
    uint32_t len;             /* the string's length (0 for an integer) */
    int64_t num;              /* the integer (0 for a string) */
};

/* Human-readable text for a LISTPACK_E* code. Static string. */
const char *listpack_strerror(int err);

/* Whether s[0..len) is exactly the decimal text of an int64: an optional
 * '-', no leading zeros (but "0"), no spaces, no "+", not "-0", in range.
 * Such strings are stored as integers (Redis's lpStringToInt64 rules), and
 * only such strings, so that reading an entry back gives the same bytes.
 * On true, *out (if not NULL) holds the value. Pure. */
bool listpack_string_to_int64(const void *s, size_t len, int64_t *out);

/* ---- creating and freeing (the owner's thread) ---- */

/* A new empty listpack (7 bytes) charged to a. Returns NULL when out of
 * memory. The caller owns it and frees it with listpack_destroy. */
unsigned char *listpack_create(struct mem_acct *a);

/* A copy of blob[0..len) charged to a, for a blob that listpack_validate
 * accepted with deep = true (an RDB payload, say). Returns NULL when out of
 * memory or len is 0. The caller owns it. */
unsigned char *listpack_create_from(struct mem_acct *a, const void *blob, size_t len);

/* Free lp (NULL is fine), uncharging it from a. */
void listpack_destroy(struct mem_acct *a, unsigned char *lp);

/* ---- reading (any thread that may read lp; lp must be valid) ---- */

/* Size in bytes: what goes into an RDB string as-is. */
uint32_t listpack_bytes(const unsigned char *lp);

/* Number of entries. O(1) while it is under 65535, otherwise a walk (the
 * header is not updated: lp may be shared with readers). */
uint32_t listpack_count(const unsigned char *lp);

/* First / last entry, or NULL when lp is empty. */
const unsigned char *listpack_first(const unsigned char *lp);
const unsigned char *listpack_last(const unsigned char *lp);

/* The entry after / before p (an entry of lp), or NULL at either end. */
const unsigned char *listpack_next(const unsigned char *lp, const unsigned char *p);
const unsigned char *listpack_prev(const unsigned char *lp, const unsigned char *p);

/* The entry at index (0 = first, -1 = last, -2 the one before), or NULL
 * when out of range. Walks from the nearer end when the count is known. */
const unsigned char *listpack_seek(const unsigned char *lp, int64_t index);

/* Read the entry at p into *e (a view into lp). */
void listpack_get(const unsigned char *p, struct listpack_entry *e);

/* The entry at p as text: a view into lp for a string, or the integer's
 * decimal text written into buf. Sets *len; returns the bytes. */
const unsigned char *listpack_get_text(const unsigned char *p, char buf[LISTPACK_INTBUF_SIZE],
                                       size_t *len);

/* Whether the entry at p is the string s[0..len) (an integer entry equals
 * its decimal text, as Redis compares). */
bool listpack_entry_eq(const unsigned char *p, const void *s, size_t len);

/* The first entry from p on (p included) that equals s[0..len), looking
 * at p and then every (skip + 1)-th entry after it: skip = 1 from the first
 * entry visits only the fields of a hash's field/value pairs. NULL when
 * there is none. p may be NULL (then NULL). */
const unsigned char *listpack_find(const unsigned char *lp, const unsigned char *p, const void *s,
                                   size_t len, unsigned skip);

/* ---- modifying (the owner's thread). Each takes *lp, which may move: on
 * success *lp is the new address and any entry pointer into the old one is
 * stale, except the one handed back. On error *lp is unchanged. ---- */

/* Append s[0..len) at the end; an integer-looking string (see
 * listpack_string_to_int64) is stored as an integer. Returns 0,
 * LISTPACK_ENOMEM or LISTPACK_ETOOBIG. */
int listpack_append(struct mem_acct *a, unsigned char **lp, const void *s, size_t len);

/* Append the integer v. Same returns. */
int listpack_append_int(struct mem_acct *a, unsigned char **lp, int64_t v);

/* Insert s[0..len) before or after the entry p of *lp. *newp (if not
 * NULL) is set to the new entry. Same returns. */
int listpack_insert(struct mem_acct *a, unsigned char **lp, const unsigned char *p,
                    enum listpack_where where, const void *s, size_t len,
                    const unsigned char **newp);

/* Replace the entry p of *lp with s[0..len) / with the integer v. *newp
 * (if not NULL) is set to the replacement. Same returns. */
int listpack_replace(struct mem_acct *a, unsigned char **lp, const unsigned char *p, const void *s,
                     size_t len, const unsigned char **newp);
int listpack_replace_int(struct mem_acct *a, unsigned char **lp, const unsigned char *p, int64_t v,
                         const unsigned char **newp);

/* Delete the entry p of *lp. *nextp (if not NULL) is set to the entry that
 * followed it, or NULL if it was the last. Never fails (a shrink that the
 * allocator refuses keeps the larger block). */
void listpack_delete(struct mem_acct *a, unsigned char **lp, const unsigned char *p,
                     const unsigned char **nextp);

/* ---- untrusted input ---- */

/* Check that blob[0..len) (an RDB string, a RESTORE payload) is a listpack:
 * the header's size equals len, the last byte is 0xFF and, when deep, that
 * every entry has a known encoding, lies inside the blob, and carries the
 * exact backlen Redis writes for it, that the entries end at the 0xFF, and
 * that the header's count (unless 65535) is their number. Never reads
 * outside blob[0..len). Only a blob accepted with deep = true may be
 * iterated. Returns 0 or LISTPACK_ECORRUPT. Pure. */
int listpack_validate(const void *blob, size_t len, bool deep);

#endif
