/* reload: SIGHUP and POST /reload (the config and every scanner with it,
 * or nothing), SIGUSR1 (the scanner files, file by file), and pointing the
 * scripts' environment at the running config. */
#ifndef SCANHOST_RELOAD_H
#define SCANHOST_RELOAD_H

#include <stdbool.h>

struct host;

/* SIGHUP or POST /reload: a new config and every script with it, or
 * nothing. Every log line starts with `cause`, so an operator reading the
 * log knows which one did it. Returns false when it was refused. */
bool host_reload_config(struct host *h, const char *cause);
/* SIGUSR1: the scanner directories again, file by file. */
bool host_reload_scripts(struct host *h);
/* Points the host's environment at h->cfg (at start and after a config swap). */
void host_sync_env(struct host *h);

#endif
