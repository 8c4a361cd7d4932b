/* script_conv.c — the conversions between Lua values and RESP replies that
 * Redis documents for scripts: a command's reply becomes a Lua value for
 * redis.call (RESP2 or RESP3, per redis.setresp), and the script's return
 * value becomes the client's reply. Runs on the worker running the script. */
#include "server/commands/script.h"

#include <lauxlib.h>
#include <lua.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/int64str.h"

/* ---- RESP to Lua ---------------------------------------------------------- */

/* The line starting at p (after the type byte): its length up to "\r\n", or
 * -1 if it is not whole. */
static ssize_t line_len(const char *p, size_t n)
{
    const char *cr = memchr(p, '\r', n);
    if (!cr || (size_t)(cr - p) + 1 >= n || cr[1] != '\n')
        return -1;
    return cr - p;
}

static void set_field_str(lua_State *L, const char *k, const char *v, size_t n)
{
    lua_pushstring(L, k);
    lua_pushlstring(L, v, n);
    lua_settable(L, -3);
}

void script_push_error(lua_State *L, const char *text, size_t len)
{
    /* "-CODE message": the code is up to the first space; without a space
     * the whole text is the message and the code is ERR. Trailing CR/LF are
     * trimmed, as sdstrim does. */
    const char *code = "ERR";
    size_t code_len = 3;
    const char *msg = text;
    size_t msg_len = len;
    if (len && text[0] == '-') {
        const char *sp = memchr(text, ' ', len);
        if (sp) {
            code = text + 1;
            code_len = (size_t)(sp - text) - 1;
            msg = sp + 1;
            msg_len = len - (size_t)(sp - text) - 1;
        } else {
            msg = text + 1;
            msg_len = len - 1;
        }
    }
    while (msg_len && (msg[msg_len - 1] == '\r' || msg[msg_len - 1] == '\n'))
        msg_len--;
    while (msg_len && (msg[0] == '\r' || msg[0] == '\n')) {
        msg++;
        msg_len--;
    }
    luaL_Buffer b;
    lua_newtable(L);
    lua_pushstring(L, "err");
    luaL_buffinit(L, &b);
    luaL_addlstring(&b, code, code_len);
    luaL_addchar(&b, ' ');
    luaL_addlstring(&b, msg, msg_len);
    luaL_pushresult(&b);
    lua_settable(L, -3);
}

