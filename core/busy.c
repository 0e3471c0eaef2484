/* busy: the BUSY/LOADING/CLUSTERDOWN pause of new cycles (see busy.h). */
#include "busy.h"

#include "backoff.h"
#include "hoststate.h"
#include "log.h"

/* A BUSY or LOADING reply (hostenv.server_busy). The level resets once
 * the server answered normally for 10 s. */
static void on_server_busy(struct hostenv *env, const char *reply)
{
	struct host *h = env->host;
	double now = clock_now(h->clock);
	if (now < h->paused_until)
		return;
	if (now > h->paused_until + 10)
		h->pause_level = 0;
	double d = backoff_delay(0.1, 5, h->pause_level++);
	h->paused_until = now + d;
	log_warn("redis cannot serve now (%.40s); pausing new cycles for %.0f ms", reply, d * 1000);
}

/* CLUSTERDOWN: like BUSY, no new cycle starts for a while. */
void busy_on_cluster_pause(void *data, const char *reply)
{
	struct host *h = data;
	on_server_busy(&h->env, reply);
}

bool host_server_paused(const struct host *h)
{
	return clock_now(h->clock) < h->paused_until;
}

void busy_init(struct host *h)
{
	h->env.server_busy = on_server_busy;
}
