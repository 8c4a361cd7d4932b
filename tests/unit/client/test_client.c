/* test_client.c — the synchronous client against an in-process fake server
 * (fake_server.h): helpers, binary safety, error replies, a server that
 * never answers (read timeout), one that closes mid-reply, replies split
 * across many writes, pipelining in one write, connect failures, and the
 * ketama pool. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "client/shardkv.h"
#include "common/clock.h"
#include "fake_server.h"

static struct skv_client *connect_to(struct fake_server *s, int read_timeout_ms)
{
    struct skv_options o;
    skv_options_init(&o);
    o.read_timeout_ms = read_timeout_ms;
    char *err = NULL;
    struct skv_client *c = skv_connect("127.0.0.1", s->port, &o, &err);
    cr_assert_not_null(c, "connect: %s", err ? err : "?");
    return c;
}

Test(client, set_get_del_binary)
{
    struct fake_server s;
    cr_assert_eq(fake_start(&s, FAKE_KV, 0), 0);
    struct skv_client *c = connect_to(&s, 2000);
    const char key[] = "k\0ey\r\n";
    const char val[] = "v\0al\r\nue";
    cr_assert_eq(skv_set(c, key, sizeof(key), val, sizeof(val)), 0);
    void *out = NULL;
    size_t len = 0;
    cr_assert_eq(skv_get(c, key, sizeof(key), &out, &len), 1);
    cr_assert_eq(len, sizeof(val));
    cr_assert_eq(memcmp(out, val, len), 0);
    free(out);
    cr_assert_eq(skv_get(c, "missing", 7, &out, &len), 0);
    cr_assert_null(out);
    cr_assert_eq(skv_expire(c, key, sizeof(key), 10), 1);
    cr_assert_eq(skv_expire(c, "missing", 7, 10), 0);
    cr_assert_eq(skv_del(c, key, sizeof(key)), 1);
    cr_assert_eq(skv_del(c, key, sizeof(key)), 0);
    skv_close(c);
    fake_stop(&s);
}

Test(client, mset_mget_incrby)
{
    struct fake_server s;
    cr_assert_eq(fake_start(&s, FAKE_KV, 0), 0);
    struct skv_client *c = connect_to(&s, 2000);
    const void *keys[3] = {"a", "b", "c"};
    size_t klens[3] = {1, 1, 1};
    const void *vals[2] = {"1", "22"};
    size_t vlens[2] = {1, 2};
    cr_assert_eq(skv_mset(c, 2, keys, klens, vals, vlens), 0);
    void *got[3];
    size_t glen[3];
    cr_assert_eq(skv_mget(c, 3, keys, klens, got, glen), 0);
    cr_assert_eq(glen[1], 2);
    cr_assert_eq(memcmp(got[1], "22", 2), 0);
    cr_assert_null(got[2]);
    free(got[0]);
    free(got[1]);
    int64_t v = 0;
    cr_assert_eq(skv_incrby(c, "a", 1, 41, &v), 0);
    cr_assert_eq(v, 42);
    cr_assert_eq(skv_incrby(c, "n", 1, -5, &v), 0);
    cr_assert_eq(v, -5);
    skv_close(c);
    fake_stop(&s);
}

Test(client, error_reply)
{
    struct fake_server s;
    cr_assert_eq(fake_start(&s, FAKE_KV, 0), 0);
    struct skv_client *c = connect_to(&s, 2000);
    const char *argv[] = {"NOSUCH", "x"};
    struct skv_reply *r = skv_command(c, 2, argv, NULL);
    cr_assert_not_null(r);
    cr_assert_eq(r->type, SKV_REPLY_ERROR);
    cr_assert_str_eq(r->str, "ERR unknown command 'NOSUCH'");
    skv_reply_free(r);
    /* A helper turns it into SKV_ESERVER with the text kept. */
    skv_set(c, "x", 1, "notanumber", 10);
    cr_assert_eq(skv_incrby(c, "x", 1, 1, NULL), SKV_ESERVER);
    cr_assert(strstr(skv_last_error(c), "not an integer") != NULL);
    /* The connection is still usable after an error reply. */
    cr_assert_eq(skv_set(c, "y", 1, "1", 1), 0);
    skv_close(c);
    fake_stop(&s);
}

