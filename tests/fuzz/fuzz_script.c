/* fuzz_script.c — libFuzzer target for the scripting conversions and the
 * shebang parser: the input is taken as a command reply and turned into a
 * Lua value (script_resp_to_lua, what redis.call does with a reply), which
 * is turned back into a reply in RESP2 and RESP3 (script_lua_to_resp, what
 * EVAL does with a script's result); and as a script body whose "#!lua"
 * line is parsed. Neither may crash, leak or leave Lua's stack unbalanced. */
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "server/commands/script.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static lua_State *L;
    if (!L) {
        L = luaL_newstate();
        if (!L)
            abort();
    }
    const char *p = (const char *)data;
    int top = lua_gettop(L);
    size_t used = script_resp_to_lua(L, p, size);
    if (used > size)
        abort();
    if (used) {
        if (lua_gettop(L) != top + 1)
            abort();
        for (int proto = RESP2; proto <= RESP3; proto++) {
            for (int resp = RESP2; resp <= RESP3; resp++) {
                struct rbuf out;
                rbuf_init(&out);
                lua_pushvalue(L, -1);
                script_lua_to_resp(L, &out, proto, resp);
                rbuf_deinit(&out);
            }
        }
        lua_pop(L, 1);
    }
    if (lua_gettop(L) != top)
        abort();
    uint32_t flags;
    size_t skip;
    struct rbuf err;
    rbuf_init(&err);
    if (script_shebang(p, size, &flags, &skip, &err) && skip > size)
        abort();
    rbuf_deinit(&err);
    lua_gc(L, LUA_GCSTEP, 0);
    return 0;
}
