/* md5.h — MD5 (RFC 1321) for the ketama continuum of libshardkv (internal).
 * Used only to place servers on the ring, never for security. Pure. */
#ifndef SKV_CLIENT_MD5_H
#define SKV_CLIENT_MD5_H

#include <stddef.h>
#include <stdint.h>

/* Write the 16-byte MD5 digest of data[0..len) to out. */
void md5_digest(const void *data, size_t len, unsigned char out[16]);

#endif