Test(client, read_timeout)
{
    struct fake_server s;
    cr_assert_eq(fake_start(&s, FAKE_SILENT, 0), 0);
    struct skv_client *c = connect_to(&s, 150);
    uint64_t t0 = clock_mono_ns();
    cr_assert_eq(skv_set(c, "k", 1, "v", 1), SKV_ETIMEOUT);
    uint64_t ms = (clock_mono_ns() - t0) / 1000000;
    cr_assert(ms >= 140, "timed out after %llu ms", (unsigned long long)ms);
    /* The connection is broken now: the same code, no new I/O. */
    cr_assert_eq(skv_set(c, "k", 1, "v", 1), SKV_ETIMEOUT);
    cr_assert_str_eq(skv_errstr(SKV_ETIMEOUT), "timeout");
    skv_close(c);
    fake_stop(&s);
}

Test(client, close_mid_reply)
{
    static const char reply[] = "*2\r\n$10\r\n0123456789\r\n$3\r\nabc\r\n";
    struct fake_server s;
    cr_assert_eq(fake_start_script(&s, FAKE_CLOSE, 0, reply, sizeof(reply) - 1, 0), 0);
    struct skv_client *c = connect_to(&s, 2000);
    const char *argv[] = {"MGET", "a", "b"};
    struct skv_reply *r = NULL;
    cr_assert_eq(skv_command_r(c, 3, argv, NULL, &r), SKV_EEOF);
    cr_assert_null(r);
    skv_close(c); /* frees the partial reply: checked by ASan */
    fake_stop(&s);
}

Test(client, reply_split_across_writes)
{
    static const char reply[] = "*3\r\n$5\r\nhello\r\n:12\r\n%1\r\n+k\r\n$-1\r\n";
    struct fake_server s;
    cr_assert_eq(fake_start_script(&s, FAKE_SCRIPT, 0, reply, sizeof(reply) - 1, 1), 0);
    struct skv_client *c = connect_to(&s, 5000);
    const char *argv[] = {"X"};
    struct skv_reply *r = skv_command(c, 1, argv, NULL);
    cr_assert_not_null(r);
    cr_assert_eq(r->type, SKV_REPLY_ARRAY);
    cr_assert_eq(r->elements, 3);
    cr_assert_str_eq(r->element[0]->str, "hello");
    cr_assert_eq(r->element[1]->integer, 12);
    cr_assert_eq(r->element[2]->type, SKV_REPLY_MAP);
    cr_assert_eq(r->element[2]->element[1]->type, SKV_REPLY_NIL);
    skv_reply_free(r);
    skv_close(c);
    fake_stop(&s);
}

Test(client, pipelining)
{
    struct fake_server s;
    cr_assert_eq(fake_start(&s, FAKE_KV, 0), 0);
    struct skv_client *c = connect_to(&s, 5000);
    enum { N = 100 };
    for (int i = 0; i < N; i++) {
        char k[16], v[16];
        snprintf(k, sizeof(k), "k%d", i % 10);
        snprintf(v, sizeof(v), "%d", i);
        const char *argv[] = {"SET", k, v};
        cr_assert_eq(skv_append(c, 3, argv, NULL), 0);
    }
    cr_assert_eq(atomic_load(&s.commands), 0, "nothing is sent before flush");
    cr_assert_eq(skv_flush(c), 0);
    for (int i = 0; i < N; i++) {
        struct skv_reply *r;
        cr_assert_eq(skv_get_reply(c, &r), 0);
        cr_assert_eq(r->type, SKV_REPLY_STATUS);
        skv_reply_free(r);
    }
    /* All N were in the server's buffer before it answered the first: the
     * client wrote them together and did not wait between them. */
    cr_assert_eq(atomic_load(&s.max_batch), N);
    cr_assert_eq(atomic_load(&s.commands), N);
    void *v;
    size_t vl;
    cr_assert_eq(skv_get(c, "k9", 2, &v, &vl), 1);
    cr_assert_eq(memcmp(v, "99", 2), 0);
    free(v);
    skv_close(c);
    fake_stop(&s);
}

