/* control: the routes of the operations endpoint (see control.h). */
#define _DEFAULT_SOURCE
#include "control.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "hoststate.h"
#include "http.h"
#include "log.h"
#include "metrics.h"
#include "pause.h"
#include "prom.h"
#include "ready.h"
#include "redis.h"
#include "registry.h"
#include "reload.h"
#include "router.h"
#include "status.h"

#define TOKEN_MAX 512

struct control {
	struct host *host;
	const struct http_api *api;
	struct http_server *server;
	char token[TOKEN_MAX]; /* empty: the control endpoints answer 403 */
	size_t token_len;
};

static const char TEXT[] = "text/plain; charset=utf-8";
static const char JSON[] = "application/json";

static void reply_text(const struct http_api *api, struct http_exchange *x, unsigned status,
                       const char *text)
{
	api->reply(x, status, TEXT, text, strlen(text));
}

static void reply_buf(const struct http_api *api, struct http_exchange *x, unsigned status,
                      const char *type, struct sbuf *b)
{
	if (b->failed)
		reply_text(api, x, 500, "out of memory\n");
	else
		api->reply(x, status, type, b->p ? b->p : "", b->len);
	sbuf_free(b);
}

bool control_token_equal(const char *given, size_t given_len, const char *want, size_t want_len)
{
	volatile unsigned char diff = given_len != want_len;
	for (size_t i = 0; i < want_len; i++) {
		unsigned char g = i < given_len ? (unsigned char)given[i] : 0;
		diff |= g ^ (unsigned char)want[i];
	}
	return diff == 0 && want_len > 0;
}

/* 0 when the request may act, else the refusal's status. */
static unsigned authorize(const struct control *c, const char *header)
{
	if (c->token_len == 0)
		return 403;
	if (!header || strncasecmp(header, "Bearer ", 7) != 0)
		return 401;
	const char *t = header + 7;
	return control_token_equal(t, strlen(t), c->token, c->token_len) ? 0 : 401;
}

/* ---- reads ------------------------------------------------------------------- */

static void readyz(struct control *c, struct http_exchange *x)
{
	struct host *h = c->host;
	if (host_is_ready(h))
		reply_text(c->api, x, 200, "ready\n");
	else if (!h->env.router || !router_ready(h->env.router))
		reply_text(c->api, x, 503, "not ready: redis is not connected\n");
	else
		reply_text(c->api, x, 503, "not ready: the function library is not usable\n");
}

static void status(struct control *c, struct http_exchange *x)
{
	struct sbuf b = { 0 };
	status_render(c->host, &b);
	reply_buf(c->api, x, 200, JSON, &b);
}

static void metrics(struct control *c, struct http_exchange *x)
{
	struct sbuf b = { 0 };
	metrics_render(c->host, &b);
	reply_buf(c->api, x, 200, "text/plain; version=0.0.4; charset=utf-8", &b);
}

/* ---- control ------------------------------------------------------------------- */

/* A pause or resume waiting for Redis: holds what the answer needs, not the
 * control (which may be gone by then: the reply always comes, see redis.h). */
struct pause_req {
	const struct http_api *api;
	struct http_exchange *x;
	struct scanner *s;
	bool paused;
};

static void on_pause_written(void *priv, redisReply *reply, const char *err)
{
	struct pause_req *q = priv;
	if (!reply || reply->type == REDIS_REPLY_ERROR) {
		char msg[256];
		snprintf(msg, sizeof(msg), "the pause key was not written: %s\n",
		         reply ? reply->str : err);
		reply_text(q->api, q->x, 503, msg);
		free(q);
		return;
	}
	pause_apply(q->s, q->paused);
	struct sbuf b = { 0 };
	sbuf_add(&b, "{\"scanner\":", 11);
	sbuf_json_str(&b, q->s->name);
	sbuf_printf(&b, ",\"paused\":%s}\n", q->paused ? "true" : "false");
	reply_buf(q->api, q->x, 200, JSON, &b);
	free(q);
}

