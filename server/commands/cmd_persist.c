/* cmd_persist.c — SAVE, BGSAVE [SCHEDULE], LASTSAVE and SHUTDOWN's save
 * step. They run on the client's worker thread (CMD_CONN); SAVE and
 * SHUTDOWN SAVE hold their reply (and the client's next commands) until the
 * snapshot's writer reports, without blocking any thread meanwhile. */
#include <stdlib.h>

#include "server/net/conn.h"
#include "server/route/dispatch.h"
#include "server/util/log.h"
#include "server/persist/persist.h"
#include "server/core/server.h"
#include "server/net/worker.h"

/* A SAVE or SHUTDOWN SAVE waiting for its snapshot. */
struct save_wait {
    struct persist_waiter w;  /* linked by persist until the snapshot ends */
    struct mbox_msg m;        /* carries the result back to the worker */
    struct fan *fan;          /* the held reply */
    unsigned worker;          /* the client's worker (= shard) */
    int status;               /* the snapshot's status, or a PERSIST_E* code */
    bool shutdown;            /* SHUTDOWN: stop the server if it saved */
    bool bgsave;              /* BGSAVE: answer once the cut is taken */
};

static const char *start_error(int rc)
{
    switch (rc) {
    case PERSIST_EBUSY:
        return "ERR Background save already in progress";
    case PERSIST_EDISABLED:
        return "ERR Persistence is disabled: no data directory (CONFIG SET dir <path>)";
    case PERSIST_ECLOSED:
        return "ERR The server is shutting down";
    default:
        /* Redis's bare shared.err: the cause is in the log. */
        return "ERR";
    }
}

/* BGSAVE's reply for a result other than PERSIST_STARTED. */
static void bgsave_reply(struct rbuf *out, int rc)
{
    if (rc == PERSIST_SCHEDULED)
        resp_simple(out, "Background saving scheduled");
    else
        resp_error(out, start_error(rc));
}

/* The fan's only round: write the reply from the recorded status. */
static bool save_step(struct fan *f, struct req **parts, size_t n, struct rbuf *out)
{
    (void)parts;
    (void)n;
    struct save_wait *sw = f->state;
    if (sw->shutdown) {
        if (sw->status == 0) {
            /* Like Redis: no reply, the client sees the connection close. */
            if (!conn_is_closing(f->conn))
                conn_close_after_reply(f->conn);
            server_request_stop(0);
        } else {
            log_warn("Error trying to save the DB, can't exit.");
            resp_error(out, "ERR Errors trying to SHUTDOWN. Check logs.");
        }
    } else if (sw->bgsave) {
        if (sw->status == 0)
            resp_simple(out, "Background saving started");
        else
            bgsave_reply(out, sw->status);
    } else if (sw->status == 0) {
        resp_simple(out, "OK");
    } else {
        resp_error(out, start_error(sw->status));
    }
    free(sw);
    return true;
}

/* On the client's worker: release the held reply. */
static void on_save_result(void *owner, struct mbox_msg *m)
{
    (void)owner;
    struct save_wait *sw = (struct save_wait *)((char *)m - offsetof(struct save_wait, m));
    dispatch_fan_go(sw->fan);
}

/* On the snapshot's writer thread. */
static void on_save_done(void *arg, int status)
{
    struct save_wait *sw = arg;
    sw->status = status == 0 ? 0 : PERSIST_ESTART;
    sw->m.handle = on_save_result;
    shard_post(shard_group_get(server.group, sw->worker), &sw->m);
}

/* Hold c's reply (and the connection's next commands) until persist
 * calls back; NULL when an error reply has been queued instead. */
