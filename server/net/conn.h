/* conn.h — one client connection: its socket, read buffer and parser, the
 * FIFO of reply slots that keeps replies in request order, and the
 * per-client state that CLIENT, HELLO, AUTH and SELECT read and change. A
 * connection belongs to one worker and is touched only on that worker's
 * thread; other threads reach it only through messages to that worker. */
#ifndef SKV_SERVER_CONN_H
#define SKV_SERVER_CONN_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "protocol/resp.h"
#include "protocol/resp_enc.h"
#include "shard/mailbox.h"

/* Requests whose hash-map cache lines are requested together before they
 * run (batches on the owner, pipelined commands on a connection): enough
 * to overlap the misses of a pipeline-16 client, few enough that the
 * lines are still cached when their request runs. */
#define CONN_PREFETCH 16

struct worker;
struct slot;
struct cmd_def;
struct txn_client;
struct pubsub_client;

struct conn;

/* What CLIENT LIST says of a client that only the layers above net know
 * (conn_processor.info). */
struct conn_info {
    const char *cmd;   /* name of the last command run, "NULL" if none */
    unsigned sub;      /* Pub/Sub channel subscriptions */
    unsigned psub;     /* pattern subscriptions */
    unsigned ssub;     /* shard-channel subscriptions */
};

/* The execution layer as a connection sees it (Pelikan's data_processor):
 * what each parsed command is handed to, and whom to tell when a client
 * goes. Set once at start-up by app/hooks.c, before any client connects,
 * read-only after; a second wire protocol would plug in the same way. */
struct conn_processor {
    /* Run one parsed command for c; argv views are borrowed for the call,
     * key1_hash is hash_key() of argv[1] when known, else NULL. Returns
     * false, having done nothing, when the command must wait for c's
     * commands in flight (c is then CONN_ORDER_WAIT): it is parsed again
     * once that flag is gone. Owner thread of c. */
    bool (*command)(struct conn *c, size_t argc, const struct resp_arg *argv,
                    const uint64_t *key1_hash);
    /* c's protocol error is being answered (INFO errorstats counts it). */
    void (*protocol_error)(struct conn *c);
    /* c, which has Pub/Sub state (c->ps), takes no more messages: it is
     * closing, or its peer hung up. */
    void (*unsubscribe_all)(struct conn *c);
    /* c, which waits in a blocking command (c->blocked), is closing or its
     * peer hung up: it must take nothing more (no element popped for it).
     * Must not complete c's replies from inside the call. */
    void (*hangup)(struct conn *c);
    /* c is being freed: release what the layers above keep for it (its
     * MULTI queue and WATCH state). */
    void (*on_free)(struct conn *c);
    /* Fill in CLIENT LIST's fields that the layers above know. */
    void (*info)(const struct conn *c, struct conn_info *out);
    /* May c move to another worker now: the layers above keep nothing for
     * it that is tied to its worker (a MULTI queue, WATCHed keys)? NULL:
     * yes. */
    bool (*movable)(const struct conn *c);
};

/* Install the processor (copied); at start-up, before any client
 * connects. */
void conn_set_processor(const struct conn_processor *p);

/* Connection flags (struct conn.flags). */
enum {
    CONN_CLOSE_AFTER_REPLY = 1u << 0, /* QUIT, protocol error, CLIENT KILL of
                                         self: parse nothing more, close once
                                         the replies so far are written */
    CONN_CLOSING = 1u << 1,           /* uv_close started; waiting for the
                                         close callback and for in-flight
                                         requests to come back */
    CONN_READ_PAUSED = 1u << 2,       /* uv_read_stop for backpressure */
    CONN_IN_FLUSH_LIST = 1u << 3,     /* queued on the worker's flush list */
    CONN_BARRIER = 1u << 4,           /* a multi-step command is in flight:
                                         later commands wait for it, so this
                                         client sees its own writes in order */
    CONN_READ_EOF = 1u << 5,          /* the peer shut its side down: finish
                                         what was read, then close */
    CONN_PARSE_BLOCKED = 1u << 6,     /* input left unparsed because of
                                         backpressure or a barrier: parse again
                                         when that lifts */
    CONN_ORDER_WAIT = 1u << 7,        /* the next command may take effect only
                                         after the client's commands in flight
                                         (dispatch.c, program order): parse
                                         again when they are back */
};

