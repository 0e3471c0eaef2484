/* topology: CLUSTER SLOTS, redirects and INFO cluster (see topology.h). */
#include "topology.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "slot.h"

static bool fail(char *err, size_t errlen, const char *why)
{
	snprintf(err, errlen, "CLUSTER SLOTS: %s", why);
	return false;
}

static bool valid_slot(const redisReply *r)
{
	return r->type == REDIS_REPLY_INTEGER && r->integer >= 0 && r->integer < SLOT_COUNT;
}

/* One entry: [first, last, [host, port, id, ...], replicas...]. */
static bool parse_range(const redisReply *e, const char *asked_host, struct topo_range *out,
                        char *err, size_t errlen)
{
	if (e->type != REDIS_REPLY_ARRAY || e->elements < 3)
		return fail(err, errlen, "an entry is not [first, last, primary, ...]");
	if (!valid_slot(e->element[0]) || !valid_slot(e->element[1]) ||
	    e->element[0]->integer > e->element[1]->integer)
		return fail(err, errlen, "a slot range is not within 0..16383");
	const redisReply *node = e->element[2];
	if (node->type != REDIS_REPLY_ARRAY || node->elements < 2 ||
	    node->element[0]->type != REDIS_REPLY_STRING ||
	    node->element[1]->type != REDIS_REPLY_INTEGER || node->element[1]->integer < 1 ||
	    node->element[1]->integer > 65535)
		return fail(err, errlen, "a primary is not [host, port, ...]");
	const char *host = node->element[0]->str;
	if (node->element[0]->len >= TOPOLOGY_HOST_MAX)
		return fail(err, errlen, "a host name is too long");
	if (!host[0] || strcmp(host, "?") == 0)
		host = asked_host; /* "the endpoint we asked" */
	out->first = (int)e->element[0]->integer;
	out->last = (int)e->element[1]->integer;
	snprintf(out->host, sizeof(out->host), "%s", host);
	out->port = (int)node->element[1]->integer;
	return true;
}

bool topology_parse_slots(const redisReply *r, const char *asked_host, struct topology *t,
                          char *err, size_t errlen)
{
	t->ranges = NULL;
	t->n = 0;
	if (r->type != REDIS_REPLY_ARRAY)
		return fail(err, errlen, "the reply is not an array");
	if (r->elements == 0)
		return true;
	t->ranges = calloc(r->elements, sizeof(*t->ranges));
	if (!t->ranges)
		return fail(err, errlen, "out of memory");
	for (size_t i = 0; i < r->elements; i++) {
		if (!parse_range(r->element[i], asked_host, &t->ranges[i], err, errlen)) {
			topology_free(t);
			return false;
		}
		t->n++;
	}
	return true;
}

void topology_free(struct topology *t)
{
	free(t->ranges);
	t->ranges = NULL;
	t->n = 0;
}

int topology_covered(const struct topology *t)
{
	unsigned char seen[SLOT_COUNT] = { 0 };
	int n = 0;
	for (int i = 0; i < t->n; i++) {
		for (int s = t->ranges[i].first; s <= t->ranges[i].last; s++) {
			n += !seen[s];
			seen[s] = 1;
		}
	}
	return n;
}

enum redirect_kind topology_parse_redirect(const char *msg, size_t len, struct redirect *out)
{
	char buf[TOPOLOGY_HOST_MAX + 32];
	out->kind = REDIRECT_NONE;
	if (len >= sizeof(buf))
		return REDIRECT_NONE;
	memcpy(buf, msg, len);
	buf[len] = '\0';
	enum redirect_kind kind = strncmp(buf, "MOVED ", 6) == 0 ? REDIRECT_MOVED
	                          : strncmp(buf, "ASK ", 4) == 0 ? REDIRECT_ASK
	                                                         : REDIRECT_NONE;
	if (kind == REDIRECT_NONE)
		return REDIRECT_NONE;
	char *p = buf + (kind == REDIRECT_MOVED ? 6 : 4);
	char *end;
	long slot = strtol(p, &end, 10);
	if (end == p || *end != ' ' || slot < 0 || slot >= SLOT_COUNT)
		return REDIRECT_NONE;
	char *addr = end + 1;
	char *colon = strrchr(addr, ':');
	if (!colon || colon == addr)
		return REDIRECT_NONE;
	long port = strtol(colon + 1, &end, 10);
	if (*end || end == colon + 1 || port < 1 || port > 65535)
		return REDIRECT_NONE;
	*colon = '\0';
	out->slot = (int)slot;
	out->port = (int)port;
	snprintf(out->host, sizeof(out->host), "%s", addr);
	out->kind = kind;
	return kind;
}

bool topology_cluster_enabled(const char *info)
{
	const char *p = strstr(info, "cluster_enabled:");
	return p && p[16] == '1';
}
