/* reply_fifo.h — a connection's replies in request order: the FIFO of
 * reply slots (one per request; consecutive replies that complete at once
 * share one), their allocation from the worker's free list, and the buffer
 * for a reply made right now. The routing layer fills slots as requests
 * come back; conn.c writes them out. The connection's worker thread. */
#ifndef SKV_SERVER_REPLY_FIFO_H
#define SKV_SERVER_REPLY_FIFO_H

#include <stdbool.h>
#include <stdint.h>

#include "protocol/resp_enc.h"

struct conn;
struct worker;
struct fan;

/* Free slots a worker keeps for reuse. The pipelines a worker serves at
 * once (clients x depth: 25 x 64 in a redis-benchmark -c 50 -P 64 run on
 * two workers, every request of a pipeline spanning shards having its
 * own) need about this many in flight; beyond it slots go back to the
 * allocator. */
#define REPLY_FIFO_POOL_MAX 4096
/* A recycled slot (or request, route/req.c) keeps its reply buffer up
 * to this capacity, so a steady stream of small replies allocates nothing
 * (a slot coalesces a pipeline's inline replies: 16 GET replies of 32-byte
 * values take 608 bytes); 1 KiB x twice the pool bound (8 MB) is the most
 * a worker keeps this way, and only after that many were in flight at
 * once. */
#define REPLY_FIFO_BUF_KEEP 1024
/* slot.stat when no commandstats entry waits for the reply (equal to
 * exec/cmdstats.h's CMDSTAT_NONE, which it is compared with). */
#define REPLY_FIFO_STAT_NONE UINT16_MAX

/* A reply slot: one per request in a connection's FIFO. Consecutive replies
 * that complete at once share a slot (the tail's buffer grows). */
/* Reply bytes shared by several connections of one worker (a Pub/Sub
 * message to many subscribers): written from where they are, freed by the
 * last slot that holds them. Reference counts are plain: every holder is
 * on the worker that made it (slots are freed on their connection's
 * thread). */
struct shared_buf {
    uint32_t refs;       /* holders: slots, and the maker until it lets go */
    size_t len;          /* bytes in data */
    char data[];         /* the bytes */
};

/* A new shared buffer of len bytes (to fill in), one reference held by
 * the caller; NULL when out of memory. */
struct shared_buf *shared_buf_new(size_t len);
/* Drop one reference; the last frees b. NULL is fine. */
void shared_buf_unref(struct shared_buf *b);

struct slot {
    struct slot *next;   /* newer slot */
    struct rbuf out;     /* reply bytes (empty when ext is set) */
    struct shared_buf *ext; /* or: the reply is these shared bytes (a reference) */
    bool done;           /* out is complete: may be written once older slots are */
    uint16_t stat;       /* INFO commandstats entry of the command whose reply
                            begins here, counted when it completes
                            (exec/cmdstats.h), or REPLY_FIFO_STAT_NONE */
    uint64_t stat_t0;    /* its start, if this run is timed here, else 0 */
    struct fan *fan;     /* fan-out state while parts are out, else NULL */
};

/* A new slot at the tail of c's FIFO, done == false. NULL on out-of-memory. */
struct slot *reply_fifo_slot_new(struct conn *c);

/* A buffer for a reply produced right now: the tail slot if it is already
 * complete (replies coalesce), else a new completed slot. Borrowed (c's).
 * NULL on OOM. */
struct rbuf *reply_fifo_buf(struct conn *c);

/* Append a complete reply to c made of b's bytes, without copying them:
 * c's slot takes a reference. Returns 0, or -1 when out of memory. */
int reply_fifo_push_shared(struct conn *c, struct shared_buf *b);

/* A slot's reply bytes, wherever they are. */
static inline const char *slot_bytes(const struct slot *s)
{
    return s->ext ? s->ext->data : s->out.ptr;
}

/* Their length. */
static inline size_t slot_len(const struct slot *s)
{
    return s->ext ? s->ext->len : s->out.len;
}

/* Free a slot and its bytes (to the calling worker's free list while it
 * runs; small reply buffers stay attached for reuse). */
void reply_fifo_slot_free(struct slot *s);

/* Empty b for reuse, keeping a small allocation (REPLY_FIFO_BUF_KEEP). */
void reply_fifo_buf_recycle(struct rbuf *b);

/* Free every slot on w's free list. From worker_on_stop, once w->stopping
 * is set: nothing is pooled after that. */
void reply_fifo_drain(struct worker *w);

#endif
