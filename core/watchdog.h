/* watchdog: the hard stop behind the runaway guard.
 *
 * The count hook (runaway.h) cannot interrupt code stuck inside a C function
 * (string.find with a pathological pattern) or a __gc finalizer (LuaJIT runs
 * finalizers with hooks off), and nothing can interrupt it safely from
 * outside. So the host brackets every entry into Lua with watchdog_enter/
 * watchdog_leave, and a thread checks the deadline: if the main thread has
 * not come back within scan_timeout + WATCHDOG_MARGIN, the thread logs which
 * scanner and partition (or file) it was in and ends the process with a
 * non-zero status, for a supervisor to restart it.
 *
 * The same thread enforces shutdown: once SIGTERM/SIGINT was received
 * (watchdog_note_stop, safe in a signal handler), the process ends within
 * shutdown_timeout + 1 s even if the loop is stuck.
 *
 * One watchdog per process, like the runaway deadline: there is one main
 * thread running Lua. Without watchdog_start (the busted test module) the
 * brackets only record where Lua runs. */
#ifndef SCANHOST_WATCHDOG_H
#define SCANHOST_WATCHDOG_H

#include <stdbool.h>

#include "clock.h"

#define WATCHDOG_MARGIN 2.0 /* seconds beyond scan_timeout */
#define WATCHDOG_TICK   0.1 /* seconds between checks */

enum watchdog_verdict { WATCHDOG_OK, WATCHDOG_STUCK, WATCHDOG_SHUTDOWN };

/* Limits: a Lua entry may last scan_timeout + WATCHDOG_MARGIN; after a stop
 * signal the process ends within shutdown_timeout + 1 s. exit_code: the
 * status for a stuck entry (2 while loading config or in --check, else 1). */
void watchdog_configure(const struct clock *clock, double scan_timeout, double shutdown_timeout,
                        int exit_code);
/* Brackets one entry into Lua. scanner may be NULL (the config file);
 * partition < 0 means none; what says what runs ("scan()", "closing its
 * state", "the config file /etc/x.lua"...). Entries nest. */
void watchdog_enter(const char *scanner, int partition, const char *what);
void watchdog_leave(void);
/* A stop signal arrived. Async-signal-safe. */
void watchdog_note_stop(void);
/* The thread's check, exposed for tests: what the watchdog would do now. */
enum watchdog_verdict watchdog_poll(double now);
/* Starts / stops (and joins) the checking thread. */
bool watchdog_start(void);
void watchdog_stop(void);

#endif
