/* ready: connection events and the function library check (see ready.h). */
#include "ready.h"

#include <stdlib.h>

#include "busy.h"
#include "hoststate.h"
#include "log.h"
#include "pause.h"
#include "registry.h"
#include "report.h"
#include "router.h"

static void start_runners(struct host *h)
{
	h->started = true;
	for (struct scanner *s = h->scanners; s; s = s->next)
		host_schedule(s);
	if (h->once)
		host_once_progress(h); /* nothing enabled: the once run is already complete */
}

static void retry_library_check(struct host *h)
{
	ev_timer_set(&h->library_retry, 1.0, 0);
	ev_timer_start(h->loop, &h->library_retry);
}

/* The library check is complete once its version is read. */
static void on_library_version(void *data, bool read)
{
	struct host *h = data;
	if (!read) {
		if (!h->env.stopping)
			retry_library_check(h);
		return;
	}
	h->ready = true;
	if (h->manual)
		return; /* the test module starts cycles itself */
	if (!h->started) {
		ev_timer_stop(h->loop, &h->connect_deadline);
		start_runners(h);
	}
}

/* Where ff_version is read (libversion_targets_fn): every connected primary
 * with a usable library; they must all answer the same. */
static int version_targets(void *data, struct rconn **conns, const char **names, int max)
{
	const struct host *h = data;
	int k = 0;
	for (struct rnode *n = router_nodes(h->env.router); n && k < max; n = n->next) {
		if (n->primary && !n->blocked && rconn_ready(n->conn)) {
			conns[k] = n->conn;
			names[k++] = n->addr;
		}
	}
	return k;
}

/* A library verdict came in: once every primary has one, the library's
 * version is read and cycles may run. */
static void on_libset_changed(void *data)
{
	struct host *h = data;
	h->env.library = libset_in_use(&h->libset);
	if (h->env.stopping || !libset_settled(&h->libset))
		return; /* LOADING, BUSY or a dropped connection: the check retries */
	if (!h->env.library) {
		on_library_version(h, true); /* no library: nothing to read, calls fail visibly */
		return;
	}
	/* the daemon reads it again periodically: an upgrade in place says nothing */
	libversion_probe(&h->libversion, !h->once && !h->manual, on_library_version, h);
}

/* A function call failed with "Function not found": the library may have
 * been flushed or replaced. Check again (never more than every 5 s); the
 * loader never loads over a library it did not create. */
static void on_function_missing(struct hostenv *env)
{
	struct host *h = env->host;
	double now = clock_now(h->clock);
	if (libset_busy(&h->libset) || !h->env.router || now - h->library_rechecked_at < 5.0)
		return;
	h->library_rechecked_at = now;
	log_warn("a server-side function is missing; checking the function library again");
	libset_recheck(&h->libset);
}

/* The version could not be read (a dropped connection): check again. */
static void on_library_retry(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	struct host *h = w->data;
	if (h->env.router && router_ready(h->env.router) && !libset_busy(&h->libset))
		libset_recheck(&h->libset);
}

/* A refusal (credentials, database index, certificate, not Redis at all) is
 * a configuration problem: --once stops at once with this one line (exit 2
 * for a database index, 1 otherwise); the daemon keeps retrying with
 * backoff and logs it at every attempt, so at most one line per step. */
static void on_refused(struct host *h, enum rconn_event ev, const char *where, const char *detail)
{
	const char *what = ev == RCONN_AUTH_FAILED  ? "refused our credentials"
	                   : ev == RCONN_BAD_DB     ? "refused the database index"
	                   : ev == RCONN_TLS_FAILED ? "could not be reached over TLS"
	                                            : "does not speak the Redis protocol";
	const char *hint = ev == RCONN_AUTH_FAILED ? "; check the password in the URL" : "";
	h->ready = false;
	log_error("redis at %s %s (%s)%s%s", where, what, detail, hint,
	          h->once ? "" : "; retrying with backoff");
	if (!h->once)
		return;
	h->conn_refused = true;
	h->exit_code = ev == RCONN_BAD_DB ? 2 : 1;
	ev_break(h->loop, EVBREAK_ALL);
}

static void on_router_event(void *data, struct rnode *n, enum router_note note,
                            enum rconn_event rev, const char *detail)
{
	struct host *h = data;
	bool cluster = router_mode(h->env.router) == ROUTER_CLUSTER;
	char where[512];
	if (cluster)
		snprintf(where, sizeof(where), "%s", n->addr);
	else
		url_redacted(&h->cfg->url, where, sizeof(where));
	switch (note) {
	case ROUTER_NODE_UP:
		log_info("connected to redis at %s%s%s%s", where, detail ? " (" : "",
		         detail ? detail : "", detail ? ")" : "");
		pause_poll(h); /* answered before the library check: runners start knowing */
		libset_node_up(&h->libset, n);
		break;
	case ROUTER_NODE_DOWN:
		if (!cluster)
			h->ready = false;
		log_warn("redis at %s unavailable (%s); reconnecting with backoff", where, detail);
		break;
	case ROUTER_NODE_REFUSED: on_refused(h, rev, where, detail); break;
	case ROUTER_NODE_GONE: libset_node_gone(&h->libset, n); break;
	}
}

static void on_connect_deadline(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)revents;
	struct host *h = w->data;
	char where[512], why[512];
	url_redacted(&h->cfg->url, where, sizeof(where));
	if (router_ready(h->env.router))
		snprintf(why, sizeof(why),
		         "connected, but the function library check did not finish "
		         "(is the server loading or busy?)");
	else
		router_describe_failure(h->env.router, why, sizeof(why));
	log_error("could not reach redis at %s within %g s: %s", where, h->cfg->connect_timeout,
	          why);
	h->exit_code = 1;
	ev_break(loop, EVBREAK_ALL);
}

bool host_is_ready(const struct host *h)
{
	return h->ready && h->env.library && h->env.router && router_ready(h->env.router);
}

void ready_init(struct host *h)
{
	h->env.function_missing = on_function_missing;
	libversion_init(&h->libversion, h->loop, h->cfg->library_recheck, version_targets, h);
	h->env.library_version = h->libversion.value;
	ev_timer_init(&h->connect_deadline, on_connect_deadline, 0, 0);
	ev_timer_init(&h->library_retry, on_library_retry, 0, 0);
	h->connect_deadline.data = h->library_retry.data = h;
}

void ready_watch_library(struct host *h)
{
	libset_init(&h->libset, h->loop, &h->library, on_libset_changed, h);
}

void ready_connect(struct host *h)
{
	struct router_opts o = { .conn = { .url = h->cfg->url,
		                           .tls = h->tls,
		                           .connect_timeout = h->cfg->connect_timeout,
		                           .command_timeout = h->cfg->command_timeout,
		                           .backoff_min = 0.1,
		                           .backoff_max = 5.0 },
		                 .refresh_interval = 5.0,
		                 .on_pause = busy_on_cluster_pause };
	snprintf(o.conn.tls_name, sizeof(o.conn.tls_name), "%s", h->cfg->tls.sni);
	for (int i = 0; i < h->cfg->nseeds && i < ROUTER_MAX_SEEDS; i++)
		o.seeds[o.nseeds++] = h->cfg->seeds[i];
	h->env.router = router_new(h->loop, &o, on_router_event, h);
	if (!h->env.router)
		abort();
	libset_attach(&h->libset, h->env.router);
	if (h->once) {
		/* a one-shot run must not wait forever for an absent server */
		ev_timer_set(&h->connect_deadline, h->cfg->connect_timeout, 0);
		ev_timer_start(h->loop, &h->connect_deadline);
	}
}
