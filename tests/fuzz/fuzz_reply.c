/* libFuzzer target: RESP bytes -> hiredis reader -> reply_push (core/lua_reply.c)
 * inside lua_cpcall, as the host converts replies. Oracle: the Lua value is a
 * faithful copy of the reply (types, integers, string bytes, array order,
 * nested errors as {err = msg}), checked with raw access. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>
#include <lauxlib.h>
#include <lualib.h>

#include "lua_reply.h"

static lua_State *L;

static int push(lua_State *Ls)
{
	reply_push(Ls, lua_touserdata(Ls, 1));
	return 1;
}

static int convert(lua_State *Ls)
{
	/* lua_cpcall cannot return values: keep the result in the registry */
	push(Ls);
	lua_setfield(Ls, LUA_REGISTRYINDEX, "fuzz_result");
	return 0;
}

static void check(lua_State *Ls, int idx, const redisReply *r)
{
	switch (r->type) {
	case REDIS_REPLY_INTEGER:
		if (r->integer >= -REPLY_MAX_EXACT_INT && r->integer <= REPLY_MAX_EXACT_INT) {
			if (lua_type(Ls, idx) != LUA_TNUMBER ||
			    (long long)lua_tonumber(Ls, idx) != r->integer)
				abort();
		} else {
			char buf[32];
			snprintf(buf, sizeof(buf), "%lld", r->integer);
			if (lua_type(Ls, idx) != LUA_TSTRING ||
			    strcmp(lua_tostring(Ls, idx), buf) != 0)
				abort();
		}
		break;
	case REDIS_REPLY_STRING:
	case REDIS_REPLY_STATUS: {
		size_t n;
		if (lua_type(Ls, idx) != LUA_TSTRING)
			abort();
		const char *s = lua_tolstring(Ls, idx, &n);
		if (n != r->len || memcmp(s, r->str, n) != 0)
			abort();
		break;
	}
	case REDIS_REPLY_NIL:
		if (lua_type(Ls, idx) != LUA_TBOOLEAN || lua_toboolean(Ls, idx))
			abort();
		break;
	case REDIS_REPLY_ERROR: {
		if (lua_type(Ls, idx) != LUA_TTABLE)
			abort();
		lua_pushstring(Ls, "err");
		lua_rawget(Ls, idx);
		size_t n;
		const char *s = lua_tolstring(Ls, -1, &n);
		if (!s || n != r->len || memcmp(s, r->str, n) != 0)
			abort();
		lua_pop(Ls, 1);
		break;
	}
	case REDIS_REPLY_ARRAY:
		if (lua_type(Ls, idx) != LUA_TTABLE || lua_objlen(Ls, idx) != r->elements)
			abort();
		for (size_t i = 0; i < r->elements; i++) {
			lua_rawgeti(Ls, idx, (int)i + 1);
			check(Ls, lua_gettop(Ls), r->element[i]);
			lua_pop(Ls, 1);
		}
		break;
	default: abort();
	}
}

/* hiredis 0.14 allocates a multi-bulk's element array up front: skip inputs
 * announcing huge counts, which only test hiredis's allocator. */
static int sane(const uint8_t *d, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (d[i] != '*' && d[i] != '$')
			continue;
		unsigned long long v = 0;
		for (size_t j = i + 1; j < n && j < i + 21 && d[j] >= '0' && d[j] <= '9'; j++) {
			v = v * 10 + (d[j] - '0');
			if (v > 100000)
				return 0;
		}
	}
	return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!sane(data, size))
		return 0;
	if (!L) {
		L = luaL_newstate();
		luaL_openlibs(L);
	}
	redisReader *rd = redisReaderCreate();
	if (!rd)
		return 0;
	/* feed in two pieces to exercise partial reads */
	size_t half = size / 2;
	redisReaderFeed(rd, (const char *)data, half);
	void *reply = NULL;
	int rounds = 0;
	for (int fed_all = 0; rounds < 1000; rounds++) {
		if (redisReaderGetReply(rd, &reply) != REDIS_OK)
			break;
		if (!reply) {
			if (fed_all)
				break;
			redisReaderFeed(rd, (const char *)data + half, size - half);
			fed_all = 1;
			continue;
		}
		if (lua_cpcall(L, convert, reply) == 0) {
			lua_getfield(L, LUA_REGISTRYINDEX, "fuzz_result");
			check(L, lua_gettop(L), reply);
		}
		lua_settop(L, 0);
		freeReplyObject(reply);
		reply = NULL;
	}
	redisReaderFree(rd);
	lua_pushnil(L);
	lua_setfield(L, LUA_REGISTRYINDEX, "fuzz_result");
	lua_gc(L, LUA_GCSTEP, 10);
	return 0;
}
