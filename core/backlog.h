/* backlog: what a cycle's own index reads saw of the due items (ff.scan
 * reports every page through ctx:note_backlog): how many, and the oldest
 * due score against the server time of the read. No command of its own. */
#ifndef SCANHOST_BACKLOG_H
#define SCANHOST_BACKLOG_H

#include <stdbool.h>
#include <stdint.h>

struct backlog {
	uint64_t due; /* due items the cycle's page reads returned */
	double age;   /* seconds: server now minus the oldest due score seen */
	bool seen;    /* a page read was reported (the scanner reads due indexes) */
};

/* One page: n due items; oldest_ms its first score (first pages only, else
 * negative); now_ms the server time the read used. */
static inline void backlog_note(struct backlog *b, uint64_t n, double oldest_ms, double now_ms)
{
	b->seen = true;
	b->due += n;
	double age =
	    n > 0 && oldest_ms >= 0 && now_ms > oldest_ms ? (now_ms - oldest_ms) / 1000 : 0;
	if (age > b->age)
		b->age = age;
}

#endif
