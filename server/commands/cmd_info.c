/* cmd_info.c — INFO (server, clients, memory, persistence, stats,
 * replication, cpu, keyspace, shards) and CONFIG RESETSTAT. Runs on the
 * caller's worker thread; figures owned by each shard are gathered with
 * dispatch_broadcast (each worker reads its own maps on its own thread) and
 * the reply is written when the last one has answered. */
#include "server/pubsub/pubsub.h"
#include "server/commands/cmd_block.h"
#include "server/commands/cmd_server.h"
#include "server/commands/function.h"
#include "server/commands/script.h"
#include "server/memory/maxmemory.h"
#include "shard/evict.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/utsname.h>

#include "common/clock.h"
#include "common/mem.h"
#include "server/exec/cmdhist.h"
#include "server/exec/cmdstats.h"
#include "server/net/clientmem.h"
#include "server/net/conn.h"
#include "server/route/dispatch.h"
#include "server/persist/persist.h"
#include "server/core/server.h"
#include "server/net/worker.h"

size_t cmd_info_startup_memory;

void cmd_info_note_startup(void)
{
    size_t alloc = 0, rss = 0;
    mem_process_stats(&alloc, &rss);
    cmd_info_startup_memory = alloc;
}

/* ------------------------------------------------- ops/sec sampling */

/* Redis computes instantaneous_ops_per_sec over the last 16 samples taken
 * every 100 ms; we sample about once a second, so 5 samples cover ~4 s. */
#define OPS_SAMPLES 5

static struct {
    pthread_mutex_t lock;          /* guards everything below */
    int64_t ms[OPS_SAMPLES];       /* sample times */
    uint64_t cmds[OPS_SAMPLES];    /* server-wide commands at those times */
    unsigned next, count;          /* ring position and fill */
} ops_ring = {.lock = PTHREAD_MUTEX_INITIALIZER};

static uint64_t total_cmds(void)
{
    uint64_t sum = 0;
    for (unsigned i = 0; i < server.nworkers; i++) {
        struct worker_stats_snap s;
        worker_stats_read(worker_get(i), &s);
        sum += s.cmds;
    }
    return sum;
}

void cmd_server_sample(int64_t now_ms)
{
    uint64_t cmds = total_cmds();
    pthread_mutex_lock(&ops_ring.lock);
    /* Samples closer than 100 ms apart add noise, not information. */
    unsigned last = (ops_ring.next + OPS_SAMPLES - 1) % OPS_SAMPLES;
    if (ops_ring.count == 0 || now_ms - ops_ring.ms[last] >= 100) {
        ops_ring.ms[ops_ring.next] = now_ms;
        ops_ring.cmds[ops_ring.next] = cmds;
        ops_ring.next = (ops_ring.next + 1) % OPS_SAMPLES;
        if (ops_ring.count < OPS_SAMPLES)
            ops_ring.count++;
    }
    pthread_mutex_unlock(&ops_ring.lock);
}

static uint64_t ops_per_sec(void)
{
    uint64_t r = 0;
    pthread_mutex_lock(&ops_ring.lock);
    if (ops_ring.count >= 2) {
        unsigned newest = (ops_ring.next + OPS_SAMPLES - 1) % OPS_SAMPLES;
        unsigned oldest = (ops_ring.next + OPS_SAMPLES - ops_ring.count) % OPS_SAMPLES;
        int64_t dt = ops_ring.ms[newest] - ops_ring.ms[oldest];
        uint64_t dc = ops_ring.cmds[newest] - ops_ring.cmds[oldest];
        if (dt > 0 && ops_ring.cmds[newest] >= ops_ring.cmds[oldest])
            r = dc * 1000 / (uint64_t)dt;
    }
    pthread_mutex_unlock(&ops_ring.lock);
    return r;
}

static void ops_reset(void)
{
    pthread_mutex_lock(&ops_ring.lock);
    ops_ring.count = 0;
    ops_ring.next = 0;
    pthread_mutex_unlock(&ops_ring.lock);
}

/* ----------------------------------------------------------------- INFO */

