/* bench.c — shardkv-bench, a load generator for any RESP server. Each
 * worker thread runs its own libuv loop with its share of the connections
 * (libshardkv's async client); every connection keeps --pipeline requests in
 * flight. The main thread prints a progress line each second and, at the
 * end, throughput, latency percentiles from merged log-linear histograms
 * and the GETs' hit rate. With --cache-aside every request is a GET and a
 * miss is followed by a SET of that key, as a cache-aside client does. */
#include <errno.h>
#include <math.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "client/hist.h"
#include "client/shardkv.h"
#include "common/clock.h"

/* Most keys a zipf table is built for: its CDF costs 8 bytes a key. */
#define BENCH_MAX_ZIPF_KEYS 10000000
/* Longest key: "key:" plus up to 20 digits. */
#define BENCH_KEY_MAX 32

enum op { OP_GET, OP_SET, OP_DEL, OP_COUNT };
static const char *const op_names[OP_COUNT] = {"GET", "SET", "DEL"};

/* The command line. */
struct bench_config {
    const char *host;          /* --host */
    int port;                  /* --port */
    int connections;           /* --connections, over all threads */
    int pipeline;              /* --pipeline: requests in flight per connection */
    int threads;               /* --threads */
    double seconds;            /* --seconds (used when requests == 0) */
    uint64_t requests;         /* --requests, 0: run for seconds */
    uint64_t keys;             /* --keys: key space size */
    size_t value_size;         /* --value-size */
    unsigned weight[OP_COUNT]; /* mix of operations */
    double zipf_s;             /* --distribution zipf:S; 0: uniform */
    const char *workload;      /* --workload name, for the report */
    bool prefill;              /* --prefill: SET every key before measuring */
    bool cache_aside;          /* --cache-aside: GET, and SET on a miss */
    bool json;                 /* --json */
    bool quiet;                /* --quiet: no progress lines */
};

/* Shared, read-only after start. */
static struct bench_config cfg;
static double *zipf_cdf;        /* cumulative probabilities, keys entries */
static char *value_buf;         /* value_size bytes of 'x' */
static atomic_bool failed;      /* a worker could not connect */
static atomic_bool error_shown; /* the first error reply was printed */

struct worker;

/* One connection and its in-flight requests' start times (FIFO: replies
 * come back in order). */
struct bconn {
    struct worker *w;        /* owner */
    struct skv_async *ac;    /* the client */
    uint64_t *sent;          /* ring of start times, pipeline entries */
    uint64_t *key;           /* ring of the requests' keys (cache-aside's SET) */
    unsigned char *op;       /* ring of the requests' operations */
    unsigned head, inflight; /* ring position, requests in flight */
    bool closed;             /* skv_async_close called */
};

/* One thread: a loop, its connections, its counters and histogram. */
struct worker {
    int id;                      /* 0.. */
    uv_thread_t thread;          /* the thread */
    uv_loop_t loop;              /* its loop */
    uv_timer_t stop_timer;       /* --seconds */
    struct bconn *conns;         /* nconns connections */
    int nconns;                  /* connections of this worker */
    uint64_t rng;                /* xorshift state */
    uint64_t quota;              /* --requests share; 0 unlimited */
    uint64_t issued;             /* requests sent */
    bool stopping;               /* no new requests */
    bool prefill_phase;          /* issuing the prefill SETs */
    uint64_t prefill_next;       /* next key to prefill */
    uint64_t prefill_end;        /* one past this worker's last prefill key */
    atomic_uint_fast64_t done;   /* replies (read by the main thread) */
    atomic_uint_fast64_t errors; /* error replies */
    atomic_bool finished;        /* the loop has returned */
    uint64_t start_ns, end_ns;   /* measured interval */
    uint64_t ops[OP_COUNT];      /* requests per operation */
    uint64_t hits, misses;       /* GET replies with a value / nil */
    uint64_t gets_done;          /* GET replies (cache-aside's quota) */
    struct hist hist;            /* latency in ns */
};

