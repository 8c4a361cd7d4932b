/* snapshot_internal.h — what shard/snapshot.c and shard/snapshot_big.c
 * share: the snapshot, its parts and chunks. Not for other modules. */
#ifndef SKV_SHARD_SNAPSHOT_INTERNAL_H
#define SKV_SHARD_SNAPSHOT_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "shard/kvmap.h"
#include "shard/rdb.h"
#include "shard/snapshot.h"
#include "shard/tval_rdb.h"

struct snap_big;

/* Target chunk size: big enough that the writer's per-chunk work (lock,
 * maybe a SELECTDB) is noise, small enough that a chunk is written soon
 * after it fills. A record bigger than this gets a chunk of its own. */
#define SNAP_CHUNK_BYTES ((size_t)64 * 1024)
/* Segments the cursor walks between clock reads: a segment check costs a
 * few ns, a capture a few us, so 16 keeps a slice within ~50 us of budget. */
#define SNAP_CLOCK_EVERY 16
/* The writer asks the kernel to start writing back every this many bytes
 * (Redis's REDIS_AUTOSYNC_BYTES is 4 MB too): dirty pages never pile up,
 * so neither write() stalls in the kernel's dirty throttling, letting
 * chunks queue up in memory, nor does the final fsync take seconds. */
#define SNAP_WRITEBACK_BYTES ((uint64_t)4 << 20)
/* Period of the cursor's slices on a shard loop (libuv timers count ms). */
#define SNAP_TICK_MS 1

/* Records of one database, encoded on a shard thread, written by the
 * writer thread. */
struct snap_chunk {
    struct snap_chunk *next; /* queue link */
    uint32_t db;             /* database of every record in data */
    struct snap_big *big;    /* non-NULL: data is a big container's record
                                head; its elements follow from big */
    uint64_t keys;           /* records in data */
    size_t len;              /* bytes used */
    size_t cap;              /* bytes allocated in data */
    unsigned char data[];    /* rdb_encode_string records */
};

struct snap {
    char *path;                   /* final file name */
    char *tmp_path;               /* the file being written */
    int fd;                       /* tmp_path, owned by the writer thread */
    uint64_t written;             /* bytes written to fd (writer thread) */
    uint64_t synced;              /* bytes handed to writeback so far */
    int sink_err;                 /* -errno of the write that failed (writer
                                     thread): the rdb writer reports only
                                     RDB_EIO, the log must name the cause */
    unsigned nparts;              /* parts expected */
    int64_t ctime_s;              /* AUX ctime */
    uint64_t used_mem;            /* AUX used-mem */
    void *functions;              /* function records (snap_opts), owned */
    size_t functions_len;
    size_t queue_limit;           /* cursor pause threshold */
    uint64_t slice_ns;            /* driver slice budget */
    bool compress;                /* see snap_opts */
    void (*on_done)(void *, struct snap *, int); /* see snap_opts */
    void *arg;                    /* on_done's argument */
    uv_thread_t writer;           /* the writer thread */

    uv_mutex_t lock;              /* guards head, tail, parts_done */
    uv_cond_t cond;               /* signalled on a new chunk or a finished part */
    struct snap_chunk *head;      /* queued chunks, oldest first */
    struct snap_chunk *tail;      /* newest queued chunk */
    unsigned parts_done;          /* parts that have pushed their last chunk */

    _Atomic size_t queued;        /* record bytes queued (cursor backpressure;
                                     each chunk holds at most 64 KB more) */
    _Atomic size_t queue_peak;    /* most ever queued */
    _Atomic int failed;           /* first error (0 = none): parts stop early */
    _Atomic uint64_t write_captures;     /* segments captured by writes */
    _Atomic uint64_t write_capture_keys; /* keys in them */
    _Atomic uint64_t cursor_captures;    /* segments captured by cursors */
    _Atomic uint64_t big_values;         /* containers captured in slices */
    _Atomic uint64_t big_write_elements; /* their elements captured by writes */
    uint64_t keys;                /* written by the writer; final at on_done */
    uint64_t bytes;               /* file size; final at on_done */
    int status;                   /* final status */
};

