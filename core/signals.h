/* signals: the process's signals, delivered to the event loop.
 *
 * A plain handler records each signal and wakes the loop through an
 * ev_async (both async-signal-safe); the loop then hands every recorded
 * signal to the owner's dispatch function, where it is safe to log, reload
 * or stop. Repeated signals of one kind before the loop runs coalesce.
 * SIGTERM and SIGINT also tell the watchdog at once, so a stop happens in
 * time even when the loop is stuck. */
#ifndef SCANHOST_SIGNALS_H
#define SCANHOST_SIGNALS_H

#include <stdbool.h>

#include <ev.h>

typedef void (*signals_dispatch_fn)(void *data, int signo);

struct signals {
	struct ev_loop *loop;
	ev_async async;
	signals_dispatch_fn dispatch;
	void *data;
	bool started;
};

/* Handles SIGHUP, SIGINT, SIGTERM, SIGUSR1, SIGUSR2 and SIGPIPE from now on.
 * One struct signals per process. */
void signals_start(struct signals *s, struct ev_loop *loop, signals_dispatch_fn dispatch,
                   void *data);
/* Stops dispatching; later signals are recorded and dropped. */
void signals_stop(struct signals *s);
/* "SIGHUP", ... or "signal N". */
const char *signal_name(int signo);

#endif
