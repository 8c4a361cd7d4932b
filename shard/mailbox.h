/* mailbox.h — a multi-producer, single-consumer mailbox that wakes its
 * owner's libuv loop. Any thread posts; only the owner thread drains. A post
 * is one atomic exchange-and-link; the wake-up (an eventfd write) is made only when the
 * mailbox goes from empty to non-empty, so a burst of posts costs one wake. */
#ifndef SKV_SHARD_MAILBOX_H
#define SKV_SHARD_MAILBOX_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

struct mbox_msg;
struct mailbox;

/* Runs on the owner thread for each drained message, in post order per
 * producer. The handler owns the message from then on (frees it, or passes
 * it on, e.g. back to the sender's mailbox). */
typedef void (*mbox_handle_fn)(void *owner, struct mbox_msg *m);

/* The header every message embeds (first member or via container_of). */
struct mbox_msg {
    struct mbox_msg *_Atomic next; /* intrusive link; the mailbox's business */
    mbox_handle_fn handle;         /* what the owner does with the message */
};

struct mailbox {
    struct mbox_msg *_Atomic tail; /* producers swap themselves in here */
    struct mbox_msg *head;         /* consumer side: next to deliver (owner only) */
    struct mbox_msg stub;          /* keeps the queue never empty (Vyukov) */
    uv_poll_t poll;                /* the owner's loop watches efd with it */
    int efd;                       /* eventfd that wakes the owner's loop */
    void *owner;                   /* passed to every handler */
    _Atomic uint64_t posted;       /* messages ever posted (depth = posted - drained) */
    _Atomic uint64_t drained;      /* messages delivered; written by owner only */
    _Atomic int sleeping;          /* 1 when the consumer may be waiting for a wake,
                                    * 0 while it drains, 2 once closed (never wake) */
    _Atomic unsigned waking;       /* producers inside the wake-up path; close waits
                                    * for 0 so no wake-up writes a closed efd */
    uint64_t idle_spin_ns;         /* poll this long for more before sleeping (owner) */
    struct mbox_msg *kept;         /* taken out of the queue by mailbox_sweep and
                                    * left there: delivered before the queue, in
                                    * order, linked by next (owner only) */
    struct mbox_msg *kept_tail;    /* the last of them */
};

/* Initialise mb on loop (the owner's loop; call on the owner thread or
 * before it starts). owner is handed to every handler. Returns 0 or a
 * negative libuv error. */
int mailbox_init(struct mailbox *mb, uv_loop_t *loop, void *owner);

/* Let the owner poll an empty mailbox for up to ns nanoseconds (yielding
 * the CPU between polls) before it goes back to its loop and needs a
 * wake-up. Trades idle CPU for fewer eventfd writes and loop wake-ups when
 * posts arrive back to back. 0 (the default) never polls. Owner thread or
 * before the loop runs. */
void mailbox_set_idle_spin(struct mailbox *mb, uint64_t ns);

/* Post m from any thread; the mailbox borrows it until its handler runs. */
void mailbox_post(struct mailbox *mb, struct mbox_msg *m);

/* Deliver everything posted so far, on the owner thread. Called by the
 * async callback; callable directly too (tests, shutdown). Returns the
 * number of messages handled. */
uint64_t mailbox_drain(struct mailbox *mb);

/* Offered each waiting message by mailbox_sweep: returns true if it took the
 * message (then the handler is never called for it), false to leave it. */
typedef bool (*mbox_sweep_fn)(void *owner, struct mbox_msg *m, void *arg);

/* Offer every message posted so far, oldest first, to fn, outside the
 * normal delivery: for an owner thread that cannot return to its loop for
 * a while (a long script) and may still answer some of its messages. What
 * fn leaves is delivered later by the normal drain, before anything posted
 * after, in the same order. Owner thread; may run inside a handler.
 * Returns the number taken. */
uint64_t mailbox_sweep(struct mailbox *mb, mbox_sweep_fn fn, void *arg);

/* Messages posted but not yet handled (any thread; approximate). */
uint64_t mailbox_depth(struct mailbox *mb);

/* Close the async handle; cb (may be NULL) runs when libuv is done with it.
 * Messages still queued are not delivered: drain first. Posts made after
 * this are queued but never delivered nor woken for (their memory stays the
 * poster's problem). Owner thread. */
void mailbox_close(struct mailbox *mb, uv_close_cb cb);

#endif
