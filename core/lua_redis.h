/* lua_redis: ctx.redis — call, fcall and pipeline from a script's task. */
#ifndef SCANHOST_LUA_REDIS_H
#define SCANHOST_LUA_REDIS_H

#include <lua.h>

#include "script.h"

/* Registers the ctx.redis class in a fresh state. */
void lredis_open(lua_State *L);
/* Pushes s's ctx.redis handle. */
void lredis_push(lua_State *L, struct script *s);

#endif