size_t script_resp_to_lua(lua_State *L, const char *p, size_t n)
{
    if (n < 3)
        return 0;
    ssize_t ll = line_len(p + 1, n - 1);
    if (ll < 0)
        return 0;
    const char *line = p + 1;
    size_t used = 1 + (size_t)ll + 2;
    int64_t v = 0;
    if (!lua_checkstack(L, 4))
        return 0;
    switch (p[0]) {
    case ':':
        int64str_parse(line, (size_t)ll, &v);
        lua_pushnumber(L, (lua_Number)v);
        return used;
    case '+':
        lua_newtable(L);
        set_field_str(L, "ok", line, (size_t)ll);
        return used;
    case '-':
        script_push_error(L, p, (size_t)ll + 1);
        return used;
    case '_':
        lua_pushnil(L);
        return used;
    case '#':
        lua_pushboolean(L, ll == 1 && line[0] == 't');
        return used;
    case ',': {
        char tmp[64];
        size_t l = (size_t)ll < sizeof tmp - 1 ? (size_t)ll : sizeof tmp - 1;
        memcpy(tmp, line, l);
        tmp[l] = '\0';
        lua_newtable(L);
        lua_pushstring(L, "double");
        lua_pushnumber(L, strtod(tmp, NULL));
        lua_settable(L, -3);
        return used;
    }
    case '(':
        lua_newtable(L);
        set_field_str(L, "big_number", line, (size_t)ll);
        return used;
    case '$':
    case '=': {
        if (!int64str_parse(line, (size_t)ll, &v))
            return 0;
        if (v < 0) {
            lua_pushboolean(L, 0); /* the null bulk */
            return used;
        }
        if ((uint64_t)v + 2 > n - used)
            return 0;
        const char *s = p + used;
        if (p[0] == '$') {
            lua_pushlstring(L, s, (size_t)v);
        } else {
            /* "txt:" then the text */
            size_t fl = v >= 4 ? 3 : 0;
            lua_newtable(L);
            lua_pushstring(L, "verbatim_string");
            lua_newtable(L);
            set_field_str(L, "string", s + (fl ? 4 : 0), (size_t)v - (fl ? 4 : 0));
            set_field_str(L, "format", s, fl);
            lua_settable(L, -3);
        }
        return used + (size_t)v + 2;
    }
    case '*':
    case '~':
    case '%':
    case '|':
    case '>': {
        if (!int64str_parse(line, (size_t)ll, &v))
            return 0;
        if (v < 0) {
            lua_pushboolean(L, 0); /* the null array */
            return used;
        }
        /* Every element takes at least one byte (three, in fact), so a
         * count beyond the bytes left is a truncated reply; checking it
         * first also keeps 2 * v below from overflowing. */
        if ((uint64_t)v > n - used)
            return 0;
        char t = p[0];
        if (t == '|') {
            /* An attribute: skipped (Redis does not show it to scripts),
             * then the reply it decorates. */
            for (int64_t i = 0; i < 2 * v; i++) {
                size_t u = script_resp_to_lua(L, p + used, n - used);
                if (!u)
                    return 0;
                lua_pop(L, 1);
                used += u;
            }
            size_t u = script_resp_to_lua(L, p + used, n - used);
            return u ? used + u : 0;
        }
        if (t == '~' || t == '%') {
            lua_newtable(L);
            lua_pushstring(L, t == '~' ? "set" : "map");
        }
        lua_newtable(L);
        for (int64_t i = 0; i < v; i++) {
            if (t == '*' || t == '>')
                lua_pushnumber(L, (lua_Number)(i + 1));
            size_t u = script_resp_to_lua(L, p + used, n - used);
            if (!u) {
                lua_pop(L, (t == '~' || t == '%') ? 3 : 2);
                return 0;
            }
            used += u;
            if (t == '%') {
                u = script_resp_to_lua(L, p + used, n - used);
                if (!u) {
                    lua_pop(L, 4);
                    return 0;
                }
                used += u;
            } else if (t == '~') {
                lua_pushboolean(L, 1);
            }
            /* A map key or set member that is null or NaN cannot index a
             * Lua table (lua_settable would raise outside any protected
             * call and abort the process): such a pair is dropped. */
            if (lua_isnil(L, -2) ||
                (lua_type(L, -2) == LUA_TNUMBER && lua_tonumber(L, -2) != lua_tonumber(L, -2)))
                lua_pop(L, 2);
            else
                lua_settable(L, -3);
        }
        if (t == '~' || t == '%')
            lua_settable(L, -3);
        return used;
    }
    default:
        return 0;
    }
}

/* ---- Lua to RESP ---------------------------------------------------------- */

/* Text with CR and LF turned into spaces (Redis's sdsmapchars on status
 * and big number replies). */
static void append_mapped(struct rbuf *out, char type, const char *s, size_t n)
{
    if (rbuf_reserve(out, n + 3) != 0)
        return;
    out->ptr[out->len++] = type;
    for (size_t i = 0; i < n; i++)
        out->ptr[out->len++] = (s[i] == '\r' || s[i] == '\n') ? ' ' : s[i];
    out->ptr[out->len++] = '\r';
    out->ptr[out->len++] = '\n';
}

static void append_header(struct rbuf *out, char type, size_t n)
{
    char tmp[32];
    int l = snprintf(tmp, sizeof tmp, "%c%zu\r\n", type, n);
    rbuf_append(out, tmp, (size_t)l);
}

void script_reply_error(struct rbuf *out, const char *s, size_t n)
{
    append_mapped(out, '-', s, n);
}

/* The field k of the table on top, pushed; its Lua type returned. */
static int field(lua_State *L, const char *k)
{
    lua_pushstring(L, k);
    lua_gettable(L, -2);
    return lua_type(L, -1);
}

