/* module: dlopen of the daemon's optional parts (see module.h). */
#include "module.h"

#include <dlfcn.h>
#include <stdio.h>

const void *module_symbol(const char *path, const char *symbol, const char *what, char *err,
                          size_t errlen)
{
	if (!path || !path[0]) {
		snprintf(err, errlen, "%s: no module to load the functions from", what);
		return NULL;
	}
	/* never closed: OpenSSL cannot be unloaded (NODELETE), and a module's
	 * connections and servers live as long as the process */
	void *module = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	const void *sym = module ? dlsym(module, symbol) : NULL;
	if (!sym)
		snprintf(err, errlen, "%s: cannot load %s (%s)", what, path, dlerror());
	return sym;
}
