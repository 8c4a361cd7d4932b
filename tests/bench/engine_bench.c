/* engine_bench.c — shardkv-engine-bench: drives the in-process store
 * (skv_store_*) from T client threads and prints one JSON line with
 * throughput, per-operation latency percentiles and memory. Not a test:
 * never part of pass/fail suites. Each client thread sends batches of
 * --batch operations per call (default 16); an operation's latency is the
 * latency of the call that carried it, so percentiles are over operations. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uv.h>

#include "common/clock.h"
#include "common/mem.h"
#include "shard/skv_store.h"

/* ---- log-linear latency histogram (HDR-style) ---------------------------- */

/* 2^HIST_SUB_BITS linear sub-buckets per power of two: 32 gives a relative
 * error under 1/32 (about 3%) for every value. Values are nanoseconds; 64
 * powers of two cover any uint64_t. */
#define HIST_SUB_BITS 5
#define HIST_SUB      (1u << HIST_SUB_BITS)
#define HIST_BUCKETS  (64 * HIST_SUB)

struct hist {
    uint64_t count[HIST_BUCKETS]; /* operations per bucket */
    uint64_t total;               /* operations recorded */
    uint64_t max;                 /* exact largest value */
};

static unsigned hist_index(uint64_t v)
{
    if (v < HIST_SUB)
        return (unsigned)v;
    unsigned msb = 63u - (unsigned)__builtin_clzll(v);
    unsigned shift = msb - HIST_SUB_BITS;
    /* v >> shift is in [HIST_SUB, 2 * HIST_SUB). */
    return (shift + 1) * HIST_SUB + (unsigned)((v >> shift) - HIST_SUB);
}

/* Largest value that lands in bucket i (percentiles are reported at the
 * bucket's upper edge: never optimistic). */
static uint64_t hist_upper(unsigned i)
{
    if (i < HIST_SUB)
        return i;
    unsigned shift = i / HIST_SUB - 1;
    uint64_t sub = HIST_SUB + i % HIST_SUB;
    return ((sub + 1) << shift) - 1;
}

static void hist_add(struct hist *h, uint64_t v, uint64_t n)
{
    h->count[hist_index(v)] += n;
    h->total += n;
    if (v > h->max)
        h->max = v;
}

static void hist_merge(struct hist *into, const struct hist *h)
{
    for (unsigned i = 0; i < HIST_BUCKETS; i++)
        into->count[i] += h->count[i];
    into->total += h->total;
    if (h->max > into->max)
        into->max = h->max;
}

static uint64_t hist_percentile(const struct hist *h, double p)
{
    if (h->total == 0)
        return 0;
    uint64_t rank = (uint64_t)(p * (double)h->total + 0.5);
    if (rank == 0)
        rank = 1;
    uint64_t seen = 0;
    for (unsigned i = 0; i < HIST_BUCKETS; i++) {
        seen += h->count[i];
        if (seen >= rank)
            return hist_upper(i) < h->max ? hist_upper(i) : h->max;
    }
    return h->max;
}

/* ---- options and workloads ----------------------------------------------- */

enum workload { WL_READ_HEAVY, WL_BALANCED, WL_CHURN, WL_GROW };

static const char *const workload_names[] = {"read-heavy", "balanced", "churn", "grow"};

struct opts {
    unsigned shards;   /* --shards */
    unsigned threads;  /* --threads: client threads */
    double seconds;    /* --seconds: run time (not for grow) */
    uint64_t keys;     /* --keys: key space (grow: keys to insert) */
    enum workload wl;  /* --workload */
    size_t key_size;   /* --key-size */
    size_t value_size; /* --value-size */
    unsigned batch;    /* --batch: operations per store call */
    bool shard_timing; /* time each map op on the shards (grow: on) */
    int spin_us;       /* --spin-us: skv_store_opts.spin_us */
};

