/* shardkv.h — libshardkv, the C client library for shardkv (and any server
 * speaking RESP2/RESP3): a synchronous client with timeouts and pipelining,
 * an asynchronous client on the caller's libuv loop, and a ketama ring that
 * places keys on several servers exactly as twemproxy does.
 *
 * Threads: a handle (struct skv_client, struct skv_async, struct skv_pool)
 * is single-threaded: every call on one handle must come from one thread at
 * a time (an async handle: from its loop's thread). Different handles may be
 * used from different threads freely; the library keeps no global state.
 * A struct skv_ring is immutable after creation and may be shared.
 *
 * Errors: functions return 0 (or a count) on success and a negative SKV_E*
 * code on failure; skv_errstr() names a code, skv_last_error() gives the
 * detail of the last failure on a handle (e.g. the server's error text). */
#ifndef SHARDKV_H
#define SHARDKV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SKV_VERSION_MAJOR 0
#define SKV_VERSION_MINOR 1
#define SKV_VERSION_PATCH 0

/* Error codes: always negative. */
enum skv_error {
    SKV_EIO = -1,       /* socket error; errno text in skv_last_error() */
    SKV_ETIMEOUT = -2,  /* connect or read timeout expired */
    SKV_EEOF = -3,      /* the server closed the connection */
    SKV_EPROTO = -4,    /* the server sent bytes that are not RESP */
    SKV_ENOMEM = -5,    /* out of memory */
    SKV_ESERVER = -6,   /* the server answered with an error reply */
    SKV_ETYPE = -7,     /* the reply had a type the helper did not expect */
    SKV_EINVAL = -8,    /* bad argument */
    SKV_ECONNECT = -9,  /* could not connect (refused, unreachable, DNS) */
    SKV_ENOTCONN = -10, /* handle is closing or the connection is broken */
    SKV_ETOOBIG = -11,  /* a reply exceeded a parser limit */
};

/* Reply types. The RESP3 ones only appear after HELLO 3. */
enum skv_reply_type {
    SKV_REPLY_STRING = 1, /* bulk string: str/len */
    SKV_REPLY_ARRAY,      /* element[0..elements) */
    SKV_REPLY_INTEGER,    /* integer */
    SKV_REPLY_NIL,        /* RESP2 null bulk/array, RESP3 null */
    SKV_REPLY_STATUS,     /* simple string (+OK): str/len */
    SKV_REPLY_ERROR,      /* error (-ERR ...) and RESP3 blob error: str/len */
    SKV_REPLY_DOUBLE,     /* dval, and its text in str/len */
    SKV_REPLY_BOOL,       /* integer is 0 or 1 */
    SKV_REPLY_MAP,        /* element holds key, value, key, value...:
                             elements is twice the number of pairs */
    SKV_REPLY_SET,        /* element[0..elements) */
    SKV_REPLY_VERBATIM,   /* str/len without the "txt:" prefix; vtype = "txt" */
    SKV_REPLY_BIGNUM,     /* digits in str/len */
    SKV_REPLY_PUSH,       /* out-of-band push: element[0..elements) */
};

/* One reply. Owned by whoever received it (see each function); free the
 * whole tree with skv_reply_free(). */
struct skv_reply {
    enum skv_reply_type type;   /* what this is */
    long long integer;          /* INTEGER value; BOOL 0/1 */
    double dval;                /* DOUBLE value */
    size_t len;                 /* bytes at str */
    char *str;                  /* STRING, STATUS, ERROR, DOUBLE, VERBATIM,
                                   BIGNUM: the bytes, NUL-terminated (the NUL
                                   is not counted in len); NULL otherwise */
    char vtype[4];              /* VERBATIM format, e.g. "txt", NUL-terminated */
    size_t elements;            /* aggregate: number of children */
    struct skv_reply **element; /* aggregate: the children, owned */
};

/* Free a reply tree; NULL is fine. */
void skv_reply_free(struct skv_reply *r);

