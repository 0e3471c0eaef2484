/* module: the daemon's optional parts (TLS, --http) live in shared objects
 * it maps only when they are used; the tests link them in instead. */
#ifndef SCANHOST_MODULE_H
#define SCANHOST_MODULE_H

#include <stddef.h>

/* The address of symbol in the module at path (never unloaded), or NULL
 * with a message "what: cannot load PATH (why)" in err. */
const void *module_symbol(const char *path, const char *symbol, const char *what, char *err,
                          size_t errlen);

#endif
