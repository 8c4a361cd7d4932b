/* hooks.h — the composition root: where every feature is hung off the
 * layers below it (the connection's processor, the worker loop's turn,
 * tick and thread hooks, the execution point's hooks, the routing layer's
 * interceptions). Main thread, at start-up. */
#ifndef SKV_SERVER_APP_HOOKS_H
#define SKV_SERVER_APP_HOOKS_H

/* Register every hook: first thing in main, before the configuration is
 * read and any thread starts. Idempotent. */
void app_hooks_register(void);

#endif