enum {
    SEC_SERVER = 1u << 0,
    SEC_CLIENTS = 1u << 1,
    SEC_MEMORY = 1u << 2,
    SEC_PERSISTENCE = 1u << 3,
    SEC_STATS = 1u << 4,
    SEC_REPLICATION = 1u << 5,
    SEC_CPU = 1u << 6,
    SEC_KEYSPACE = 1u << 7,
    SEC_SHARDS = 1u << 8,
    SEC_COMMANDSTATS = 1u << 9,
    SEC_ERRORSTATS = 1u << 10,
    SEC_CLUSTER = 1u << 11,
    SEC_LATENCYSTATS = 1u << 12,
};
/* Redis's default set: "shards" is ours, one line per shard, so it is asked
 * for by name or by "all" and default INFO stays what Redis clients parse;
 * commandstats is left out of the default by Redis too. */
#define SEC_DEFAULT (SEC_SERVER | SEC_CLIENTS | SEC_MEMORY | SEC_PERSISTENCE | SEC_STATS | \
                     SEC_REPLICATION | SEC_CPU | SEC_ERRORSTATS | SEC_CLUSTER | SEC_KEYSPACE)
#define SEC_ALL (SEC_DEFAULT | SEC_SHARDS | SEC_COMMANDSTATS | SEC_LATENCYSTATS)
/* Sections that need every shard's maps. */
#define SEC_NEED_SHARDS (SEC_STATS | SEC_KEYSPACE | SEC_SHARDS)

static const struct {
    const char *name; /* as INFO takes it, lower case */
    unsigned bit;     /* SEC_* */
} sections[] = {
    {"server", SEC_SERVER},       {"clients", SEC_CLIENTS}, {"memory", SEC_MEMORY},
    {"persistence", SEC_PERSISTENCE}, {"stats", SEC_STATS}, {"replication", SEC_REPLICATION},
    {"cpu", SEC_CPU},             {"keyspace", SEC_KEYSPACE}, {"shards", SEC_SHARDS},
    {"commandstats", SEC_COMMANDSTATS}, {"errorstats", SEC_ERRORSTATS},
    {"cluster", SEC_CLUSTER},     {"latencystats", SEC_LATENCYSTATS},
};

/* Expired-key count of each shard at the last CONFIG RESETSTAT; slot i is
 * read and written only on shard i's thread. Shards beyond the table (more
 * than the threads option allows) simply never reset. */
#define MAX_SHARDS_TRACKED 1024
static uint64_t expired_base[MAX_SHARDS_TRACKED];

/* What one shard reports, followed in the part by ndb struct db_part. */
struct shard_part {
    uint64_t keys;          /* entries in all its databases */
    uint64_t expires;       /* of which with a TTL */
    uint64_t buckets;       /* buckets in all its maps */
    uint64_t resizes;       /* map grows/shrinks started */
    uint64_t rehashing;     /* maps rehashing right now */
    uint64_t longest_chain; /* longest chain in any of its maps */
    uint64_t expired;       /* keys expired since start or RESETSTAT */
    uint64_t hits;          /* read lookups that found their key */
    uint64_t misses;        /* and that did not */
    uint64_t evicted;       /* keys evicted at maxmemory */
    double stale_perc;      /* active expiry's smoothed stale share, % */
    uint64_t expire_capped; /* its ticks cut short by the time limit */
    uint64_t lazyfree;      /* values waiting in its thread's lazy-free queue */
    uint64_t cl_max_in;     /* its worker's clients: recent largest query buffer */
    uint64_t cl_max_out;    /* ... recent most reply bytes held by one */
    uint64_t cl_mem;        /* ... bytes they all hold */
    int64_t used_memory;    /* bytes held by the shard's maps */
    int64_t mapped;         /* of which mapped outside the allocator (tables) */
    uint64_t ops;           /* operations executed */
    uint64_t mbox_depth;    /* mailbox messages waiting */
    uint64_t clients;       /* connections its worker serves (balance) */
    uint64_t cmds;          /* commands its worker's connections sent */
    uint64_t moved_in;      /* clients that moved to its worker (conn_move) */
    uint32_t ndb;           /* databases following */
};

struct db_part {
    uint64_t keys;    /* entries in this database on this shard */
    uint64_t expires; /* of which with a TTL */
    int64_t avg_ttl;  /* the map's running TTL estimate, ms (0: none) */
};

/* INFO's request, shared read-only by the workers, freed by info_done. */
struct info_req {
    unsigned secs; /* SEC_* wanted */
    int proto;     /* reply protocol */
};

