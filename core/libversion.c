/* libversion: reads FCALL ff_version 0 on every primary, says when the
 * answer changes and when the primaries disagree. */
#include "libversion.h"

#include <stdio.h>
#include <stdlib.h>
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

/* What the round found, said once per change: of the value, or of the two
 * versions primaries disagree on. */
static void report(struct libversion *v, const char *now)
{
	char key[sizeof(v->said)];
	snprintf(key, sizeof(key), v->other_at[0] ? "disagree:%s:%s" : "%s%.0s", v->first,
	         v->other);
	if (strcmp(key, v->said) == 0)
		return;
	snprintf(v->said, sizeof(v->said), "%s", key);
	if (v->other_at[0])
		log_error(
		    "the primaries disagree on the function library's version (%s on %s, %s on "
		    "%s): scanners that need a known contract wait until every primary runs the "
		    "same library",
		    v->first[0] ? v->first : "none", v->first_at, v->other[0] ? v->other : "none",
		    v->other_at);
	else if (!now[0])
		log_error(
		    "FCALL ff_version answered %s: the function library's version is unknown; "
		    "scanners that need a known contract wait",
		    v->error[0] ? v->error : "no version");
	else if (!libversion_known(now))
		log_error("the function library is version %s, neither 5 (FlowFabric 0.1.1) nor 34 "
		          "(v34): scanners that need a known contract wait",
		          now);
	else if (v->value[0])
		log_warn("the function library changed from version %s to %s; scanners follow its "
		         "contract from their next cycle",
		         v->value, now);
	else
		log_info("the function library is version %s (FlowFabric %s contract)", now,
		         strcmp(now, "5") == 0 ? "0.1.1" : "v34");
}

static void finish(struct libversion *v)
{
	bool read = !v->failed && v->answered > 0;
	if (read) {
		const char *now = v->other_at[0] ? "" : v->first;
		report(v, now);
		snprintf(v->value, sizeof(v->value), "%s", now);
	}
	void (*done)(void *, bool) = v->done;
	v->done = NULL;
	if (done)
		done(v->data, read);
}

/* One primary's read: remembers where it came from. */
struct version_read {
	struct libversion *v;
	char at[96];
};

static void on_version(void *priv, redisReply *r, const char *err)
{
	struct version_read *rd = priv;
	struct libversion *v = rd->v;
	/* Only a missing function is an answer ("no version"). Any other error
	 * (READONLY from a primary just demoted, MOVED, LOADING, BUSY...) says
	 * nothing about the library: the round is read again later. */
	if (!err && r->type == REDIS_REPLY_ERROR && !strstr(r->str, "Function not found"))
		err = r->str;
	if (err) {
		log_warn(
		    "reading the function library's version on %s failed (%s); it will be read "
		    "again",
		    rd->at, err);
		v->failed = true;
	} else {
		char now[LIBVERSION_MAX];
		answer_text(r, now, sizeof(now));
		if (r->type == REDIS_REPLY_ERROR && !v->error[0])
			snprintf(v->error, sizeof(v->error), "%.120s", r->str);
		if (v->answered++ == 0) {
			memcpy(v->first, now, sizeof(v->first));
			memcpy(v->first_at, rd->at, sizeof(v->first_at));
		} else if (strcmp(now, v->first) != 0 && !v->other_at[0]) {
			memcpy(v->other, now, sizeof(v->other));
			memcpy(v->other_at, rd->at, sizeof(v->other_at));
		}
	}
	free(rd);
	if (--v->pending == 0)
		finish(v);
}

static void on_recheck(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	struct libversion *v = w->data;
	if (v->pending == 0)
		libversion_probe(v, true, NULL, NULL);
}

void libversion_init(struct libversion *v, struct ev_loop *loop, double every,
                     libversion_targets_fn targets, void *targets_data)
{
	memset(v, 0, sizeof(*v));
	v->loop = loop;
	v->targets = targets;
	v->targets_data = targets_data;
	snprintf(v->said, sizeof(v->said), "(nothing yet)"); /* the first round is always said */
	ev_timer_init(&v->recheck, on_recheck, every, every);
	v->recheck.data = v;
}

/* Sends the round's reads; false when none could be sent. */
static bool send_reads(struct libversion *v)
{
	struct rconn *conns[LIBVERSION_NODES];
	const char *names[LIBVERSION_NODES];
	int n = v->targets(v->targets_data, conns, names, LIBVERSION_NODES);
	const char *argv[3] = { "FCALL", "ff_version", "0" };
	v->pending = 1; /* held until every read is sent: no early finish */
	for (int i = 0; i < n; i++) {
		struct version_read *rd = malloc(sizeof(*rd));
		char err[160];
		if (!rd)
			break;
		rd->v = v;
		snprintf(rd->at, sizeof(rd->at), "%s", names[i]);
		v->pending++;
		if (!rconn_send(conns[i], 3, argv, NULL, on_version, rd, err, sizeof(err))) {
			log_warn("reading the function library's version on %s postponed: %s",
			         names[i], err);
			v->failed = true;
			v->pending--;
			free(rd);
		}
	}
	return n > 0;
}

void libversion_probe(struct libversion *v, bool periodic, void (*done)(void *data, bool read),
                      void *data)
{
	v->done = done;
	v->data = data;
	if (periodic && !ev_is_active(&v->recheck))
		ev_timer_start(v->loop, &v->recheck);
	if (v->pending > 0)
		return; /* the round in flight answers this caller too */
	v->failed = false;
	v->answered = 0;
	v->first[0] = v->first_at[0] = v->other[0] = v->other_at[0] = v->error[0] = '\0';
	if (!send_reads(v))
		v->failed = true;
	if (--v->pending == 0)
		finish(v);
}

void libversion_stop(struct libversion *v)
{
	ev_timer_stop(v->loop, &v->recheck);
}
