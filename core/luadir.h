/* luadir: the Lua files of a directory (scanners, library sources), in name
 * order: the order in which they are loaded or concatenated. */
#ifndef SCANHOST_LUADIR_H
#define SCANHOST_LUADIR_H

#include <dirent.h>

/* The *.lua entries of dir (no hidden files), sorted by name (strcmp, not
 * the locale's collation: the order must not depend on the environment).
 * Returns their count, or -1 with errno set when dir cannot be read. Free
 * with luadir_free. */
int luadir_list(const char *dir, struct dirent ***names);
void luadir_free(struct dirent **names, int n);

#endif
