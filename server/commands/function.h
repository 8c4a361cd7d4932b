/* function.h — Redis 7.0 functions: FUNCTION LOAD/DELETE/LIST/FLUSH/
 * DUMP/RESTORE/STATS/KILL and FCALL/FCALL_RO. Libraries are server-wide:
 * one registry (function_lib.c, behind a mutex) holds each library's code
 * and its functions' names and flags; each worker's function Lua state
 * (function_lua.c) runs a library's code the first time one of its
 * functions is called there. FCALL runs through EVAL's path
 * (script_cmd.c, script_lua.c) with script_call.fname set. */
#ifndef SKV_SERVER_FUNCTION_H
#define SKV_SERVER_FUNCTION_H

#include <lua.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "protocol/resp_enc.h"
#include "server/exec/cmd.h"

/* One function of a library. Owned by its library. */
struct fn_func {
    char *name;     /* its name (NUL-terminated) */
    size_t name_len;
    char *desc;     /* description, or NULL when none was given */
    size_t desc_len;
    uint32_t flags; /* SCRIPT_FLAG_* */
};

/* One library: its code and what the code registered. */
struct fn_lib {
    struct fn_lib *next;    /* registry order (load order) */
    uint64_t id;            /* unique, never reused: workers key their
                               loaded callbacks by it */
    char *name;             /* from the "#!lua name=" line */
    char *code;             /* the whole code, shebang included */
    size_t code_len;
    struct fn_func *funcs;  /* the functions it registered */
    size_t nfuncs, cap;
};

/* Restore / load policies (function_registry_commit). */
enum { FN_APPEND = 0, FN_REPLACE = 1, FN_FLUSH = 2 };

/* ---- The registry (function_lib.c), any thread ---------------------------- */

/* A new empty library named name (copied) holding a copy of code; NULL on
 * out-of-memory. The caller owns it until function_registry_commit. */
struct fn_lib *function_lib_new(const char *name, const char *code, size_t len);

/* Free a library that was never committed (NULL is fine). */
void function_lib_free(struct fn_lib *lib);

/* Add a function to lib (name and desc copied). Returns 0, or -1 with
 * Redis's error text in *err: "Function already exists in the library",
 * or out of memory. */
int function_lib_add(struct fn_lib *lib, const char *name, size_t nlen, const char *desc,
                     size_t dlen, bool has_desc, uint32_t flags, const char **err);

/* Parse code's "#!<engine> name=<lib>" first line (Redis's
 * functionExtractLibMetaData, then the engine check). Returns the library
 * name (malloc'd, the caller frees), or NULL with Redis's error (no "ERR ")
 * appended to err. */
char *function_meta(const char *code, size_t len, struct rbuf *err);

/* Letters, digits and '_' only, at least one: Redis's functionsVerifyName. */
bool function_name_ok(const char *s, size_t len);

/* Install libs[0..n) (each takes its library: freed on failure) under
 * policy FN_*: APPEND refuses a library name already there, REPLACE drops
 * the old one of the same name, FLUSH drops every old one; a function name
 * that another kept library has refuses everything. Returns 0, or -1 with
 * Redis's error (no "ERR ") appended to err. */
int function_registry_commit(struct fn_lib **libs, size_t n, int policy, bool load_msgs,
                             struct rbuf *err);

/* Is a library named name installed? */
bool function_registry_has(const char *name, size_t len);

/* Delete library name. False if there is none. */
bool function_registry_delete(const char *name, size_t len);

/* Delete every library. */
void function_registry_flush(void);

/* Find function name: its library's id and its flags. False if none. */
bool function_find(const char *name, size_t len, uint64_t *lib_id, uint32_t *flags);

/* A copy of library id's code into out (and its name, malloc'd, into
 * *name if name is not NULL). False if it is gone. */
bool function_lib_code(uint64_t id, struct rbuf *out);

/* Is library id still installed? */
bool function_lib_alive(uint64_t id);

/* Changes whenever a library is added or removed. */
uint64_t function_registry_gen(void);

/* Call fn for each library in order, under the registry's lock (fn must
 * not call back into the registry). */
void function_registry_each(void (*fn)(void *arg, const struct fn_lib *lib), void *arg);

/* Libraries and functions installed, and the bytes of their code. */
void function_registry_stats(size_t *nlibs, size_t *nfuncs, size_t *bytes);

/* Append every library as an RDB function record (0xF5 + its code as an
 * RDB string) to out, as Redis's rdbSaveFunctions writes them. Returns 0
 * or -1 on out-of-memory. */
int function_registry_records(struct rbuf *out);

/* ---- FUNCTION DUMP payloads (function_payload.c), pure --------------------- */

/* Most libraries one RESTORE may carry: each costs a Lua load. */
#define FUNCTION_PAYLOAD_MAX_LIBS 65536


/* Called for each library's code (borrowed for the call); 0 to go on, or
 * -1 with Redis's error appended to err to stop. */
typedef int (*function_payload_fn)(void *arg, const char *code, size_t len, struct rbuf *err);

/* Split payload p[0..len) (footer already checked) into its function
 * records, calling each for each. Returns 0, or -1 with Redis's error
 * (no "ERR ") in err: a record of another type, a string that does not
 * read, or each's own. */
int function_payload_split(const unsigned char *p, size_t len, function_payload_fn each,
                           void *arg, struct rbuf *err);

/* ---- Lua (function_lua.c), the worker's thread ------------------------------ */

/* Prepare L (made by script_state_create) to host libraries: the
 * environment every library chunk shares and the load-time API. */
void function_lua_setup(lua_State *L);

/* Run code in L as library lib (whose functions it fills in) and keep its
 * callbacks in L's registry under lib->id. Returns true, or false with
 * Redis's error text (no "ERR ") appended to err. */
bool function_lua_load(lua_State *L, struct fn_lib *lib, struct rbuf *err);

/* Push the callback of function fname of library id loaded in L, loading
 * the library's code from the registry first if L has not run it. False
 * (nothing pushed) if the library or the function is gone. */
bool function_lua_push(lua_State *L, uint64_t id, const char *fname, size_t flen);

/* Drop from L the callbacks of libraries no longer installed. */
void function_lua_prune(lua_State *L);

/* Validate and build library name (from function_meta) from code in
 * this thread's function state (FUNCTION LOAD, RESTORE, start-up). Returns the library (the caller
 * commits or frees it), or NULL with Redis's error appended to err. */
struct fn_lib *function_compile(const char *code, size_t len, const char *name,
                                struct rbuf *err);

/* ---- Commands (function_cmd.c) ----------------------------------------------- */

extern const struct cmd_def cmd_function_defs[];
extern const size_t cmd_function_ndefs;

/* Load one library from an RDB function record's code (start-up): 0, or
 * -1 after logging why. */
int function_rdb_load(const char *code, size_t len);

/* Every library as RDB records, malloc'd into *out (NULL and 0 when there
 * is none). Returns 0 or -1 on out-of-memory. For the snapshot. */
int function_rdb_records(void **out, size_t *len);

#endif