/* Per-client-thread state. Padded so that threads do not share lines. */
struct client {
    uv_thread_t tid;      /* the thread */
    unsigned id;          /* 0..threads-1 */
    const struct opts *o; /* options */
    struct skv_store *st; /* the store */
    uint64_t rng;         /* xorshift64* state */
    uint64_t ops;         /* operations completed */
    uint64_t errors;      /* operations that returned an error */
    struct hist hist;     /* per-operation latency */
    uint64_t lo, hi;      /* preload / grow: ids [lo, hi) */
    char pad[64];         /* keep neighbours off this line */
};

static atomic_bool stop_flag;

static uint64_t rng_next(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1DULL;
}

/* "00".."99": keys are written two digits per step, so that the clients'
 * share of the CPU stays small next to the shards' (2 cores, both busy). */
static char digit_pairs[200];

static void digit_pairs_init(void)
{
    for (int i = 0; i < 100; i++) {
        digit_pairs[2 * i] = (char)('0' + i / 10);
        digit_pairs[2 * i + 1] = (char)('0' + i % 10);
    }
}

/* Key for id: 'k' then the id in decimal, zero-padded to key_size bytes. */
static void make_key(char *buf, size_t ksize, uint64_t id)
{
    memset(buf, '0', ksize);
    buf[0] = 'k';
    size_t i = ksize;
    while (id && i > 2) {
        memcpy(buf + i - 2, digit_pairs + 2 * (id % 100), 2);
        id /= 100;
        i -= 2;
    }
    if (id && i > 1)
        buf[i - 1] = (char)('0' + id % 10);
}

/* Per-thread key and value buffers for one batch. */
struct batch_bufs {
    char *keys;               /* batch * key_size */
    char *val;                /* value_size bytes, shared by the batch */
    struct skv_store_op *ops; /* batch operations */
};

static int bufs_init(struct batch_bufs *b, const struct opts *o, unsigned id)
{
    b->keys = malloc((size_t)o->batch * o->key_size * 2);
    b->val = malloc(o->value_size ? o->value_size : 1);
    b->ops = calloc((size_t)o->batch, sizeof *b->ops);
    if (!b->keys || !b->val || !b->ops)
        return -1;
    for (size_t i = 0; i < o->value_size; i++)
        b->val[i] = (char)('a' + (i + id) % 26);
    return 0;
}

static void bufs_free(struct batch_bufs *b)
{
    free(b->keys);
    free(b->val);
    free(b->ops);
}

/* Run one batch, record its latency for each of its n operations. */
static void run_batch(struct client *c, struct skv_store_op *ops, unsigned n)
{
    uint64_t t0 = clock_mono_ns();
    int rc = skv_store_exec(c->st, ops, n);
    uint64_t dt = clock_mono_ns() - t0;
    hist_add(&c->hist, dt, n);
    c->ops += n;
    for (unsigned i = 0; i < n; i++) {
        if (rc < 0 || ops[i].rc < 0)
            c->errors++;
        if (ops[i].kind == SKV_STORE_OP_GET)
            free(ops[i].out);
    }
}

static void set_op(struct skv_store_op *op, const char *key, const struct opts *o, const char *val)
{
    *op = (struct skv_store_op){.kind = SKV_STORE_OP_SET,
                                .key = key,
                                .klen = o->key_size,
                                .val = val,
                                .vlen = o->value_size};
}

/* read-heavy / balanced: random keys from the preloaded space. */
static void client_mixed(struct client *c, struct batch_bufs *b, unsigned set_pct)
{
    const struct opts *o = c->o;
    while (!atomic_load_explicit(&stop_flag, memory_order_relaxed)) {
        for (unsigned i = 0; i < o->batch; i++) {
            uint64_t r = rng_next(&c->rng);
            char *k = b->keys + (size_t)i * o->key_size;
            make_key(k, o->key_size, (r >> 8) % o->keys);
            if ((r & 0xff) * 100 < (uint64_t)set_pct * 256)
                set_op(&b->ops[i], k, o, b->val);
            else
                b->ops[i] =
                    (struct skv_store_op){.kind = SKV_STORE_OP_GET, .key = k, .klen = o->key_size};
        }
        run_batch(c, b->ops, o->batch);
    }
}

/* churn: each batch sets batch/2 fresh keys and deletes the ones the
 * previous batch set, so every key lives for one round trip. */
