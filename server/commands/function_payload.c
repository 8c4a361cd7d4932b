/* function_payload.c — FUNCTION DUMP's payload read back (FUNCTION
 * RESTORE): Redis's footer check (RDB version and CRC64) and the split
 * into function records, each a library's code. Pure: no Lua, no
 * registry; fuzzed by tests/fuzz/fuzz_function.c. Any thread. */
#include "server/commands/function.h"

#include <stdlib.h>
#include <string.h>

#include "shard/rdb.h"
#include "shard/tval_rdb.h"

static int fail(struct rbuf *err, const char *msg)
{
    rbuf_append(err, msg, strlen(msg));
    return -1;
}

int function_payload_split(const unsigned char *p, size_t len, function_payload_fn each,
                           void *arg, struct rbuf *err)
{
    if (len < RDB_PAYLOAD_FOOTER)
        return fail(err, "DUMP payload version or checksum are wrong");
    /* Strings are read from the whole payload, footer included, as Redis's
     * rio reads them; records stop where the footer starts. */
    const unsigned char *at = p, *data_end = p + len - RDB_PAYLOAD_FOOTER, *end = p + len;
    struct tval_rdb_str str = {0};
    size_t n = 0;
    int rc = 0;
    while (rc == 0 && at < data_end) {
        unsigned char type = *at++;
        char e[128] = "";
        if (type == RDB_OPCODE_FUNCTION_PRE_GA)
            rc = fail(err, "Failed loading library name");
        else if (type != RDB_OPCODE_FUNCTION2)
            rc = fail(err, "given type is not a function");
        else {
            struct tval_rdb_reader r = {at, end, e, sizeof e};
            if (tval_rdb_read_string(&r, &str) != 0)
                rc = fail(err, "Failed loading library payload");
            else if (++n > FUNCTION_PAYLOAD_MAX_LIBS)
                rc = fail(err, "too many libraries in the payload");
            else
                rc = each(arg, (const char *)str.s, str.n, err);
            at = r.p;
        }
    }
    tval_rdb_str_free(&str);
    return rc;
}
