/* lua_reply: conversion with raw table access only (no metamethod can run
 * while a reply is converted) and lua_checkstack before every nested push. */
#include "lua_reply.h"

#include <stdio.h>

#include <lauxlib.h>

static void push_integer(lua_State *L, long long v)
{
	if (v >= -REPLY_MAX_EXACT_INT && v <= REPLY_MAX_EXACT_INT) {
		lua_pushnumber(L, (lua_Number)v);
		return;
	}
	char buf[32];
	int n = snprintf(buf, sizeof(buf), "%lld", v);
	lua_pushlstring(L, buf, (size_t)n);
}

void reply_push(lua_State *L, const redisReply *r)
{
	if (!lua_checkstack(L, 4))
		luaL_error(L, "reply nested too deeply");
	switch (r->type) {
	case REDIS_REPLY_INTEGER: push_integer(L, r->integer); break;
	case REDIS_REPLY_STRING:
	case REDIS_REPLY_STATUS: lua_pushlstring(L, r->str, r->len); break;
	case REDIS_REPLY_ARRAY:
		lua_createtable(L, (int)r->elements, 0);
		for (size_t i = 0; i < r->elements; i++) {
			reply_push(L, r->element[i]);
			lua_rawseti(L, -2, (int)i + 1);
		}
		break;
	case REDIS_REPLY_ERROR:
		lua_createtable(L, 0, 1);
		lua_pushlstring(L, r->str, r->len);
		lua_setfield(L, -2, "err"); /* fresh table without metatable: raw */
		break;
	case REDIS_REPLY_NIL:
	default: lua_pushboolean(L, 0); break;
	}
}