static struct save_wait *hold_reply(struct cmd_ctx *c)
{
    struct save_wait *sw = calloc(1, sizeof *sw);
    if (!sw) {
        resp_error(c->out, "ERR out of memory");
        return NULL;
    }
    struct fan *f = dispatch_fan_start(c->conn, c->argc, c->argv, save_step);
    if (!f) {
        free(sw);
        return NULL; /* an error reply has been queued */
    }
    sw->fan = f;
    sw->worker = c->conn->w->id;
    sw->w.fn = on_save_done;
    sw->w.arg = sw;
    f->state = sw;
    dispatch_fan_barrier(f);
    return sw;
}

/* The reply held by hold_reply, when persist will not call back. */
static void release_now(struct save_wait *sw, int rc)
{
    sw->status = rc;
    dispatch_fan_go(sw->fan); /* answers at once from the status */
}

/* Start a snapshot and hold c's reply until it ends. */
static void save_and_reply(struct cmd_ctx *c, bool shutdown)
{
    struct save_wait *sw = hold_reply(c);
    if (!sw)
        return;
    sw->shutdown = shutdown;
    int rc = persist_save_async(&sw->w);
    if (rc != PERSIST_STARTED)
        release_now(sw, rc);
}

static void cmd_save(struct cmd_ctx *c)
{
    struct persist_info pi;
    persist_get_info(&pi);
    if (pi.in_progress) {
        resp_error(c->out, start_error(PERSIST_EBUSY));
        return;
    }
    save_and_reply(c, false);
}

static void cmd_bgsave(struct cmd_ctx *c)
{
    bool schedule = false;
    if (c->argc == 2 && cmd_arg_eq(&c->argv[1], "schedule")) {
        schedule = true;
    } else if (c->argc > 1) {
        resp_error(c->out, "ERR syntax error");
        return;
    }
    struct save_wait *sw = hold_reply(c);
    if (!sw)
        return;
    sw->bgsave = true;
    int rc = persist_bgsave(schedule, &sw->w);
    if (rc != PERSIST_STARTED)
        release_now(sw, rc);
    /* else on_save_done releases the reply once the cut is taken */
}


static void cmd_lastsave(struct cmd_ctx *c)
{
    resp_int(c->out, persist_lastsave());
}

bool persist_cmd_shutdown(struct cmd_ctx *c, bool save, bool nosave)
{
    if (nosave || (!save && !persist_save_on_shutdown()))
        return false;
    log_notice("SHUTDOWN from client id=%llu addr=%s: saving first",
               (unsigned long long)c->conn->id, c->conn->addr);
    save_and_reply(c, true);
    return true;
}

const struct cmd_def cmd_persist_defs[] = {
    { .name = "save", .arity = 1, .exec = cmd_save,
      .flags = CMD_ADMIN | CMD_NOSCRIPT | CMD_NO_ASYNC_LOADING | CMD_NO_MULTI | CMD_CONN | CMD_AFTER_PRIOR,
      .group = "server", .since = "1.0.0",
      .complexity = "O(N) where N is the total number of keys in all databases",
      .summary = "Synchronously save the dataset to disk" },
    { .name = "bgsave", .arity = -1, .exec = cmd_bgsave,
      .flags = CMD_ADMIN | CMD_NOSCRIPT | CMD_NO_ASYNC_LOADING | CMD_CONN | CMD_AFTER_PRIOR | CMD_NOT_QUEUED,
      .group = "server", .since = "1.0.0",
      .complexity = "O(1)",
      .summary = "Asynchronously save the dataset to disk" },
    { .name = "lastsave", .arity = 1, .exec = cmd_lastsave,
      .flags = CMD_LOADING | CMD_STALE | CMD_FAST | CMD_CONN,
      .acl = CMD_ACL_ADMIN | CMD_ACL_DANGEROUS,
      .tips = CMD_TIPS("nondeterministic_output"),
      .group = "server", .since = "1.0.0",
      .complexity = "O(1)",
      .summary = "Get the UNIX time stamp of the last successful save to disk" },
};
const size_t cmd_persist_ndefs = sizeof(cmd_persist_defs) / sizeof(cmd_persist_defs[0]);
