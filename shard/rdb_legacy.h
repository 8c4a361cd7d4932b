/* rdb_legacy.h — the older blob encodings that Redis 7.0 still loads from
 * RDB files and RESTORE payloads for hashes: the ziplist (RDB type 13, and
 * the nodes of older lists and zsets) and the zipmap (type 9, Redis 2.x
 * hashes). We never write them; we read them, validating every byte, and
 * hand their elements to a callback. Pure: no allocation, no threads.
 *
 * Ziplist: <zlbytes u32> <zltail u32> <zllen u16> <entry>... <0xFF>, all
 * little-endian; an entry is <prevlen: 1 byte, or 0xFE + u32> <encoding>
 * <data>. Encodings: 00llllll (string, 6-bit length), 01llllll llllllll
 * (14-bit, big-endian), 10xxxxxx + u32 big-endian (32-bit length); 0xC0
 * int16, 0xD0 int32, 0xE0 int64, 0xF0 int24, 0xFE int8 (little-endian),
 * 0xF1..0xFD the integers 0..12 with no data.
 *
 * Zipmap: <count: 1 byte, 254 = unknown> (<len> field <len> <free> value
 * <free bytes>)... <0xFF>; a len is 1 byte below 254, or 254 + u32. */
#ifndef SKV_SHARD_RDB_LEGACY_H
#define SKV_SHARD_RDB_LEGACY_H

#include <stddef.h>
#include <stdint.h>

/* One element: s[0..len) is valid during the call only (an integer entry
 * arrives as its decimal text). Return 0 to go on, or a negative code to
 * stop the walk, which then returns that code. */
typedef int (*rdb_legacy_fn)(void *arg, const unsigned char *s, size_t len);

/* Corrupt blob (the walk's own error code). */
#define RDB_LEGACY_ECORRUPT (-1000)

/* Walk the ziplist blob zl[0..len): check the header (zlbytes == len, the
 * last byte 0xFF, zltail the offset of the last entry, zllen the count
 * unless 65535), every entry (inside the blob, known encoding, prevlen
 * equal to the previous entry's size), and call fn for each entry in order.
 * *count (if not NULL) gets the number of entries. Never reads outside
 * zl[0..len). Returns 0, RDB_LEGACY_ECORRUPT, or fn's code. An error may
 * come after some calls: the caller discards what it built. */
int rdb_ziplist_walk(const unsigned char *zl, size_t len, rdb_legacy_fn fn, void *arg,
                     size_t *count);

/* Walk the zipmap blob zm[0..len), calling fn for field, value, field,
 * value... Checks lengths, that the map ends exactly at its last byte
 * (0xFF), and the count byte when it is below 254. Same returns. */
int rdb_zipmap_walk(const unsigned char *zm, size_t len, rdb_legacy_fn fn, void *arg,
                    size_t *count);

#endif
