/* shutdown: stop, grace, giving the claims back (see shutdown.h). */
#include "shutdown.h"

#include <string.h>

#include "hoststate.h"
#include "log.h"
#include "router.h"

static bool all_idle(const struct host *h)
{
	for (const struct scanner *s = h->scanners; s; s = s->next) {
		if (s->active && script_busy(s->active))
			return false;
	}
	return true;
}

void host_check_stopped(struct host *h)
{
	if (h->env.stopping && all_idle(h))
		host_end(h);
}

/* ---- giving claims back at the end ------------------------------------------ */

static void finish_end(struct host *h)
{
	ev_timer_stop(h->loop, &h->grace);
	ev_break(h->loop, EVBREAK_ALL);
}

static void on_claim_released(void *priv, redisReply *reply, const char *err)
{
	(void)reply;
	(void)err;
	struct host *h = priv;
	if (--h->releasing == 0)
		finish_end(h);
}

static void release_one(struct host *h, const struct scanner *s, int p)
{
	char key[256];
	claims_key(key, sizeof(key), family_tag_prefix(s->active->family), p, s->name);
	const char *argv[] = { "EVAL", claims_release_script, "1", key, h->env.instance_id };
	size_t len[5];
	for (int i = 0; i < 5; i++)
		len[i] = strlen(argv[i]);
	char err[128];
	if (router_send(h->env.router, -1, 5, argv, len, on_claim_released, h, err, sizeof(err)))
		h->releasing++;
}

/* Compare-and-delete of every claim this instance may still hold (won in
 * this cycle or the last): other instances take these partitions at their
 * next cycle instead of waiting for the claims to expire. */
void host_end(struct host *h)
{
	if (h->ended)
		return;
	h->ended = true;
	bool can = h->env.claims && h->env.router && router_ready(h->env.router);
	for (const struct scanner *s = h->scanners; can && s; s = s->next) {
		for (int p = 0; s->active && p < s->claims.n; p++) {
			if (claims_won_now(&s->claims, p) || claims_won_last(&s->claims, p))
				release_one(h, s, p);
		}
	}
	if (h->releasing == 0)
		finish_end(h);
}

static void on_grace(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)revents;
	struct host *h = w->data;
	log_warn("shutdown grace of %g s expired; abandoning in-flight work",
	         h->cfg->shutdown_timeout);
	if (h->env.router)
		router_drop(h->env.router, "shutting down");
	ev_break(loop, EVBREAK_ALL);
}

void host_stop(struct host *h)
{
	if (h->env.stopping)
		return;
	h->env.stopping = true;
	log_info("shutdown requested; finishing in-flight partitions");
	ev_timer_stop(h->loop, &h->connect_deadline);
	for (struct scanner *s = h->scanners; s; s = s->next) {
		ev_timer_stop(h->loop, &s->timer);
		runner_stop(&s->runner);
	}
	if (all_idle(h)) {
		host_end(h);
		return;
	}
	ev_timer_set(&h->grace, h->cfg->shutdown_timeout, 0);
	ev_timer_start(h->loop, &h->grace);
}

void shutdown_init(struct host *h)
{
	ev_timer_init(&h->grace, on_grace, 0, 0);
	h->grace.data = h;
}
