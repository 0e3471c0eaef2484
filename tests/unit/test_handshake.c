/* The connection handshake (core/handshake.c): which commands a URL needs,
 * and what every kind of reply means (issue 9: NOAUTH/WRONGPASS and a
 * refused database index are configuration errors; LOADING/BUSY are not;
 * a PING answered with LOADING is a Redis that is connected). */
#include <string.h>

#include "handshake.h"
#include "unit.h"

static redisReply reply(int type, const char *str)
{
	redisReply r;
	memset(&r, 0, sizeof(r));
	r.type = type;
	r.str = (char *)str;
	r.len = str ? strlen(str) : 0;
	return r;
}

static enum handshake_verdict verdict(enum handshake_step step, int type, const char *str,
                                      char *why)
{
	redisReply r = reply(type, str);
	return handshake_verdict(step, &r, 16, why, 300);
}

static void plans(void)
{
	struct handshake hs;
	struct redis_url u;
	memset(&u, 0, sizeof(u));
	handshake_plan(&hs, &u);
	CHECK(hs.n == 1 && hs.cmd[0].step == HANDSHAKE_PING && hs.cmd[0].argc == 1);
	strcpy(u.password, "pw");
	u.db = 3;
	handshake_plan(&hs, &u);
	CHECK(hs.n == 3);
	CHECK(hs.cmd[0].step == HANDSHAKE_AUTH && hs.cmd[0].argc == 2);
	CHECK_STR(hs.cmd[0].argv[1], "pw");
	CHECK(hs.cmd[1].step == HANDSHAKE_SELECT);
	CHECK_STR(hs.cmd[1].argv[1], "3");
	CHECK(hs.cmd[2].step == HANDSHAKE_PING);
	strcpy(u.username, "alice");
	u.db = 0;
	handshake_plan(&hs, &u);
	CHECK(hs.n == 2 && hs.cmd[0].argc == 3);
	CHECK_STR(hs.cmd[0].argv[1], "alice");
	CHECK_STR(hs.cmd[0].argv[2], "pw");
}

static void verdicts(void)
{
	char why[300];
	CHECK(verdict(HANDSHAKE_AUTH, REDIS_REPLY_STATUS, "OK", why) == HANDSHAKE_NEXT);
	CHECK(verdict(HANDSHAKE_SELECT, REDIS_REPLY_STATUS, "OK", why) == HANDSHAKE_NEXT);
	CHECK(verdict(HANDSHAKE_PING, REDIS_REPLY_STATUS, "PONG", why) == HANDSHAKE_READY);
	CHECK(verdict(HANDSHAKE_AUTH, REDIS_REPLY_ERROR,
	              "WRONGPASS invalid username-password pair or user is disabled.",
	              why) == HANDSHAKE_AUTH_FAILED);
	CHECK(strstr(why, "AUTH failed: WRONGPASS") == why);
	CHECK(verdict(HANDSHAKE_AUTH, REDIS_REPLY_ERROR,
	              "ERR AUTH <password> called without any password configured for the default "
	              "user. Are you sure your configuration is correct?",
	              why) == HANDSHAKE_AUTH_FAILED);
	CHECK(verdict(HANDSHAKE_PING, REDIS_REPLY_ERROR, "NOAUTH Authentication required.", why) ==
	      HANDSHAKE_AUTH_FAILED);
	CHECK_STR(why, "the server requires a password (NOAUTH Authentication required.)");
	CHECK(verdict(HANDSHAKE_SELECT, REDIS_REPLY_ERROR, "NOAUTH Authentication required.",
	              why) == HANDSHAKE_AUTH_FAILED);
	CHECK(verdict(HANDSHAKE_SELECT, REDIS_REPLY_ERROR, "ERR DB index is out of range", why) ==
	      HANDSHAKE_BAD_DB);
	CHECK_STR(why, "SELECT 16 failed: ERR DB index is out of range");
	/* a server that cannot serve yet is not a configuration problem */
	CHECK(verdict(HANDSHAKE_PING, REDIS_REPLY_ERROR,
	              "LOADING Redis is loading the dataset in memory", why) == HANDSHAKE_READY);
	CHECK(verdict(HANDSHAKE_PING, REDIS_REPLY_ERROR, "BUSY Redis is busy running a script.",
	              why) == HANDSHAKE_READY);
	CHECK(verdict(HANDSHAKE_SELECT, REDIS_REPLY_ERROR, "BUSY Redis is busy running a script.",
	              why) == HANDSHAKE_RETRY);
	CHECK(verdict(HANDSHAKE_AUTH, REDIS_REPLY_ERROR, "LOADING Redis is loading", why) ==
	      HANDSHAKE_RETRY);
	CHECK(verdict(HANDSHAKE_PING, REDIS_REPLY_ERROR, "ERR something odd", why) ==
	      HANDSHAKE_RETRY);
	CHECK_STR(why, "PING failed: ERR something odd");
}

int main(void)
{
	plans();
	verdicts();
	UNIT_DONE();
}
