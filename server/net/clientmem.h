/* clientmem.h — what the clients' buffers hold, for INFO: the largest
 * query and reply buffers of the last seconds (Redis's
 * client_recent_max_input_buffer / _output_buffer, a peak per second kept
 * for 8 seconds) and the memory of all clients (mem_clients_normal). Each
 * worker keeps its own figures for its own clients, on its own thread. */
#ifndef SKV_SERVER_CLIENTMEM_H
#define SKV_SERVER_CLIENTMEM_H

#include <stddef.h>

struct worker;

/* Once a second from w's tick: start a new second's peak. w's thread. */
void clientmem_tick(struct worker *w);

/* w's clients now: the recent peaks (the last 8 seconds and now) of one
 * client's query buffer (allocated) and reply bytes held, and the bytes
 * all of them hold (struct, query buffer, replies). w's thread. */
void clientmem_read(struct worker *w, size_t *max_in, size_t *max_out, size_t *total);

#endif
