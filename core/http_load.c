/* http_load: finds the HTTP server (linked in, or the daemon's module
 * loaded with dlopen when --http is set; see http.h). */
#include <dlfcn.h>
#include <stdio.h>

#include "http.h"

/* Defined where http.c is linked in; NULL in the daemon, which loads it. */
extern const struct http_api http_mhd __attribute__((weak));

const struct http_api *http_load(const char *module_path, char *err, size_t errlen)
{
	const struct http_api *linked = &http_mhd; /* NULL unless linked in (weak) */
	if (linked)
		return linked;
	if (!module_path || !module_path[0]) {
		snprintf(err, errlen, "no module to load the HTTP server from");
		return NULL;
	}
	/* never closed: the server lives as long as the process */
	void *module = dlopen(module_path, RTLD_NOW | RTLD_LOCAL);
	const struct http_api *api = module ? dlsym(module, "http_mhd") : NULL;
	if (!api)
		snprintf(err, errlen, "cannot load %s (%s)", module_path, dlerror());
	return api;
}
