/* test_async.c — the libuv client against the in-process fake server:
 * commands and replies in order, many commands in one write, a pending
 * command failed with an error reply when the server goes away, reconnect
 * with backoff after the server comes back on the same port, the read
 * timeout, and close from inside a callback. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <uv.h>

#include "client/shardkv.h"
#include "fake_server.h"

/* Everything one test's callbacks share (loop thread only). */
struct ctx {
    uv_loop_t loop;
    uv_timer_t guard; /* fails the test if it runs too long */
    struct skv_async *ac;
    struct fake_server srv;
    int port;
    int connects_ok;     /* on_connect with status 0 */
    int connects_failed; /* on_connect with status < 0 */
    int replies;         /* reply callbacks run */
    int step;            /* test-specific progress */
    char log[1024];      /* what the reply callbacks saw, in order */
    bool done;
    bool timed_out; /* the guard fired */
};

static void guard_cb(uv_timer_t *t)
{
    struct ctx *x = t->data;
    cr_log_error("guard timer fired at step %d; log: %s", x->step, x->log);
    x->timed_out = true;
    uv_stop(t->loop);
}

static void ctx_init(struct ctx *x, enum fake_mode mode)
{
    memset(x, 0, sizeof(*x));
    cr_assert_eq(uv_loop_init(&x->loop), 0);
    uv_timer_init(&x->loop, &x->guard);
    x->guard.data = x;
    uv_timer_start(&x->guard, guard_cb, 10000, 0);
    uv_unref((uv_handle_t *)&x->guard); /* does not keep the loop alive */
    cr_assert_eq(fake_start(&x->srv, mode, 0), 0);
    x->port = x->srv.port;
}

static void ctx_finish(struct ctx *x)
{
    cr_assert_not(x->timed_out, "timed out at step %d; log: %s", x->step, x->log);
    uv_close((uv_handle_t *)&x->guard, NULL);
    /* Let the client's handles close; then the loop must be empty. */
    uv_run(&x->loop, UV_RUN_DEFAULT);
    cr_assert_eq(uv_loop_close(&x->loop), 0, "handles left open");
    fake_stop(&x->srv);
}

static void logf_(struct ctx *x, const struct skv_reply *r)
{
    char one[128];
    switch (r->type) {
    case SKV_REPLY_STATUS:
    case SKV_REPLY_STRING:
        snprintf(one, sizeof(one), "%s;", r->str);
        break;
    case SKV_REPLY_ERROR:
        snprintf(one, sizeof(one), "E:%s;", r->str);
        break;
    case SKV_REPLY_NIL:
        snprintf(one, sizeof(one), "nil;");
        break;
    case SKV_REPLY_INTEGER:
        snprintf(one, sizeof(one), "%lld;", r->integer);
        break;
    default:
        snprintf(one, sizeof(one), "?%d;", (int)r->type);
    }
    strncat(x->log, one, sizeof(x->log) - strlen(x->log) - 1);
}

static void on_reply(struct skv_async *ac, struct skv_reply *r, void *priv)
{
    struct ctx *x = priv;
    x->replies++;
    logf_(x, r);
}

static int cmd(struct ctx *x, const char *a0, const char *a1, const char *a2, skv_async_reply_fn cb)
{
    const char *argv[3] = {a0, a1, a2};
    int argc = a2 ? 3 : a1 ? 2 : 1;
    return skv_async_command(x->ac, argc, argv, NULL, cb, x);
}

/* --- basic: commands queued before the connection is up, in order --- */

static void basic_last(struct skv_async *ac, struct skv_reply *r, void *priv)
{
    struct ctx *x = priv;
    on_reply(ac, r, priv);
    skv_async_close(ac); /* from inside a callback */
    x->done = true;
}

Test(async, commands_in_order)
{
    struct ctx x;
    ctx_init(&x, FAKE_KV);
    x.ac = skv_async_connect(&x.loop, "127.0.0.1", x.port, NULL, NULL, NULL);
    cr_assert_not_null(x.ac);
    for (int i = 0; i < 50; i++) {
        char v[16];
        snprintf(v, sizeof(v), "%d", i);
        cr_assert_eq(cmd(&x, "SET", "k", v, on_reply), 0);
    }
    cr_assert_eq(cmd(&x, "GET", "k", NULL, on_reply), 0);
    cr_assert_eq(cmd(&x, "GET", "nokey", NULL, on_reply), 0);
    cr_assert_eq(cmd(&x, "BOGUS", NULL, NULL, basic_last), 0);
    uv_run(&x.loop, UV_RUN_DEFAULT);
    cr_assert(x.done);
    cr_assert_eq(x.replies, 53);
    const char *tail = strstr(x.log, "49;nil;E:ERR unknown command 'BOGUS';");
    cr_assert_not_null(tail, "log: %s", x.log);
    /* Queued in one loop turn: the server got all 53 in one batch. */
    cr_assert_eq(atomic_load(&x.srv.max_batch), 53);
    /* Commands after close are refused without a callback. */
    ctx_finish(&x);
}

