/* pause: the Redis-kept pause of a scanner (see pause.h). */
#include "pause.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hoststate.h"
#include "log.h"
#include "router.h"

void pause_key(char *buf, size_t n, const char *scanner)
{
	snprintf(buf, n, "{scanhost}:pause:%s", scanner);
}

void pause_apply(struct scanner *s, bool paused)
{
	if (s->stats.paused == paused)
		return;
	s->stats.paused = paused;
	char key[128];
	pause_key(key, sizeof(key), s->name);
	if (paused)
		log_msg(LOG_INFO, s->name, "scanner %s paused (by key %s)", s->name, key);
	else
		log_msg(LOG_INFO, s->name, "scanner %s resumed (key %s is gone)", s->name, key);
}

static void on_pause_keys(void *priv, redisReply *reply, const char *err)
{
	struct host *h = priv;
	h->pause_busy = false;
	if (!reply || reply->type != REDIS_REPLY_ARRAY) {
		/* the state stays as last read; a lost connection is logged by the host */
		if (reply && reply->type == REDIS_REPLY_ERROR)
			log_warn("reading the pause keys failed: %s", reply->str);
		(void)err;
		return;
	}
	/* slots are only ever appended: the first elements still match */
	size_t i = 0;
	for (struct scanner *s = h->scanners; s && i < reply->elements; s = s->next, i++)
		pause_apply(s, reply->element[i]->type != REDIS_REPLY_NIL);
}

void pause_poll(struct host *h)
{
	if (h->manual || h->pause_busy || !h->env.router || !router_ready(h->env.router) ||
	    !h->scanners)
		return;
	int n = 1;
	for (struct scanner *s = h->scanners; s; s = s->next)
		n++;
	const char **argv = calloc((size_t)n, sizeof(*argv));
	size_t *len = calloc((size_t)n, sizeof(*len));
	char(*keys)[128] = calloc((size_t)n, sizeof(*keys));
	if (!argv || !len || !keys)
		abort();
	argv[0] = "MGET";
	len[0] = 4;
	int i = 1;
	for (struct scanner *s = h->scanners; s; s = s->next, i++) {
		pause_key(keys[i], sizeof(keys[i]), s->name);
		argv[i] = keys[i];
		len[i] = strlen(keys[i]);
	}
	char err[128];
	/* every pause key carries the {scanhost} tag: one slot, one MGET */
	if (router_send(h->env.router, -1, n, argv, len, on_pause_keys, h, err, sizeof(err)))
		h->pause_busy = true;
	free(argv);
	free(len);
	free(keys);
}

static void on_poll(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	pause_poll(w->data);
}

void pause_init(struct host *h)
{
	ev_timer_init(&h->pause_poll, on_poll, PAUSE_POLL_SECONDS, PAUSE_POLL_SECONDS);
	h->pause_poll.data = h;
}

void pause_start(struct host *h)
{
	ev_timer_start(h->loop, &h->pause_poll);
}

void pause_stop(struct host *h)
{
	ev_timer_stop(h->loop, &h->pause_poll);
}

bool pause_write(struct host *h, const struct scanner *s, bool paused, rconn_reply_fn fn,
                 void *priv, char *err, size_t errlen)
{
	char key[128], value[192];
	pause_key(key, sizeof(key), s->name);
	snprintf(value, sizeof(value), "paused at %lld by %s", (long long)time(NULL),
	         h->env.instance_id);
	const char *argv[] = { paused ? "SET" : "DEL", key, value };
	size_t len[] = { strlen(argv[0]), strlen(key), strlen(value) };
	if (!h->env.router || !router_ready(h->env.router)) {
		snprintf(err, errlen, "redis is not connected");
		return false;
	}
	return router_send(h->env.router, -1, paused ? 3 : 2, argv, len, fn, priv, err, errlen);
}
