/* resolve (core/resolve.c): host names looked up on a thread of their own
 * and answered on the loop; numeric addresses without a thread; a lookup
 * cancelled in flight is never answered and leaks nothing (ASan). */
#include <netinet/in.h>
#include <string.h>
#include <time.h>

#include <ev.h>

#include "resolve.h"
#include "unit.h"

struct answer {
	int calls;
	int family;
	char err[400];
};

static void on_done(void *data, struct addrinfo *addrs, const char *err)
{
	struct answer *a = data;
	a->calls++;
	a->family = addrs ? addrs->ai_family : 0;
	snprintf(a->err, sizeof(a->err), "%s", err ? err : "");
	if (addrs)
		freeaddrinfo(addrs);
	ev_break(EV_DEFAULT, EVBREAK_ALL);
}

static void on_cap(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)w;
	(void)revents;
	ev_break(loop, EVBREAK_ALL);
}

/* Runs the loop until an answer or `cap` seconds. */
static void run(double cap)
{
	ev_timer t;
	ev_timer_init(&t, on_cap, cap, 0);
	ev_timer_start(EV_DEFAULT, &t);
	ev_run(EV_DEFAULT, 0);
	ev_timer_stop(EV_DEFAULT, &t);
}

static struct answer lookup(const char *host)
{
	struct answer a = { 0 };
	char err[200];
	struct resolve *r = resolve_start(EV_DEFAULT, host, 6379, on_done, &a, err, sizeof(err));
	CHECK(r != NULL);
	CHECK(a.calls == 0); /* never before resolve_start() returned */
	if (r)
		run(30);
	return a;
}

int main(void)
{
	struct answer a = lookup("127.0.0.1");
	CHECK(a.calls == 1 && a.family == AF_INET && a.err[0] == '\0');
	a = lookup("::1");
	CHECK(a.calls == 1 && a.family == AF_INET6);
	a = lookup("localhost"); /* a name: the lookup thread */
	CHECK(a.calls == 1 && (a.family == AF_INET || a.family == AF_INET6) && a.err[0] == '\0');
	a = lookup("no-such-host.invalid");
	CHECK(a.calls == 1 && a.family == 0);
	CHECK(strstr(a.err, "cannot resolve no-such-host.invalid: ") == a.err);

	/* cancelled in flight: no answer, ever; the thread frees what it holds */
	struct answer c = { 0 };
	char err[200];
	struct resolve *r =
	    resolve_start(EV_DEFAULT, "localhost", 1, on_done, &c, err, sizeof(err));
	CHECK(r != NULL);
	resolve_cancel(r);
	run(0.5);
	CHECK(c.calls == 0);
	/* cancelled after the answer came but before the loop delivered it */
	r = resolve_start(EV_DEFAULT, "127.0.0.1", 1, on_done, &c, err, sizeof(err));
	resolve_cancel(r);
	run(0.2);
	CHECK(c.calls == 0);
	resolve_cancel(NULL);
	/* a lookup thread still running ends before the leak check */
	nanosleep(&(struct timespec){ .tv_nsec = 200 * 1000 * 1000 }, NULL);
	UNIT_DONE();
}
