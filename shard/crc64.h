/* crc64.h — CRC-64/Jones as used by Redis RDB files: reflected, polynomial
 * 0xad93d23594c935a9, initial value 0, no final xor. Pure and thread-safe
 * after the first call (the tables are built once, see crc64_init). */
#ifndef SKV_SHARD_CRC64_H
#define SKV_SHARD_CRC64_H

#include <stddef.h>
#include <stdint.h>

/* Build the lookup tables. Optional: crc64_update calls it on first use, but
 * a program that computes CRCs from several threads should call it once
 * before starting them (pthread_once makes a racing first call safe too). */
void crc64_init(void);

/* Continue the CRC crc (0 to start) over buf[0..len) and return the new
 * value. Borrows buf. The check value of "123456789" is 0xe9c6d914c4b8d9ca. */
uint64_t crc64_update(uint64_t crc, const void *buf, size_t len);

#endif
