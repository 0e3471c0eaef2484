/* lua_ctx: the ctx table handed to scan(ctx, partition), select() and
 * observe() (its fields and methods: lua_ctx.c). */
#ifndef SCANHOST_LUA_CTX_H
#define SCANHOST_LUA_CTX_H

#include <lua.h>

#include "script.h"

/* Registers the ctx classes in a fresh state. */
void ctx_open(lua_State *L);
/* Pushes a new ctx for s (kept in s->ctx_ref, reused by every run). */
void ctx_push_new(struct script *s);
/* Points s's ctx at a partition: ctx.partition, ctx.tag, ctx.library... */
void ctx_set_partition(struct script *s, int partition);
/* Clears the ctx handles of a borrowed state before its script is freed. */
void ctx_invalidate(struct script *s);

#endif