static void info_each(struct worker *w, void *arg, struct rbuf *part)
{
    const struct info_req *rq = arg;
    struct shard *s = w->shard;
    struct shard_part sp = {0};
    sp.ndb = s->ndb;
    struct db_part *dbs = calloc(s->ndb ? s->ndb : 1, sizeof(*dbs));
    if (dbs == NULL) {
        part->oom = true;
        return;
    }
    if (rq->secs & SEC_NEED_SHARDS) {
        for (unsigned i = 0; i < s->ndb; i++) {
            struct kvmap *m = shard_db(s, i);
            if (m == NULL)
                continue;
            struct kvmap_stats st;
            kvmap_stats(m, &st);
            dbs[i].keys = st.keys;
            dbs[i].expires = st.keys_with_ttl;
            dbs[i].avg_ttl = st.avg_ttl;
            sp.keys += st.keys;
            sp.expires += st.keys_with_ttl;
            sp.buckets += st.buckets;
            sp.resizes += st.resizes;
            sp.rehashing += st.rehashing;
            if (st.longest_chain > sp.longest_chain)
                sp.longest_chain = st.longest_chain;
            sp.expired += st.expired;
        }
        if (s->id < MAX_SHARDS_TRACKED)
            sp.expired -= sp.expired >= expired_base[s->id] ? expired_base[s->id] : sp.expired;
    }
    sp.used_memory = s->mem.used;
    sp.mapped = s->mem.mapped;
    sp.hits = s->ctr.hits;
    sp.misses = s->ctr.misses;
    sp.evicted = maxmemory_shard_evicted(s->id);
    sp.stale_perc = s->ctr.stale_perc;
    sp.expire_capped = s->ctr.expire_capped;
    size_t lazy_values = 0;
    (void)tval_lazyfree_pending(&lazy_values);
    sp.lazyfree = lazy_values;
    size_t in = 0, out = 0, mem = 0;
    if (rq->secs & (SEC_CLIENTS | SEC_MEMORY))
        clientmem_read(w, &in, &out, &mem);
    sp.cl_max_in = in;
    sp.cl_max_out = out;
    sp.cl_mem = mem;
    sp.ops = s->ctr.ops;
    sp.mbox_depth = mailbox_depth(&s->mbox);
    sp.clients = atomic_load_explicit(&w->stats.connected, memory_order_relaxed);
    sp.cmds = atomic_load_explicit(&w->stats.cmds, memory_order_relaxed);
    sp.moved_in = atomic_load_explicit(&w->stats.moved_in, memory_order_relaxed);
    rbuf_append(part, &sp, sizeof(sp));
    rbuf_append(part, dbs, sizeof(*dbs) * s->ndb);
    free(dbs);
}

static void add_line(struct rbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add_line(struct rbuf *b, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n >= sizeof(line))
        n = (int)sizeof(line) - 1;
    rbuf_append(b, line, (size_t)n);
    rbuf_append(b, "\r\n", 2);
}

static void section_header(struct rbuf *b, const char *title)
{
    if (b->len > 0)
        rbuf_append(b, "\r\n", 2);
    add_line(b, "# %s", title);
}

/* Redis's bytesToHuman. */
static void human_bytes(char *buf, size_t len, double n)
{
    const char *units = "BKMGTPE";
    int u = 0;
    while (n >= 1024 && u < 6) {
        n /= 1024;
        u++;
    }
    if (u == 0)
        snprintf(buf, len, "%.0fB", n);
    else
        snprintf(buf, len, "%.2f%c", n, units[u]);
}

