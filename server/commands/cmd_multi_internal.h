/* cmd_multi_internal.h — what the two halves of the multi-key commands
 * share: cmd_multi.c (whole commands, parts and merge steps) and
 * cmd_multi_plan.c (planning and routing). Private to server/cmd_multi*.c:
 * other modules use server/commands/cmd_multi.h. Each command's struct cmd_plan
 * (cmd_multi.c) names the parts, steps and planner below. */
#ifndef SKV_SERVER_CMD_MULTI_INTERNAL_H
#define SKV_SERVER_CMD_MULTI_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "server/commands/cmd_multi.h"

/* COPY's options, parsed the way Redis 7.0 does. */
struct copy_opts {
    int64_t dstdb; /* destination database */
    bool replace;  /* overwrite an existing destination */
};

/* MGET: the part of each key, so the merge walks keys in request order. */
struct mget_state {
    size_t nkeys;       /* keys in the command */
    unsigned *key_part; /* part index of key i */
    size_t *cursor;     /* next element of each part */
};

/* MSETNX across shards: round 0 asks every shard whether any of its keys
 * exists, round 1 sets them all. Both rounds run in one transaction that
 * holds every key exclusively, so nobody sees or changes the keys between
 * them. */
struct msetnx_state {
    size_t nkeys; /* pairs */
    unsigned *ks; /* shard of each key */
};

/* RENAME, RENAMENX and COPY with keys on two shards. */
struct move_state {
    bool nx;            /* RENAMENX */
    bool copy;          /* COPY (else a rename) */
    bool replace;       /* COPY REPLACE */
    unsigned src_shard; /* shard of argv[1] */
    unsigned dst_shard; /* shard of argv[2] */
    unsigned dstdb;     /* destination database */
};

/* Parse COPY's options (argv[3..]) into *o; on a bad option write the error
 * reply to err (borrowed) and return false. Any thread. */
bool cmd_multi_copy_parse(size_t argc, const struct resp_arg *argv, unsigned curdb, unsigned ndb,
                          struct copy_opts *o, struct rbuf *err);

/* Whole commands on one shard (cmd_def.exec), owner shard's thread. */
/* MGET: reply every key's value or null. */
void cmd_multi_mget_exec(struct cmd_ctx *c);
/* MSET: set every pair, reply +OK. */
void cmd_multi_mset_exec(struct cmd_ctx *c);
/* MSETNX: set every pair only if no key exists, reply 1 or 0. */
void cmd_multi_msetnx_exec(struct cmd_ctx *c);
/* DEL and UNLINK: reply the number of keys removed. */
void cmd_multi_del_exec(struct cmd_ctx *c);
/* RENAME and RENAMENX with both keys on this shard. */
void cmd_multi_rename_exec(struct cmd_ctx *c);
void cmd_multi_renamenx_exec(struct cmd_ctx *c);
/* COPY with both keys on this shard. */
void cmd_multi_copy_exec(struct cmd_ctx *c);
/* MOVE key db: the key stays on this shard. */
void cmd_multi_move_exec(struct cmd_ctx *c);

/* Parts of a fan-out (cmd_exec_fn, c->priv is the part's struct req),
 * owner shard's thread. */
/* MGET's keys on this shard; r->ends gets where each value's reply ends. */
void cmd_multi_mget_part(struct cmd_ctx *c);
/* MSET's pairs on this shard; only an error leaves bytes in out. */
void cmd_multi_mset_part(struct cmd_ctx *c);
/* DEL's keys on this shard; ival gets the number removed. */
void cmd_multi_del_part(struct cmd_ctx *c);
/* EXISTS' keys on this shard; ival gets the number that exist. */
void cmd_multi_exists_part(struct cmd_ctx *c);
/* The same count for a write's check (MSETNX, RENAMENX): no "keymiss". */
void cmd_multi_probe_part(struct cmd_ctx *c);
/* Fetch argv[1]'s value into out (ival its expiry; uval 0 when missing,
 * else FETCHED_STRING with its bytes or FETCHED_TYPED with an RDB object);
 * argv[0] "take" also deletes it. */
void cmd_multi_fetch_part(struct cmd_ctx *c);

/* Merge steps (fan_step_fn), connection's thread. Each frees f->state (its
 * struct above, owned by the fan) when it finishes. */
/* MGET: the parts' values in key order (struct mget_state). */
bool cmd_multi_mget_step(struct fan *f, struct req **parts, size_t n, struct rbuf *out);
/* A whole command run as the one part of a fan: its reply is the part's. */
bool cmd_multi_copy_step(struct fan *f, struct req **parts, size_t n, struct rbuf *out);
/* MSETNX across shards, two rounds (struct msetnx_state). */
bool cmd_multi_msetnx_step(struct fan *f, struct req **parts, size_t n, struct rbuf *out);
/* RENAME, RENAMENX and COPY across two shards, up to three rounds
 * (struct move_state). */
bool cmd_multi_move_step(struct fan *f, struct req **parts, size_t n, struct rbuf *out);

/* The planner of RENAME, RENAMENX and COPY (struct cmd_plan.plan): the
 * whole command on one shard when both keys live there, else up to three
 * rounds in one transaction. Connection's thread. */
void cmd_multi_plan_move(struct mplan *pl, const struct cmd_def *d, size_t argc,
                         const struct resp_arg *argv);

/* Add to f one part per shard that holds keys (ks: each key's shard),
 * running exec; see cmd_multi_plan.c. Returns 0, or -1 on out-of-memory
 * (parts added so far stay in f, which the caller aborts). Connection's
 * thread. */
int cmd_multi_add_key_parts(struct fan *f, const char *name, cmd_exec_fn exec, size_t nkeys,
                            size_t span, size_t take, const unsigned *ks, unsigned *key_part);

#endif
