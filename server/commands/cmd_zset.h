/* cmd_zset.h — what the sorted set command files share (server/cmd_zset*.c):
 * argument parsing with Redis 7.0's rules and errors, reply helpers, the
 * algebra of ZUNION/ZINTER/ZDIFF over fetched or local sources, writing a
 * STORE command's result, and the exec functions and plans the table
 * points at. Private to those files; exec functions run on the owner
 * shard's thread, planning on the connection's thread, the rest on any. */
#ifndef SKV_SERVER_CMD_ZSET_H
#define SKV_SERVER_CMD_ZSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "server/exec/cmd.h"
#include "shard/zset.h"

/* ---- Parsing and replies (any thread) ------------------------------------ */

/* The thresholds in force, as the storage takes them. */
void cmd_zset_limits(struct zset_limits *z);

/* Parse a score as Redis's getDoubleFromObject: strtod over every byte, no
 * leading space, no NaN, no overflow to +-HUGE_VAL from finite text. */
bool cmd_zset_parse_score(const char *s, size_t len, double *d);

/* One element of a result: member bytes (borrowed) and score. */
struct zpair {
    const char *m; /* member */
    size_t len;    /* its length */
    double score;  /* its score */
};

/* Reply one element: the member, and with scores its score (as a nested
 * [member, score] pair when nested, RESP3's form). */
void cmd_zset_reply_elem(struct rbuf *out, int proto, const void *m, size_t len, double score,
                         bool withscores, bool nested);

/* Pop up to count elements of tv (key's set, found for writing) from the
 * low end, or the high end when max, replying each (nested pairs when
 * nested) after the header the caller wrote; reports "zpopmin"/"zpopmax"
 * and "del" when it emptied the set. ZPOPMIN, ZPOPMAX and ZMPOP. Owner
 * shard's thread. */
void cmd_zset_pop(struct cmd_ctx *c, const struct resp_arg *key, struct tval *tv, bool max,
                  size_t count, bool nested);

/* ---- ZRANGE and friends (cmd_zset_range.c) ------------------------------- */

enum zrange_kind { ZR_RANK, ZR_SCORE, ZR_LEX };

/* A parsed ZRANGE-family request. Lex bounds borrow the arguments. */
struct zrange_req {
    enum zrange_kind kind;       /* by rank, score or lex */
    bool rev;                    /* REV, or a Z*REV* command */
    bool withscores;             /* WITHSCORES */
    int64_t start, end;          /* ranks */
    struct zset_score_range sr;  /* BYSCORE */
    struct zset_lex_range lr;    /* BYLEX */
    int64_t offset, limit;       /* LIMIT (limit < 0: all) */
};

/* Which command: how ZRANGE's parser treats the words after the key. */
enum zrange_cmd {
    ZRC_ZRANGE,            /* ZRANGE: BYSCORE, BYLEX, REV allowed */
    ZRC_ZRANGESTORE,       /* the same without WITHSCORES */
    ZRC_ZREVRANGE,         /* by rank, reversed */
    ZRC_ZRANGEBYSCORE,
    ZRC_ZREVRANGEBYSCORE,
    ZRC_ZRANGEBYLEX,
    ZRC_ZREVRANGEBYLEX,
};

/* Parse argv[key_at + 1..] of a ZRANGE-family command (key_at: the source
 * key's index) into *r; on error write Redis's reply into err and return
 * false. Any thread. */
bool cmd_zset_range_parse(enum zrange_cmd cmd, size_t argc, const struct resp_arg *argv,
                          size_t key_at, struct zrange_req *r, struct rbuf *err);

/* The elements of tv that r selects: a run of *n forward ranks from
 * *first, to be walked towards lower ranks when *rev (then *first is the
 * highest). Any thread that may read tv. */
void cmd_zset_range_select(const struct tval *tv, const struct zrange_req *r, size_t *first,
                           size_t *n, bool *rev);

/* Copies of the elements r selects from tv in ascending order (a STORE's
 * input, whatever r's direction): *out (malloc'd) views into *bytes
 * (malloc'd), both the caller's. Returns 0 or -1 out of memory. */
