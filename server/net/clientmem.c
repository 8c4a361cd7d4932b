/* clientmem.c — client buffer figures for INFO (see clientmem.h). The
 * peaks live in thread-local storage: only the worker's own thread, its
 * tick and its share of INFO, reads or writes them. */
#include "server/net/clientmem.h"

#include "server/net/conn.h"
#include "server/net/outbuf.h"
#include "server/net/worker.h"

/* Redis's CLIENTS_PEAK_MEM_USAGE_SLOTS: seconds of peaks kept. */
#define PEAK_SLOTS 8

static _Thread_local struct {
    size_t in[PEAK_SLOTS];  /* per second: the largest query buffer */
    size_t out[PEAK_SLOTS]; /* per second: the most reply bytes held */
    unsigned slot;          /* the current second's slot */
} peaks;

/* Walk w's clients: this second's peaks updated, the total returned. */
static size_t walk(struct worker *w)
{
    size_t total = 0;
    for (struct conn *c = w->conns; c; c = c->next) {
        size_t out = outbuf_held(c);
        if (c->icap > peaks.in[peaks.slot])
            peaks.in[peaks.slot] = c->icap;
        if (out > peaks.out[peaks.slot])
            peaks.out[peaks.slot] = out;
        total += sizeof *c + c->icap + out;
    }
    return total;
}

void clientmem_tick(struct worker *w)
{
    (void)walk(w); /* the ending second's last look */
    peaks.slot = (peaks.slot + 1) % PEAK_SLOTS;
    peaks.in[peaks.slot] = 0;
    peaks.out[peaks.slot] = 0;
}

void clientmem_read(struct worker *w, size_t *max_in, size_t *max_out, size_t *total)
{
    *total = walk(w);
    *max_in = *max_out = 0;
    for (unsigned i = 0; i < PEAK_SLOTS; i++) {
        if (peaks.in[i] > *max_in)
            *max_in = peaks.in[i];
        if (peaks.out[i] > *max_out)
            *max_out = peaks.out[i];
    }
}
