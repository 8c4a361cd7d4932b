/* mem.h — allocation with exact per-owner accounting. Each shard thread gets
 * its own jemalloc arena (when built with jemalloc) and a struct mem_acct
 * that counts the usable size of every block the shard holds, so INFO's
 * per-shard figure is exact. A mem_acct is touched only by its owner thread. */
#ifndef SKV_COMMON_MEM_H
#define SKV_COMMON_MEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mem_acct {
    int64_t used;     /* usable bytes currently held through this account */
    uint64_t allocs;  /* blocks handed out, for leak checks in tests */
    uint64_t frees;   /* blocks returned */
    uint64_t fails;   /* allocations that failed (returned NULL) */
    int64_t mapped;   /* the part of used held in mem_map mappings */
};

/* Bind the calling thread to a fresh jemalloc arena so that its allocations
 * never share an arena lock with another shard. Returns the arena index, or
 * -1 when built without jemalloc (the system allocator's own per-thread
 * caches are used). Call once per shard thread, from that thread. */
int mem_thread_arena_create(void);

/* Return the calling thread's cached free blocks to its arena: after a
 * set-up that freed what it will not need again. No-op without jemalloc. */
void mem_thread_cache_flush(void);

/* Return the calling thread's cached free blocks to its arena and stop
 * caching for it: for a thread that has finished its busy part (the main
 * thread once the server runs), whose cache would otherwise hold what it
 * freed, counted as allocated, for the life of the process. No-op without
 * jemalloc. */
void mem_thread_cache_off(void);

/* Allocate n bytes charged to a. Returns NULL (and counts a failure) when
 * n is 0 or the allocator has no memory; never aborts. Caller owns it. */
void *mem_alloc(struct mem_acct *a, size_t n);

/* Like mem_alloc, zero-filled. */
void *mem_calloc(struct mem_acct *a, size_t n);

/* A copy of p[0..n) charged to a, owned by the caller. NULL when n is 0
 * (nothing charged, no failure counted) or when there is no memory. */
void *mem_dup(struct mem_acct *a, const void *p, size_t n);

/* Resize p (owned by a) to n bytes. On failure returns NULL and p is still
 * valid and still charged; on success the old pointer is gone. */
void *mem_realloc(struct mem_acct *a, void *p, size_t n);

/* Free p (NULL is fine) and uncharge its usable size from a. */
void mem_free(struct mem_acct *a, void *p);

/* mem_free for a block whose size the thread will not ask for again soon
 * (a hash table array a resize left behind): straight back to the arena,
 * not into the thread's allocator cache, where it would stay counted as
 * allocated (used_memory) with nothing to reuse it. */
void mem_free_uncached(struct mem_acct *a, void *p);

/* Large zeroed blocks straight from the kernel, for arrays big enough that
 * the allocator's own path would cost O(size) in one call: a calloc that
 * reuses a dirty extent memsets all of it, and freeing a huge block may
 * purge (or unmap) all of its pages at once. A fresh anonymous mapping is
 * zero for free (pages are faulted in lazily, one at a time, on first
 * touch) and can be given back in page-aligned slices, so both ends can be
 * spread over many calls. Sizes are rounded up to whole pages and that
 * rounded size is what is charged, which is exactly what the process holds
 * (modulo pages never touched, which cost no RSS). */

/* n rounded up to a whole number of pages: what mem_map charges. */
size_t mem_map_size(size_t n);

/* Map n (> 0) zeroed bytes charged to a, page-aligned. Returns NULL (and
 * counts a failure) when n is 0 or the kernel refuses; never aborts.
 * Caller owns it and must give it back with mem_unmap (not mem_free). */
void *mem_map(struct mem_acct *a, size_t n);

/* Give back the tail of a mapping from mem_map: it was n bytes long (as
 * requested, or as left by an earlier call), and keeps its first keep
 * bytes (0 < keep <= n). Pages from mem_map_size(keep) on are unmapped and
 * uncharged. Lets a caller release a huge block a bounded slice at a time.
 * Counts no free: the block is still held until mem_unmap. */
void mem_unmap_tail(struct mem_acct *a, void *p, size_t n, size_t keep);

/* Unmap a whole mapping of n bytes (as requested from mem_map, or as left
 * by mem_unmap_tail) and uncharge it. NULL is fine. Cost is linear in the
 * pages touched: callers that must not pause shrink it with
 * mem_unmap_tail first. */
void mem_unmap(struct mem_acct *a, void *p, size_t n);

/* Usable size of a block from this allocator (what mem_alloc charged). */
size_t mem_usable(const void *p);

/* Process-wide allocator figures for INFO memory: bytes the application
 * holds (jemalloc stats.allocated) and resident bytes (stats.resident).
 * Without jemalloc both come from mallinfo2 / procfs. Any thread. */
void mem_process_stats(size_t *allocated, size_t *resident);

/* The allocator's own figures (Redis's allocator_* INFO fields): bytes
 * allocated, in active pages and resident. Returns false, leaving them
 * alone, when the allocator gives none (not jemalloc). Any thread. */
bool mem_allocator_stats(size_t *allocated, size_t *active, size_t *resident);

/* Resident set size of this process from /proc/self/statm, in bytes. */
size_t mem_rss(void);

/* Allocator name for INFO: "jemalloc-5.3.0" or "libc". Static string. */
const char *mem_allocator_name(void);

#endif
