/* example.c — a small libshardkv program: connect, SET/GET a value, run a
 * pipelined burst, and print what came back. Build it against an installed
 * libshardkv with:
 *     cc example.c $(pkg-config --cflags --libs shardkv) -o example
 * Run: ./example [host] [port]    (defaults 127.0.0.1 6379) */
#include <shardkv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    const char *host = argc > 1 ? argv[1] : "127.0.0.1";
    int port = argc > 2 ? atoi(argv[2]) : 6379;

    struct skv_options opts;
    skv_options_init(&opts);
    opts.read_timeout_ms = 2000;

    char *err = NULL;
    struct skv_client *c = skv_connect(host, port, &opts, &err);
    if (c == NULL) {
        fprintf(stderr, "connect: %s\n", err);
        free(err);
        return 1;
    }

    int rc = skv_set(c, "greeting", 8, "hello", 5);
    if (rc < 0) {
        fprintf(stderr, "SET: %s (%s)\n", skv_errstr(rc), skv_last_error(c));
        skv_close(c);
        return 1;
    }
    void *val;
    size_t len;
    rc = skv_get(c, "greeting", 8, &val, &len);
    if (rc == 1) {
        printf("greeting = %.*s\n", (int)len, (char *)val);
        free(val);
    } else {
        printf("greeting: %s\n", rc == 0 ? "(missing)" : skv_errstr(rc));
    }

    /* Pipelining: three commands, one write, three replies. */
    const char *incr[] = {"INCRBY", "example:counter", "5"};
    for (int i = 0; i < 3; i++)
        skv_append(c, 3, incr, NULL);
    for (int i = 0; i < 3; i++) {
        struct skv_reply *r;
        if (skv_get_reply(c, &r) < 0) {
            fprintf(stderr, "reply: %s\n", skv_last_error(c));
            break;
        }
        if (r->type == SKV_REPLY_INTEGER)
            printf("counter = %lld\n", r->integer);
        skv_reply_free(r);
    }
    skv_del(c, "example:counter", 15);
    skv_close(c);
    return 0;
}