static void client_churn(struct client *c, struct batch_bufs *b)
{
    const struct opts *o = c->o;
    unsigned half = o->batch / 2 ? o->batch / 2 : 1;
    uint64_t next = 0;
    /* Two key sets: this batch's and the previous one's. */
    char *cur = b->keys, *prev = b->keys + (size_t)half * o->key_size;
    bool have_prev = false;
    while (!atomic_load_explicit(&stop_flag, memory_order_relaxed)) {
        unsigned n = 0;
        for (unsigned i = 0; i < half; i++) {
            char *k = cur + (size_t)i * o->key_size;
            /* Thread id in the high digits keeps threads' keys apart. */
            make_key(k, o->key_size, ((uint64_t)c->id << 40) + next++);
            set_op(&b->ops[n++], k, o, b->val);
        }
        if (have_prev)
            for (unsigned i = 0; i < half && n < o->batch; i++)
                b->ops[n++] = (struct skv_store_op){.kind = SKV_STORE_OP_DEL,
                                                    .key = prev + (size_t)i * o->key_size,
                                                    .klen = o->key_size};
        run_batch(c, b->ops, n);
        char *t = cur;
        cur = prev;
        prev = t;
        have_prev = true;
    }
}

/* grow and preload: SET ids [lo, hi) in batches. Timed only for grow. */
static void client_fill(struct client *c, struct batch_bufs *b, bool timed)
{
    const struct opts *o = c->o;
    for (uint64_t id = c->lo; id < c->hi;) {
        unsigned n = 0;
        for (; n < o->batch && id < c->hi; n++, id++) {
            char *k = b->keys + (size_t)n * o->key_size;
            make_key(k, o->key_size, id);
            set_op(&b->ops[n], k, o, b->val);
        }
        if (timed) {
            run_batch(c, b->ops, n);
        } else if (skv_store_exec(c->st, b->ops, n) < 0) {
            c->errors += n;
        } else {
            for (unsigned i = 0; i < n; i++)
                c->errors += b->ops[i].rc < 0;
        }
    }
}

/* Thread body; the phase is chosen by the caller through c->lo/hi. */
static bool preload_phase;

static void client_main(void *arg)
{
    struct client *c = arg;
    struct batch_bufs b;
    if (bufs_init(&b, c->o, c->id) != 0) {
        c->errors++;
        bufs_free(&b);
        return;
    }
    if (preload_phase)
        client_fill(c, &b, false);
    else if (c->o->wl == WL_READ_HEAVY)
        client_mixed(c, &b, 5);
    else if (c->o->wl == WL_BALANCED)
        client_mixed(c, &b, 50);
    else if (c->o->wl == WL_CHURN)
        client_churn(c, &b);
    else
        client_fill(c, &b, true);
    bufs_free(&b);
}

/* Start the clients, each with its share of [0, total) ids; wait for them. */
static void run_clients(struct client *cl, unsigned n, uint64_t total, double seconds)
{
    atomic_store(&stop_flag, false);
    for (unsigned i = 0; i < n; i++) {
        cl[i].lo = total * i / n;
        cl[i].hi = total * (i + 1) / n;
        if (uv_thread_create(&cl[i].tid, client_main, &cl[i]) != 0) {
            fprintf(stderr, "engine-bench: cannot create thread\n");
            exit(1);
        }
    }
    if (seconds > 0) {
        uv_sleep((unsigned)(seconds * 1000));
        atomic_store(&stop_flag, true);
    }
    for (unsigned i = 0; i < n; i++)
        uv_thread_join(&cl[i].tid);
}

/* A hiccup meter, as jHiccup does for JVMs: a thread that asks to sleep
 * 1 ms over and over and records the worst oversleep. Whatever delays it
 * (scheduler, hypervisor, kernel work) delays the store's threads alike, so
 * its maximum is the floor under max_us on this machine: a max_us close to
 * it is the platform's, not the map's. 1 ms, jHiccup's own period, sees
 * every stall that matters against a 1 ms target; a 100 us period took 7%
 * of a CPU on the 2-vCPU VM (per-thread CPU in /proc), which the workloads'
 * throughput then lacked. */