static void info_done(void *arg, struct rbuf *parts, unsigned n, struct rbuf *out)
{
    struct info_req *rq = arg;
    unsigned secs = rq->secs;
    struct rbuf b;
    rbuf_init(&b);

    /* Per-shard figures, checked for size before use. */
    const struct shard_part **sp = calloc(n ? n : 1, sizeof(*sp));
    unsigned ndb = 0;
    bool ok = sp != NULL;
    for (unsigned i = 0; ok && i < n; i++) {
        if (parts[i].oom || parts[i].len < sizeof(struct shard_part)) {
            ok = false;
            break;
        }
        sp[i] = (const struct shard_part *)(const void *)parts[i].ptr;
        if (parts[i].len < sizeof(struct shard_part) + sp[i]->ndb * sizeof(struct db_part))
            ok = false;
        else if (sp[i]->ndb > ndb)
            ndb = sp[i]->ndb;
    }
    if (!ok) {
        free(sp);
        resp_error(out, "ERR out of memory");
        free(rq);
        return;
    }

    struct worker_stats_snap tot = {0};
    for (unsigned i = 0; i < server.nworkers; i++) {
        struct worker_stats_snap s;
        worker_stats_read(worker_get(i), &s);
        tot.connected += s.connected;
        tot.conns_total += s.conns_total;
        tot.conns_rejected += s.conns_rejected;
        tot.cmds += s.cmds;
        tot.net_in += s.net_in;
        tot.net_out += s.net_out;
        tot.proto_errors += s.proto_errors;
        tot.qbuf_limit_kills += s.qbuf_limit_kills;
        tot.obuf_limit_kills += s.obuf_limit_kills;
        tot.timeouts += s.timeouts;
        tot.reads += s.reads;
        tot.writes += s.writes;
    }
    int64_t now = clock_wall_ms();
    char h[32];

    server_config_rdlock();
    unsigned hz = server.cfg.hz, maxclients = server.cfg.maxclients;
    char cfgfile[512];
    snprintf(cfgfile, sizeof(cfgfile), "%s", server.cfg.config_file ? server.cfg.config_file : "");
    server_config_unlock_rd();

    if (secs & SEC_SERVER) {
        struct utsname u;
        if (uname(&u) != 0)
            memset(&u, 0, sizeof(u));
        int64_t up = (now - server.start_ms) / 1000;
        section_header(&b, "Server");
        add_line(&b, "redis_version:%s", SERVER_REDIS_VERSION);
        add_line(&b, "shardkv_version:%s", SERVER_VERSION);
        add_line(&b, "redis_mode:standalone");
        add_line(&b, "os:%s %s %s", u.sysname, u.release, u.machine);
        add_line(&b, "arch_bits:%d", (int)(sizeof(void *) * 8));
        add_line(&b, "multiplexing_api:libuv-%s", uv_version_string());
        add_line(&b, "process_id:%ld", (long)server.pid);
        add_line(&b, "run_id:%s", server.run_id);
        add_line(&b, "tcp_port:%d", server.port);
        add_line(&b, "server_time_usec:%lld", (long long)now * 1000);
        add_line(&b, "uptime_in_seconds:%lld", (long long)up);
        add_line(&b, "uptime_in_days:%lld", (long long)(up / 86400));
        add_line(&b, "hz:%u", hz);
        add_line(&b, "threads:%u", server.nworkers);
        add_line(&b, "config_file:%s", cfgfile);
    }
    if (secs & SEC_CLIENTS) {
        section_header(&b, "Clients");
        add_line(&b, "connected_clients:%" PRIu64, tot.connected);
        add_line(&b, "maxclients:%u", maxclients);
        uint64_t max_in = 0, max_out = 0;
        for (unsigned i = 0; i < n; i++) {
            if (sp[i]->cl_max_in > max_in)
                max_in = sp[i]->cl_max_in;
            if (sp[i]->cl_max_out > max_out)
                max_out = sp[i]->cl_max_out;
        }
        add_line(&b, "client_recent_max_input_buffer:%" PRIu64, max_in);
        add_line(&b, "client_recent_max_output_buffer:%" PRIu64, max_out);
        add_line(&b, "blocked_clients:%" PRIu64, cmd_block_count());
    }
    if (secs & SEC_MEMORY) {
        size_t alloc = 0, rss = 0;
        mem_process_stats(&alloc, &rss);
        int64_t shards_mem = 0, mapped = 0;
        for (unsigned i = 0; i < n; i++) {
            shards_mem += sp[i]->used_memory;
            mapped += sp[i]->mapped;
        }
        /* used_memory is what maxmemory is compared with (as Redis's): the
         * allocator's total plus the big hash table arrays the shards map
         * straight from the kernel (mem_map), which it never sees. */
        if (mapped > 0)
            alloc += (size_t)mapped;
        section_header(&b, "Memory");
        add_line(&b, "used_memory:%zu", alloc);
        human_bytes(h, sizeof(h), (double)alloc);
        add_line(&b, "used_memory_human:%s", h);
        add_line(&b, "used_memory_rss:%zu", rss);
        human_bytes(h, sizeof(h), (double)rss);
        add_line(&b, "used_memory_rss_human:%s", h);
        size_t peak = maxmemory_note_peak(alloc);
        add_line(&b, "used_memory_peak:%zu", peak);
        human_bytes(h, sizeof(h), (double)peak);
        add_line(&b, "used_memory_peak_human:%s", h);
        add_line(&b, "used_memory_peak_perc:%.2f%%", peak ? 100.0 * (double)alloc / (double)peak : 0);
        /* The dataset is what the shards' maps hold (keys, values, their
         * tables); the rest is the server's own overhead. */
        add_line(&b, "used_memory_overhead:%lld",
                 (long long)((int64_t)alloc > shards_mem ? (int64_t)alloc - shards_mem : 0));
        add_line(&b, "used_memory_startup:%zu", cmd_info_startup_memory);
        add_line(&b, "used_memory_dataset:%lld", (long long)shards_mem);
        add_line(&b, "used_memory_dataset_perc:%.2f%%",
                 alloc ? 100.0 * (double)shards_mem / (double)alloc : 0);
        add_line(&b, "used_memory_shards:%lld", (long long)shards_mem);
        size_t a_alloc = 0, a_active = 0, a_res = 0;
        bool have_alloc = mem_allocator_stats(&a_alloc, &a_active, &a_res);
        if (have_alloc) {
            add_line(&b, "allocator_allocated:%zu", a_alloc);
            add_line(&b, "allocator_active:%zu", a_active);
            add_line(&b, "allocator_resident:%zu", a_res);
        }
        /* Lua: what every worker's states hold, EVAL's and functions'
         * together (one allocator count per worker), shown as EVAL's. */
        size_t lua = script_memory_used(), nscripts, sbytes, nlibs, nfuncs, fbytes;
        script_cache_stats(&nscripts, &sbytes);
        function_registry_stats(&nlibs, &nfuncs, &fbytes);
        add_line(&b, "used_memory_lua:%zu", lua);
        add_line(&b, "used_memory_vm_eval:%zu", lua);
        human_bytes(h, sizeof(h), (double)lua);
        add_line(&b, "used_memory_lua_human:%s", h);
        add_line(&b, "used_memory_scripts_eval:%zu", sbytes);
        add_line(&b, "number_of_cached_scripts:%zu", nscripts);
        add_line(&b, "number_of_functions:%zu", nfuncs);
        add_line(&b, "used_memory_vm_functions:0");
        add_line(&b, "used_memory_vm_total:%zu", lua);
        add_line(&b, "used_memory_vm_total_human:%s", h);
        add_line(&b, "used_memory_functions:%zu", fbytes);
        add_line(&b, "used_memory_scripts:%zu", sbytes + fbytes);
        human_bytes(h, sizeof(h), (double)(sbytes + fbytes));
        add_line(&b, "used_memory_scripts_human:%s", h);
        size_t maxmem = __atomic_load_n(&server.cfg.maxmemory, __ATOMIC_RELAXED);
        add_line(&b, "maxmemory:%zu", maxmem);
        human_bytes(h, sizeof(h), (double)maxmem);
        add_line(&b, "maxmemory_human:%s", h);
        add_line(&b, "maxmemory_policy:%s",
                 evict_policy_name(__atomic_load_n(&server.cfg.maxmemory_policy,
                                                   __ATOMIC_RELAXED)));
        if (have_alloc) {
            add_line(&b, "allocator_frag_ratio:%.2f",
                     a_alloc ? (double)a_active / (double)a_alloc : 0);
            add_line(&b, "allocator_frag_bytes:%lld", (long long)a_active - (long long)a_alloc);
            add_line(&b, "allocator_rss_ratio:%.2f", a_active ? (double)a_res / (double)a_active : 0);
            add_line(&b, "allocator_rss_bytes:%lld", (long long)a_res - (long long)a_active);
        }
        add_line(&b, "mem_fragmentation_ratio:%.2f", alloc ? (double)rss / (double)alloc : 0);
        add_line(&b, "mem_fragmentation_bytes:%lld", (long long)rss - (long long)alloc);
        /* Redis leaves replication and AOF buffers out of the bound; we
         * have neither, and count everything else. */
        add_line(&b, "mem_not_counted_for_evict:0");
        uint64_t cl_mem = 0;
        for (unsigned i = 0; i < n; i++)
            cl_mem += sp[i]->cl_mem;
        add_line(&b, "mem_clients_normal:%" PRIu64, cl_mem);
        add_line(&b, "mem_allocator:%s", mem_allocator_name());
        uint64_t lazy = 0;
        for (unsigned i = 0; i < n; i++)
            lazy += sp[i]->lazyfree;
        add_line(&b, "lazyfree_pending_objects:%" PRIu64, lazy);
    }
    if (secs & SEC_PERSISTENCE) {
        /* The RDB file is loaded before the listeners open, so no client
         * can ever see loading:1. */
        struct persist_info pi;
        persist_get_info(&pi);
        section_header(&b, "Persistence");
        add_line(&b, "loading:0");
        add_line(&b, "async_loading:0");
        add_line(&b, "rdb_changes_since_last_save:%" PRIu64, pi.changes);
        add_line(&b, "rdb_bgsave_in_progress:%d", pi.in_progress ? 1 : 0);
        add_line(&b, "rdb_last_save_time:%" PRId64, pi.last_save_s);
        add_line(&b, "rdb_last_bgsave_status:%s", pi.last_ok ? "ok" : "err");
        add_line(&b, "rdb_last_bgsave_time_sec:%" PRId64, pi.last_bgsave_secs);
        add_line(&b, "rdb_current_bgsave_time_sec:%" PRId64, pi.current_secs);
        add_line(&b, "rdb_saves:%" PRIu64, pi.saves);
        add_line(&b, "rdb_last_save_keys:%" PRIu64, pi.last_keys);
        add_line(&b, "rdb_last_save_bytes:%" PRIu64, pi.last_bytes);
        add_line(&b, "aof_enabled:0");
        add_line(&b, "aof_rewrite_in_progress:0");
    }
    if (secs & SEC_STATS) {
        uint64_t expired = 0, ops = 0, hits = 0, misses = 0, evicted = 0, capped = 0;
        /* The shards' stale shares, weighted by their volatile keys. */
        double stale = 0, stale_w = 0;
        for (unsigned i = 0; i < n; i++) {
            expired += sp[i]->expired;
            ops += sp[i]->ops;
            hits += sp[i]->hits;
            misses += sp[i]->misses;
            evicted += sp[i]->evicted;
            capped += sp[i]->expire_capped;
            stale += sp[i]->stale_perc * (double)(sp[i]->expires + 1);
            stale_w += (double)(sp[i]->expires + 1);
        }
        cmd_server_sample(now);
        section_header(&b, "Stats");
        add_line(&b, "total_connections_received:%" PRIu64, tot.conns_total);
        add_line(&b, "total_commands_processed:%" PRIu64, tot.cmds);
        add_line(&b, "instantaneous_ops_per_sec:%" PRIu64, ops_per_sec());
        add_line(&b, "total_net_input_bytes:%" PRIu64, tot.net_in);
        add_line(&b, "total_net_output_bytes:%" PRIu64, tot.net_out);
        add_line(&b, "rejected_connections:%" PRIu64, tot.conns_rejected);
        add_line(&b, "expired_keys:%" PRIu64, expired);
        add_line(&b, "expired_stale_perc:%.2f", stale_w > 0 ? stale / stale_w : 0.0);
        add_line(&b, "expired_time_cap_reached_count:%" PRIu64, capped);
        add_line(&b, "evicted_keys:%" PRIu64, evicted);
        add_line(&b, "keyspace_hits:%" PRIu64, hits);
        add_line(&b, "keyspace_misses:%" PRIu64, misses);
        add_line(&b, "pubsub_channels:%lld", pubsub_count(PUBSUB_CHANNEL));
        add_line(&b, "pubsub_patterns:%lld", pubsub_count(PUBSUB_PATTERN));
        add_line(&b, "pubsubshard_channels:%lld", pubsub_count(PUBSUB_SHARD));
        add_line(&b, "shard_ops:%" PRIu64, ops);
        add_line(&b, "protocol_error_disconnections:%" PRIu64, tot.proto_errors);
        add_line(&b, "total_error_replies:%" PRIu64, errstat_total());
        add_line(&b, "total_reads_processed:%" PRIu64, tot.reads);
        add_line(&b, "total_writes_processed:%" PRIu64, tot.writes);
        add_line(&b, "client_query_buffer_limit_disconnections:%" PRIu64, tot.qbuf_limit_kills);
        add_line(&b, "client_output_buffer_limit_disconnections:%" PRIu64, tot.obuf_limit_kills);
        add_line(&b, "timeout_disconnections:%" PRIu64, tot.timeouts);
    }
    if (secs & SEC_REPLICATION) {
        section_header(&b, "Replication");
        add_line(&b, "role:master");
        add_line(&b, "connected_slaves:0");
    }
    if (secs & SEC_CPU) {
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        section_header(&b, "CPU");
        add_line(&b, "used_cpu_sys:%ld.%06ld", (long)ru.ru_stime.tv_sec, (long)ru.ru_stime.tv_usec);
        add_line(&b, "used_cpu_user:%ld.%06ld", (long)ru.ru_utime.tv_sec, (long)ru.ru_utime.tv_usec);
        struct rusage rc;
        getrusage(RUSAGE_CHILDREN, &rc);
        add_line(&b, "used_cpu_sys_children:%ld.%06ld", (long)rc.ru_stime.tv_sec,
                 (long)rc.ru_stime.tv_usec);
        add_line(&b, "used_cpu_user_children:%ld.%06ld", (long)rc.ru_utime.tv_sec,
                 (long)rc.ru_utime.tv_usec);
    }
    if (secs & SEC_COMMANDSTATS) {
        section_header(&b, "Commandstats");
        size_t ncs = cmdstat_count();
        for (size_t id = 0; id < ncs; id++) {
            struct cmdstat_total t;
            cmdstat_sum(id, &t);
            if (t.calls == 0 && t.rejected == 0 && t.failed == 0)
                continue; /* never called: left out, as in Redis */
            /* usec: the sampled mean times the calls (cmdstats.h). */
            double per_call = t.timed ? (double)t.ns / (double)t.timed / 1000.0 : 0.0;
            add_line(&b,
                     "cmdstat_%s:calls=%" PRIu64 ",usec=%" PRIu64 ",usec_per_call=%.2f"
                     ",rejected_calls=%" PRIu64 ",failed_calls=%" PRIu64,
                     t.name, t.calls, (uint64_t)(per_call * (double)t.calls + 0.5), per_call,
                     t.rejected, t.failed);
        }
    }
    if (secs & SEC_ERRORSTATS) {
        section_header(&b, "Errorstats");
        struct errstat_total et[ERRSTAT_MAX];
        size_t ne = errstat_sum(et);
        for (size_t k = 0; k < ne; k++)
            if (et[k].count > 0)
                add_line(&b, "errorstat_%s:count=%" PRIu64, et[k].code, et[k].count);
    }
    if (secs & SEC_LATENCYSTATS) {
        section_header(&b, "Latencystats");
        cmdhist_info(&b);
    }
    if (secs & SEC_CLUSTER) {
        section_header(&b, "Cluster");
        add_line(&b, "cluster_enabled:0"); /* standalone: no cluster mode */
    }
    if (secs & SEC_KEYSPACE) {
        section_header(&b, "Keyspace");
        for (unsigned d = 0; d < ndb; d++) {
            uint64_t keys = 0, expires = 0;
            /* Each shard's estimate weighted by its volatile keys. */
            double ttl_sum = 0, ttl_weight = 0;
            for (unsigned i = 0; i < n; i++) {
                if (d >= sp[i]->ndb)
                    continue;
                const struct db_part *dp = (const struct db_part *)(const void *)(sp[i] + 1);
                struct db_part x;
                memcpy(&x, (const char *)(const void *)dp + d * sizeof(x), sizeof(x));
                keys += x.keys;
                expires += x.expires;
                if (x.avg_ttl > 0) {
                    ttl_sum += (double)x.avg_ttl * (double)x.expires;
                    ttl_weight += (double)x.expires;
                }
            }
            long long avg_ttl = ttl_weight > 0 ? (long long)(ttl_sum / ttl_weight) : 0;
            if (keys > 0)
                add_line(&b, "db%u:keys=%" PRIu64 ",expires=%" PRIu64 ",avg_ttl=%lld", d, keys,
                         expires, avg_ttl);
        }
    }
    if (secs & SEC_SHARDS) {
        section_header(&b, "Shards");
        for (unsigned i = 0; i < n; i++) {
            const struct shard_part *p = sp[i];
            double lf = p->buckets ? (double)p->keys / (double)p->buckets : 0.0;
            add_line(&b,
                     "shard%u:keys=%" PRIu64 ",expires=%" PRIu64 ",buckets=%" PRIu64
                     ",load_factor=%.3f,resizes=%" PRIu64 ",rehashing=%" PRIu64
                     ",longest_chain=%" PRIu64 ",expired=%" PRIu64 ",evicted=%" PRIu64
                     ",used_memory=%lld,ops=%" PRIu64
                     ",mailbox_depth=%" PRIu64 ",clients=%" PRIu64 ",clients_moved_in=%" PRIu64
                     ",cmds=%" PRIu64,
                     i, p->keys, p->expires, p->buckets, lf, p->resizes, p->rehashing,
                     p->longest_chain, p->expired, p->evicted, (long long)p->used_memory, p->ops,
                     p->mbox_depth, p->clients, p->moved_in, p->cmds);
        }
    }
    free(sp);
    if (b.oom)
        resp_error(out, "ERR out of memory");
    else
        resp_verbatim(out, rq->proto, b.ptr ? b.ptr : "", b.len);
    rbuf_deinit(&b);
    free(rq);
}