/* --- reconnect after a server restart --- */

static void rc_after_restart(struct skv_async *ac, struct skv_reply *r, void *priv)
{
    struct ctx *x = priv;
    on_reply(ac, r, priv);
    skv_async_close(ac);
    x->done = true;
}

static void rc_hang_failed(struct skv_async *ac, struct skv_reply *r, void *priv)
{
    on_reply(ac, r, priv);
}

static void rc_set_ok(struct skv_async *ac, struct skv_reply *r, void *priv)
{
    struct ctx *x = priv;
    on_reply(ac, r, priv);
    /* A command that will never be answered, then the server goes away:
     * HANG must fail with an error reply. */
    cmd(x, "HANG", NULL, NULL, rc_hang_failed);
    x->step = 1;
}

static void rc_on_connect(struct skv_async *ac, int status, void *data)
{
    struct ctx *x = data;
    if (status == 0) {
        x->connects_ok++;
        if (x->connects_ok == 1) {
            cmd(x, "SET", "k", "v", rc_set_ok);
        } else {
            /* The new server starts empty: GET gives nil. */
            x->step = 3;
            cmd(x, "GET", "k", NULL, rc_after_restart);
        }
        return;
    }
    x->connects_failed++;
    if (x->connects_failed == 2) {
        /* Server back on the same port after two refused attempts. */
        cr_assert_eq(fake_start(&x->srv, FAKE_KV, x->port), 0);
        x->step = 2;
    }
}

static void stop_server_cb(uv_timer_t *t)
{
    struct ctx *x = t->data;
    if (x->step != 1) {
        uv_timer_start(t, stop_server_cb, 5, 0);
        return;
    }
    fake_stop(&x->srv);
    uv_close((uv_handle_t *)t, NULL);
}

Test(async, reconnect_after_restart)
{
    struct ctx x;
    ctx_init(&x, FAKE_KV);
    struct skv_options o;
    skv_options_init(&o);
    o.reconnect_min_ms = 10;
    o.reconnect_max_ms = 80;
    x.ac = skv_async_connect(&x.loop, "127.0.0.1", x.port, &o, rc_on_connect, &x);
    cr_assert_not_null(x.ac);
    uv_timer_t stopper;
    uv_timer_init(&x.loop, &stopper);
    stopper.data = &x;
    uv_timer_start(&stopper, stop_server_cb, 5, 0);
    uv_run(&x.loop, UV_RUN_DEFAULT);
    cr_assert(x.done, "step %d log %s", x.step, x.log);
    cr_assert_eq(x.connects_ok, 2);
    cr_assert(x.connects_failed >= 2);
    cr_assert(strncmp(x.log, "OK;E:ERR connection lost", 24) == 0, "log: %s", x.log);
    cr_assert(strstr(x.log, ";nil;") != NULL, "log: %s", x.log);
    ctx_finish(&x);
}

/* --- read timeout --- */

static void to_reply(struct skv_async *ac, struct skv_reply *r, void *priv)
{
    struct ctx *x = priv;
    on_reply(ac, r, priv);
    skv_async_close(ac);
    x->done = true;
}

Test(async, read_timeout)
{
    struct ctx x;
    ctx_init(&x, FAKE_SILENT);
    struct skv_options o;
    skv_options_init(&o);
    o.read_timeout_ms = 100;
    x.ac = skv_async_connect(&x.loop, "127.0.0.1", x.port, &o, NULL, NULL);
    cr_assert_eq(cmd(&x, "PING", NULL, NULL, to_reply), 0);
    uint64_t t0 = uv_hrtime();
    uv_run(&x.loop, UV_RUN_DEFAULT);
    uint64_t ms = (uv_hrtime() - t0) / 1000000;
    cr_assert(x.done);
    cr_assert_str_eq(x.log, "E:ERR connection lost: read timeout;");
    cr_assert(ms >= 95, "after %llu ms", (unsigned long long)ms);
    ctx_finish(&x);
}

/* --- close with commands pending, and commands refused after close --- */

Test(async, close_fails_pending)
{
    struct ctx x;
    ctx_init(&x, FAKE_SILENT);
    x.ac = skv_async_connect(&x.loop, "127.0.0.1", x.port, NULL, NULL, NULL);
    cr_assert_eq(cmd(&x, "PING", NULL, NULL, on_reply), 0);
    cr_assert_eq(cmd(&x, "PING", NULL, NULL, on_reply), 0);
    uv_run(&x.loop, UV_RUN_NOWAIT);
    skv_async_close(x.ac);
    cr_assert_eq(x.replies, 2);
    cr_assert_str_eq(x.log, "E:ERR client closed;E:ERR client closed;");
    ctx_finish(&x);
}

/* --- connection refused: reported to on_connect, retried --- */

static void refused_cb(struct skv_async *ac, int status, void *data)
{
    struct ctx *x = data;
    cr_assert_lt(status, 0);
    if (++x->connects_failed == 3) {
        skv_async_close(ac);
        x->done = true;
    }
}

