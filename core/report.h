/* report: what the cycles did, told once — the cycle's log line, the
 * --once summary and the --once exit code, from the same counts. */
#ifndef SCANHOST_REPORT_H
#define SCANHOST_REPORT_H

#include "runner.h"

struct host;
struct scanner;

/* The cycle's log line (and, first, a takeover line when this instance won
 * partitions another one held). Before claims_cycle_end: it reads this
 * cycle's claims. */
void report_cycle(const struct scanner *s, const struct runner_cycle *c);
/* --once: a scanner finished its cycle; once every scheduled one has, the
 * run ends (host_end). */
void host_once_progress(struct host *h);
/* The process's exit code after the loop: the daemon's, or under --once 1
 * when a scheduled scanner failed, was cut short or a file failed to load. */
int host_exit_code(const struct host *h);
/* The --once summary, one line per scanner, in the log format (nothing when
 * not --once or when the server refused the connection). */
void host_print_summary(const struct host *h, int fd);

#endif
