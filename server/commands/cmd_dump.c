/* cmd_dump.c — DUMP and RESTORE: a key's value in Redis's serialisation
 * (the RDB object, then the RDB version as 2 bytes and a CRC64 of all that
 * precedes it, both little-endian), so values move between redis-server and
 * shardkv both ways: strings, hashes, sets and sorted sets (shard/tval_rdb.h). Both run
 * on the thread that owns the key's shard. */
#include <stdlib.h>
#include <string.h>

#include "server/exec/cmd.h"
#include "server/commands/cmd_impl.h"
#include "server/core/server.h"
#include "shard/rdb.h"
#include "shard/tval.h"
#include "shard/tval_rdb.h"

/* The footer: RDB version (2 bytes) and CRC64 (8 bytes). */

static void cmd_dump(struct cmd_ctx *c)
{
    const struct resp_arg *key = &c->argv[1];
    struct kventry *e = kvmap_find(c->db, key->ptr, key->len, c->now_ms);
    /* Redis's DUMP compresses as its snapshots do (rdbcompression). */
    struct tval_rdb_buf b = {.raw = !__atomic_load_n(&server.cfg.rdbcompression, __ATOMIC_RELAXED)};
    int rc;

    if (!cmd_key_read(c, e, key->ptr, key->len)) {
        resp_null(c->out, c->proto);
        return;
    }
    if (kventry_type(e) == TVAL_STRING) {
        static const unsigned char type = RDB_TYPE_STRING;
        char ibuf[21];
        size_t vlen;
        const char *v = kventry_value(e, ibuf, &vlen);
        rc = tval_rdb_buf_append(&b, &type, 1);
        if (rc == 0)
            rc = tval_rdb_put_string(&b, v, vlen);
    } else {
        rc = tval_rdb_encode(kventry_tval(e), &b);
    }
    if (rc == 0) {
        unsigned char foot[RDB_PAYLOAD_FOOTER];
        rdb_payload_footer(b.p, b.len, foot);
        rc = tval_rdb_buf_append(&b, foot, sizeof foot);
    }
    if (rc == 0)
        resp_bulk(c->out, b.p, b.len);
    else
        cmd_reply_kvmap_error(c, KVMAP_ENOMEM);
    tval_rdb_buf_free(&b);
}

/* RESTORE key ttl payload [REPLACE] [ABSTTL] [IDLETIME s] [FREQ f], in
 * Redis 7.0's order of checks (restoreCommand): options, an existing key,
 * the TTL, the footer, then the object. IDLETIME and FREQ are validated and
 * otherwise ignored: we keep no LRU or LFU data. */