/* Connection options. Always start from skv_options_init(). */
struct skv_options {
    int connect_timeout_ms; /* 0: none. Default 5000. Async: the TCP connect
                               only (the name lookup runs in libuv's pool) */
    int read_timeout_ms;    /* 0: none (block). Default 0. Sync: a read or
                               write that waits longer fails with
                               SKV_ETIMEOUT and leaves the connection broken.
                               Async: no byte for this long while replies are
                               owed drops the connection (pending commands
                               fail, a reconnect follows) */
    bool tcp_nodelay;       /* TCP_NODELAY on the socket. Default true */
    int reconnect_min_ms;   /* async: first reconnect delay. Default 100 */
    int reconnect_max_ms;   /* async: backoff doubles up to this. Default 5000;
                               0 in reconnect_min_ms disables reconnecting */
};

/* Fill o with the defaults above. */
void skv_options_init(struct skv_options *o);

/* Text for an error code (static storage). */
const char *skv_errstr(int code);

/* ------------------------------------------------------------------ sync */

struct skv_client;

/* Connect to host:port (name or address, IPv4 or IPv6) within
 * opts->connect_timeout_ms. opts NULL: defaults. Returns a handle, or NULL
 * with *err (if err is not NULL) set to a malloc'd message the caller frees. */
struct skv_client *skv_connect(const char *host, int port, const struct skv_options *opts,
                               char **err);

/* Close the connection and free the handle (and any unread replies). */
void skv_close(struct skv_client *c);

/* Detail of the last failure on c ("" if none); valid until the next call. */
const char *skv_last_error(const struct skv_client *c);

/* The socket, for poll(); the handle still owns it. */
int skv_fd(const struct skv_client *c);

/* Send one command (binary-safe: argvlen NULL means strlen of each) and read
 * its reply. Returns an owned reply (free with skv_reply_free; an ERROR reply
 * is a reply, not a failure), or NULL on failure with the code in *code if
 * code is not NULL. I/O failures break the connection: later calls fail. */
struct skv_reply *skv_command(struct skv_client *c, int argc, const char **argv,
                              const size_t *argvlen);
/* skv_command with the error code as result: 0 and *out set, or negative. */
int skv_command_r(struct skv_client *c, int argc, const char **argv, const size_t *argvlen,
                  struct skv_reply **out);

/* Pipelining: skv_append() encodes a command into the output buffer without
 * writing; skv_append_raw() adds bytes that are already RESP. skv_flush()
 * writes everything buffered with as few writes as possible. skv_get_reply()
 * flushes if needed and reads the next reply (owned by the caller). Returns
 * 0 or a negative code. Everything buffered is written before any reply is
 * read, so a batch whose replies overflow the kernel buffers relies on the
 * server reading on while its replies wait (Redis and shardkv do); split
 * batches of many megabytes. */
int skv_append(struct skv_client *c, int argc, const char **argv, const size_t *argvlen);
int skv_append_raw(struct skv_client *c, const void *buf, size_t len);
int skv_flush(struct skv_client *c);
int skv_get_reply(struct skv_client *c, struct skv_reply **out);

/* Helpers. Keys and values are binary-safe. A server error reply gives
 * SKV_ESERVER with its text in skv_last_error(). */
/* SET key val. Returns 0 or negative. */
int skv_set(struct skv_client *c, const void *key, size_t klen, const void *val, size_t vlen);
/* GET key. Returns 1 with *val (malloc'd, NUL-terminated for convenience,
 * caller frees) and *vlen, 0 if the key is missing, or negative. */
int skv_get(struct skv_client *c, const void *key, size_t klen, void **val, size_t *vlen);
/* DEL key. Returns 1 deleted, 0 missing, or negative. */
int skv_del(struct skv_client *c, const void *key, size_t klen);
/* MGET n keys. On 0, vals[i] is malloc'd (caller frees) or NULL for a
 * missing key, vlens[i] its length. Negative: nothing is allocated. */
int skv_mget(struct skv_client *c, size_t n, const void *const *keys, const size_t *klens,
             void **vals, size_t *vlens);
/* MSET n pairs. Returns 0 or negative. */
int skv_mset(struct skv_client *c, size_t n, const void *const *keys, const size_t *klens,
             const void *const *vals, const size_t *vlens);
/* INCRBY key by. Returns 0 with the new value in *result (may be NULL). */
int skv_incrby(struct skv_client *c, const void *key, size_t klen, int64_t by, int64_t *result);
/* EXPIRE key seconds. Returns 1 set, 0 no such key, or negative. */
int skv_expire(struct skv_client *c, const void *key, size_t klen, int64_t seconds);

/* ----------------------------------------------------------------- async */

struct skv_async;
struct uv_loop_s;

