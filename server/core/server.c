/* server.c (core) — the process-wide state every layer reads (struct
 * server: the configuration, its lock, the workers, the stop request). The
 * start-up and shutdown that fill it in are app/server.c's. Any thread. */
#include "server/core/server.h"

struct server server;

void server_request_stop(int exit_code)
{
    bool was = atomic_exchange(&server.stopping, true);
    if (was)
        return;
    atomic_store(&server.exit_code, exit_code);
    uv_async_send(&server.stop_async);
}

void server_config_rdlock(void)
{
    uv_rwlock_rdlock(&server.cfg_lock);
}

void server_config_wrlock(void)
{
    uv_rwlock_wrlock(&server.cfg_lock);
}

void server_config_unlock_rd(void)
{
    uv_rwlock_rdunlock(&server.cfg_lock);
}

void server_config_unlock_wr(void)
{
    uv_rwlock_wrunlock(&server.cfg_lock);
}
