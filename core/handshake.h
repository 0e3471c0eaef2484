/* handshake: the commands that make a fresh connection usable ([AUTH]
 * [SELECT] PING, sent together) and what each reply means: go on, ready, a
 * configuration problem (credentials, database index) or a failure that
 * may pass (the server is loading or busy). No I/O: redis.c sends them. */
#ifndef SCANHOST_HANDSHAKE_H
#define SCANHOST_HANDSHAKE_H

#include <stddef.h>

#include <hiredis/hiredis.h>

#include "url.h"

enum handshake_step { HANDSHAKE_AUTH, HANDSHAKE_SELECT, HANDSHAKE_PING };

enum handshake_verdict {
	HANDSHAKE_NEXT,        /* this step went through: wait for the next reply */
	HANDSHAKE_READY,       /* PING answered (also LOADING/BUSY: a Redis, not ready yet) */
	HANDSHAKE_RETRY,       /* may pass (LOADING/BUSY before PING, an odd PING error) */
	HANDSHAKE_AUTH_FAILED, /* NOAUTH, WRONGPASS, a password the server does not expect */
	HANDSHAKE_BAD_DB,      /* SELECT refused the database index */
};

struct handshake_cmd {
	enum handshake_step step;
	int argc;
	const char *argv[3];
};

struct handshake {
	struct handshake_cmd cmd[3];
	int n;
	char db[16]; /* SELECT's argument */
};

/* The commands for this URL, in order; argv points into u and hs. */
void handshake_plan(struct handshake *hs, const struct redis_url *u);
/* The meaning of one step's reply; why says it in words (never a password). */
enum handshake_verdict handshake_verdict(enum handshake_step step, const redisReply *r, int db,
                                         char *why, size_t n);

#endif
