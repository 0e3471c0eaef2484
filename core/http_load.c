/* http_load: finds the HTTP server (linked in, or the daemon's module
 * loaded when --http is set; see http.h). */
#include "http.h"
#include "module.h"

/* Defined where http.c is linked in; NULL in the daemon, which loads it. */
extern const struct http_api http_mhd __attribute__((weak));

const struct http_api *http_load(const char *module_path, char *err, size_t errlen)
{
	const struct http_api *linked = &http_mhd; /* NULL unless linked in (weak) */
	return linked ? linked : module_symbol(module_path, "http_mhd", "--http", err, errlen);
}
