/* snapshot.h — copy-on-write, fork-less snapshots of a shard group into an
 * RDB file. A cut bumps the write epoch of every map of every shard (O(1) per
 * map); from then on a segment is serialised before its first write
 * (kvmap's capture hook), and a background cursor on each shard thread
 * serialises the rest in bounded slices. Shard threads only encode records
 * into chunks; one writer thread per snapshot owns the file (header, chunks,
 * CRC, fsync, rename). Extra memory is the chunks queued for the writer:
 * what writes force out early plus at most the queue limit from the cursor.
 *
 * Threads: snap_create/snap_destroy on any non-shard-owner thread that does
 * not hold up the shards; snap_part_* and snap_shard_begin on the owner
 * thread of the maps; snap_group_cut posts to every shard and returns. */
#ifndef SKV_SHARD_SNAPSHOT_H
#define SKV_SHARD_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shard/kvmap.h"
#include "shard/shard.h"

struct snap;
struct snap_part;

/* Default writer queue size above which the background cursors pause:
 * 2 MB keeps the writer busy (a chunk is 64 KB) while bounding what the
 * cursors can add to memory (2% of a 100 MB data set). Writes never pause; what they capture is the
 * part of the extra memory proportional to the writes. */
#define SNAP_DEFAULT_QUEUE_LIMIT ((size_t)2 << 20)
/* Default cursor slice per millisecond while the shard serves requests:
 * 25 us, a fortieth of its time. On a busy box every microsecond the
 * cursor takes is one a request waits or a client loses its CPU; with
 * prefetching, a million small keys still save in ~1 s under full SET load
 * on 2 cores (redis-server's fork takes as long), and write p99 stays
 * within ~1.5x (tests/bench/snapshot.sh; 250 us gave ~2x, 50 us 1.4-1.8x).
 * Lending the cursor half of the loop's measured idle time instead made
 * saves 3x faster there but p99 1.85x: the idle time of a shard is not
 * free when the clients share its CPUs. */
#define SNAP_DEFAULT_SLICE_NS 25000u
/* Cursor slice per millisecond when the shard ran no request during the
 * last tick: nobody is waiting on it then, and a quarter of a millisecond
 * is the most a request arriving mid-slice waits. */
#define SNAP_IDLE_SLICE_NS 250000u

/* Final status handed to on_done: 0, or a negative code (-errno of the
 * failing file operation, ENOSPC for a full disk, EIO only when the system
 * said so, or SNAP_ENOMEM when a chunk could not be allocated on a shard). */
enum { SNAP_ENOMEM = -100000 };

struct snap_opts {
    unsigned nparts;          /* shards (parts) that will call snap_part_begin */
    const char *path;         /* final file name (copied) */
    const char *tmp_path;     /* written first, renamed onto path (copied) */
    int64_t ctime_s;          /* AUX ctime: Unix seconds of the cut */
    uint64_t used_mem;        /* AUX used-mem */
    const void *functions;    /* function records written before the first
                                 database (rdb_writer_functions), copied */
    size_t functions_len;
    size_t queue_limit;       /* cursor pause threshold; 0 = the default */
    uint64_t slice_ns;        /* cursor slice for snap_shard_begin while the shard
                                 is busy; 0 = default (idle: at least SNAP_IDLE_SLICE_NS) */
    bool compress;            /* LZF-compress strings of more than 20 bytes,
                                 as Redis's rdbcompression */
    /* Runs once on the writer thread when the file is in place (status 0)
     * or the snapshot failed (temp file removed). May not call
     * snap_destroy (that joins this thread). */
    void (*on_done)(void *arg, struct snap *s, int status);
    void *arg;                /* passed to on_done */
};

/* Figures about one snapshot; final once on_done has run. */
struct snap_stats {
    uint64_t keys;            /* key records written (expired ones included) */
    uint64_t bytes;           /* file size */
    uint64_t write_captures;  /* segments captured because a write came first */
    uint64_t write_capture_keys; /* keys in them */
    uint64_t cursor_captures; /* segments captured by the background cursors */
    uint64_t big_values;      /* containers captured in slices (snapshot_big.c) */
    uint64_t big_write_elements; /* their elements (a list's nodes) captured
                                    because a write came first */
    uint64_t queue_peak;      /* most chunk bytes queued for the writer at once */
    int status;               /* 0 or the negative code given to on_done */
};

/* Create the temp file and start the writer thread, which writes the
 * header and then waits for chunks from nparts parts. The temp file holds
 * an exclusive flock(2) from before it is truncated until it is renamed
 * or removed, so another process can tell a live save's temp file from
 * one a killed process left. Returns 0 with *out set (the caller owns it:
 * snap_destroy), or a negative errno (nothing created; -EBUSY when another
 * process holds the lock on tmp_path, whose file is then left alone). */
int snap_create(const struct snap_opts *o, struct snap **out);

/* Join the writer thread (waits for the snapshot to finish) and free s.
 * Never from a shard thread whose part has not finished, nor from on_done. */
void snap_destroy(struct snap *s);

/* Give up on s before any part has begun (the cut could not be posted):
 * the writer removes the temp file and runs on_done with SNAP_ENOMEM. */
void snap_cancel(struct snap *s);

/* Copy the figures (any thread; final after on_done). */
void snap_get_stats(struct snap *s, struct snap_stats *out);

/* ------------------------------------------------------- owner thread */

/* The cut for one shard: arm capture on db[0..ndb) (database numbers are
 * the indices), O(1) per map. Owner thread of the maps, which must stay
 * alive until the part is done. Returns the part, or NULL when out of
 * memory (the part then counts as finished and the snapshot fails). */
struct snap_part *snap_part_begin(struct snap *s, struct kvmap **db, unsigned ndb);

/* Results of snap_part_step. */
enum {
    SNAP_STEP_MORE = 0,   /* budget used up: call again */
    SNAP_STEP_PAUSED = 1, /* the writer's queue is full: call again later */
    SNAP_STEP_DONE = 2,   /* every segment captured; capture disarmed, the
                             part is handed to the writer and freed */
};

/* Capture uncaptured segments for about budget_ns of monotonic time.
 * Owner thread. Returns SNAP_STEP_*. */
int snap_part_step(struct snap_part *p, uint64_t budget_ns);

/* snap_part_begin on shard sh's maps plus a driver on its loop that runs
 * snap_part_step slices between requests until done. sh's thread. Returns
 * 0 or a negative libuv code (the part then counts as finished). */
int snap_shard_begin(struct snap *s, struct shard *sh);

/* The cut across the group: every shard runs snap_shard_begin at one
 * point of the global order. Today a rendezvous: each shard thread, on
 * its message, waits on a barrier until all have arrived, then cuts, so
 * no shard executes anything between the instant the last one arrives and
 * its own cut. Requires that no shard thread ever waits synchronously for
 * another. The server does not use it: it cuts through its transaction
 * layer (txn_all_shards, server/persist/persist.c), which also orders the cut with
 * multi-key transactions; this one is for embedders without one (the
 * in-process store, tests). Any thread that
 * is not a shard thread of g, or a shard thread (it joins the barrier when
 * its loop handles its own message). s must have nparts = group size.
 * Returns 0 or UV_ENOMEM (nothing posted). */
int snap_group_cut(struct snap *s, struct shard_group *g);

#endif
