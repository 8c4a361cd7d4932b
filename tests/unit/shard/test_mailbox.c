/* test_mailbox.c — the MPSC mailbox: order, exactly-once delivery, depth
 * accounting and wake-ups under many producers. The test's main thread owns
 * the loop and is the consumer; producers are plain threads. */
#include <criterion/criterion.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "shard/mailbox.h"

/* A test message: who sent it and its place in that sender's sequence. */
struct tmsg {
    struct mbox_msg hdr; /* must be first */
    unsigned producer;   /* index of the posting thread */
    uint32_t seq;        /* 0, 1, 2, ... per producer */
};

/* Consumer-side state; touched only on the loop thread. */
struct sink {
    struct mailbox mb;  /* the mailbox under test */
    uint32_t *next_seq; /* per producer: the seq expected next */
    uint8_t *seen;      /* per message: delivered count */
    uint32_t per;       /* messages per producer */
    uint64_t got;       /* messages handled */
    uint64_t want;      /* close the mailbox after this many */
    int errors;         /* order or duplicate violations */
};

static void on_msg(void *owner, struct mbox_msg *m);

/* Field by field: clang warns on a compound literal that zero-fills the
 * _Atomic link pointer. */
static void tmsg_init(struct tmsg *t, unsigned producer, uint32_t seq)
{
    memset(t, 0, sizeof *t);
    t->hdr.handle = on_msg;
    t->producer = producer;
    t->seq = seq;
}

static void on_msg(void *owner, struct mbox_msg *m)
{
    struct sink *k = owner;
    struct tmsg *t = (struct tmsg *)m;
    if (t->seq != k->next_seq[t->producer])
        k->errors++;
    k->next_seq[t->producer] = t->seq + 1;
    if (k->seen[(size_t)t->producer * k->per + t->seq]++ != 0)
        k->errors++;
    if (++k->got == k->want)
        mailbox_close(&k->mb, NULL);
}

Test(mailbox, single_thread_fifo_and_depth)
{
    uv_loop_t loop;
    cr_assert_eq(uv_loop_init(&loop), 0);
    struct sink k;
    memset(&k, 0, sizeof k);
    uint32_t next = 0;
    uint8_t seen[100] = {0};
    k.next_seq = &next;
    k.seen = seen;
    k.per = 100;
    k.want = UINT64_MAX;
    cr_assert_eq(mailbox_init(&k.mb, &loop, &k), 0);
    cr_assert_eq(mailbox_depth(&k.mb), 0);
    cr_assert_eq(mailbox_drain(&k.mb), 0, "empty mailbox delivers nothing");

    struct tmsg msgs[100];
    for (uint32_t i = 0; i < 100; i++) {
        tmsg_init(&msgs[i], 0, i);
        mailbox_post(&k.mb, &msgs[i].hdr);
        cr_assert_eq(mailbox_depth(&k.mb), i + 1);
    }
    cr_assert_eq(mailbox_drain(&k.mb), 100);
    cr_assert_eq(k.got, 100);
    cr_assert_eq(k.errors, 0);
    cr_assert_eq(mailbox_depth(&k.mb), 0);
    /* The queue is reusable after running empty (stub re-inserted). */
    for (uint32_t i = 0; i < 3; i++) {
        next = 0;
        memset(seen, 0, sizeof seen);
        mailbox_post(&k.mb, &msgs[0].hdr);
        cr_assert_eq(mailbox_drain(&k.mb), 1);
    }
    cr_assert_eq(k.errors, 0);
    mailbox_close(&k.mb, NULL);
    cr_assert_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
    cr_assert_eq(uv_loop_close(&loop), 0);
}

/* What a producer thread needs. */
struct producer {
    uv_thread_t tid;      /* the thread */
    struct mailbox *mb;   /* where to post */
    struct tmsg *msgs;    /* its own messages, posted in order */
    unsigned id;          /* producer index */
    uint32_t n;           /* number of messages */
    unsigned pause_every; /* 0 = never; else sleep briefly every this many */
};

static void produce(void *arg)
{
    struct producer *p = arg;
    for (uint32_t i = 0; i < p->n; i++) {
        tmsg_init(&p->msgs[i], p->id, i);
        mailbox_post(p->mb, &p->msgs[i].hdr);
        /* Pauses let the consumer run dry and go to sleep between bursts,
         * which is where a lost wake-up would show up (as a hang). */
        if (p->pause_every && i % p->pause_every == 0)
            uv_sleep(0 == (i / p->pause_every) % 3 ? 1 : 0);
    }
}

static void on_watchdog(uv_timer_t *t)
{
    (void)t;
    cr_assert_fail("mailbox consumer starved: a wake-up was lost or a message never arrived");
}

