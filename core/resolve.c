/* resolve: name lookups off the loop (see resolve.h).
 *
 * getaddrinfo() blocks, for as long as the resolver's timeouts and retries
 * allow (seconds, when a DNS server does not answer). A detached thread per
 * lookup runs it; ev_async wakes the loop with the answer. The thread and
 * the loop share one struct under a mutex: a lookup cancelled while its
 * thread runs is marked abandoned, and the thread frees it when it ends, so
 * a cancel never waits. Lookups are rare (a connect or reconnect), so a
 * thread each is simpler than a pool and costs nothing while idle. */
#include "resolve.h"

#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct resolve {
	pthread_mutex_t lock;
	bool abandoned; /* cancelled: the thread frees the struct */
	bool finished;  /* the thread is done with it */
	struct ev_loop *loop;
	ev_async wake;
	char host[256];
	char service[16];
	struct addrinfo *addrs;
	int rc; /* getaddrinfo()'s */
	resolve_fn done;
	void *data;
};

static void free_resolve(struct resolve *r)
{
	if (r->addrs)
		freeaddrinfo(r->addrs);
	pthread_mutex_destroy(&r->lock);
	free(r);
}

static int lookup(struct resolve *r, int flags)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC,
		                  .ai_socktype = SOCK_STREAM,
		                  .ai_flags = AI_NUMERICSERV | flags };
	return getaddrinfo(r->host, r->service, &hints, &r->addrs);
}

static void *lookup_thread(void *arg)
{
	struct resolve *r = arg;
	int rc = lookup(r, 0);
	pthread_mutex_lock(&r->lock);
	r->rc = rc;
	r->finished = true;
	bool abandoned = r->abandoned;
	if (!abandoned)
		ev_async_send(r->loop, &r->wake);
	pthread_mutex_unlock(&r->lock);
	if (abandoned)
		free_resolve(r);
	return NULL;
}

static void on_wake(struct ev_loop *loop, ev_async *w, int revents)
{
	(void)revents;
	struct resolve *r = w->data;
	ev_async_stop(loop, &r->wake);
	pthread_mutex_lock(&r->lock); /* the thread's writes, seen whole */
	pthread_mutex_unlock(&r->lock);
	char err[400] = "";
	struct addrinfo *addrs = r->addrs;
	if (r->rc != 0) {
		snprintf(err, sizeof(err), "cannot resolve %s: %s", r->host, gai_strerror(r->rc));
		addrs = NULL;
	}
	r->addrs = NULL; /* now the callee's */
	resolve_fn done = r->done;
	void *data = r->data;
	free_resolve(r);
	done(data, addrs, addrs ? NULL : err);
}

/* A detached thread with every signal blocked: signals are the loop's. */
static bool start_thread(struct resolve *r)
{
	pthread_attr_t attr;
	if (pthread_attr_init(&attr) != 0)
		return false;
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	pthread_t t;
	int rc = pthread_create(&t, &attr, lookup_thread, r);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
	return rc == 0;
}

struct resolve *resolve_start(struct ev_loop *loop, const char *host, int port, resolve_fn done,
                              void *data, char *err, size_t errlen)
{
	struct resolve *r = calloc(1, sizeof(*r));
	if (!r || pthread_mutex_init(&r->lock, NULL) != 0) {
		free(r);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	r->loop = loop;
	r->done = done;
	r->data = data;
	snprintf(r->host, sizeof(r->host), "%s", host);
	snprintf(r->service, sizeof(r->service), "%d", port);
	ev_async_init(&r->wake, on_wake);
	r->wake.data = r;
	ev_async_start(loop, &r->wake);
	/* an address in text form: no lookup, answered at the next loop pass */
	if (lookup(r, AI_NUMERICHOST) == 0) {
		r->finished = true;
		ev_async_send(loop, &r->wake);
		return r;
	}
	r->addrs = NULL;
	if (!start_thread(r)) {
		ev_async_stop(loop, &r->wake);
		free_resolve(r);
		snprintf(err, errlen, "cannot resolve %s: no thread for the lookup", host);
		return NULL;
	}
	return r;
}

void resolve_cancel(struct resolve *r)
{
	if (!r)
		return;
	ev_async_stop(r->loop, &r->wake);
	pthread_mutex_lock(&r->lock);
	bool thread_done = r->finished;
	r->abandoned = true;
	pthread_mutex_unlock(&r->lock);
	if (thread_done)
		free_resolve(r);
}
