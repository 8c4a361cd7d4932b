/* script_libs.h — the two Lua libraries Redis embeds for scripts that no
 * Debian package provides for Lua 5.1, written here: cmsgpack
 * (script_msgpack.c) and struct (script_struct.c). Pure Lua C API: no
 * server state, so the fuzz target links them alone. */
#ifndef SKV_SERVER_SCRIPT_LIBS_H
#define SKV_SERVER_SCRIPT_LIBS_H

#include <lua.h>

/* Open cmsgpack in L: sets the global table "cmsgpack" (pack, unpack,
 * unpack_one, unpack_limit and lua_cmsgpack 0.4.0's _NAME, _VERSION,
 * _COPYRIGHT, _DESCRIPTION) and leaves it on the stack. Returns 1. Called
 * on the thread that owns L, as a lua_CFunction (lua_call). */
int script_msgpack_open(lua_State *L);

/* Open struct in L: sets the global table "struct" (pack, unpack, size)
 * and leaves it on the stack. Returns 1. Same calling rules. */
int script_struct_open(lua_State *L);

#endif