void cmd_info_exec(struct cmd_ctx *c)
{
    unsigned secs = 0;
    if (c->argc == 1)
        secs = SEC_DEFAULT;
    for (size_t j = 1; j < c->argc; j++) {
        const struct resp_arg *a = &c->argv[j];
        if (cmd_arg_eq(a, "all") || cmd_arg_eq(a, "everything")) {
            secs |= SEC_ALL;
            continue;
        }
        if (cmd_arg_eq(a, "default")) {
            secs |= SEC_DEFAULT;
            continue;
        }
        for (size_t i = 0; i < sizeof(sections) / sizeof(sections[0]); i++)
            if (cmd_arg_eq(a, sections[i].name))
                secs |= sections[i].bit;
        /* Unknown sections add nothing, as in Redis. */
    }
    struct info_req *rq = malloc(sizeof(*rq));
    if (rq == NULL) {
        resp_error(c->out, "ERR out of memory");
        return;
    }
    rq->secs = secs;
    rq->proto = c->proto;
    if (dispatch_broadcast(c, info_each, info_done, rq) != 0)
        free(rq);
}

/* ---------------------------------------------------------- RESETSTAT */

/* CONFIG RESETSTAT: each worker zeroes its own counters on its own thread
 * (the owner writes them, so a reset from elsewhere could be lost). */
