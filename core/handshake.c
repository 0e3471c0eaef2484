/* handshake: the connection handshake's commands and verdicts (see handshake.h). */
#include "handshake.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

void handshake_plan(struct handshake *hs, const struct redis_url *u)
{
	hs->n = 0;
	if (u->password[0]) {
		struct handshake_cmd *c = &hs->cmd[hs->n++];
		*c = (struct handshake_cmd){ HANDSHAKE_AUTH, 2, { "AUTH", u->password } };
		if (u->username[0]) /* AUTH user password: an ACL user */
			*c = (struct handshake_cmd){ HANDSHAKE_AUTH,
				                     3,
				                     { "AUTH", u->username, u->password } };
	}
	if (u->db) {
		snprintf(hs->db, sizeof(hs->db), "%d", u->db);
		hs->cmd[hs->n++] =
		    (struct handshake_cmd){ HANDSHAKE_SELECT, 2, { "SELECT", hs->db } };
	}
	hs->cmd[hs->n++] = (struct handshake_cmd){ HANDSHAKE_PING, 1, { "PING" } };
}

static bool starts_with(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

enum handshake_verdict handshake_verdict(enum handshake_step step, const redisReply *r, int db,
                                         char *why, size_t n)
{
	why[0] = '\0';
	if (r->type != REDIS_REPLY_ERROR)
		return step == HANDSHAKE_PING ? HANDSHAKE_READY : HANDSHAKE_NEXT;
	const char *e = r->str;
	bool busy = starts_with(e, "LOADING") || starts_with(e, "BUSY");
	if (step == HANDSHAKE_PING && busy)
		return HANDSHAKE_READY; /* cycles and the library check wait for it */
	if (starts_with(e, "NOAUTH")) {
		snprintf(why, n, "the server requires a password (%s)", e);
		return HANDSHAKE_AUTH_FAILED;
	}
	switch (step) {
	case HANDSHAKE_AUTH: snprintf(why, n, "AUTH failed: %s", e); break;
	case HANDSHAKE_SELECT: snprintf(why, n, "SELECT %d failed: %s", db, e); break;
	case HANDSHAKE_PING: snprintf(why, n, "PING failed: %s", e); return HANDSHAKE_RETRY;
	}
	if (busy)
		return HANDSHAKE_RETRY;
	return step == HANDSHAKE_AUTH ? HANDSHAKE_AUTH_FAILED : HANDSHAKE_BAD_DB;
}
