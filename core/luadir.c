/* luadir: scandir() of the Lua files of a directory, in name order. */
#define _DEFAULT_SOURCE
#include "luadir.h"

#include <stdlib.h>
#include <string.h>

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static int lua_file(const struct dirent *d)
{
	size_t n = strlen(d->d_name);
	return d->d_name[0] != '.' && n > 4 && strcmp(d->d_name + n - 4, ".lua") == 0;
}

int luadir_list(const char *dir, struct dirent ***names)
{
	return scandir(dir, names, lua_file, by_name);
}

void luadir_free(struct dirent **names, int n)
{
	for (int i = 0; i < n; i++)
		free(names[i]);
	free(names);
}