static void resetstat_each(struct worker *w, void *arg, struct rbuf *part)
{
    struct worker_stats *s = &w->stats;
    atomic_store_explicit(&s->conns_total, 0, memory_order_relaxed);
    atomic_store_explicit(&s->conns_rejected, 0, memory_order_relaxed);
    atomic_store_explicit(&s->cmds, 0, memory_order_relaxed);
    atomic_store_explicit(&s->ops_executed, 0, memory_order_relaxed);
    atomic_store_explicit(&s->batches_sent, 0, memory_order_relaxed);
    atomic_store_explicit(&s->net_in, 0, memory_order_relaxed);
    atomic_store_explicit(&s->net_out, 0, memory_order_relaxed);
    atomic_store_explicit(&s->proto_errors, 0, memory_order_relaxed);
    atomic_store_explicit(&s->qbuf_limit_kills, 0, memory_order_relaxed);
    atomic_store_explicit(&s->obuf_limit_kills, 0, memory_order_relaxed);
    atomic_store_explicit(&s->timeouts, 0, memory_order_relaxed);
    atomic_store_explicit(&s->reads, 0, memory_order_relaxed);
    atomic_store_explicit(&s->writes, 0, memory_order_relaxed);
    cmdstat_reset(w);
    cmdhist_reset(w->id);
    struct shard *sh = w->shard;
    sh->ctr.ops = 0;
    sh->ctr.hits = 0;
    sh->ctr.misses = 0;
    sh->ctr.stale_perc = 0;
    sh->ctr.expire_capped = 0;
    maxmemory_reset_evicted(sh->id);
    if (sh->id < MAX_SHARDS_TRACKED) {
        uint64_t expired = 0;
        for (unsigned i = 0; i < sh->ndb; i++) {
            struct kvmap *m = shard_db(sh, i);
            if (m != NULL) {
                struct kvmap_stats st;
                kvmap_stats(m, &st);
                expired += st.expired;
            }
        }
        expired_base[sh->id] = expired;
    }
}

static void resetstat_done(void *arg, struct rbuf *parts, unsigned n, struct rbuf *out)
{
    ops_reset();
    resp_simple(out, "OK");
}

void cmd_info_resetstat(struct cmd_ctx *c)
{
    (void)dispatch_broadcast(c, resetstat_each, resetstat_done, NULL);
}

