/* The hard watchdog's decisions on an injected clock, and the counting
 * allocator's limit (issue 9). */
#include <lauxlib.h>
#include <lualib.h>

#include "memlimit.h"
#include "unit.h"
#include "watchdog.h"

static double fake_now;

static double fake_clock(void *unused)
{
	(void)unused;
	return fake_now;
}

static const struct clock fake = { fake_clock, NULL };

static void watchdog_deadlines(void)
{
	fake_now = 100;
	watchdog_configure(&fake, 5, 1.5, 1);
	CHECK(watchdog_poll(1000) == WATCHDOG_OK); /* nothing armed */
	watchdog_enter("lease_expiry", 7, "scan()");
	CHECK(watchdog_poll(106.9) == WATCHDOG_OK); /* within 5 + 2 s */
	CHECK(watchdog_poll(107.1) == WATCHDOG_STUCK);
	/* a nested entry gives a fresh allowance; leaving it refreshes the outer one */
	fake_now = 104;
	watchdog_enter("lease_expiry", 7, "a Redis reply");
	CHECK(watchdog_poll(110.9) == WATCHDOG_OK);
	fake_now = 106;
	watchdog_leave();
	CHECK(watchdog_poll(112.9) == WATCHDOG_OK);
	CHECK(watchdog_poll(113.1) == WATCHDOG_STUCK);
	watchdog_leave();
	CHECK(watchdog_poll(1e9) == WATCHDOG_OK); /* disarmed once the loop is back */
	/* a stop signal: the process ends within shutdown_timeout + 1 s */
	watchdog_note_stop();
	CHECK(watchdog_poll(200) == WATCHDOG_OK); /* noticed here (within a tick) */
	CHECK(watchdog_poll(202.2) == WATCHDOG_OK);
	/* 1.5 + 1 s, less a tick to notice and a tick to act: never later */
	CHECK(watchdog_poll(202.31) == WATCHDOG_SHUTDOWN);
}

static void memory_limit(void)
{
	struct memlimit m;
	lua_State *L = memlimit_newstate(&m, (size_t)4 << 20);
	CHECK(L != NULL); /* LuaJIT x64 with GC64 takes a custom allocator */
	luaL_openlibs(L);
	CHECK(m.used > 0 && m.used < m.limit);
	/* outside protection an allocation past the limit succeeds, and is noted */
	size_t before = m.used;
	lua_newuserdata(L, (size_t)5 << 20);
	CHECK(m.exceeded && m.used > m.limit);
	lua_pop(L, 1);
	lua_gc(L, LUA_GCCOLLECT, 0);
	CHECK(m.used < before + 4096);
	/* inside protection it fails: Lua raises "not enough memory" */
	m.exceeded = false;
	m.peak = m.used;
	memlimit_protect(&m);
	int rc = luaL_dostring(L, "local t = {} for i = 1, 1e7 do t[i] = ('x'):rep(100) .. i end");
	memlimit_unprotect(&m);
	CHECK(rc != 0 && m.exceeded);
	CHECK(m.peak <= m.limit);
	lua_close(L);
	CHECK(m.used == 0); /* every byte given back */
}

int main(void)
{
	watchdog_deadlines();
	memory_limit();
	UNIT_DONE();
}
