/* watchdog: deadlines kept by the main thread, checked by a thread that
 * never touches Lua (see watchdog.h). */
#define _POSIX_C_SOURCE 200809L
#include "watchdog.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#define MAX_FRAMES 16

/* Where Lua runs: written by the main thread, read by the checker only when
 * it fires (the main thread is stuck then, so the text is stable). */
struct frame {
	char scanner[72];
	int partition;
	char what[320];
};

static struct frame frames[MAX_FRAMES];
static atomic_int depth; /* written by the main thread only */
static const struct clock *wd_clock = &clock_system;

/* Shared with the checking thread. Times in microseconds, 0 = unset. */
static _Atomic int64_t entry_deadline;
static _Atomic int64_t entry_limit = (int64_t)((5.0 + WATCHDOG_MARGIN) * 1e6);
static _Atomic int64_t stop_grace = (int64_t)(2.5 * 1e6);
static atomic_int stuck_exit = 1;
static atomic_int stop_noted;
static int64_t stop_deadline; /* checker only */

static pthread_t thread;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond;
static bool running, quit;

static int64_t micros(double seconds)
{
	return (int64_t)(seconds * 1e6);
}

void watchdog_configure(const struct clock *clock, double scan_timeout, double shutdown_timeout,
                        int exit_code)
{
	wd_clock = clock;
	atomic_store(&entry_limit, micros(scan_timeout + WATCHDOG_MARGIN));
	/* one tick to notice the signal, one to notice the deadline */
	atomic_store(&stop_grace, micros(shutdown_timeout + 1.0 - 2 * WATCHDOG_TICK));
	atomic_store(&stuck_exit, exit_code);
}

static void arm(void)
{
	atomic_store(&entry_deadline, micros(clock_now(wd_clock)) + atomic_load(&entry_limit));
}

/* src into dst, cut to fit. (Entered for every reply a drain converts:
 * snprintf's "%s" cost more than the rest of the entry.) */
static void copy_text(char *dst, size_t size, const char *src)
{
	size_t n = strnlen(src, size - 1);
	memcpy(dst, src, n);
	dst[n] = '\0';
}

void watchdog_enter(const char *scanner, int partition, const char *what)
{
	int d = atomic_load(&depth);
	if (d < MAX_FRAMES) {
		struct frame *f = &frames[d];
		copy_text(f->scanner, sizeof(f->scanner), scanner ? scanner : "");
		f->partition = partition;
		copy_text(f->what, sizeof(f->what), what);
	}
	atomic_store(&depth, d + 1);
	arm();
}

void watchdog_leave(void)
{
	int d = atomic_load(&depth);
	if (d > 0)
		atomic_store(&depth, --d);
	if (d > 0)
		arm(); /* the outer entry goes on: a fresh allowance */
	else
		atomic_store(&entry_deadline, 0);
}

void watchdog_note_stop(void)
{
	atomic_store(&stop_noted, 1);
}

enum watchdog_verdict watchdog_poll(double now)
{
	int64_t t = micros(now);
	int64_t d = atomic_load(&entry_deadline);
	if (d > 0 && t > d)
		return WATCHDOG_STUCK;
	if (atomic_load(&stop_noted)) {
		if (stop_deadline == 0)
			stop_deadline = t + atomic_load(&stop_grace);
		else if (t > stop_deadline)
			return WATCHDOG_SHUTDOWN;
	}
	return WATCHDOG_OK;
}

/* Logs where the main thread is stuck and ends the process. */
static void fire(enum watchdog_verdict v)
{
	int d = atomic_load(&depth);
	const struct frame *f = d > 0 ? &frames[(d > MAX_FRAMES ? MAX_FRAMES : d) - 1] : NULL;
	struct log_field fields[] = { { "during", f ? f->what : "host code", LOG_STRING },
		                      { NULL, NULL, LOG_STRING } };
	int code = v == WATCHDOG_STUCK ? atomic_load(&stuck_exit) : 1;
	char msg[256];
	if (v == WATCHDOG_STUCK)
		snprintf(msg, sizeof(msg),
		         "watchdog: Lua did not return for %g s (stuck inside a C function or a "
		         "__gc finalizer); exiting with status %d",
		         (double)atomic_load(&entry_limit) / 1e6, code);
	else
		snprintf(msg, sizeof(msg),
		         "watchdog: shutdown did not finish within %g s of the stop signal; "
		         "exiting now with status %d",
		         (double)atomic_load(&stop_grace) / 1e6 + 2 * WATCHDOG_TICK, code);
	log_event(LOG_ERROR, f && f->scanner[0] ? f->scanner : NULL, f ? f->partition : -1, msg,
	          fields);
	_exit(code);
}

static void *check_loop(void *unused)
{
	(void)unused;
	sigset_t all;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL); /* signals are the main thread's */
	pthread_mutex_lock(&mu);
	while (!quit) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_nsec += (long)(WATCHDOG_TICK * 1e9);
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&cond, &mu, &ts);
		if (quit)
			break;
		enum watchdog_verdict v = watchdog_poll(clock_now(wd_clock));
		if (v != WATCHDOG_OK)
			fire(v);
	}
	pthread_mutex_unlock(&mu);
	return NULL;
}

bool watchdog_start(void)
{
	if (running)
		return true;
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&cond, &ca);
	pthread_condattr_destroy(&ca);
	quit = false;
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, (size_t)256 * 1024); /* log_event's line buffer */
	running = pthread_create(&thread, &attr, check_loop, NULL) == 0;
	pthread_attr_destroy(&attr);
	if (!running)
		pthread_cond_destroy(&cond);
	return running;
}

void watchdog_stop(void)
{
	if (!running)
		return;
	pthread_mutex_lock(&mu);
	quit = true;
	pthread_cond_signal(&cond);
	pthread_mutex_unlock(&mu);
	pthread_join(thread, NULL);
	pthread_cond_destroy(&cond);
	running = false;
}