#define HICCUP_SLEEP_NS 1000000

static atomic_bool hiccup_stop;
static uint64_t hiccup_max_ns;

static void hiccup_main(void *arg)
{
    (void)arg;
    const struct timespec d = {0, HICCUP_SLEEP_NS};
    while (!atomic_load_explicit(&hiccup_stop, memory_order_relaxed)) {
        uint64_t t0 = clock_mono_ns();
        nanosleep(&d, NULL);
        uint64_t dt = clock_mono_ns() - t0;
        if (dt > HICCUP_SLEEP_NS && dt - HICCUP_SLEEP_NS > hiccup_max_ns)
            hiccup_max_ns = dt - HICCUP_SLEEP_NS;
    }
}

static void usage(void)
{
    fprintf(stderr,
            "usage: shardkv-engine-bench [--shards N] [--threads T] [--seconds S] [--keys K]\n"
            "         [--workload read-heavy|balanced|churn|grow] [--key-size B]\n"
            "         [--value-size B] [--batch B] [--shard-timing] [--spin-us U]\n"
            "Workloads: read-heavy 95%% GET / 5%% SET over --keys (default 10000) preloaded keys;\n"
            "balanced 50/50 over --keys (default 1000000) preloaded keys; churn SETs fresh\n"
            "keys and DELs them one batch later; grow inserts --keys (default 10000000) fresh\n"
            "keys and stops (--seconds ignored). Prints one JSON line.\n");
}

static int parse_u64(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || end == s)
        return -1;
    *out = v;
    return 0;
}

