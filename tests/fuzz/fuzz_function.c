/* fuzz_function.c — libFuzzer target for FUNCTION RESTORE's payloads
 * before any Lua runs: the footer check and the split into records
 * (function_payload.c, over shard/tval_rdb.c's string reader, LZF
 * included), the "#!lua name=..." metadata of each record and the
 * registry's commit with every policy (function_lib.c). The input is
 * tried as a whole payload (its footer checked) and with a valid footer
 * appended, so the records themselves are reached. Nothing may crash or
 * leak; every error must come with its text. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "server/commands/function.h"
#include "shard/rdb.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fz {
    int policy; /* FN_* for the commits */
    size_t n;   /* records seen */
};

/* Each record: its metadata, then a library with one function named
 * after it, committed under the input's policy. */
static int one(void *arg, const char *code, size_t len, struct rbuf *err)
{
    struct fz *z = arg;
    z->n++;
    char *name = function_meta(code, len, err);
    if (!name) {
        if (!err->len && !err->oom)
            abort(); /* an error without its text */
        return -1;
    }
    if (!function_name_ok(name, strlen(name)))
        abort(); /* function_meta let a bad name through */
    struct fn_lib *lib = function_lib_new(name, code, len);
    const char *e = NULL;
    if (lib && function_lib_add(lib, name, strlen(name), NULL, 0, false, 0, &e) != 0) {
        function_lib_free(lib);
        lib = NULL;
    }
    free(name);
    if (lib) {
        struct rbuf cerr;
        rbuf_init(&cerr);
        if (function_registry_commit(&lib, 1, z->policy, z->n & 1, &cerr) != 0 && !cerr.len)
            abort();
        rbuf_deinit(&cerr);
    }
    return 0;
}

static void run(const unsigned char *p, size_t len, int policy)
{
    if (!rdb_payload_ok(p, len))
        return;
    struct fz z = {.policy = policy};
    struct rbuf err;
    rbuf_init(&err);
    if (function_payload_split(p, len, one, &z, &err) != 0 && !err.len && !err.oom)
        abort();
    rbuf_deinit(&err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int policy = size ? data[0] % 3 : FN_APPEND;
    run(data, size, policy);
    unsigned char *buf = malloc(size + RDB_PAYLOAD_FOOTER);
    if (!buf)
        return 0;
    if (size)
        memcpy(buf, data, size);
    rdb_payload_footer(buf, size, buf + size);
    run(buf, size + RDB_PAYLOAD_FOOTER, policy);
    free(buf);
    function_registry_flush();
    return 0;
}
