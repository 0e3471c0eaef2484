/* Reply -> Lua conversion on hand-built hiredis replies. */
#include <stdbool.h>
#include <stdlib.h>

#include <lauxlib.h>
#include <lualib.h>

#include "lua_reply.h"
#include "unit.h"

static redisReply *mk(int type)
{
	redisReply *r = calloc(1, sizeof(*r));
	r->type = type;
	return r;
}

static redisReply *mkstr(int type, const char *s)
{
	redisReply *r = mk(type);
	r->len = strlen(s);
	r->str = strdup(s);
	return r;
}

static redisReply *mkint(long long v)
{
	redisReply *r = mk(REDIS_REPLY_INTEGER);
	r->integer = v;
	return r;
}

static redisReply *mkarr(size_t n, redisReply **items)
{
	redisReply *r = mk(REDIS_REPLY_ARRAY);
	r->elements = n;
	r->element = calloc(n, sizeof(*items));
	for (size_t i = 0; i < n; i++)
		r->element[i] = items[i];
	return r;
}

static int push(lua_State *L)
{
	reply_push(L, lua_touserdata(L, 1));
	lua_setglobal(L, "r");
	return 0;
}

/* Converts reply, stores it as global r, then evaluates a Lua predicate. */
static bool holds(lua_State *L, redisReply *reply, const char *predicate)
{
	if (lua_cpcall(L, push, reply) != 0) {
		lua_pop(L, 1);
		return false;
	}
	char code[512];
	snprintf(code, sizeof(code), "return %s", predicate);
	if (luaL_dostring(L, code) != 0) {
		fprintf(stderr, "%s\n", lua_tostring(L, -1));
		lua_pop(L, 1);
		return false;
	}
	bool ok = lua_toboolean(L, -1);
	lua_pop(L, 1);
	freeReplyObject(reply);
	return ok;
}

int main(void)
{
	lua_State *L = luaL_newstate();
	luaL_openlibs(L);
	CHECK(holds(L, mkint(42), "r == 42"));
	CHECK(holds(L, mkint(-7), "r == -7"));
	CHECK(holds(L, mkint(9007199254740992LL), "r == 9007199254740992"));
	CHECK(holds(L, mkint(9223372036854775807LL), "r == '9223372036854775807'"));
	CHECK(holds(L, mkint(-9223372036854775807LL - 1), "r == '-9223372036854775808'"));
	CHECK(holds(L, mkstr(REDIS_REPLY_STRING, "bulk"), "r == 'bulk'"));
	CHECK(holds(L, mkstr(REDIS_REPLY_STATUS, "OK"), "r == 'OK'"));
	CHECK(holds(L, mk(REDIS_REPLY_NIL), "r == false"));
	CHECK(
	    holds(L, mkstr(REDIS_REPLY_ERROR, "ERR x"), "type(r) == 'table' and r.err == 'ERR x'"));
	redisReply *bin = mk(REDIS_REPLY_STRING);
	bin->str = malloc(3);
	memcpy(bin->str, "a\0b", 3);
	bin->len = 3;
	CHECK(holds(L, bin, "r == 'a\\0b' and #r == 3"));
	redisReply *inner[] = { mkint(1), mk(REDIS_REPLY_NIL), mkstr(REDIS_REPLY_ERROR, "E") };
	redisReply *outer[] = { mkstr(REDIS_REPLY_STRING, "x"), mkarr(3, inner), mkarr(0, NULL) };
	CHECK(holds(L, mkarr(3, outer),
	            "r[1] == 'x' and r[2][1] == 1 and r[2][2] == false and r[2][3].err == 'E' "
	            "and type(r[3]) == 'table' and next(r[3]) == nil and #r == 3"));
	/* deep nesting converts (hiredis itself caps the depth of real replies) */
	redisReply *deep = mkint(5);
	for (int i = 0; i < 200; i++)
		deep = mkarr(1, &deep);
	CHECK(holds(L, deep, "(function(t) for i = 1, 200 do t = t[1] end return t == 5 end)(r)"));
	lua_close(L);
	UNIT_DONE();
}