int cmd_zset_range_copy(const struct tval *tv, const struct zrange_req *r, struct zpair **out,
                        size_t *n, char **bytes);

/* ---- Algebra (cmd_zset_alg.c) -------------------------------------------- */

enum zalg_op { ZALG_UNION, ZALG_INTER, ZALG_DIFF };
enum zalg_aggr { ZAGG_SUM, ZAGG_MIN, ZAGG_MAX };

/* What a ZUNION/ZINTER/ZDIFF/ZINTERCARD command is. */
struct zalg_kind {
    enum zalg_op op;  /* its operation */
    bool store;       /* the STORE form: argv[1] is the destination */
    bool card;        /* ZINTERCARD */
    const char *name; /* Redis's name: also the STORE form's event */
};

/* The parsed arguments. weights is malloc'd (free it). */
struct zalg_args {
    size_t numkeys_at;    /* argv index of numkeys */
    size_t nsrc;          /* sources, from argv[numkeys_at + 1] */
    double *weights;      /* one per source */
    enum zalg_aggr aggr;  /* AGGREGATE */
    bool withscores;      /* WITHSCORES */
    size_t limit;         /* ZINTERCARD's LIMIT, 0: none */
};

/* Parse as Redis does. Errors found before Redis looks the keys up
 * (numkeys) are written to err with *late false; errors in the options,
 * which Redis finds only after every key passed its type check, with
 * *late true (the caller replies WRONGTYPE instead if a key has another
 * type). Returns false on either. Any thread. */
bool cmd_zset_alg_parse(const struct zalg_kind *k, size_t argc, const struct resp_arg *argv,
                        struct zalg_args *a, struct rbuf *err, bool *late);

/* One source: its elements (views), sorted by (score, member) or in any
 * order for a plain set (scores 1). */
struct zalg_src {
    struct zpair *v;  /* elements */
    size_t n;         /* how many (0 for a missing key) */
    bool is_set;      /* a plain set */
    int same_as;      /* index of an earlier source that is the same key, or -1 */
};

/* Run the operation: *res (malloc'd, the caller's) gets the result sorted
 * by (score, member) as Redis replies it, views into the sources; for
 * ZINTERCARD only *nres is set (stopping at a->limit). 0 or -1 (memory). */
int cmd_zset_alg_run(const struct zalg_kind *k, const struct zalg_args *a, struct zalg_src *src,
                     struct zpair **res, size_t *nres);

/* Reply a ZUNION/ZINTER/ZDIFF result. */
void cmd_zset_alg_reply(struct rbuf *out, int proto, const struct zpair *res, size_t n,
                        bool withscores);

/* Replace key with a sorted set of res[0..n) (sorted, distinct members),
 * or delete it when n is 0, as the STORE commands do, and report it:
 * event (class zset) for a written key, "del" for a deleted one. Returns
 * 1 written or deleted, 0 nothing changed, or a KVMAP_E* error. Owner
 * shard's thread. */
int cmd_zset_store(struct cmd_ctx *c, const char *event, const void *key, size_t klen,
                   const struct zpair *res, size_t n);

/* ---- Exec functions and plans -------------------------------------------- */

void cmd_zset_alg_exec(struct cmd_ctx *c);        /* every ZUNION/ZINTER/ZDIFF form, one shard */
void cmd_zset_zrangestore_exec(struct cmd_ctx *c); /* both keys on one shard */
void cmd_zset_zmpop_exec(struct cmd_ctx *c);      /* every key on one shard */

/* ZMPOP's (and BZMPOP's) pop part for the MPOP plan (cmd_mpop.h): argv
 * [_, key, "min"|"max", count]; writes ZMPOP's whole reply. The key's
 * shard's thread. */
void cmd_zset_mpop_pop_part(struct cmd_ctx *c);
const struct zalg_kind *cmd_zset_alg_kind(const char *name); /* by command name */

struct cmd_plan;
extern const struct cmd_plan cmd_zset_alg_plan;
extern const struct cmd_plan cmd_zset_zrangestore_plan;
extern const struct cmd_plan cmd_zset_zmpop_plan;

#endif
