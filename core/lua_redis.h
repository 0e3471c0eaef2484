/* lua_redis: ctx.redis — call, fcall and pipeline from a script's task. */
#ifndef SCANHOST_LUA_REDIS_H
#define SCANHOST_LUA_REDIS_H

#include <lua.h>

#include "script.h"

struct lreq;

/* Registers the ctx.redis class in a fresh state. */
void lredis_open(lua_State *L);
/* Pushes s's ctx.redis handle. */
void lredis_push(lua_State *L, struct script *s);
/* The task ended with this request in flight: its replies are drained
 * without touching any Lua state. */
void lredis_orphan(struct lreq *q);
/* The run ended: the requests it sent and never collected are dropped,
 * their replies drained without touching any Lua state. */
void lredis_drop_sent(struct script *s);

#endif
