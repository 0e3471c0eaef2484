/* runaway: the soft guard against Lua code that never yields. States that
 * run untrusted code (scanner scripts, the config file) run with the JIT off
 * so that a count hook fires; once the armed deadline has passed, the hook
 * yields the running coroutine, which its owner then drops.
 *
 * The hook cannot fire inside a C function (string.find on a pathological
 * pattern) or inside a __gc finalizer (LuaJIT disables hooks there): the
 * hard stop for those is the watchdog (watchdog.h). */
#ifndef SCANHOST_RUNAWAY_H
#define SCANHOST_RUNAWAY_H

#include <stdbool.h>

#include <lua.h>

/* Turns the JIT off in L's whole VM and drops every trace already compiled:
 * turning it off alone keeps existing traces running. */
void jit_off(lua_State *L);
/* JIT off plus the count hook, for a state that runs untrusted code. */
void runaway_install(lua_State *L);
/* One Lua execution runs at a time (a single-threaded loop), so one
 * deadline serves every state. seconds <= 0 arms nothing. */
void runaway_arm(double seconds);
void runaway_disarm(void);
/* True when the last armed execution hit its deadline. */
bool runaway_check(void);
double runaway_seconds(void);

#endif