static uint64_t rnd(struct worker *w)
{
    /* xorshift64*: fast, good enough to pick keys and operations. */
    w->rng ^= w->rng >> 12;
    w->rng ^= w->rng << 25;
    w->rng ^= w->rng >> 27;
    return w->rng * UINT64_C(2685821657736338717);
}

static double rnd01(struct worker *w)
{
    return (double)(rnd(w) >> 11) * (1.0 / 9007199254740992.0);
}

static uint64_t pick_key(struct worker *w)
{
    if (zipf_cdf == NULL)
        return rnd(w) % cfg.keys;
    double u = rnd01(w);
    uint64_t lo = 0, hi = cfg.keys - 1;
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2;
        if (zipf_cdf[mid] < u)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static enum op pick_op(struct worker *w)
{
    unsigned total = cfg.weight[OP_GET] + cfg.weight[OP_SET] + cfg.weight[OP_DEL];
    unsigned x = (unsigned)(rnd(w) % total);
    if (x < cfg.weight[OP_GET])
        return OP_GET;
    if (x < cfg.weight[OP_GET] + cfg.weight[OP_SET])
        return OP_SET;
    return OP_DEL;
}

static void on_reply(struct skv_async *ac, struct skv_reply *r, void *priv);

static void close_conn(struct bconn *c)
{
    if (!c->closed) {
        c->closed = true;
        skv_async_close(c->ac);
    }
}

/* Send op on key k on c. Returns whether it did. */
static bool send_op(struct bconn *c, enum op op, uint64_t k)
{
    struct worker *w = c->w;
    char key[BENCH_KEY_MAX];
    const char *argv[3];
    size_t lens[3];
    int argc;
    int kl = snprintf(key, sizeof(key), "key:%012llu", (unsigned long long)k);
    argv[0] = op_names[op];
    lens[0] = 3;
    argv[1] = key;
    lens[1] = (size_t)kl;
    argc = 2;
    if (op == OP_SET) {
        argv[2] = value_buf;
        lens[2] = cfg.value_size;
        argc = 3;
    }
    unsigned slot = (c->head + c->inflight) % (unsigned)cfg.pipeline;
    c->sent[slot] = uv_hrtime();
    c->key[slot] = k;
    c->op[slot] = (unsigned char)op;
    if (skv_async_command(c->ac, argc, argv, lens, on_reply, c) < 0) {
        close_conn(c);
        return false;
    }
    c->inflight++;
    if (!w->prefill_phase)
        w->ops[op]++;
    return true;
}

/* Send one request on c if the run allows another. Returns whether it
 * did. */
static bool issue(struct bconn *c)
{
    struct worker *w = c->w;
    if (w->stopping || c->closed || c->inflight >= (unsigned)cfg.pipeline)
        return false;
    if (w->prefill_phase) {
        if (w->prefill_next >= w->prefill_end)
            return false;
        return send_op(c, OP_SET, w->prefill_next++);
    }
    if (w->quota && w->issued >= w->quota)
        return false;
    enum op op = cfg.cache_aside ? OP_GET : pick_op(w);
    if (!send_op(c, op, pick_key(w)))
        return false;
    w->issued++;
    return true;
}

/* Fill every connection's pipeline. */
static void fill_all(struct worker *w)
{
    for (int i = 0; i < w->nconns; i++)
        while (issue(&w->conns[i]))
            ;
}

static void stop_worker(struct worker *w)
{
    if (w->stopping)
        return;
    w->stopping = true;
    w->end_ns = uv_hrtime();
    uv_timer_stop(&w->stop_timer);
    for (int i = 0; i < w->nconns; i++)
        close_conn(&w->conns[i]);
}

static void stop_timer_cb(uv_timer_t *t)
{
    stop_worker(t->data);
}

static void start_measuring(struct worker *w)
{
    w->prefill_phase = false;
    w->start_ns = uv_hrtime();
    if (cfg.requests == 0)
        uv_timer_start(&w->stop_timer, stop_timer_cb, (uint64_t)(cfg.seconds * 1000.0), 0);
    else if (w->quota == 0)
        stop_worker(w); /* fewer requests than threads: nothing to do here */
    fill_all(w);
}

static void on_reply(struct skv_async *ac, struct skv_reply *r, void *priv)
{
    struct bconn *c = priv;
    struct worker *w = c->w;
    uint64_t now = uv_hrtime();
    uint64_t t0 = c->sent[c->head];
    uint64_t key = c->key[c->head];
    enum op op = (enum op)c->op[c->head];
    c->head = (c->head + 1) % (unsigned)cfg.pipeline;
    c->inflight--;
    if (w->stopping)
        return; /* late replies and the close's error replies: not counted */
    if (r->type == SKV_REPLY_ERROR && !skv_async_connected(ac)) {
        /* Synthesized by the library: the connection failed or was lost.
         * With reconnecting off, this connection is done; so is the run. */
        if (!atomic_exchange(&failed, true))
            fprintf(stderr, "%s:%d: %s\n", cfg.host, cfg.port, r->str);
        stop_worker(w);
        return;
    }
    if (w->prefill_phase) {
        if (r->type == SKV_REPLY_ERROR) {
            fprintf(stderr, "prefill failed: %s\n", r->str);
            atomic_store(&failed, true);
            stop_worker(w);
            return;
        }
        if (w->prefill_next >= w->prefill_end) {
            /* Last prefill keys sent: measure once all are answered. */
            bool idle = true;
            for (int i = 0; i < w->nconns; i++)
                if (w->conns[i].inflight > 0)
                    idle = false;
            if (idle)
                start_measuring(w);
            return;
        }
        issue(c);
        return;
    }
    hist_record(&w->hist, now - t0);
    if (r->type == SKV_REPLY_ERROR &&
        atomic_fetch_add_explicit(&w->errors, 1, memory_order_relaxed) == 0 &&
        !atomic_exchange(&error_shown, true))
        fprintf(stderr, "first error reply: %.*s\n", (int)r->len, r->str);
    uint64_t done = atomic_fetch_add_explicit(&w->done, 1, memory_order_relaxed) + 1;
    bool miss = false;
    if (op == OP_GET) {
        w->gets_done++;
        miss = r->type == SKV_REPLY_NIL;
        if (miss)
            w->misses++;
        else if (r->type == SKV_REPLY_STRING)
            w->hits++;
    }
    /* Cache-aside counts its quota in GETs: the SETs are their misses'. */
    if (w->quota && (cfg.cache_aside ? w->gets_done : done) >= w->quota) {
        stop_worker(w);
        return;
    }
    if (cfg.cache_aside && miss) {
        /* The miss's fill takes the slot its GET freed. */
        send_op(c, OP_SET, key);
        return;
    }
    issue(c);
}

static void on_connect(struct skv_async *ac, int status, void *data)
{
    struct worker *w = data;
    if (status == 0)
        return;
    if (!atomic_exchange(&failed, true))
        fprintf(stderr, "Could not connect to %s:%d: %s\n", cfg.host, cfg.port, skv_errstr(status));
    stop_worker(w);
}

static void worker_main(void *arg)
{
    struct worker *w = arg;
    uv_loop_init(&w->loop);
    uv_timer_init(&w->loop, &w->stop_timer);
    w->stop_timer.data = w;
    struct skv_options o;
    skv_options_init(&o);
    o.reconnect_min_ms = 0; /* a lost connection ends that connection's part */
    for (int i = 0; i < w->nconns; i++) {
        struct bconn *c = &w->conns[i];
        c->w = w;
        c->sent = calloc((size_t)cfg.pipeline, sizeof(*c->sent));
        c->key = calloc((size_t)cfg.pipeline, sizeof(*c->key));
        c->op = calloc((size_t)cfg.pipeline, sizeof(*c->op));
        c->ac = skv_async_connect(&w->loop, cfg.host, cfg.port, &o, on_connect, w);
        if (c->sent == NULL || c->key == NULL || c->op == NULL || c->ac == NULL) {
            fprintf(stderr, "out of memory\n");
            atomic_store(&failed, true);
            c->closed = true;
            if (c->ac)
                close_conn(c);
        }
    }
    if (w->prefill_next < w->prefill_end) {
        w->prefill_phase = true;
        fill_all(w);
    } else {
        start_measuring(w);
    }
    uv_run(&w->loop, UV_RUN_DEFAULT);
    if (w->end_ns == 0)
        w->end_ns = uv_hrtime();
    if (w->start_ns == 0)
        w->start_ns = w->end_ns;
    uv_close((uv_handle_t *)&w->stop_timer, NULL);
    uv_run(&w->loop, UV_RUN_DEFAULT);
    uv_loop_close(&w->loop);
    for (int i = 0; i < w->nconns; i++) {
        free(w->conns[i].sent);
        free(w->conns[i].key);
        free(w->conns[i].op);
    }
    atomic_store(&w->finished, true);
}

/* ------------------------------------------------------------- options */

static void usage(FILE *f)
{
    fprintf(f, "Usage: shardkv-bench [OPTIONS]\n"
               "Load generator for any RESP server (shardkv, Redis, ...).\n"
               "  --host <h>             server host (default 127.0.0.1)\n"
               "  --port <p>             server port (default 6379)\n"
               "  --connections <n>      connections in total (default 50)\n"
               "  --pipeline <n>         requests in flight per connection (default 1)\n"
               "  --threads <n>          worker threads, one libuv loop each (default 1)\n"
               "  --seconds <s>          run this long (default 10) ...\n"
               "  --requests <n>         ... or until n replies (n GETs with --cache-aside)\n"
               "  --keys <n>             key space: key:000000000000 .. (default: the\n"
               "                         workload's: 10,000 read-heavy, 1,000,000 balanced,\n"
               "                         100,000 churn)\n"
               "  --value-size <bytes>   SET value size (default 32)\n"
               "  --ratio GET:SET[:DEL]  operation mix (overrides --workload)\n"
               "  --distribution uniform|zipf:S   key popularity (default uniform)\n"
               "  --workload read-heavy|balanced|churn\n"
               "                         GET:SET:DEL 95:5:0, 50:50:0 (default) or\n"
               "                         0:50:50 (short-lived keys: SET, then DEL), the\n"
               "                         same three as shardkv-engine-bench\n"
               "  --prefill              SET every key once before measuring\n"
               "  --cache-aside          every request a GET, each miss followed by a SET\n"
               "                         of its key (a cache-aside client; --ratio and\n"
               "                         --workload's mix are ignored)\n"
               "  --json                 print one JSON line with the results\n"
               "  --quiet                no progress lines\n");
}

static bool num_arg(const char *s, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end != '\0' || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

static int parse_args(int argc, char **argv)
{
    const char *ratio = NULL;
    cfg = (struct bench_config){
        .host = "127.0.0.1",
        .port = 6379,
        .connections = 50,
        .pipeline = 1,
        .threads = 1,
        .seconds = 10,
        .keys = 0, /* 0: the workload's key space, set after parsing */
        .value_size = 32,
        .weight = {1, 1, 0},
        .workload = "balanced",
    };
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        double d;
#define NUM(name, lo, hi, field, type)                                                             \
    if (!strcmp(a, name)) {                                                                        \
        if (v == NULL || !num_arg(v, lo, hi, &d)) {                                                \
            fprintf(stderr, "bad value for %s\n", name);                                           \
            return -1;                                                                             \
        }                                                                                          \
        field = (type)d;                                                                           \
        i++;                                                                                       \
        continue;                                                                                  \
    }
        NUM("--port", 1, 65535, cfg.port, int)
        NUM("--connections", 1, 100000, cfg.connections, int)
        NUM("--pipeline", 1, 100000, cfg.pipeline, int)
        NUM("--threads", 1, 1024, cfg.threads, int)
        NUM("--seconds", 0.001, 86400.0 * 365, cfg.seconds, double)
        NUM("--requests", 1, 1e15, cfg.requests, uint64_t)
        NUM("--keys", 1, 1e15, cfg.keys, uint64_t)
        NUM("--value-size", 0, 512.0 * 1024 * 1024, cfg.value_size, size_t)
#undef NUM
        if (!strcmp(a, "--host") && v) {
            cfg.host = v;
            i++;
        } else if (!strcmp(a, "--ratio") && v) {
            ratio = v;
            i++;
        } else if (!strcmp(a, "--distribution") && v) {
            if (!strcmp(v, "uniform")) {
                cfg.zipf_s = 0;
            } else if (!strncmp(v, "zipf:", 5) && num_arg(v + 5, 0.01, 10, &d)) {
                cfg.zipf_s = d;
            } else {
                fprintf(stderr, "bad --distribution: %s (uniform or zipf:S)\n", v);
                return -1;
            }
            i++;
        } else if (!strcmp(a, "--workload") && v) {
            cfg.workload = v;
            if (!strcmp(v, "read-heavy")) {
                cfg.weight[OP_GET] = 19, cfg.weight[OP_SET] = 1, cfg.weight[OP_DEL] = 0;
            } else if (!strcmp(v, "balanced")) {
                cfg.weight[OP_GET] = 1, cfg.weight[OP_SET] = 1, cfg.weight[OP_DEL] = 0;
            } else if (!strcmp(v, "churn")) {
                cfg.weight[OP_GET] = 0, cfg.weight[OP_SET] = 1, cfg.weight[OP_DEL] = 1;
            } else {
                fprintf(stderr, "bad --workload: %s\n", v);
                return -1;
            }
            i++;
        } else if (!strcmp(a, "--prefill")) {
            cfg.prefill = true;
        } else if (!strcmp(a, "--cache-aside")) {
            cfg.cache_aside = true;
        } else if (!strcmp(a, "--json")) {
            cfg.json = true;
        } else if (!strcmp(a, "--quiet")) {
            cfg.quiet = true;
        } else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 1;
        } else {
            fprintf(stderr, "unknown or incomplete option: %s\n", a);
            usage(stderr);
            return -1;
        }
    }
    if (ratio != NULL) {
        unsigned g = 0, s = 0, del = 0;
        int n = sscanf(ratio, "%u:%u:%u", &g, &s, &del);
        if (n < 2 || g > 1000000 || s > 1000000 || del > 1000000 || g + s + del == 0) {
            fprintf(stderr, "bad --ratio: %s (GET:SET or GET:SET:DEL)\n", ratio);
            return -1;
        }
        cfg.weight[OP_GET] = g, cfg.weight[OP_SET] = s, cfg.weight[OP_DEL] = n == 3 ? del : 0;
    }
    if (cfg.cache_aside)
        cfg.workload = "cache-aside";
    if (cfg.keys == 0) /* the engine benchmark's key spaces, so figures compare */
        cfg.keys = !strcmp(cfg.workload, "read-heavy") ? 10000
                   : !strcmp(cfg.workload, "churn")    ? 100000
                                                       : 1000000;
    if (cfg.threads > cfg.connections)
        cfg.threads = cfg.connections;
    if (cfg.zipf_s > 0 && cfg.keys > BENCH_MAX_ZIPF_KEYS) {
        fprintf(stderr, "--distribution zipf supports at most %d keys\n", BENCH_MAX_ZIPF_KEYS);
        return -1;
    }
    return 0;
}