static void set_pause(struct control *c, struct http_exchange *x, struct scanner *s, bool paused)
{
	struct pause_req *q = malloc(sizeof(*q));
	if (!q) {
		reply_text(c->api, x, 500, "out of memory\n");
		return;
	}
	*q = (struct pause_req){ c->api, x, s, paused };
	char err[128];
	if (!pause_write(c->host, s, paused, on_pause_written, q, err, sizeof(err))) {
		char msg[192];
		snprintf(msg, sizeof(msg), "cannot write the pause key: %s\n", err);
		reply_text(c->api, x, 503, msg);
		free(q);
	}
}

static void run_now(struct control *c, struct http_exchange *x, struct scanner *s)
{
	bool queued;
	if (!host_run_now(s, &queued)) {
		reply_text(c->api, x, 409,
		           s->stats.paused ? "the scanner is paused\n"
		                           : "the scanner is not running (disabled, stopped or "
		                             "waiting for redis)\n");
		return;
	}
	struct sbuf b = { 0 };
	sbuf_add(&b, "{\"scanner\":", 11);
	sbuf_json_str(&b, s->name);
	sbuf_printf(&b, ",\"run\":\"%s\"}\n", queued ? "after the running cycle" : "now");
	reply_buf(c->api, x, 202, JSON, &b);
}

static void reload(struct control *c, struct http_exchange *x)
{
	struct host *h = c->host;
	if (h->env.stopping) {
		reply_text(c->api, x, 409, "stopping\n");
		return;
	}
	log_info("POST /reload: reloading the config and every scanner");
	bool ok = host_reload_config(h, "POST /reload");
	reply_text(c->api, x, ok ? 200 : 409,
	           ok ? "reloaded\n" : "reload refused; the running config stays (see the log)\n");
}

/* /scanners/NAME/ACTION */
static void scanner_action(struct control *c, struct http_exchange *x, const char *rest)
{
	const char *slash = strchr(rest, '/');
	char name[SCANNER_NAME_MAX + 1];
	size_t n = slash ? (size_t)(slash - rest) : 0;
	struct scanner *s = NULL;
	if (slash && n > 0 && n < sizeof(name)) {
		memcpy(name, rest, n);
		name[n] = '\0';
		s = host_find(c->host, name);
	}
	if (!s || !host_latest(s)) {
		reply_text(c->api, x, 404, "no such scanner\n");
		return;
	}
	const char *action = slash + 1;
	if (strcmp(action, "pause") == 0 || strcmp(action, "resume") == 0)
		set_pause(c, x, s, action[0] == 'p');
	else if (strcmp(action, "run") == 0)
		run_now(c, x, s);
	else
		reply_text(c->api, x, 404, "unknown action (pause, resume, run)\n");
}

static void post(struct control *c, const struct http_request *r)
{
	static const char no_token[] = "control endpoints are off: no token is configured "
	                               "(SCANHOST_CONTROL_TOKEN or control_token_file)\n";
	bool known = strcmp(r->path, "/reload") == 0 || strncmp(r->path, "/scanners/", 10) == 0;
	if (!known) {
		reply_text(c->api, r->x, 404, "not found\n");
		return;
	}
	unsigned refused = authorize(c, r->authorization);
	if (refused) {
		reply_text(c->api, r->x, refused,
		           refused == 403 ? no_token : "missing or wrong bearer token\n");
		return;
	}
	if (strcmp(r->path, "/reload") == 0)
		reload(c, r->x);
	else
		scanner_action(c, r->x, r->path + 10);
}