/* Called after every connection attempt (the first and each reconnect):
 * status 0 connected, negative failed (a reconnect is then scheduled unless
 * reconnecting is disabled). Runs on the loop thread. */
typedef void (*skv_async_connect_fn)(struct skv_async *ac, int status, void *data);
/* Called once per command with its reply, which the library frees after the
 * callback returns. If the connection is lost or the handle closed before the
 * reply came, reply is a synthesized SKV_REPLY_ERROR ("ERR connection lost:
 * ..." / "ERR client closed"). Never NULL. */
typedef void (*skv_async_reply_fn)(struct skv_async *ac, struct skv_reply *reply, void *privdata);

/* Start connecting on loop (never blocks: name lookup runs in libuv's pool;
 * the first address found is used).
 * cb (may be NULL) reports each attempt; data is passed to it. Returns the
 * handle or NULL on bad arguments/out of memory. */
struct skv_async *skv_async_connect(struct uv_loop_s *loop, const char *host, int port,
                                    const struct skv_options *opts, skv_async_connect_fn cb,
                                    void *data);

/* Queue a command (arguments are copied). It is written as soon as the
 * connection is up (if the current attempt fails, it fails with an error
 * reply); commands queued in one loop turn go out in one write. Returns 0
 * (cb will be called exactly once) or negative (cb never called):
 * SKV_ENOTCONN after skv_async_close or when disconnected with reconnecting
 * disabled, SKV_ENOMEM, SKV_EINVAL. */
int skv_async_command(struct skv_async *ac, int argc, const char **argv, const size_t *argvlen,
                      skv_async_reply_fn cb, void *privdata);

/* True while a connection is established. */
bool skv_async_connected(const struct skv_async *ac);

/* Close: pending callbacks get an error reply, handles are closed, and the
 * memory is freed once libuv has closed them (run the loop). Safe to call
 * from inside a callback. */
void skv_async_close(struct skv_async *ac);

/* ---------------------------------------------------------------- ketama */

/* One server of a ring. */
struct skv_server {
    const char *host; /* host as written in twemproxy's servers: list */
    int port;         /* port */
    unsigned weight;  /* twemproxy weight (>= 1) */
    const char *name; /* optional server name ("host:port:weight name"),
                         NULL: the name is "host:port", or "host" when port
                         is 11211, as twemproxy does */
};

struct skv_ring;

/* Build the ketama continuum of twemproxy's `distribution: ketama`: 160
 * points per server scaled by weight, MD5 of "<name>-<i>", four points per
 * digest. hash_tag is NULL or two characters like "{}" (twemproxy's
 * hash_tag: only the part between them is hashed when it is non-empty).
 * Copies what it needs. Returns NULL on bad arguments or out of memory. */
struct skv_ring *skv_ring_create(const struct skv_server *servers, size_t n, const char *hash_tag);
/* Free a ring; NULL is fine. */
void skv_ring_destroy(struct skv_ring *r);
/* Index of the server that owns key (twemproxy's `hash: fnv1a_64`). */
size_t skv_ring_locate(const struct skv_ring *r, const void *key, size_t klen);
/* twemproxy's hash_fnv1a_64: FNV-1a with the 64-bit offset basis and prime
 * truncated to 32 bits, bytes taken as signed char (x86). */
uint32_t skv_hash_fnv1a_64(const void *key, size_t klen);
/* Number of points on the continuum and point i's value/server (tests). */
size_t skv_ring_points(const struct skv_ring *r);
uint32_t skv_ring_point(const struct skv_ring *r, size_t i, size_t *server);

/* A pool: several servers behind one ring, one sync connection each (made
 * on first use). Single-threaded like a client. */
struct skv_pool;

/* Create a pool; nothing connects yet. Returns NULL on bad args/no memory. */
struct skv_pool *skv_pool_create(const struct skv_server *servers, size_t n, const char *hash_tag,
                                 const struct skv_options *opts);
/* The connection that owns key, connecting (or reconnecting, if the last
 * one broke) when needed. Borrowed: the pool owns it. NULL on connect
 * failure, with the reason in *code if not NULL. */
struct skv_client *skv_pool_client(struct skv_pool *p, const void *key, size_t klen, int *code);
/* Close every connection and free the pool; NULL is fine. */
void skv_pool_destroy(struct skv_pool *p);

#ifdef __cplusplus
}
#endif

#endif