static int build_zipf(void)
{
    zipf_cdf = malloc(cfg.keys * sizeof(*zipf_cdf));
    if (zipf_cdf == NULL)
        return -1;
    double sum = 0;
    for (uint64_t i = 0; i < cfg.keys; i++) {
        sum += 1.0 / pow((double)(i + 1), cfg.zipf_s);
        zipf_cdf[i] = sum;
    }
    for (uint64_t i = 0; i < cfg.keys; i++)
        zipf_cdf[i] /= sum;
    zipf_cdf[cfg.keys - 1] = 1.0;
    return 0;
}

static uint64_t total_done(struct worker *ws)
{
    uint64_t n = 0;
    for (int i = 0; i < cfg.threads; i++)
        n += atomic_load_explicit(&ws[i].done, memory_order_relaxed);
    return n;
}

static uint64_t total_errors(struct worker *ws)
{
    uint64_t n = 0;
    for (int i = 0; i < cfg.threads; i++)
        n += atomic_load_explicit(&ws[i].errors, memory_order_relaxed);
    return n;
}

int main(int argc, char **argv)
{
    int rc = parse_args(argc, argv);
    if (rc != 0)
        return rc < 0 ? 2 : 0;
    if (cfg.zipf_s > 0 && build_zipf() < 0) {
        fprintf(stderr, "out of memory for the zipf table\n");
        return 1;
    }
    value_buf = malloc(cfg.value_size ? cfg.value_size : 1);
    struct worker *ws = calloc((size_t)cfg.threads, sizeof(*ws));
    if (value_buf == NULL || ws == NULL) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    memset(value_buf, 'x', cfg.value_size);
    uint64_t seed = clock_mono_ns() ^ ((uint64_t)getpid() << 32);
    for (int t = 0; t < cfg.threads; t++) {
        struct worker *w = &ws[t];
        w->id = t;
        w->nconns = cfg.connections / cfg.threads + (t < cfg.connections % cfg.threads);
        w->conns = calloc((size_t)w->nconns, sizeof(*w->conns));
        if (w->conns == NULL) {
            fprintf(stderr, "out of memory\n");
            return 1;
        }
        w->rng = (seed + (uint64_t)t * UINT64_C(0x9e3779b97f4a7c15)) | 1;
        if (cfg.requests)
            w->quota = cfg.requests / (uint64_t)cfg.threads +
                       ((uint64_t)t < cfg.requests % (uint64_t)cfg.threads);
        if (cfg.prefill) {
            w->prefill_next = cfg.keys * (uint64_t)t / (uint64_t)cfg.threads;
            w->prefill_end = cfg.keys * (uint64_t)(t + 1) / (uint64_t)cfg.threads;
        }
        hist_init(&w->hist);
    }
    uint64_t wall0 = clock_mono_ns();
    for (int t = 0; t < cfg.threads; t++) {
        if (uv_thread_create(&ws[t].thread, worker_main, &ws[t]) != 0) {
            fprintf(stderr, "cannot start thread %d\n", t);
            return 1;
        }
    }
    /* Progress: one line per second on stderr. */
    uint64_t last = 0, tick = 0;
    for (;;) {
        bool all = true;
        for (int t = 0; t < cfg.threads; t++)
            if (!atomic_load(&ws[t].finished))
                all = false;
        if (all)
            break;
        usleep(50 * 1000);
        uint64_t elapsed = clock_mono_ns() - wall0;
        if (elapsed / 1000000000u > tick) {
            tick = elapsed / 1000000000u;
            uint64_t now = total_done(ws);
            if (!cfg.quiet)
                fprintf(stderr, "[%4llus] %llu ops/s, %llu replies, %llu errors\n",
                        (unsigned long long)tick, (unsigned long long)(now - last),
                        (unsigned long long)now, (unsigned long long)total_errors(ws));
            last = now;
        }
    }
    struct hist *h = malloc(sizeof(*h));
    if (h == NULL)
        return 1;
    hist_init(h);
    uint64_t done = 0, errors = 0, ops[OP_COUNT] = {0}, hits = 0, misses = 0;
    uint64_t start = UINT64_MAX, end = 0;
    for (int t = 0; t < cfg.threads; t++) {
        uv_thread_join(&ws[t].thread);
        hist_merge(h, &ws[t].hist);
        done += atomic_load(&ws[t].done);
        errors += atomic_load(&ws[t].errors);
        for (int o = 0; o < OP_COUNT; o++)
            ops[o] += ws[t].ops[o];
        hits += ws[t].hits;
        misses += ws[t].misses;
        if (ws[t].start_ns < start)
            start = ws[t].start_ns;
        if (ws[t].end_ns > end)
            end = ws[t].end_ns;
        free(ws[t].conns);
    }
    double secs = end > start ? (double)(end - start) / 1e9 : 0;
    double ops_s = secs > 0 ? (double)done / secs : 0;
    double us = 1000.0; /* ns per microsecond */
    double p50 = (double)hist_percentile(h, 50) / us, p90 = (double)hist_percentile(h, 90) / us,
           p99 = (double)hist_percentile(h, 99) / us, p999 = (double)hist_percentile(h, 99.9) / us,
           pmax = (double)h->max / us, mean = h->total ? h->sum / (double)h->total / us : 0;
    double hit_rate = hits + misses ? (double)hits / (double)(hits + misses) : 0;
    char dist[32];
    if (cfg.zipf_s > 0)
        snprintf(dist, sizeof(dist), "zipf:%g", cfg.zipf_s);
    else
        snprintf(dist, sizeof(dist), "uniform");
    if (atomic_load(&failed) && done == 0) {
        /* Nothing measured: the error is already on stderr. */
    } else if (cfg.json) {
        printf("{\"ops_per_sec\":%.1f,\"requests\":%llu,\"errors\":%llu,\"seconds\":%.3f,"
               "\"p50_us\":%.1f,\"p90_us\":%.1f,\"p99_us\":%.1f,\"p99_9_us\":%.1f,"
               "\"max_us\":%.1f,\"mean_us\":%.1f,\"gets\":%llu,\"sets\":%llu,\"dels\":%llu,"
               "\"hits\":%llu,\"misses\":%llu,\"hit_rate\":%.6f,\"cache_aside\":%s,"
               "\"workload\":\"%s\",\"distribution\":\"%s\",\"connections\":%d,"
               "\"pipeline\":%d,\"threads\":%d,\"keys\":%llu,\"value_size\":%zu,"
               "\"failed\":%s}\n",
               ops_s, (unsigned long long)done, (unsigned long long)errors, secs, p50, p90, p99,
               p999, pmax, mean, (unsigned long long)ops[OP_GET], (unsigned long long)ops[OP_SET],
               (unsigned long long)ops[OP_DEL], (unsigned long long)hits,
               (unsigned long long)misses, hit_rate, cfg.cache_aside ? "true" : "false",
               cfg.workload, dist, cfg.connections, cfg.pipeline, cfg.threads,
               (unsigned long long)cfg.keys, cfg.value_size,
               atomic_load(&failed) ? "true" : "false");
    } else {
        if (cfg.cache_aside)
            printf("%s:%d  cache-aside (GET, SET on a miss)  %s keys %llu  value %zu B\n", cfg.host,
                   cfg.port, dist, (unsigned long long)cfg.keys, cfg.value_size);
        else
            printf("%s:%d  workload %s  GET:SET:DEL %u:%u:%u  %s keys %llu  value %zu B\n",
                   cfg.host, cfg.port, cfg.workload, cfg.weight[OP_GET], cfg.weight[OP_SET],
                   cfg.weight[OP_DEL], dist, (unsigned long long)cfg.keys, cfg.value_size);
        printf("%d threads, %d connections, pipeline %d\n", cfg.threads, cfg.connections,
               cfg.pipeline);
        printf("%llu replies in %.2f s, %llu errors\n\n", (unsigned long long)done, secs,
               (unsigned long long)errors);
        printf("%12s %10s %10s %10s %10s %10s %10s\n", "ops/s", "p50", "p90", "p99", "p99.9", "max",
               "mean");
        printf("%12.0f %10.3f %10.3f %10.3f %10.3f %10.3f %10.3f   (latency in ms)\n", ops_s,
               p50 / 1000, p90 / 1000, p99 / 1000, p999 / 1000, pmax / 1000, mean / 1000);
        if (hits + misses)
            printf("GET hit rate %.4f (%llu hits, %llu misses)\n", hit_rate,
                   (unsigned long long)hits, (unsigned long long)misses);
    }
    free(h);
    free(ws);
    free(value_buf);
    free(zipf_cdf);
    return atomic_load(&failed) ? 1 : 0;
}
