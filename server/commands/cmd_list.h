/* cmd_list.h — what the list commands' files share (cmd_list.c: the
 * single-key commands; cmd_list_multi.c: LMOVE, RPOPLPUSH and LMPOP, whose
 * keys may live on several shards). Everything here runs on the thread
 * that owns the key's shard. */
#ifndef SKV_SERVER_CMD_LIST_H
#define SKV_SERVER_CMD_LIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "server/exec/cmd.h"
#include "shard/quicklist.h"

/* A new empty list with the list-max-listpack-size and list-compress-depth
 * in force (Redis fixes them when a list is made), charged to c's
 * database. NULL when out of memory. Owned by the caller (tval_free, or
 * kvmap_set_tval). */
struct tval *cmd_list_create(struct cmd_ctx *c);

/* Reply elements [start, start + n) of ql (n >= 1, both inside the list)
 * as an array, from start towards the tail, or (reverse) from start + n - 1
 * towards the head: Redis's addListRangeReply. On out of memory the
 * partial array is taken back and an error replied; returns false. */
bool cmd_list_reply_range(struct cmd_ctx *c, struct quicklist *ql, int64_t start, int64_t n,
                          bool reverse);

/* Pop min(count, length) elements from one end of the list at key (its
 * tval, already looked up for writing) and reply them as an array in pop
 * order (LPOP/RPOP with a count; with_key: as LMPOP's [key, [elements]]).
 * Reports the change ("lpop"/"rpop", then "del" when emptied, which also
 * deletes the key). */
void cmd_list_pop_count(struct cmd_ctx *c, const struct resp_arg *key, struct tval *tv,
                        enum quicklist_end where, int64_t count, bool with_key);

/* Reply one element (a string, or an integer entry as its text). */
void cmd_list_reply_entry(struct rbuf *out, const struct listpack_entry *e);

/* Report elements removed from one end of the list at key (Redis's
 * listElementsRemoved): "lpop" or "rpop", and when tv is now empty the key
 * is deleted and "del" follows. */
void cmd_list_removed(struct cmd_ctx *c, const struct resp_arg *key, struct tval *tv,
                      enum quicklist_end where);

/* Parse LEFT or RIGHT (any case) into *where; otherwise reply Redis's
 * syntax error and return false. */
bool cmd_list_parse_end(struct cmd_ctx *c, const struct resp_arg *a, enum quicklist_end *where);

/* LMPOP's arguments: numkeys, the end and COUNT. On failure the error
 * (Redis's text) is written to err and false returned. Pure. */
struct cmd_list_mpop {
    size_t numkeys;          /* keys at argv[2 .. 2 + numkeys) */
    enum quicklist_end where; /* LEFT or RIGHT */
    int64_t count;           /* elements to pop, >= 1 */
};
bool cmd_list_parse_mpop(size_t argc, const struct resp_arg *argv, struct cmd_list_mpop *o,
                         struct rbuf *err);

/* The multi-key commands' execs (every key on this shard) and plans. */
void cmd_list_lmove_exec(struct cmd_ctx *c);
void cmd_list_rpoplpush_exec(struct cmd_ctx *c);
void cmd_list_lmpop_exec(struct cmd_ctx *c);
extern const struct cmd_plan cmd_list_lmove_plan;
extern const struct cmd_plan cmd_list_rpoplpush_plan;
extern const struct cmd_plan cmd_list_lmpop_plan;

/* A key's state as the multi-key commands' check parts report it (ival of
 * LMOVE's, a byte per key in LMPOP's). */
enum {
    CMD_LIST_KEY_MISSING = '0', /* no such key */
    CMD_LIST_KEY_LIST = 'L',    /* a list (never empty) */
    CMD_LIST_KEY_WRONG = 'W',   /* another type */
};

/* LMOVE's parts across shards, in one transaction holding both keys (also
 * BLMOVE's when it is served, cmd_block_move.c). The check: argv [_, src,
 * "left"|"right"] sets ival to the key's CMD_LIST_KEY_* (-1: out of
 * memory) and, for a list, writes the element at that end to out (raw
 * bytes); argv [_, dst] sets ival only. */
void cmd_list_move_check_part(struct cmd_ctx *c);

/* The push: argv ["lpush"|"rpush", dst, element]; an error reply when it
 * failed (nothing changed), else nothing. */
void cmd_list_move_push_part(struct cmd_ctx *c);

/* The pop: argv ["lpop"|"rpop", src], which holds the element. */
void cmd_list_move_pop_part(struct cmd_ctx *c);

/* LMPOP's (and BLMPOP's) pop part for the MPOP plan (cmd_mpop.h): argv
 * [_, key, "left"|"right", count]; writes LMPOP's reply. */
void cmd_list_mpop_pop_part(struct cmd_ctx *c);

#endif
