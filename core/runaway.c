/* runaway: the count hook and its deadline (see runaway.h). */
#include "runaway.h"

#include <luajit.h>

#include "clock.h"

static double runaway_deadline; /* 0 = disarmed */
static double runaway_limit;
static bool runaway_fired;

/* Past the deadline the hook yields instead of raising: an error could be
 * swallowed by a pcall inside the loop, a yield cannot (LuaJIT resumes
 * across pcall). The owner then drops the coroutine. Inside a C call that
 * cannot yield (a table.sort comparator...) lua_yield raises instead. */
static void runaway_hook(lua_State *L, lua_Debug *ar)
{
	(void)ar;
	if (runaway_deadline > 0 && clock_now(&clock_system) > runaway_deadline) {
		runaway_fired = true;
		lua_yield(L, 0);
	}
}

bool runaway_check(void)
{
	return runaway_fired;
}

double runaway_seconds(void)
{
	return runaway_limit;
}

void jit_off(lua_State *L)
{
	luaJIT_setmode(L, 0, LUAJIT_MODE_ENGINE | LUAJIT_MODE_OFF);
	luaJIT_setmode(L, 0, LUAJIT_MODE_ENGINE | LUAJIT_MODE_FLUSH);
}

void runaway_install(lua_State *L)
{
	/* compiled traces never call count hooks: interpret untrusted code */
	jit_off(L);
	lua_sethook(L, runaway_hook, LUA_MASKCOUNT, 1000);
}

void runaway_arm(double seconds)
{
	runaway_fired = false;
	runaway_limit = seconds;
	runaway_deadline = seconds > 0 ? clock_now(&clock_system) + seconds : 0;
}

void runaway_disarm(void)
{
	runaway_deadline = 0;
}
