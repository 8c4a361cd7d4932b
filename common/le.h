/* le.h — little-endian loads and stores of fixed-width integers, for the
 * byte formats that Redis defines that way (listpack, intset, RDB). Pure;
 * any thread. */
#ifndef SKV_COMMON_LE_H
#define SKV_COMMON_LE_H

#include <stdint.h>

/* The uint32 stored little-endian at p[0..4). */
static inline uint32_t le_load32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Store v little-endian at p[0..4). */
static inline void le_store32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16);
    p[3] = (unsigned char)(v >> 24);
}

#endif
