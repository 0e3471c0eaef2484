/* signals: handler -> atomic set -> ev_async -> dispatch (see signals.h). */
#define _POSIX_C_SOURCE 200809L
#include "signals.h"

#include <signal.h>
#include <stdatomic.h>
#include <string.h>

#include "watchdog.h"

static const int handled[] = { SIGHUP, SIGINT, SIGTERM, SIGUSR1, SIGUSR2, SIGPIPE };
#define NHANDLED (sizeof(handled) / sizeof(handled[0]))

static atomic_uint pending; /* bit i: handled[i] arrived */
static struct signals *active;

static void on_signal(int signo)
{
	for (unsigned i = 0; i < NHANDLED; i++) {
		if (handled[i] == signo)
			atomic_fetch_or(&pending, 1u << i);
	}
	if (signo == SIGTERM || signo == SIGINT)
		watchdog_note_stop();
	if (active)
		ev_async_send(active->loop, &active->async);
}

static void on_async(struct ev_loop *loop, ev_async *w, int revents)
{
	(void)loop;
	(void)revents;
	struct signals *s = w->data;
	unsigned bits = atomic_exchange(&pending, 0);
	for (unsigned i = 0; i < NHANDLED; i++) {
		if (bits & (1u << i))
			s->dispatch(s->data, handled[i]);
	}
}

void signals_start(struct signals *s, struct ev_loop *loop, signals_dispatch_fn dispatch,
                   void *data)
{
	*s = (struct signals){ .loop = loop, .dispatch = dispatch, .data = data };
	ev_async_init(&s->async, on_async);
	s->async.data = s;
	ev_async_start(loop, &s->async);
	active = s;
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigfillset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART; /* a signal never makes a read or write fail */
	for (unsigned i = 0; i < NHANDLED; i++)
		sigaction(handled[i], &sa, NULL);
	s->started = true;
}

/* The handlers stay: a stop signal during the final clean-up still reaches
 * the watchdog, and none kills the process by its default action. Only the
 * main thread runs them (the watchdog's thread blocks every signal), so
 * clearing `active` cannot race with a handler. */
void signals_stop(struct signals *s)
{
	if (!s->started)
		return;
	active = NULL;
	ev_async_stop(s->loop, &s->async);
	s->started = false;
}

const char *signal_name(int signo)
{
	switch (signo) {
	case SIGHUP: return "SIGHUP";
	case SIGINT: return "SIGINT";
	case SIGTERM: return "SIGTERM";
	case SIGUSR1: return "SIGUSR1";
	case SIGUSR2: return "SIGUSR2";
	case SIGPIPE: return "SIGPIPE";
	default: return "signal";
	}
}