/* Longest "ip:port" text: an IPv6 address (45) in brackets, ':' and a port;
 * or a Unix socket path (at most 107 bytes, sun_path) and ":0". */
#define CONN_ADDR_MAX 112

struct conn {
    union {
        uv_handle_t handle;      /* what uv_close and uv_fileno take */
        uv_stream_t stream;      /* what reads and writes take */
        uv_tcp_t tcp;            /* a TCP client */
        uv_pipe_t pipe;          /* a Unix socket client (unixsocket) */
    } sock;                      /* the socket; its memory lives until the close
                                    callback, so it is embedded here */
    bool is_unix;                /* sock is the pipe (CLIENT LIST flags=U) */
    bool blocked;                /* waits in a blocking command (BLPOP...):
                                    CLIENT LIST flags=b; set by
                                    commands/cmd_block.c on this thread */
    struct worker *w;            /* owning worker (and thread), borrowed */
    struct conn *prev, *next;    /* the worker's client list */

    /* Identity and CLIENT LIST/INFO state. */
    uint64_t id;                 /* CLIENT ID: unique and increasing server-wide */
    int fd;                      /* the socket descriptor (CLIENT LIST fd=) */
    char addr[CONN_ADDR_MAX];    /* peer "ip:port" ("[::1]:port" for IPv6,
                                    "/socket/path:0" for a Unix socket, as Redis) */
    char laddr[CONN_ADDR_MAX];   /* local "ip:port" (Unix: as addr) */
    char *name;                  /* CLIENT SETNAME; NULL = none. Owned (malloc),
                                    freed with the conn; changed only through
                                    conn_set_name (other threads read it) */
    char *lib_name;              /* CLIENT SETINFO lib-name; NULL = none; owned */
    char *lib_ver;               /* CLIENT SETINFO lib-ver; NULL = none; owned */
    unsigned db;                 /* SELECTed database; travels with each request */
    int proto;                   /* RESP2 or RESP3 (HELLO); travels with each request */
    bool authenticated;          /* AUTH succeeded (or no requirepass at accept) */
    bool local;                  /* the peer is 127.0.0.1 or ::1: Redis 7.0's
                                    islocalClient (not all of 127.0.0.0/8),
                                    for protected mode and
                                    enable-protected-configs local */
    uint32_t flags;              /* CONN_* above */
    int64_t created_ms;          /* accept time, Unix ms (CLIENT LIST age=) */
    int64_t last_ms;             /* last command or read, Unix ms (idle=, timeout) */
    const struct cmd_def *last_cmd; /* last command run (CLIENT LIST cmd=); NULL */

    /* Counters (owner thread). */
    uint64_t ncmds;              /* commands processed */
    uint64_t net_in;             /* bytes read */
    uint64_t net_out;            /* bytes written */

    /* Input: bytes [ioff, ilen) of ibuf are not parsed yet. */
    char *ibuf;                  /* read buffer, grown up to client-query-buffer-limit */
    size_t ilen;                 /* bytes held */
    size_t icap;                 /* allocated */
    size_t ioff;                 /* start of the first unparsed command */
    size_t ineed;                /* parser hint: bytes still missing for a big bulk */
    struct resp_parser parser;   /* incremental RESP parser state */

