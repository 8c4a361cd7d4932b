/* maxmemory.h — one memory bound for the whole server (maxmemory and
 * maxmemory-policy), however keys spread over shards, without a lock on
 * the write path: each shard publishes what its maps hold in an atomic
 * slot, worker 0 samples what the rest of the process holds once a
 * second, and a shard over the bound evicts its proportional share
 * (shard/evict.c) before it runs a command, in steps bounded by
 * maxmemory-eviction-tenacity, as Redis's performEvictions. Shard threads
 * call in; the settings come from server.cfg. */
#ifndef SKV_SERVER_MAXMEMORY_H
#define SKV_SERVER_MAXMEMORY_H

#include <stdbool.h>
#include <stdint.h>

#include "server/exec/cmd.h"
#include "server/core/server.h"

/* Room for nshards published figures; before the workers start. Returns 0
 * or -1 when out of memory. */
int maxmemory_setup(unsigned nshards);

/* Free what maxmemory_setup made; after the workers stopped. */
void maxmemory_teardown(void);

/* Is a bound set at all? Inline, one relaxed load: cmd_call asks before
 * every command. */
static inline bool maxmemory_enabled(void)
{
    return __atomic_load_n(&server.cfg.maxmemory, __ATOMIC_RELAXED) != 0;
}

/* Before running d on c's shard: while the server is over maxmemory,
 * evict what the shard grew since its previous step plus a small margin
 * (never more than its share of the excess, and within the tenacity's
 * time); whatever is left of the share goes on in the background. Returns false when d is flagged
 * deny-oom, memory is over the bound and nothing is left to evict under
 * the policy (noeviction included), as Redis's EVICT_FAIL: the caller
 * replies Redis's -OOM error instead of running it. Shard thread. */
bool maxmemory_admit(const struct cmd_def *d, struct cmd_ctx *c);

/* The step maxmemory_admit takes, without a command: evict as it does
 * and say whether the server is over maxmemory with nothing left to evict
 * under the policy (Redis's EVICT_FAIL, its pre_command_oom_state), as c's
 * shard sees it. False without a bound. Shard thread. */
bool maxmemory_out_of_memory(struct cmd_ctx *c);

/* Should a deny-oom command split over shards be refused with -OOM now?
 * Asked on the connection's thread before any part runs, since refusing
 * a part once others ran would break the command's atomicity: true when
 * the published total is over the bound and the policy cannot evict, or
 * the last eviction step of a shard found nothing left to evict. */
bool maxmemory_refuses_split(void);

/* Before a part of a split command runs on c's shard: evict its share if
 * the server is over the bound (never refuses; see above). */
void maxmemory_before_part(struct cmd_ctx *c);

/* Once a second on each worker (its tick): apply a changed policy to the
 * shard's maps, publish its usage, evict in the background when over the
 * bound; worker 0 also refreshes the process-wide figure. */
void maxmemory_tick(struct shard *s, bool sample_process);

/* Refresh the process-wide figure (what the process holds beyond the
 * shards' maps) from the allocator: worker 0's tick, and once at start,
 * before any key is loaded, so that the first second counts it too. Any
 * thread. */
void maxmemory_sample_process(void);

/* A shard thread is ending: free its eviction pool. */
void maxmemory_thread_end(void);

/* Record a sample of the allocator's total; returns the highest seen
 * (INFO used_memory_peak). Any thread. */
size_t maxmemory_note_peak(size_t allocated);

/* Keys evicted by every shard since start (INFO evicted_keys). Any thread. */
uint64_t maxmemory_evicted(void);

/* Keys shard id evicted since start or the last reset (INFO shards), any
 * thread; and the reset (CONFIG RESETSTAT), on shard id's own thread. */
uint64_t maxmemory_shard_evicted(unsigned id);
void maxmemory_reset_evicted(unsigned id);

/* Redis's -OOM reply text (without the leading '-'). */
#define MAXMEMORY_OOM_ERROR "OOM command not allowed when used memory > 'maxmemory'."

#endif