void script_lua_to_resp(lua_State *L, struct rbuf *out, int proto, int resp)
{
    if (!lua_checkstack(L, 4)) {
        /* A table nested deeper than Lua's stack allows (or one that
         * holds itself): Redis's error, in place of the value. */
        resp_error(out, "ERR reached lua stack limit");
        lua_pop(L, 1);
        return;
    }
    switch (lua_type(L, -1)) {
    case LUA_TSTRING: {
        size_t n;
        const char *s = lua_tolstring(L, -1, &n);
        resp_bulk(out, s, n);
        break;
    }
    case LUA_TBOOLEAN:
        if (resp == RESP2) {
            if (lua_toboolean(L, -1))
                resp_int(out, 1);
            else
                resp_null(out, proto);
        } else {
            resp_bool(out, proto, lua_toboolean(L, -1));
        }
        break;
    case LUA_TNUMBER:
        resp_int(out, (int64_t)(long long)lua_tonumber(L, -1));
        break;
    case LUA_TTABLE: {
        if (field(L, "err") == LUA_TSTRING) {
            size_t n;
            const char *s = lua_tolstring(L, -1, &n);
            /* Redis replies "-" + the text, even one that starts with
             * '-' already. */
            script_reply_error(out, s, n);
            lua_pop(L, 2);
            return;
        }
        lua_pop(L, 1);
        if (field(L, "ok") == LUA_TSTRING) {
            size_t n;
            const char *s = lua_tolstring(L, -1, &n);
            append_mapped(out, '+', s, n);
            lua_pop(L, 2);
            return;
        }
        lua_pop(L, 1);
        if (field(L, "double") == LUA_TNUMBER) {
            resp_double(out, proto, lua_tonumber(L, -1));
            lua_pop(L, 2);
            return;
        }
        lua_pop(L, 1);
        if (field(L, "big_number") == LUA_TSTRING) {
            size_t n;
            const char *s = lua_tolstring(L, -1, &n);
            if (proto == RESP3) {
                append_mapped(out, '(', s, n);
            } else {
                char *m = malloc(n ? n : 1);
                if (m) {
                    for (size_t i = 0; i < n; i++)
                        m[i] = (s[i] == '\r' || s[i] == '\n') ? ' ' : s[i];
                    resp_bulk(out, m, n);
                    free(m);
                }
            }
            lua_pop(L, 2);
            return;
        }
        lua_pop(L, 1);
        if (field(L, "verbatim_string") == LUA_TTABLE) {
            if (field(L, "format") == LUA_TSTRING) {
                size_t fl;
                const char *f = lua_tolstring(L, -1, &fl);
                lua_pushstring(L, "string");
                lua_gettable(L, -3); /* from the verbatim_string table */
                if (lua_type(L, -1) == LUA_TSTRING) {
                    size_t n;
                    const char *s = lua_tolstring(L, -1, &n);
                    if (proto == RESP3) {
                        /* "=len\r\nfmt:text\r\n", the format padded or
                         * cut to its three bytes */
                        append_header(out, '=', n + 4);
                        char fmt[4] = {' ', ' ', ' ', ':'};
                        memcpy(fmt, f, fl < 3 ? fl : 3);
                        rbuf_append(out, fmt, 4);
                        rbuf_append(out, s, n);
                        rbuf_append(out, "\r\n", 2);
                    } else {
                        resp_bulk(out, s, n);
                    }
                    lua_pop(L, 4);
                    return;
                }
                lua_pop(L, 1);
            }
            lua_pop(L, 1);
        }
        lua_pop(L, 1);
        if (field(L, "map") == LUA_TTABLE) {
            struct rbuf body;
            rbuf_init(&body);
            size_t n = 0;
            lua_pushnil(L);
            while (lua_next(L, -2)) {
                lua_pushvalue(L, -2);
                script_lua_to_resp(L, &body, proto, resp); /* the key */
                script_lua_to_resp(L, &body, proto, resp); /* the value */
                n++;
            }
            resp_map(out, proto, n);
            rbuf_append(out, body.ptr, body.len);
            rbuf_deinit(&body);
            lua_pop(L, 2);
            return;
        }
        lua_pop(L, 1);
        if (field(L, "set") == LUA_TTABLE) {
            struct rbuf body;
            rbuf_init(&body);
            size_t n = 0;
            lua_pushnil(L);
            while (lua_next(L, -2)) {
                lua_pop(L, 1);
                lua_pushvalue(L, -1);
                script_lua_to_resp(L, &body, proto, resp);
                n++;
            }
            resp_set(out, proto, n);
            rbuf_append(out, body.ptr, body.len);
            rbuf_deinit(&body);
            lua_pop(L, 2);
            return;
        }
        lua_pop(L, 1);
        /* An array: elements 1, 2, ... up to the first nil. */
        struct rbuf body;
        rbuf_init(&body);
        size_t n = 0;
        for (lua_Number j = 1;; j++) {
            lua_pushnumber(L, j);
            lua_gettable(L, -2);
            if (lua_type(L, -1) == LUA_TNIL) {
                lua_pop(L, 1);
                break;
            }
            script_lua_to_resp(L, &body, proto, resp);
            n++;
        }
        append_header(out, '*', n);
        rbuf_append(out, body.ptr, body.len);
        if (body.oom)
            out->oom = true;
        rbuf_deinit(&body);
        break;
    }
    default:
        resp_null(out, proto);
    }
    lua_pop(L, 1);
}