    /* Output: replies wait in slots, in request order. */
    struct slot *head;           /* oldest slot not yet written */
    struct slot *tail;           /* newest slot */
    size_t nslots;               /* slots in the FIFO */
    size_t nwaiting;             /* slots whose reply is not complete yet */
    size_t wbytes;               /* bytes handed to uv_write, not yet written */
    unsigned nwrites;            /* uv_write requests outstanding */
    unsigned inflight;           /* requests and fan-out parts out on any shard
                                    (including this one) that will come back to
                                    this conn: it is freed only when this is 0 */
    struct conn *flush_next;     /* worker's flush list link (CONN_IN_FLUSH_LIST) */
    unsigned direct_out;         /* requests whose owner may write to the
                                    socket (batch.c, direct_send): the fd
                                    stays open, unreused, until they are back */
    bool close_deferred;         /* conn_close waits for direct_out to be 0 */
    bool lone_cmd;               /* the command being dispatched is the only
                                    one in the input: the client waits for
                                    its reply (a direct reply pays off) */
    bool handle_closed;          /* uv_close's callback has run */
    bool in_process;             /* inside conn_process_input (no re-entry) */
    bool ibuf_lend;              /* the command being dispatched ends ibuf,
                                    which is big: conn_take_ibuf may give
                                    ibuf away instead of its argv copied */
    struct txn_client *txc;      /* MULTI queue and WATCH state (cmd_txn.c),
                                    NULL until the first MULTI or WATCH */
    /* Program order across shards (route/order.c): the client's "unit" is
     * the single-shard requests it sent since it last had nothing
     * unexecuted. */
    unsigned ord_out;            /* requests of the unit not back yet; 0 = none */
    size_t ord_big;              /* biggest reply of the unit so far */
    unsigned ord_max;            /* most requests the next unit may hold,
                                    paced by the biggest reply of the last
                                    (order.c, order_unit_max); 0 = none yet */
    unsigned ord_shard;          /* their shard, while they are not grouped */
    bool ord_group;              /* they span shards: they run as one atomic
                                    transaction (this turn's group) */
    bool ord_sent;               /* some already left this loop turn (or are
                                    held): the unit can no longer be grouped,
                                    a request for another shard waits */
    bool ord_on_turn;            /* on the worker's ord_turn list */
    struct conn *ord_turn_next;  /* that list's link */
    struct req *ord_first;       /* the unit's requests batched this turn, */
    struct req *ord_last;        /* linked through req.ord_next */

    /* Moving to the worker that owns the keys the client uses (conn_move):
     * the run of its latest keyed commands that went to one other shard. */
    unsigned mv_shard;           /* that shard */
    unsigned mv_run;             /* commands in the run */
    unsigned mv_moves;           /* moves so far: each doubles the run the
                                    next one needs (no ping-pong) */
    int move_fd;                 /* while moving: the socket's duplicate that
                                    the new worker adopts */
    struct mbox_msg move_msg;    /* while moving: the hand-over message */
    bool mv_kill;                /* while moving: CLIENT KILL matched it
                                    (the transit lock) */
    uint64_t walk_seen;          /* the last client walk that visited it
                                    (conn_walk_begin) */

    struct pubsub_client *ps;    /* Pub/Sub subscriptions (server/pubsub/pubsub.c),
                                    NULL while there are none; owned */
    /* Output buffer limit (server/net/outbuf.h). The only fields of a conn
     * other threads write: shard threads producing its big replies. */
    _Atomic bool ob_pubsub;      /* the client has subscriptions: Redis's
                                    pubsub class of client-output-buffer-limit
                                    applies (written on its own thread) */
    _Atomic size_t ob_transit;   /* bytes of big replies produced on shard
                                    threads and not yet back in a slot */
    _Atomic size_t ob_local;     /* bytes held here (slots, pending writes),
                                    published by this thread for the owners */
    _Atomic bool ob_over;        /* an owner dropped a reply at the hard
                                    limit: close before writing anything */
    int64_t ob_soft_since;       /* Unix second the soft limit was first
                                    reached, 0 while under it */
};

/* Push c on the front of the list at *head (linked through next/prev). */
static inline void conn_list_push(struct conn **head, struct conn *c)
{
    c->prev = NULL;
    c->next = *head;
    if (*head)
        (*head)->prev = c;
    *head = c;
}

/* Unlink c from the list at *head. */
static inline void conn_list_unlink(struct conn **head, struct conn *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        *head = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->prev = c->next = NULL;
}

/* Mark c to be closed once every reply queued so far has been written (QUIT;
 * CLIENT KILL of the calling client). Input after the current command is
 * discarded. Owner thread. */
void conn_close_after_reply(struct conn *c);

/* Close c as CLIENT KILL does for another client: stop reading now, drop its
 * unparsed input, and close as soon as its pending replies are written (at
 * once if there are none). Safe while requests are in flight. Owner thread. */
void conn_kill(struct conn *c);

/* True once c is being closed or will close after its replies (CLIENT LIST
 * skips, CLIENT KILL does not count twice). Owner thread. */
bool conn_is_closing(const struct conn *c);

/* Append c's CLIENT LIST / CLIENT INFO line in Redis 7's format, ending in
 * "\n": "id=.. addr=.. laddr=.. fd=.. name=.. age=.. idle=.. flags=N db=..
 * ... cmd=.. user=default redir=-1 resp=..". now_ms is the wall clock.
 * Owner thread. */
void conn_describe(const struct conn *c, int64_t now_ms, struct rbuf *out);

