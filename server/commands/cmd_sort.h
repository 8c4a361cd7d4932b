/* cmd_sort.h — what SORT's two files share: cmd_sort.c (the engine, a
 * shard's reads and writes, the whole command on one shard) and
 * cmd_sort_multi.c (the same command split over shards). Private to them.
 * Functions say which thread may call them. */
#ifndef SKV_SERVER_CMD_SORT_H
#define SKV_SERVER_CMD_SORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "protocol/resp.h"
#include "server/exec/cmd.h"

/* Source types in a fetch record (round 0 and the local driver). */
#define SRC_MISSING '0'
#define SRC_LIST 'L'
#define SRC_SET 'S'
#define SRC_ZSET 'Z'
#define SRC_WRONG 'W'

/* A view of a byte string. */
struct sstr {
    const char *p; /* the bytes (NULL: absent, for pattern values) */
    size_t len;    /* their number */
};

/* The options, parsed as Redis does (views into argv). */
struct sort_opts {
    bool desc;                    /* DESC */
    bool alpha;                   /* ALPHA */
    bool dontsort;                /* BY with no '*' (nosort) */
    int64_t lstart, lcount;       /* LIMIT, Redis's defaults 0 and -1 */
    const struct resp_arg *by;    /* BY pattern holding '*', or NULL */
    const struct resp_arg *store; /* STORE destination, or NULL */
    size_t nget;                  /* GET patterns */
    const struct resp_arg **get;  /* them, in order (malloc'd) */
};

/* One run of the engine over a fetched source. */
struct sort_run {
    const struct sort_opts *o; /* options */
    char type;                 /* SRC_* */
    size_t n;                  /* elements in native order */
    struct sstr *el;           /* them (views into the fetch record) */
    bool dontsort, alpha;      /* after Redis's set-with-STORE rule */
    const struct resp_arg *by; /* likewise */
    size_t *vec;               /* elements to sort: indexes into el */
    size_t vn;                 /* their number */
    long start, end;           /* output range in vec after sorting */
    struct sstr *vals;         /* pattern values: [p * vn + v], p < nget for
                                  GET, p == nget for BY */
    size_t *order;             /* sorted positions in vec */
    double *score;             /* per vec entry */
};

/* Parse argv[2..] into *o; on a bad option return false with *err set
 * to Redis's reply text. o->get must be freed by the caller either way.
 * Any thread. */
bool cmd_sort_parse_opts(size_t argc, const struct resp_arg *argv, bool readonly,
                         struct sort_opts *o, const char **err);

/* Whether running the command may read keys other than the source. */
bool cmd_sort_reads_keys(const struct sort_opts *o);

/* Append key's fetch record to out: its SRC_* byte, then for a list, set
 * or sorted set the element count (8 bytes) and each element as a 4-byte
 * length and its bytes, in the value's own order. False when out of
 * memory. Owner shard's thread. */
bool cmd_sort_fetch(struct cmd_ctx *c, const struct resp_arg *key, struct rbuf *out);

/* Append one pattern value's record to out: '1', a 4-byte length and the
 * bytes, or '0' (missing key, other type, missing field). field NULL: the
 * key's string value. Owner shard's thread. */
void cmd_sort_lookup(struct cmd_ctx *c, const char *key, size_t klen, const struct sstr *field,
                     struct rbuf *out);

/* Read a fetch record / a value record at *off (views into o; *el is
 * malloc'd, the caller's). False when the bytes are short. Any thread. */
bool cmd_sort_parse_source(const struct rbuf *o, size_t *off, char *type, struct sstr **el,
                           size_t *n);
bool cmd_sort_parse_value(const struct rbuf *o, size_t *off, struct sstr *v);

/* The engine, any thread. prepare: the elements taking part and the
 * output range (false: out of memory). lookup_list: the values to fetch
 * (indexes into r->vals) in Redis's order, BY before sorting or GET after
 * (NULL: out of memory). lookup_key: one's key into key (emptied first)
 * and its field ("" for none), returns the key's length. run_sort: 1, 0
 * when a score does not convert, -1 out of memory. run_output: the reply's
 * values (malloc'd array of views; NULL: out of memory). run_free frees
 * what the run allocated. */
bool cmd_sort_run_prepare(struct sort_run *r);
size_t *cmd_sort_lookup_list(const struct sort_run *r, bool gets, size_t *n);
size_t cmd_sort_lookup_key(const struct sort_run *r, size_t idx, struct rbuf *key,
                           struct sstr *field);
int cmd_sort_run_sort(struct sort_run *r);
struct sstr *cmd_sort_run_output(const struct sort_run *r, size_t *n);
void cmd_sort_run_free(struct sort_run *r);

/* Reply v[0..n) as an array (absent values as nulls). Any thread. */
void cmd_sort_reply(struct rbuf *out, int proto, const struct sstr *v, size_t n);

/* Replace key with a list of v[0..n) (absent values as ""), or delete it
 * for n == 0, reporting "sortstore" or "del". 0 or a KVMAP_E* code.
 * Owner shard's thread. */
int cmd_sort_store(struct cmd_ctx *c, const struct resp_arg *key, const struct sstr *v, size_t n);

/* SORT's plan across shards (cmd_sort_multi.c). */
extern const struct cmd_plan cmd_sort_plan;

#endif
