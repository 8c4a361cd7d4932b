/* dispatch_internal.h — what dispatch.c (requests, batches, slots) and
 * fan.c (fan-out, broadcasts) share inside route/. Not for other folders.
 * The connection's worker thread unless a function says otherwise. */
#ifndef SKV_SERVER_DISPATCH_INTERNAL_H
#define SKV_SERVER_DISPATCH_INTERNAL_H

#include "server/exec/cmd.h"
#include "server/exec/req.h"
#include "shard/shard.h"

struct worker;
struct fan;

/* A request with a private copy of argv, made on w's thread (pooled when
 * small); freed with dispatch_req_free on the same thread. NULL on OOM. */
struct req *dispatch_req_new(struct worker *w, size_t argc, const struct resp_arg *argv);

/* Free a request made by dispatch_req_new on w (the calling thread's). */
void dispatch_req_free(struct worker *w, struct req *r);

/* Add r to this turn's batch for shard `shard`. Returns 0, or -1 on OOM. */
int dispatch_batch_add(struct worker *w, unsigned shard, struct req *r);

/* A round of f is back: keep the keyspace events its parts recorded. */
void dispatch_fan_events(struct fan *f, struct req *const *parts, size_t n);

/* Publish the events f kept (dispatch_hooks.publish_events), the
 * client's own frames before its reply. */
void dispatch_fan_publish(struct fan *f);

/* A part of f came back (or ran locally): when the round is complete, run
 * the step and the next round. */
void dispatch_fan_part_done(struct fan *f);

/* Run one request's exec on shard s (the calling thread owns it): command
 * d whole, or one part of it (d NULL for an internal step), through the
 * one execution point (cmd_call). priv is the request (struct req), or
 * NULL for a command run inline on its connection's thread, whose reply
 * goes straight into the connection's stream out. */
static inline void run_exec(struct shard *s, const struct cmd_def *d, cmd_exec_fn exec,
                            unsigned db, int proto, size_t argc, const struct resp_arg *argv,
                            struct rbuf *out, int64_t now_ms, struct req *priv,
                            const struct conn *origin)
{
    struct cmd_ctx ctx = {
        .shard = s,
        .db = shard_db(s, db),
        .dbidx = db,
        .proto = proto,
        .argc = argc,
        .argv = argv,
        .out = out,
        .now_ms = now_ms,
        .priv = priv,
        .conn = NULL,
        .origin = origin,
        .oslot = priv ? priv->slot : NULL,
        .reply_inline = priv == NULL,
        .events = priv && priv->fan ? &priv->events : NULL,
    };
    if (d && exec == d->exec)
        cmd_call(d, &ctx);
    else
        cmd_call_part(d, exec, &ctx);
}

#endif