static void cmd_restore(struct cmd_ctx *c)
{
    const struct resp_arg *key = &c->argv[1], *pl = &c->argv[3];
    bool replace = false, absttl = false, have_idle = false, have_freq = false;
    int64_t ttl, v;

    for (size_t j = 4; j < c->argc; j++) {
        size_t more = c->argc - j - 1;
        if (cmd_arg_eq(&c->argv[j], "replace")) {
            replace = true;
        } else if (cmd_arg_eq(&c->argv[j], "absttl")) {
            absttl = true;
        } else if (cmd_arg_eq(&c->argv[j], "idletime") && more >= 1 && !have_freq) {
            if (!cmd_arg_int64(c, &c->argv[j + 1], &v))
                return;
            if (v < 0) {
                resp_error(c->out, "ERR Invalid IDLETIME value, must be >= 0");
                return;
            }
            have_idle = true;
            j++;
        } else if (cmd_arg_eq(&c->argv[j], "freq") && more >= 1 && !have_idle) {
            if (!cmd_arg_int64(c, &c->argv[j + 1], &v))
                return;
            if (v < 0 || v > 255) {
                resp_error(c->out, "ERR Invalid FREQ value, must be >= 0 and <= 255");
                return;
            }
            have_freq = true;
            j++;
        } else {
            cmd_reply_syntax(c);
            return;
        }
    }
    bool exists = kvmap_find(c->db, key->ptr, key->len, c->now_ms) != NULL;
    if (!replace && exists) {
        resp_error(c->out, "BUSYKEY Target key name already exists.");
        return;
    }
    if (!cmd_arg_int64(c, &c->argv[2], &ttl))
        return;
    if (ttl < 0) {
        resp_error(c->out, "ERR Invalid TTL value, must be >= 0");
        return;
    }
    const unsigned char *p = (const unsigned char *)pl->ptr;
    if (!rdb_payload_ok(p, pl->len)) {
        resp_error(c->out, "ERR DUMP payload version or checksum are wrong");
        return;
    }
    /* The object. Redis reads it from the whole payload, footer included:
     * an object may run into the footer, and bytes between its end and the
     * footer are not looked at. Done the same way. */
    size_t olen = pl->len;
    struct tval *tv = NULL;
    char *str = NULL;
    size_t slen = 0;
    int rc = olen > 0 && p[0] == RDB_TYPE_STRING
                 ? tval_rdb_decode_string(p, olen, &str, &slen, NULL, NULL, 0)
                 : tval_rdb_decode(kvmap_acct(c->db), p, olen, NULL, &tv, NULL, NULL, 0);
    if (rc == TVAL_RDB_ENOMEM) {
        cmd_reply_kvmap_error(c, KVMAP_ENOMEM);
        return;
    }
    if (rc < 0) {
        resp_error(c->out, "ERR Bad data format");
        return;
    }
    /* Unsigned addition: a TTL past the int64 range wraps negative and so
     * counts as expired, as Redis's does. */
    if (ttl && !absttl)
        ttl = (int64_t)((uint64_t)ttl + (uint64_t)c->now_ms);
    if (ttl && ttl <= c->now_ms) {
        /* Already expired: the old key goes (with REPLACE), nothing new
         * is stored, and the reply is still OK. */
        if (replace && exists && kvmap_del(c->db, key->ptr, key->len, c->now_ms))
            cmd_key_modified(c, NOTIFY_GENERIC, "del", key->ptr, key->len);
        free(str);
        tval_free(kvmap_acct(c->db), tv);
        resp_simple(c->out, "OK");
        return;
    }
    int64_t expire = ttl ? ttl : KVMAP_NO_EXPIRE;
    if (tv) {
        rc = kvmap_set_tval(c->db, key->ptr, key->len, tv, expire, c->now_ms);
        if (rc < 0)
            tval_free(kvmap_acct(c->db), tv);
    } else {
        rc = kvmap_set(c->db, key->ptr, key->len, str, slen, expire, c->now_ms);
        free(str);
    }
    if (rc < 0) {
        cmd_reply_kvmap_error(c, rc);
        return;
    }
    /* Redis deletes a replaced key and adds it again: "new" either way. */
    if (rc == 0)
        cmd_key_notify(c, NOTIFY_NEW, "new", key->ptr, key->len);
    cmd_key_modified(c, NOTIFY_GENERIC, "restore", key->ptr, key->len);
    resp_simple(c->out, "OK");
}

/* Name, arity, flags and key positions as Redis 7.0's COMMAND INFO reports
 * them. */
const struct cmd_def cmd_dump_defs[] = {
    { .name = "dump", .arity = 2, .exec = cmd_dump,
      .flags = CMD_READONLY,
      .keys = { { .flags = CMD_KS_RO | CMD_KS_ACCESS, .begin = 1, .last = 0, .step = 1 } },
      .tips = CMD_TIPS("nondeterministic_output"),
      .group = "generic", .since = "2.6.0",
      .complexity = "O(1) to access the key and additional O(N*M) to serialize it, where N is "
                    "the number of Redis objects composing the value and M their average size. "
                    "For small string values the time complexity is thus O(1)+O(1*M) where M is "
                    "small, so simply O(1).",
      .summary = "Return a serialized version of the value stored at the specified key." },
    { .name = "restore", .arity = -4, .exec = cmd_restore,
      .flags = CMD_WRITE | CMD_DENYOOM,
      .acl = CMD_ACL_DANGEROUS,
      .keys = { { .flags = CMD_KS_OW | CMD_KS_UPDATE, .begin = 1, .last = 0, .step = 1 } },
      .group = "generic", .since = "2.6.0",
      .complexity = "O(1) to create the new key and additional O(N*M) to reconstruct the "
                    "serialized value, where N is the number of Redis objects composing the value "
                    "and M their average size. For small string values the time complexity is thus "
                    "O(1)+O(1*M) where M is small, so simply O(1). However for sorted set values "
                    "the complexity is O(N*M*log(N)) because inserting values into sorted sets is "
                    "O(log(N)).",
      .summary = "Create a key using the provided serialized value, previously obtained using DUMP." },
};

const size_t cmd_dump_ndefs = sizeof cmd_dump_defs / sizeof cmd_dump_defs[0];
