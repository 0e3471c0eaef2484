/* host: the lifecycle of one host (host.c: init, start, --check, free),
 * and the host's whole API for main.c and the busted test module: its
 * state (hoststate.h) and the headers of the files that each hold one part:
 *   scanset.c   loading the scanner set        reload.c    SIGHUP, SIGUSR1
 *   ready.c     connection, library check      busy.c      BUSY/LOADING pause
 *   registry.c  the slots by name, schedules   scanner.c   a slot, its runner
 *   report.c    cycle log, --once summary      shutdown.c  the graceful end
 * Calls run downward in that order (control.c, the --http endpoint, sits
 * between host.c and reload.c); no file calls one that calls it back. */
#ifndef SCANHOST_HOST_H
#define SCANHOST_HOST_H

#include <stdbool.h>
#include <stdio.h>

#include <ev.h>

#include "clock.h"
#include "config.h"
#include "hoststate.h"
#include "ready.h"
#include "registry.h"
#include "reload.h"
#include "report.h"
#include "scanset.h"
#include "shutdown.h"

bool host_init(struct host *h, struct config *cfg, struct ev_loop *loop, const struct clock *clock,
               char *err, size_t errlen);
/* --check: prints what would run; returns false on any problem. */
bool host_check(struct host *h, FILE *out);
/* Connects; runners start once Redis is ready. */
void host_start(struct host *h);
void host_free(struct host *h);
/* This process's id: claim values, ctx.instance_id, the start line. */
const char *host_instance_id(const struct host *h);

#endif
