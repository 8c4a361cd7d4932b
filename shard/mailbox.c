/* mailbox.c — Vyukov's intrusive MPSC queue plus a wake-up. Producers (any
 * thread) swap themselves into the tail and link; the owner thread pops from
 * the head when its loop sees the mailbox's eventfd readable. The eventfd is
 * written only when the owner has said it may be asleep, so a busy shard
 * costs no syscalls.
 *
 * Why an eventfd and not uv_async_t: libuv 1.44 (Debian 12's) makes the
 * woken loop spin, then sched_yield, for as long as the sender is between
 * its two flag updates around the write() of uv_async_send; with more
 * threads than cores the write's own wake-up preempts the sender there,
 * and a cross-shard script (a wake-up per redis.call) spent 60% of the
 * server's CPU in that spin. A plain eventfd write has no such window. */
#include "shard/mailbox.h"

#include <assert.h>
#include <errno.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <stdbool.h>
#include <stddef.h>

/* Messages handled per async callback before the owner yields back to its
 * loop (timers, sockets) and re-arms itself. Each message may carry a batch,
 * so this is thousands of operations: long enough to amortise the wake-up,
 * short enough that the 10 ms cron and client I/O are not starved. */
#define MAILBOX_DRAIN_BUDGET 1024

/* A producer sits between its exchange and its link for a few instructions,
 * unless it is preempted. Spin this many times with a pause before handing the
 * CPU over with sched_yield(). */
#define MAILBOX_LINK_SPINS 64

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

/* Link m after the current tail. Returns nothing: the queue never fails. */
static void push(struct mailbox *mb, struct mbox_msg *m)
{
    atomic_store_explicit(&m->next, NULL, memory_order_relaxed);
    /* acq_rel: release publishes m's contents (and its NULL next) to the
     * producer that links after it; acquire orders our link store after the
     * previous node's own NULL store, so the link can never be overwritten. */
    struct mbox_msg *prev = atomic_exchange_explicit(&mb->tail, m, memory_order_acq_rel);
    atomic_store_explicit(&prev->next, m, memory_order_release);
}

/* Wait for a producer that has swapped itself in after n but has not linked
 * n->next yet. Returns the link. Owner thread. */
static struct mbox_msg *wait_link(struct mbox_msg *n)
{
    struct mbox_msg *next;
    unsigned spins = 0;
    while ((next = atomic_load_explicit(&n->next, memory_order_acquire)) == NULL) {
        if (++spins < MAILBOX_LINK_SPINS)
            cpu_relax();
        else
            sched_yield(); /* the producer was preempted; let it run */
    }
    return next;
}

/* Pop the oldest message, or NULL when the queue is empty. A producer caught
 * between exchange and link is waited for, so NULL really means empty at the
 * moment tail was read. Owner thread. */
static struct mbox_msg *pop(struct mailbox *mb)
{
    struct mbox_msg *head = mb->head;
    struct mbox_msg *next = atomic_load_explicit(&head->next, memory_order_acquire);

    if (head == &mb->stub) {
        if (next == NULL) {
            if (atomic_load_explicit(&mb->tail, memory_order_acquire) == &mb->stub)
                return NULL;
            next = wait_link(head);
        }
        /* Skip the stub: the first real message becomes the head. */
        mb->head = next;
        head = next;
        next = atomic_load_explicit(&head->next, memory_order_acquire);
    }
    if (next != NULL) {
        mb->head = next;
        return head;
    }
    /* head is the last linked message. If the tail moved past it a producer
     * is mid-link: wait for it. Otherwise re-insert the stub behind head so
     * that head can be handed out while the queue keeps one node. */
    if (atomic_load_explicit(&mb->tail, memory_order_acquire) == head)
        push(mb, &mb->stub);
    mb->head = wait_link(head);
    return head;
}

/* The next message to deliver: the ones mailbox_sweep kept first. */
static struct mbox_msg *next_msg(struct mailbox *mb)
{
    struct mbox_msg *m = mb->kept;
    if (!m)
        return pop(mb);
    mb->kept = atomic_load_explicit(&m->next, memory_order_relaxed);
    if (!mb->kept)
        mb->kept_tail = NULL;
    return m;
}

/* Count one message as delivered. Before its handler runs: the handler may
 * free it, and a waiter released by the handler may read the depth and
 * expect this message gone. */