Test(client, connect_refused)
{
    /* A port we just had and closed: nothing listens there. */
    struct fake_server s;
    cr_assert_eq(fake_start(&s, FAKE_KV, 0), 0);
    int port = s.port;
    fake_stop(&s);
    char *err = NULL;
    struct skv_client *c = skv_connect("127.0.0.1", port, NULL, &err);
    cr_assert_null(c);
    cr_assert_not_null(err);
    cr_assert(strstr(err, "could not connect") != NULL, "%s", err);
    free(err);
    c = skv_connect("127.0.0.1", 0, NULL, &err);
    cr_assert_null(c);
    free(err);
}

Test(client, server_closes_then_calls_fail)
{
    struct fake_server s;
    cr_assert_eq(fake_start(&s, FAKE_KV, 0), 0);
    struct skv_client *c = connect_to(&s, 2000);
    cr_assert_eq(skv_set(c, "a", 1, "b", 1), 0);
    fake_stop(&s);
    int rc = skv_set(c, "a", 1, "b", 1);
    cr_assert(rc == SKV_EEOF || rc == SKV_EIO, "rc %d", rc);
    skv_close(c);
}

Test(client, pool_routes_by_ring)
{
    struct fake_server s[3];
    struct skv_server srv[3];
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(fake_start(&s[i], FAKE_KV, 0), 0);
        srv[i] = (struct skv_server){.host = "127.0.0.1", .port = s[i].port, .weight = 1};
    }
    struct skv_pool *p = skv_pool_create(srv, 3, NULL, NULL);
    struct skv_ring *ring = skv_ring_create(srv, 3, NULL);
    cr_assert_not_null(p);
    int per[3] = {0};
    for (int k = 0; k < 60; k++) {
        char key[16];
        snprintf(key, sizeof(key), "key:%d", k);
        struct skv_client *c = skv_pool_client(p, key, strlen(key), NULL);
        cr_assert_not_null(c);
        cr_assert_eq(skv_set(c, key, strlen(key), "v", 1), 0);
        per[skv_ring_locate(ring, key, strlen(key))]++;
    }
    for (int i = 0; i < 3; i++)
        cr_assert_eq(atomic_load(&s[i].commands), per[i], "server %d", i);
    skv_pool_destroy(p);
    skv_ring_destroy(ring);
    for (int i = 0; i < 3; i++)
        fake_stop(&s[i]);
}

Test(client, pool_reconnects_broken_connection)
{
    struct fake_server s;
    cr_assert_eq(fake_start(&s, FAKE_KV, 0), 0);
    int port = s.port;
    struct skv_server srv[1] = {{.host = "127.0.0.1", .port = port, .weight = 1}};
    struct skv_pool *p = skv_pool_create(srv, 1, NULL, NULL);
    int code = -99;
    struct skv_client *c = skv_pool_client(p, "k", 1, &code);
    cr_assert_not_null(c);
    cr_assert_eq(code, 0);
    cr_assert_eq(skv_set(c, "k", 1, "v", 1), 0);
    fake_stop(&s);
    int rc = skv_set(c, "k", 1, "v", 1);
    cr_assert(rc == SKV_EEOF || rc == SKV_EIO, "rc %d", rc);
    /* Broken: the pool drops it and tries again; nobody listens now. */
    cr_assert_null(skv_pool_client(p, "k", 1, &code));
    cr_assert_eq(code, SKV_ECONNECT);
    /* Back on the same port: a fresh connection. */
    cr_assert_eq(fake_start(&s, FAKE_KV, port), 0);
    c = skv_pool_client(p, "k", 1, &code);
    cr_assert_not_null(c);
    cr_assert_eq(skv_set(c, "k", 1, "v", 1), 0);
    skv_pool_destroy(p);
    fake_stop(&s);
}

Test(client, connect_timeout)
{
    struct fake_unreachable u;
    int port = fake_unreachable_open(&u);
    struct skv_options o;
    skv_options_init(&o);
    o.connect_timeout_ms = 200;
    char *err = NULL;
    uint64_t t0 = clock_mono_ns();
    struct skv_client *c = skv_connect("127.0.0.1", port, &o, &err);
    uint64_t ms = (clock_mono_ns() - t0) / 1000000;
    cr_assert_null(c);
    cr_assert_not_null(err);
    cr_assert(strstr(err, "connect timeout") != NULL, "%s", err);
    cr_assert(ms >= 190 && ms < 2000, "took %llu ms", (unsigned long long)ms);
    free(err);
    fake_unreachable_close(&u);
}