/* One database of a part: the map, its number at the cut, the cursor. */
struct part_db {
    struct snap_part *p;   /* back-pointer: the capture hook's way home */
    struct snap_big *big;  /* non-NULL: the map is this container's table,
                              its segments go to big's own queue */
    struct kvmap *m;       /* the map (borrowed; alive until the part ends) */
    uint32_t db;           /* database number at the cut */
    uint64_t cut;          /* kvmap_epoch_begin's epoch: captured iff stamp >= */
    int table;             /* cursor: table being walked (0, 1; 2 = pass ended) */
    size_t seg;            /* cursor: next segment in that table */
    bool in_pass;          /* a pass has started (sig is meaningful) */
    bool done;             /* a whole pass saw every segment captured */
    uint64_t sig[3];       /* table shape when the pass started: resizes,
                              segments of t0 and of t1 */
};

struct snap_part {
    struct snap *s;             /* the snapshot */
    struct tval_rdb_buf scratch;/* a typed value's record, before its chunk */
    struct snap_chunk *cur;     /* chunk being filled, NULL if none */
    unsigned ndb;               /* databases */
    unsigned next_db;           /* first database the cursor has not finished */
    struct snap_big *bigs;      /* containers still being captured, oldest
                                   first (their order in the file) */
    struct snap_big **bigs_tail;/* where the next one is linked */
    struct part_db dbs[];       /* ndb entries */
};

/* A hash table or sorted set of at least this many elements is captured in
 * slices (snapshot_big.c) rather than whole inside the write that met it:
 * below it, encoding the whole container costs about what one slice does. */
#define SNAP_BIG_MIN 1024

/* Writer thread: the code for a failed rdb_writer call (the file's errno,
 * or -EIO). */
int snap_write_error(const struct snap *s);
/* Record the first error; later ones are dropped. */
void snap_set_failed(struct snap *s, int err);
/* Hand a chunk of the main stream to the writer (any shard thread). */
void snap_queue_push(struct snap *s, struct snap_chunk *c);
/* Push the part's current chunk, if it holds anything. */
void snap_part_flush(struct snap_part *p);
/* A new empty chunk of at least cap bytes for database db; NULL when out
 * of memory. The caller owns it. */
struct snap_chunk *snap_chunk_new(uint32_t db, size_t cap);
/* Capture one segment of d's map into d's stream; returns records. */
uint64_t snap_capture_segment(struct part_db *d, int table, size_t seg);
/* Walk d's map until every segment is captured (true) or the deadline
 * passes (false). */
bool snap_cursor_walk(struct part_db *d, uint64_t deadline, unsigned *checks);

/* snapshot_big.c: true when e holds a container big enough to be
 * captured in slices, which has been started (its head queued, its table
 * armed); false to encode it whole. */
bool snap_big_defer(struct part_db *d, const struct kventry *e, const char *key, size_t klen);
/* Append an element's encoded bytes to big's chunk queue. */
void snap_big_append(struct snap_big *b, const void *p, size_t len);
/* Encode one element of a big container's segment (kvmap visit fn). */
void snap_big_encode_element(struct part_db *d, const struct kventry *e);
/* Push a big container's current chunk to its own queue. */
void snap_big_flush(struct snap_big *b);
/* Drive p's started containers, oldest first. SNAP_STEP_DONE when none is
 * left, MORE when the deadline passed, PAUSED when the writer is behind. */
int snap_big_drive(struct snap_part *p, uint64_t deadline, unsigned *checks);
/* End every started container of p, captured or not (the part is ending). */
void snap_big_abandon(struct snap_part *p);
/* Writer thread: write big's elements as the part captures them, then
 * free big. *err is the writer's error (elements are dropped once set). */
void snap_big_write(struct snap *s, struct rdb_writer *w, struct snap_big *big, int *err);

#endif