Test(async, refused_retries_with_backoff)
{
    struct ctx x;
    ctx_init(&x, FAKE_KV);
    int port = x.port;
    fake_stop(&x.srv);
    struct skv_options o;
    skv_options_init(&o);
    o.reconnect_min_ms = 20;
    o.reconnect_max_ms = 1000;
    uint64_t t0 = uv_hrtime();
    x.ac = skv_async_connect(&x.loop, "127.0.0.1", port, &o, refused_cb, &x);
    uv_run(&x.loop, UV_RUN_DEFAULT);
    uint64_t ms = (uv_hrtime() - t0) / 1000000;
    cr_assert(x.done);
    /* Delays 20 then 40 ms before the third attempt. */
    cr_assert(ms >= 55, "three attempts took %llu ms", (unsigned long long)ms);
    /* ctx_finish stops the server again: start a dummy to keep it simple. */
    cr_assert_eq(fake_start(&x.srv, FAKE_KV, 0), 0);
    ctx_finish(&x);
}

/* --- a command queued from a failure callback is sent after reconnecting --- */

static void requeue_last(struct skv_async *ac, struct skv_reply *r, void *priv)
{
    struct ctx *x = priv;
    on_reply(ac, r, priv);
    skv_async_close(ac);
    x->done = true;
}

static void requeue_failed(struct skv_async *ac, struct skv_reply *r, void *priv)
{
    struct ctx *x = priv;
    on_reply(ac, r, priv);
    /* Queued while the failed connection's commands are being failed: it
     * must survive that and go out on the next connection. */
    cr_assert_eq(cmd(x, "ECHO", "after", NULL, requeue_last), 0);
}

Test(async, command_queued_in_failure_callback)
{
    struct ctx x;
    ctx_init(&x, FAKE_KV);
    struct skv_options o;
    skv_options_init(&o);
    o.read_timeout_ms = 100;
    o.reconnect_min_ms = 10;
    x.ac = skv_async_connect(&x.loop, "127.0.0.1", x.port, &o, NULL, NULL);
    cr_assert_eq(cmd(&x, "SET", "a", "b", on_reply), 0);
    cr_assert_eq(cmd(&x, "HANG", NULL, NULL, requeue_failed), 0);
    uv_run(&x.loop, UV_RUN_DEFAULT);
    cr_assert(x.done, "log: %s", x.log);
    cr_assert_str_eq(x.log, "OK;E:ERR connection lost: read timeout;after;");
    cr_assert_eq(atomic_load(&x.srv.accepted), 2);
    ctx_finish(&x);
}

/* --- connect timeout (a listener whose accept queue is full) --- */

static void ct_on_connect(struct skv_async *ac, int status, void *data)
{
    struct ctx *x = data;
    x->step = status;
    skv_async_close(ac);
    x->done = true;
}

Test(async, connect_timeout)
{
    struct ctx x;
    ctx_init(&x, FAKE_KV); /* for the guard timer and loop; not connected to */
    struct fake_unreachable u;
    int port = fake_unreachable_open(&u);
    struct skv_options o;
    skv_options_init(&o);
    o.connect_timeout_ms = 150;
    o.reconnect_min_ms = 0;
    x.ac = skv_async_connect(&x.loop, "127.0.0.1", port, &o, ct_on_connect, &x);
    cr_assert_eq(cmd(&x, "PING", NULL, NULL, on_reply), 0);
    uint64_t t0 = uv_hrtime();
    uv_run(&x.loop, UV_RUN_DEFAULT);
    uint64_t ms = (uv_hrtime() - t0) / 1000000;
    cr_assert(x.done);
    cr_assert_eq(x.step, SKV_ETIMEOUT);
    cr_assert_str_eq(x.log, "E:ERR connection failed: connect timeout;");
    cr_assert(ms >= 140 && ms < 2000, "took %llu ms", (unsigned long long)ms);
    fake_unreachable_close(&u);
    ctx_finish(&x);
}

/* --- closing from inside a failure callback, with more commands pending --- */

static void close_in_fail(struct skv_async *ac, struct skv_reply *r, void *priv)
{
    struct ctx *x = priv;
    on_reply(ac, r, priv);
    if (x->replies == 1) {
        skv_async_close(ac);
        x->done = true;
    }
}

Test(async, close_inside_failure_callback)
{
    struct ctx x;
    ctx_init(&x, FAKE_SILENT);
    struct skv_options o;
    skv_options_init(&o);
    o.read_timeout_ms = 50;
    x.ac = skv_async_connect(&x.loop, "127.0.0.1", x.port, &o, NULL, NULL);
    for (int i = 0; i < 3; i++)
        cr_assert_eq(cmd(&x, "PING", NULL, NULL, close_in_fail), 0);
    uv_run(&x.loop, UV_RUN_DEFAULT);
    cr_assert(x.done);
    /* Each callback exactly once: the close fails the other two. */
    cr_assert_eq(x.replies, 3);
    cr_assert_str_eq(x.log, "E:ERR connection lost: read timeout;E:ERR client closed;"
                            "E:ERR client closed;");
    ctx_finish(&x);
}
