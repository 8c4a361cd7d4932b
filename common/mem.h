/* mem.h — allocation with exact per-owner accounting. Each shard thread gets
 * its own jemalloc arena (when built with jemalloc) and a struct mem_acct
 * that counts the usable size of every block the shard holds, so INFO's
 * per-shard figure is exact. A mem_acct is touched only by its owner thread. */
#ifndef SKV_COMMON_MEM_H
#define SKV_COMMON_MEM_H

#include <stddef.h>
#include <stdint.h>

struct mem_acct {
    int64_t used;     /* usable bytes currently held through this account */
    uint64_t allocs;  /* blocks handed out, for leak checks in tests */
    uint64_t frees;   /* blocks returned */
    uint64_t fails;   /* allocations that failed (returned NULL) */
};

/* Bind the calling thread to a fresh jemalloc arena so that its allocations
 * never share an arena lock with another shard. Returns the arena index, or
 * -1 when built without jemalloc (the system allocator's own per-thread
 * caches are used). Call once per shard thread, from that thread. */
int mem_thread_arena_create(void);

/* Allocate n bytes charged to a. Returns NULL (and counts a failure) when
 * n is 0 or the allocator has no memory; never aborts. Caller owns it. */
void *mem_alloc(struct mem_acct *a, size_t n);

/* Like mem_alloc, zero-filled. */
void *mem_calloc(struct mem_acct *a, size_t n);

/* Resize p (owned by a) to n bytes. On failure returns NULL and p is still
 * valid and still charged; on success the old pointer is gone. */
void *mem_realloc(struct mem_acct *a, void *p, size_t n);

/* Free p (NULL is fine) and uncharge its usable size from a. */
void mem_free(struct mem_acct *a, void *p);

/* Usable size of a block from this allocator (what mem_alloc charged). */
size_t mem_usable(const void *p);

/* Process-wide allocator figures for INFO memory: bytes the application
 * holds (jemalloc stats.allocated) and resident bytes (stats.resident).
 * Without jemalloc both come from mallinfo2 / procfs. Any thread. */
void mem_process_stats(size_t *allocated, size_t *resident);

/* Resident set size of this process from /proc/self/statm, in bytes. */
size_t mem_rss(void);

/* Allocator name for INFO: "jemalloc-5.3.0" or "libc". Static string. */
const char *mem_allocator_name(void);

#endif