static void count_drained(struct mailbox *mb)
{
    uint64_t d = atomic_load_explicit(&mb->drained, memory_order_relaxed);
    atomic_store_explicit(&mb->drained, d + 1, memory_order_release);
}

/* Handle up to budget messages. Returns how many were handled. */
static uint64_t drain_upto(struct mailbox *mb, uint64_t budget)
{
    uint64_t n = 0;
    struct mbox_msg *m;
    while (n < budget && (m = next_msg(mb)) != NULL) {
        n++;
        count_drained(mb);
        m->handle(mb->owner, m);
    }
    return n;
}

/* True when no message is queued or being linked. Owner thread, after a
 * drain that ran to empty (head is then the stub). seq_cst: this load and the
 * store of sleeping = 1 before it pair with the producer's exchange on tail
 * and load of sleeping (Dekker), so one of the two sides sees the other. */
static int queue_empty(struct mailbox *mb)
{
    return !mb->kept && mb->head == &mb->stub &&
           atomic_load_explicit(&mb->tail, memory_order_seq_cst) == &mb->stub;
}

/* Poll for a post for up to mb->idle_spin_ns. Returns true if one came. */
static bool idle_spin(struct mailbox *mb)
{
    if (mb->idle_spin_ns == 0)
        return false;
    uint64_t start = uv_hrtime();
    for (;;) {
        if (atomic_load_explicit(&mb->tail, memory_order_acquire) != &mb->stub)
            return true;
        if (uv_hrtime() - start > mb->idle_spin_ns)
            return false;
        /* Yield, not pause: on a machine with more threads than cores the
         * producer we wait for may need this very core. */
        sched_yield();
    }
}

/* Make the owner's loop call on_readable (again). Any thread. */
static void wake(struct mailbox *mb)
{
    uint64_t one = 1;
    ssize_t n;
    do
        n = write(mb->efd, &one, sizeof one);
    while (n < 0 && errno == EINTR);
    /* EAGAIN means the counter is saturated: the fd is readable anyway. */
}

static void on_readable(uv_poll_t *h, int status, int events)
{
    (void)events;
    struct mailbox *mb = h->data;
    uint64_t budget = MAILBOX_DRAIN_BUDGET;
    uint64_t count;
    /* Reset the counter before draining: a post after this read writes
     * again and the loop comes back. (EAGAIN: a spurious call.) */
    if (status == 0 && read(mb->efd, &count, sizeof count) < 0 && errno != EAGAIN &&
        errno != EINTR)
        return;

    for (;;) {
        /* Awake: producers need not send wake-ups while we drain. */
        atomic_store_explicit(&mb->sleeping, 0, memory_order_seq_cst);
        budget -= drain_upto(mb, budget);
        if (uv_is_closing((uv_handle_t *)h))
            return; /* a handler closed us; sleeping stays 2 */
        if (budget == 0) {
            /* Over budget with work left: stay awake (sleeping = 0, so no
             * producer writes) and come back on the loop's next turn. */
            wake(mb);
            return;
        }
        if (idle_spin(mb))
            continue; /* more came while we polled: still awake */
        atomic_store_explicit(&mb->sleeping, 1, memory_order_seq_cst);
        if (queue_empty(mb))
            return;
        /* A post slipped in between the drain and the flag. Take the flag
         * back; if a producer already took it, its wake-up is on the way
         * and will call us again, so we may stop here. */
        int expect = 1;
        if (!atomic_compare_exchange_strong_explicit(&mb->sleeping, &expect, 0,
                                                     memory_order_seq_cst, memory_order_seq_cst))
            return;
    }
}

int mailbox_init(struct mailbox *mb, uv_loop_t *loop, void *owner)
{
    atomic_store_explicit(&mb->stub.next, NULL, memory_order_relaxed);
    mb->stub.handle = NULL; /* never handed out */
    atomic_store_explicit(&mb->tail, &mb->stub, memory_order_relaxed);
    mb->head = &mb->stub;
    mb->owner = owner;
    atomic_store_explicit(&mb->posted, 0, memory_order_relaxed);
    atomic_store_explicit(&mb->drained, 0, memory_order_relaxed);
    /* Start asleep: the first post must wake the loop. */
    atomic_store_explicit(&mb->sleeping, 1, memory_order_relaxed);
    atomic_store_explicit(&mb->waking, 0, memory_order_relaxed);
    mb->idle_spin_ns = 0;
    mb->kept = mb->kept_tail = NULL;
    mb->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (mb->efd < 0)
        return -errno;
    int rc = uv_poll_init(loop, &mb->poll, mb->efd);
    if (rc == 0) {
        mb->poll.data = mb;
        rc = uv_poll_start(&mb->poll, UV_READABLE, on_readable);
        if (rc != 0)
            uv_close((uv_handle_t *)&mb->poll, NULL);
    }
    if (rc != 0) {
        close(mb->efd);
        mb->efd = -1;
    }
    return rc;
}

