/* libversion: reads FCALL ff_version 0 and says when the answer changes. */
#include "libversion.h"

#include <stdio.h>
#include <string.h>

#include "log.h"

bool libversion_known(const char *version)
{
	return strcmp(version, "5") == 0 || strcmp(version, "34") == 0;
}

/* The answer as text: a bulk or status string, or an integer; anything else
 * (or an error reply: no ff_version in the library) is "". Only printable
 * characters are kept: it goes into log lines. */
static void answer_text(const redisReply *r, char *out, size_t n)
{
	out[0] = '\0';
	if (r->type == REDIS_REPLY_INTEGER) {
		snprintf(out, n, "%lld", r->integer);
		return;
	}
	if (r->type != REDIS_REPLY_STRING && r->type != REDIS_REPLY_STATUS)
		return;
	size_t k = 0;
	for (size_t i = 0; i < r->len && k + 1 < n; i++)
		out[k++] = r->str[i] >= 0x20 && r->str[i] < 0x7f ? r->str[i] : '?';
	out[k] = '\0';
}

static void report(const char *before, const char *now, const redisReply *r)
{
	if (strcmp(before, now) == 0)
		return;
	if (!now[0])
		log_error(
		    "FCALL ff_version answered %s: the function library's version is unknown; "
		    "scanners that need a known contract wait",
		    r->type == REDIS_REPLY_ERROR ? r->str : "no version");
	else if (!libversion_known(now))
		log_error("the function library is version %s, neither 5 (FlowFabric 0.1.1) nor 34 "
		          "(v34): scanners that need a known contract wait",
		          now);
	else if (before[0])
		log_warn("the function library changed from version %s to %s; scanners follow its "
		         "contract from their next cycle",
		         before, now);
	else
		log_info("the function library is version %s (FlowFabric %s contract)", now,
		         strcmp(now, "5") == 0 ? "0.1.1" : "v34");
}

static void finish(struct libversion *v, bool read)
{
	v->busy = false;
	void (*done)(void *, bool) = v->done;
	v->done = NULL;
	if (done)
		done(v->data, read);
}

static void on_version(void *priv, redisReply *r, const char *err)
{
	struct libversion *v = priv;
	if (err) {
		log_warn(
		    "reading the function library's version failed (%s); it will be read again",
		    err);
		finish(v, false);
		return;
	}
	char now[LIBVERSION_MAX];
	answer_text(r, now, sizeof(now));
	report(v->value, now, r);
	snprintf(v->value, sizeof(v->value), "%s", now);
	finish(v, true);
}

static void on_recheck(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	struct libversion *v = w->data;
	if (!v->busy && v->conn && rconn_ready(v->conn))
		libversion_probe(v, v->conn, true, NULL, NULL);
}

void libversion_init(struct libversion *v, struct ev_loop *loop, double every)
{
	memset(v, 0, sizeof(*v));
	v->loop = loop;
	ev_timer_init(&v->recheck, on_recheck, every, every);
	v->recheck.data = v;
}

void libversion_probe(struct libversion *v, struct rconn *conn, bool periodic,
                      void (*done)(void *data, bool read), void *data)
{
	v->done = done;
	v->data = data;
	if (periodic && !ev_is_active(&v->recheck))
		ev_timer_start(v->loop, &v->recheck);
	if (v->busy && v->conn == conn)
		return; /* the read in flight answers this caller too */
	v->conn = conn;
	v->busy = true;
	const char *argv[3] = { "FCALL", "ff_version", "0" };
	char err[160];
	if (!rconn_send(conn, 3, argv, NULL, on_version, v, err, sizeof(err))) {
		log_warn("reading the function library's version postponed: %s", err);
		finish(v, false);
	}
}

void libversion_stop(struct libversion *v)
{
	ev_timer_stop(v->loop, &v->recheck);
}