static int parse_opts(int argc, char **argv, struct opts *o)
{
    static const struct option longopts[] = {
        {"shards", required_argument, NULL, 's'},
        {"threads", required_argument, NULL, 't'},
        {"seconds", required_argument, NULL, 'd'},
        {"keys", required_argument, NULL, 'k'},
        {"workload", required_argument, NULL, 'w'},
        {"key-size", required_argument, NULL, 'K'},
        {"value-size", required_argument, NULL, 'V'},
        {"batch", required_argument, NULL, 'b'},
        {"shard-timing", no_argument, NULL, 'T'},
        {"spin-us", required_argument, NULL, 'S'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    *o = (struct opts){.shards = 1,
                       .threads = 2,
                       .seconds = 5,
                       .wl = WL_BALANCED,
                       .key_size = 16,
                       .value_size = 32,
                       .batch = 16};
    bool keys_given = false;
    int ch;
    uint64_t v;
    while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (ch) {
        case 'd':
            o->seconds = strtod(optarg, NULL);
            if (o->seconds <= 0)
                return -1;
            break;
        case 'w': {
            bool found = false;
            for (int i = 0; i < 4; i++)
                if (strcmp(optarg, workload_names[i]) == 0) {
                    o->wl = (enum workload)i;
                    found = true;
                }
            if (!found)
                return -1;
            break;
        }
        case 'T':
            o->shard_timing = true;
            break;
        case 'S':
            o->spin_us = atoi(optarg);
            break;
        case 'h':
            return -1;
        case 's':
        case 't':
        case 'k':
        case 'K':
        case 'V':
        case 'b':
            if (parse_u64(optarg, &v) != 0)
                return -1;
            if (ch == 's')
                o->shards = (unsigned)v;
            else if (ch == 't')
                o->threads = (unsigned)v;
            else if (ch == 'k')
                o->keys = v, keys_given = true;
            else if (ch == 'K')
                o->key_size = (size_t)v;
            else if (ch == 'V')
                o->value_size = (size_t)v;
            else
                o->batch = (unsigned)v;
            break;
        default:
            return -1;
        }
    }
    if (!keys_given)
        o->keys = o->wl == WL_READ_HEAVY ? 10000 : o->wl == WL_GROW ? 10000000 : 1000000;
    if (o->wl == WL_GROW)
        o->shard_timing = true;
    /* 'k' + up to 20 digits: shorter keys could not keep ids apart. */
    if (o->shards == 0 || o->threads == 0 || o->batch == 0 || o->batch > 4096 || o->key_size < 12 ||
        o->key_size > 4096 || o->keys == 0)
        return -1;
    return 0;
}

int main(int argc, char **argv)
{
    struct opts o;
    if (parse_opts(argc, argv, &o) != 0) {
        usage();
        return 2;
    }
    digit_pairs_init();
    struct skv_store_opts so = {.time_ops = o.shard_timing, .spin_us = o.spin_us};
    struct skv_store *st = skv_store_open(o.shards, &so);
    if (!st) {
        fprintf(stderr, "engine-bench: cannot open the store\n");
        return 1;
    }
    size_t rss_base = mem_rss();

    struct client *cl = calloc(o.threads, sizeof *cl);
    if (!cl)
        return 1;
    for (unsigned i = 0; i < o.threads; i++) {
        cl[i].id = i;
        cl[i].o = &o;
        cl[i].st = st;
        cl[i].rng = 0x9E3779B97F4A7C15ULL * (i + 1);
    }

    uint64_t preload_errors = 0;
    if (o.wl == WL_READ_HEAVY || o.wl == WL_BALANCED) {
        preload_phase = true;
        run_clients(cl, o.threads, o.keys, 0);
        preload_phase = false;
        for (unsigned i = 0; i < o.threads; i++) {
            preload_errors += cl[i].errors;
            cl[i].errors = 0;
        }
    }

    uv_thread_t hiccup;
    bool hiccup_on = uv_thread_create(&hiccup, hiccup_main, NULL) == 0;
    uint64_t t0 = clock_mono_ns();
    run_clients(cl, o.threads, o.wl == WL_GROW ? o.keys : 0, o.wl == WL_GROW ? 0 : o.seconds);
    double elapsed = (double)(clock_mono_ns() - t0) / 1e9;
    atomic_store(&hiccup_stop, true);
    if (hiccup_on)
        uv_thread_join(&hiccup);
    char hiccup_max[32] = "null";
    if (hiccup_on)
        snprintf(hiccup_max, sizeof hiccup_max, "%.1f", (double)hiccup_max_ns / 1e3);

    struct hist *h = calloc(1, sizeof *h);
    if (!h)
        return 1;
    uint64_t ops = 0, errors = preload_errors;
    for (unsigned i = 0; i < o.threads; i++) {
        hist_merge(h, &cl[i].hist);
        ops += cl[i].ops;
        errors += cl[i].errors;
    }
    size_t rss = mem_rss();
    struct skv_store_stats ss = {0};
    skv_store_stats(st, &ss);

    char shard_max[32] = "null";
    if (o.shard_timing)
        snprintf(shard_max, sizeof shard_max, "%.1f", (double)ss.max_op_ns / 1e3);
    printf("{\"workload\":\"%s\",\"shards\":%u,\"threads\":%u,\"batch\":%u,\"spin_us\":%d,"
           "\"key_size\":%zu,\"value_size\":%zu,\"seconds\":%.2f,\"ops\":%" PRIu64 ","
           "\"ops_per_sec\":%.0f,\"p50_us\":%.1f,\"p99_us\":%.1f,\"max_us\":%.1f,"
           "\"shard_max_us\":%s,\"hiccup_max_us\":%s,\"rss_bytes\":%zu,\"rss_base_bytes\":%zu,"
           "\"rss_per_key\":%.1f,\"used_memory\":%" PRId64 ",\"keys\":%" PRIu64 ","
           "\"errors\":%" PRIu64 "}\n",
           workload_names[o.wl], o.shards, o.threads, o.batch, o.spin_us, o.key_size, o.value_size,
           elapsed, ops, (double)ops / elapsed, (double)hist_percentile(h, 0.50) / 1e3,
           (double)hist_percentile(h, 0.99) / 1e3, (double)h->max / 1e3, shard_max, hiccup_max,
           rss, rss_base,
           ss.keys ? (double)(rss - rss_base) / (double)ss.keys : 0.0, ss.used_memory, ss.keys,
           errors);

    free(h);
    free(cl);
    skv_store_close(st);
    return errors ? 1 : 0;
}