void mailbox_set_idle_spin(struct mailbox *mb, uint64_t ns)
{
    mb->idle_spin_ns = ns;
}

void mailbox_post(struct mailbox *mb, struct mbox_msg *m)
{
    assert(m != NULL && m != &mb->stub && m->handle != NULL);
    /* Counted before the message becomes visible, so that posted - drained
     * never goes below zero. */
    atomic_fetch_add_explicit(&mb->posted, 1, memory_order_relaxed);
    push(mb, m);
    /* seq_cst load after the exchange: see queue_empty(). The CAS makes one
     * producer per sleep the one that pays for the syscall. */
    if (atomic_load_explicit(&mb->sleeping, memory_order_seq_cst) == 1) {
        /* Announce ourselves before claiming the wake-up: mailbox_close
         * flips sleeping to 2 and then waits for waking to drop to 0, so a
         * claim that succeeded is always followed by its send before the
         * handle can be closed. */
        atomic_fetch_add_explicit(&mb->waking, 1, memory_order_seq_cst);
        int expect = 1;
        if (atomic_compare_exchange_strong_explicit(&mb->sleeping, &expect, 0, memory_order_seq_cst,
                                                    memory_order_relaxed))
            wake(mb);
        atomic_fetch_sub_explicit(&mb->waking, 1, memory_order_release);
    }
}

uint64_t mailbox_drain(struct mailbox *mb)
{
    return drain_upto(mb, UINT64_MAX);
}

uint64_t mailbox_sweep(struct mailbox *mb, mbox_sweep_fn fn, void *arg)
{
    /* Move what the queue holds behind what earlier sweeps kept. */
    struct mbox_msg *m;
    while ((m = pop(mb)) != NULL) {
        atomic_store_explicit(&m->next, NULL, memory_order_relaxed);
        if (mb->kept_tail)
            atomic_store_explicit(&mb->kept_tail->next, m, memory_order_relaxed);
        else
            mb->kept = m;
        mb->kept_tail = m;
    }
    uint64_t taken = 0;
    struct mbox_msg *prev = NULL;
    m = mb->kept;
    while (m) {
        /* Read before fn, which may hand m on (its link reused) at once. */
        struct mbox_msg *next = atomic_load_explicit(&m->next, memory_order_relaxed);
        if (prev)
            atomic_store_explicit(&prev->next, next, memory_order_relaxed);
        else
            mb->kept = next;
        if (fn(mb->owner, m, arg)) {
            taken++;
            count_drained(mb);
            if (mb->kept_tail == m)
                mb->kept_tail = prev;
        } else {
            /* Left: linked back where it was. */
            atomic_store_explicit(&m->next, next, memory_order_relaxed);
            if (prev)
                atomic_store_explicit(&prev->next, m, memory_order_relaxed);
            else
                mb->kept = m;
            prev = m;
        }
        m = next;
    }
    return taken;
}

uint64_t mailbox_depth(struct mailbox *mb)
{
    /* drained first: reading it after posted could see more drained than
     * posted when messages flow between the two loads. */
    uint64_t d = atomic_load_explicit(&mb->drained, memory_order_acquire);
    uint64_t p = atomic_load_explicit(&mb->posted, memory_order_relaxed);
    return p > d ? p - d : 0;
}

void mailbox_close(struct mailbox *mb, uv_close_cb cb)
{
    /* Never asleep again: a late post must not send on a closing handle. */
    atomic_store_explicit(&mb->sleeping, 2, memory_order_seq_cst);
    while (atomic_load_explicit(&mb->waking, memory_order_seq_cst) != 0)
        sched_yield(); /* a producer is inside wake(): a few µs */
    /* uv_close stops the poll at once: the fd may go now. */
    uv_close((uv_handle_t *)&mb->poll, cb);
    close(mb->efd);
    mb->efd = -1;
}