static void run_producers(unsigned nprod, uint32_t per, unsigned pause_every)
{
    uv_loop_t loop;
    cr_assert_eq(uv_loop_init(&loop), 0);
    struct sink k;
    memset(&k, 0, sizeof k);
    k.per = per;
    k.want = (uint64_t)nprod * per;
    k.next_seq = calloc(nprod, sizeof *k.next_seq);
    k.seen = calloc((size_t)nprod * per, 1);
    cr_assert(k.next_seq && k.seen);
    cr_assert_eq(mailbox_init(&k.mb, &loop, &k), 0);

    /* Fails the test instead of hanging it; unref'd so that it does not
     * keep the loop alive once the mailbox is closed. */
    uv_timer_t watchdog;
    uv_timer_init(&loop, &watchdog);
    uv_timer_start(&watchdog, on_watchdog, 120000, 0);
    uv_unref((uv_handle_t *)&watchdog);

    struct producer *prod = calloc(nprod, sizeof *prod);
    cr_assert(prod);
    for (unsigned i = 0; i < nprod; i++) {
        prod[i] = (struct producer){.mb = &k.mb, .id = i, .n = per, .pause_every = pause_every};
        prod[i].msgs = calloc(per, sizeof *prod[i].msgs);
        cr_assert(prod[i].msgs);
        cr_assert_eq(uv_thread_create(&prod[i].tid, produce, &prod[i]), 0);
    }
    /* Runs until on_msg closes the mailbox after the last message. */
    uv_run(&loop, UV_RUN_DEFAULT);
    for (unsigned i = 0; i < nprod; i++)
        uv_thread_join(&prod[i].tid);

    cr_assert_eq(k.got, k.want, "delivered %llu of %llu", (unsigned long long)k.got,
                 (unsigned long long)k.want);
    cr_assert_eq(k.errors, 0, "%d order/duplicate violations", k.errors);
    for (unsigned i = 0; i < nprod; i++)
        cr_assert_eq(k.next_seq[i], per, "producer %u: last seq %u", i, k.next_seq[i]);
    for (size_t i = 0; i < (size_t)nprod * per; i++)
        cr_assert_eq(k.seen[i], 1, "message %zu delivered %u times", i, k.seen[i]);
    cr_assert_eq(mailbox_depth(&k.mb), 0);
    cr_assert_eq(atomic_load(&k.mb.posted), k.want);

    uv_close((uv_handle_t *)&watchdog, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    cr_assert_eq(uv_loop_close(&loop), 0);
    for (unsigned i = 0; i < nprod; i++)
        free(prod[i].msgs);
    free(prod);
    free(k.next_seq);
    free(k.seen);
}

Test(mailbox, eight_producers_100k_each, .timeout = 240)
{
    run_producers(8, 100000, 0);
}

Test(mailbox, bursty_producers_no_lost_wakeup, .timeout = 240)
{
    /* Many sleep/wake transitions: every 50 messages a producer pauses. */
    run_producers(4, 5000, 50);
}

/* A handler that posts again to its own mailbox, as a shard replying to
 * itself would. */
struct echo {
    struct mbox_msg hdr; /* must be first */
    int left;            /* re-posts still to do */
    int handled;         /* times handled */
    struct mailbox *mb;  /* where to re-post */
};

static void on_echo(void *owner, struct mbox_msg *m)
{
    (void)owner;
    struct echo *e = (struct echo *)m;
    e->handled++;
    if (e->left-- > 0)
        mailbox_post(e->mb, &e->hdr);
    else
        mailbox_close(e->mb, NULL);
}

Test(mailbox, handler_reposts_to_itself)
{
    uv_loop_t loop;
    cr_assert_eq(uv_loop_init(&loop), 0);
    struct mailbox mb;
    cr_assert_eq(mailbox_init(&mb, &loop, NULL), 0);
    /* More re-posts than one drain's budget, so the self-rearm path runs. */
    struct echo e;
    memset(&e, 0, sizeof e);
    e.hdr.handle = on_echo;
    e.left = 5000;
    e.mb = &mb;
    mailbox_post(&mb, &e.hdr);
    uv_run(&loop, UV_RUN_DEFAULT);
    cr_assert_eq(e.handled, 5001);
    cr_assert_eq(mailbox_depth(&mb), 0);
    cr_assert_eq(uv_loop_close(&loop), 0);
}

Test(mailbox, post_after_close_is_not_delivered)
{
    uv_loop_t loop;
    cr_assert_eq(uv_loop_init(&loop), 0);
    struct sink k;
    memset(&k, 0, sizeof k);
    uint32_t next = 0;
    uint8_t seen[1] = {0};
    k.next_seq = &next;
    k.seen = seen;
    k.per = 1;
    k.want = UINT64_MAX;
    cr_assert_eq(mailbox_init(&k.mb, &loop, &k), 0);
    mailbox_close(&k.mb, NULL);
    cr_assert_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
    struct tmsg m;
    tmsg_init(&m, 0, 0);
    mailbox_post(&k.mb, &m.hdr); /* must neither wake nor crash */
    cr_assert_eq(k.got, 0);
    cr_assert_eq(mailbox_depth(&k.mb), 1);
    cr_assert_eq(uv_loop_close(&loop), 0);
}

/* ---- mailbox_sweep ---------------------------------------------------------- */

/* What the sweep tests record: the order of delivery and of what was taken. */
struct order {
    uint32_t got[32];   /* seqs delivered by the drain */
    size_t ngot;
    uint32_t taken[32]; /* seqs the sweep took */
    size_t ntaken;
    struct mailbox *mb; /* for a handler that sweeps (NULL: none) */
};

static void on_ordered(void *owner, struct mbox_msg *m)
{
    struct order *o = owner;
    o->got[o->ngot++] = ((struct tmsg *)m)->seq;
}

/* Takes the multiples of 3. */
static bool take_thirds(void *owner, struct mbox_msg *m, void *arg)
{
    struct order *o = owner;
    (void)arg;
    uint32_t seq = ((struct tmsg *)m)->seq;
    if (seq % 3 != 0)
        return false;
    o->taken[o->ntaken++] = seq;
    return true;
}

static void post_seq(struct mailbox *mb, struct tmsg *t, uint32_t seq)
{
    tmsg_init(t, 0, seq);
    t->hdr.handle = on_ordered;
    mailbox_post(mb, &t->hdr);
}

Test(mailbox, sweep_takes_some_and_keeps_the_rest_in_order)
{
    uv_loop_t loop;
    cr_assert_eq(uv_loop_init(&loop), 0);
    struct order o;
    memset(&o, 0, sizeof o);
    struct mailbox mb;
    cr_assert_eq(mailbox_init(&mb, &loop, &o), 0);
    cr_assert_eq(mailbox_sweep(&mb, take_thirds, NULL), 0, "nothing to sweep");

    struct tmsg msgs[16];
    for (uint32_t i = 0; i < 8; i++)
        post_seq(&mb, &msgs[i], i);
    cr_assert_eq(mailbox_sweep(&mb, take_thirds, NULL), 3); /* 0, 3, 6 */
    cr_assert_eq(mailbox_depth(&mb), 5);
    /* Posted after a sweep: behind what it kept; a second sweep sees both. */
    for (uint32_t i = 8; i < 11; i++)
        post_seq(&mb, &msgs[i], i);
    cr_assert_eq(mailbox_sweep(&mb, take_thirds, NULL), 1); /* 9 */
    cr_assert_eq(mailbox_depth(&mb), 7);
    post_seq(&mb, &msgs[11], 11);
    cr_assert_eq(mailbox_drain(&mb), 8);
    cr_assert_eq(mailbox_depth(&mb), 0);

    uint32_t want_taken[] = {0, 3, 6, 9};
    uint32_t want_got[] = {1, 2, 4, 5, 7, 8, 10, 11};
    cr_assert_eq(o.ntaken, 4);
    cr_assert_arr_eq(o.taken, want_taken, sizeof want_taken);
    cr_assert_eq(o.ngot, 8);
    cr_assert_arr_eq(o.got, want_got, sizeof want_got);

    /* Kept messages that were all taken later leave the mailbox empty and
     * reusable. */
    post_seq(&mb, &msgs[12], 12);
    post_seq(&mb, &msgs[13], 13);
    cr_assert_eq(mailbox_sweep(&mb, take_thirds, NULL), 1); /* 12 */
    msgs[13].seq = 15;                                     /* now a third */
    cr_assert_eq(mailbox_sweep(&mb, take_thirds, NULL), 1);
    cr_assert_eq(mailbox_depth(&mb), 0);
    cr_assert_eq(mailbox_drain(&mb), 0);
    post_seq(&mb, &msgs[14], 14);
    cr_assert_eq(mailbox_drain(&mb), 1);
    cr_assert_eq(o.got[o.ngot - 1], 14);

    mailbox_close(&mb, NULL);
    cr_assert_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
    cr_assert_eq(uv_loop_close(&loop), 0);
}

/* A handler that sweeps, as a busy script's hook does inside a drain. */
static void on_sweeping(void *owner, struct mbox_msg *m)
{
    struct order *o = owner;
    on_ordered(owner, m);
    mailbox_sweep(o->mb, take_thirds, NULL);
}

Test(mailbox, sweep_inside_a_handler)
{
    uv_loop_t loop;
    cr_assert_eq(uv_loop_init(&loop), 0);
    struct order o;
    memset(&o, 0, sizeof o);
    struct mailbox mb;
    o.mb = &mb;
    cr_assert_eq(mailbox_init(&mb, &loop, &o), 0);
    struct tmsg msgs[8];
    for (uint32_t i = 0; i < 8; i++)
        post_seq(&mb, &msgs[i], i + 1); /* 1..8 */
    msgs[0].hdr.handle = on_sweeping;
    cr_assert_eq(mailbox_drain(&mb), 6); /* 1 (sweeps 3 and 6), 2, 4, 5, 7, 8 */
    uint32_t want_got[] = {1, 2, 4, 5, 7, 8};
    uint32_t want_taken[] = {3, 6};
    cr_assert_eq(o.ngot, 6);
    cr_assert_arr_eq(o.got, want_got, sizeof want_got);
    cr_assert_eq(o.ntaken, 2);
    cr_assert_arr_eq(o.taken, want_taken, sizeof want_taken);
    cr_assert_eq(mailbox_depth(&mb), 0);
    mailbox_close(&mb, NULL);
    cr_assert_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
    cr_assert_eq(uv_loop_close(&loop), 0);
}
