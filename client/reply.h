/* reply.h — incremental RESP2/RESP3 reply parser of libshardkv (internal).
 * Pure: no I/O, no threads. It owns a read buffer the caller fills, keeps
 * partially built aggregates between calls (a reply split anywhere resumes
 * where it stopped), and hands out complete struct skv_reply trees. */
#ifndef SKV_CLIENT_REPLY_H
#define SKV_CLIENT_REPLY_H

#include <stddef.h>

#include "client/shardkv.h"

/* Nesting limit: deeper replies are a protocol error. Real servers nest a
 * handful of levels (COMMAND DOCS is 4); 32 bounds the fixed-size stack. */
#define REPLY_MAX_DEPTH 32
/* Largest bulk string accepted: Redis's proto-max-bulk-len default. */
#define REPLY_MAX_BULK ((size_t)512 << 20)
/* Most elements in one aggregate (a map counts keys and values). The
 * element array grows as children arrive, starting at REPLY_FIRST_ELEMENTS,
 * so a header alone never allocates more than that. */
#define REPLY_MAX_ELEMENTS   ((size_t)1 << 28)
#define REPLY_FIRST_ELEMENTS 64
/* Longest header or simple line (+, -, :, ,, # ...): 64 MiB keeps a huge
 * status line possible while stopping a server that never sends CRLF. */
#define REPLY_MAX_LINE ((size_t)64 << 20)

enum reply_status {
    REPLY_OK = 0,  /* one reply parsed */
    REPLY_AGAIN,   /* incomplete: feed more bytes */
    REPLY_EPROTO,  /* malformed input; the parser is unusable afterwards */
    REPLY_ENOMEM,  /* allocation failed; unusable afterwards */
    REPLY_ETOOBIG, /* over a limit above; unusable afterwards */
};

/* An aggregate under construction. */
struct reply_frame {
    struct skv_reply *r; /* the aggregate; r->elements counts the children
                            attached so far */
    size_t want;         /* children declared by the header */
    size_t cap;          /* entries allocated at r->element */
    int is_attr;         /* RESP3 attribute: discarded when complete */
};

struct reply_parser {
    char *buf;   /* read buffer, owned */
    size_t cap;  /* bytes allocated at buf */
    size_t len;  /* bytes of data in buf */
    size_t pos;  /* first byte not parsed yet */
    size_t scan; /* where the search for the current line's CRLF resumes */
    struct reply_frame stack[REPLY_MAX_DEPTH]; /* open aggregates, outermost first */
    int depth;                                 /* entries used in stack */
    const char *err;                           /* text of the last failure (static) */
};

void reply_parser_init(struct reply_parser *p);
/* Free the buffer and any partial reply. */
void reply_parser_deinit(struct reply_parser *p);
/* Copy n bytes into the buffer. Returns 0 or -1 (out of memory). */
int reply_parser_feed(struct reply_parser *p, const void *data, size_t n);
/* Room for at least want bytes at the end of the buffer, to read() into
 * directly; *avail gets the room. NULL when out of memory. Follow with
 * reply_parser_commit(p, bytes_read). */
char *reply_parser_space(struct reply_parser *p, size_t want, size_t *avail);
void reply_parser_commit(struct reply_parser *p, size_t n);
/* Parse the next complete reply into *out (owned by the caller). */
enum reply_status reply_parser_next(struct reply_parser *p, struct skv_reply **out);
/* Bytes buffered but not yet parsed into a complete reply. */
size_t reply_parser_pending(const struct reply_parser *p);

/* Build a reply of type t with a copy of s[0..n) (STRING, STATUS, ERROR...).
 * NULL when out of memory. */
struct skv_reply *reply_new_str(enum skv_reply_type t, const char *s, size_t n);

#endif