/* Replace an owned string member (name, lib_name, lib_ver) with a copy of
 * p[0..n) (n == 0 clears it to NULL). Returns 0 or -1 on out-of-memory (the
 * old value is kept). */
int conn_set_str(char **member, const char *p, size_t n);

/* Set c's name (CLIENT SETNAME, HELLO SETNAME, RESET) to a copy of
 * p[0..n), n == 0 clearing it, as conn_set_str, but so that another thread
 * may read it meanwhile through conn_name_dup. Returns 0 or -1 on
 * out-of-memory (the old name is kept). Owner thread. */
int conn_set_name(struct conn *c, const char *p, size_t n);

/* A copy of c's name ("" when none), which the caller frees; NULL on
 * out-of-memory. Any thread, while c cannot be freed (a request of c is
 * out). The name is the one set when the copy is made: a rename c
 * pipelined behind the request may already show. */
char *conn_name_dup(const struct conn *c);

/* ---- For the server core (worker.c, dispatch.c) ----------------------- */

/* Accept a pending connection on listener (a TCP listener or the Unix
 * socket's pipe) into a new conn owned by w and link it into w's list. Returns NULL if accepting failed. Reading is not
 * started: conn_start. */
struct conn *conn_accept(struct worker *w, uv_stream_t *listener);

/* The same for a socket sfd already accepted from listener by hand
 * (worker_serve_busy); sfd < 0: as conn_accept. */
struct conn *conn_accept_fd(struct worker *w, uv_stream_t *listener, int sfd);

/* Start reading from c (closes it on failure). */
void conn_start(struct conn *c);

/* Close c now (pending replies are dropped). Its memory lives until the
 * socket is closed and every in-flight request has come back. Idempotent. */
void conn_close(struct conn *c);

/* Parse and dispatch buffered commands while c may take more. */
void conn_process_input(struct conn *c);

/* Write c's completed replies, enforce the output limit, close it if it is
 * done, resume a blocked pipeline. Called from the worker's flush pass. */
void conn_flush(struct conn *c);

/* Read what c's socket holds now, without the loop, and process it as
 * the loop's read would (worker_serve_busy). Nothing if c is not reading. */
void conn_poll_input(struct conn *c);

/* Let another thread send one reply straight to c's socket: returns the fd,
 * which stays open until conn_direct_done, or -1 if c has none. */
int conn_direct_begin(struct conn *c);

/* That reply is back on c's worker: a close that waited for it happens. */
void conn_direct_done(struct conn *c);

/* For a request leaving c's thread with `bytes` of arguments: c's read
 * buffer, which holds those arguments (argv points into it) and nothing
 * after them, if it is big and the arguments are too (so that it would be
 * freed after this command anyway). The caller owns it (free()) and keeps
 * the argv views; c reads on into a new buffer. NULL: copy argv. Owner
 * thread, from dispatch. */
char *conn_take_ibuf(struct conn *c, size_t bytes);

/* Move c to worker `to` if it is idle there and here: nothing in flight
 * or unwritten, no state tied to this worker (blocked, subscribed, MULTI,
 * WATCH). Its socket is handed over (the descriptor number changes); its
 * identity, settings and buffered input go with it. Returns false, having
 * done nothing, if c cannot move now. Owner thread, from the flush pass. */
bool conn_move(struct conn *c, struct worker *to);

/* Start a walk over every client (CLIENT LIST, CLIENT KILL): until
 * conn_walk_end, no client starts moving, so the owners' lists plus the
 * clients already in transit (conn_foreach_moving) hold each client
 * once. Returns the walk's id (never 0), which marks a visited client
 * (conn.walk_seen) so that one seen in transit and again after it
 * arrived counts once. Any thread. */
uint64_t conn_walk_begin(void);

/* End a walk started by conn_walk_begin. Any thread. */
void conn_walk_end(void);

/* Call fn(arg, c) for every client between two workers (conn_move), under
 * the lock that its arrival takes: fn may read c and set c->mv_kill (the
 * new worker kills it on arrival), nothing else. Any thread. */
void conn_foreach_moving(void (*fn)(void *arg, struct conn *c), void *arg);

/* Free c if it is closed, off the flush list and nothing is in flight. */
void conn_release(struct conn *c);

/* A request that counted in c->inflight has come back (or a fan-out has
 * finished): free c if it is closed and this was the last one. */
void conn_inflight_done(struct conn *c);

#endif