static void on_request(void *data, const struct http_request *r)
{
	struct control *c = data;
	static const struct {
		const char *path;
		void (*fn)(struct control *c, struct http_exchange *x);
	} reads[] = { { "/metrics", metrics }, { "/readyz", readyz }, { "/status", status } };
	if (strcmp(r->method, "POST") == 0) {
		post(c, r);
		return;
	}
	if (strcmp(r->method, "GET") != 0 && strcmp(r->method, "HEAD") != 0) {
		reply_text(c->api, r->x, 405, "method not allowed\n");
		return;
	}
	if (strcmp(r->path, "/healthz") == 0) {
		reply_text(c->api, r->x, 200, "ok\n");
		return;
	}
	for (size_t i = 0; i < sizeof(reads) / sizeof(reads[0]); i++) {
		if (strcmp(r->path, reads[i].path) == 0) {
			reads[i].fn(c, r->x);
			return;
		}
	}
	reply_text(c->api, r->x, 404, "not found\n");
}

/* ---- start ------------------------------------------------------------------ */

/* SCANHOST_CONTROL_TOKEN, else the file's first line (trailing blanks cut). */
static bool load_token(struct control *c, const struct config *cfg, char *err, size_t errlen)
{
	const char *env = getenv("SCANHOST_CONTROL_TOKEN");
	if (env && *env) {
		snprintf(c->token, sizeof(c->token), "%s", env);
	} else if (cfg->control_token_file[0]) {
		FILE *f = fopen(cfg->control_token_file, "r");
		if (!f || !fgets(c->token, sizeof(c->token), f)) {
			snprintf(err, errlen, "control_token_file: cannot read %s",
			         cfg->control_token_file);
			if (f)
				fclose(f);
			return false;
		}
		fclose(f);
	}
	c->token_len = strlen(c->token);
	while (c->token_len > 0 && strchr(" \t\r\n", c->token[c->token_len - 1]))
		c->token[--c->token_len] = '\0';
	if (cfg->control_token_file[0] && !(env && *env) && c->token_len == 0) {
		snprintf(err, errlen, "control_token_file: %s holds no token",
		         cfg->control_token_file);
		return false;
	}
	return true;
}

bool control_start(struct host *h, char *err, size_t errlen)
{
	const struct config *cfg = h->cfg;
	if (!cfg->http[0])
		return true;
	struct control *c = calloc(1, sizeof(*c));
	if (!c) {
		snprintf(err, errlen, "--http: out of memory");
		return false;
	}
	c->host = h;
	char why[512];
	if (!load_token(c, cfg, err, errlen)) {
		free(c);
		return false;
	}
	c->api = http_load(cfg->http_module, why, sizeof(why));
	c->server = c->api ? c->api->start(h->loop, (const struct sockaddr *)&cfg->http_addr,
	                                   cfg->http_addrlen, on_request, c, why, sizeof(why))
	                   : NULL;
	if (!c->server) {
		snprintf(err, errlen, "http %s: %s", cfg->http, why);
		free(c);
		return false;
	}
	h->control = c;
	const char *colon = strrchr(cfg->http, ':');
	log_info("http: listening on %.*s:%u (metrics, health, status; control endpoints %s)",
	         (int)(colon - cfg->http), cfg->http, (unsigned)c->api->port(c->server),
	         c->token_len ? "need the bearer token" : "off: no token configured");
	return true;
}

void control_free(struct host *h)
{
	struct control *c = h->control;
	if (!c)
		return;
	c->api->stop(c->server);
	memset(c->token, 0, sizeof(c->token));
	free(c);
	h->control = NULL;
}

void control_print_plan(const struct config *c, FILE *out)
{
	const char *env = getenv("SCANHOST_CONTROL_TOKEN");
	fprintf(out, "http=%s\n", c->http[0] ? c->http : "off");
	if (env && *env)
		fprintf(out, "control_token=from SCANHOST_CONTROL_TOKEN\n");
	else if (c->control_token_file[0])
		fprintf(out, "control_token=from %s\n", c->control_token_file);
	else
		fprintf(out, "control_token=none (control endpoints answer 403)\n");
}
