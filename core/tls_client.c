/* tls_client: finds the OpenSSL side (linked in, or the daemon's module
 * loaded with dlopen) and builds the client context (see tls.h). */
#include <stdio.h>
#include <stdlib.h>

#include "module.h"
#include "tls.h"

/* Defined where tls.c is linked in; NULL in the daemon, which loads it. */
extern const struct tls_api tls_openssl __attribute__((weak));

static const struct tls_api *find_api(const char *module_path, char *err, size_t errlen)
{
	const struct tls_api *linked = &tls_openssl; /* NULL unless linked in (weak) */
	return linked ? linked : module_symbol(module_path, "tls_openssl", "TLS", err, errlen);
}

struct tls_client *tls_client_new(const char *module_path, const struct tls_opts *o, char *err,
                                  size_t errlen)
{
	const struct tls_api *api = find_api(module_path, err, errlen);
	if (!api)
		return NULL;
	struct tls_client *c = calloc(1, sizeof(*c));
	if (!c) {
		snprintf(err, errlen, "TLS: out of memory");
		return NULL;
	}
	c->api = api;
	c->ctx = api->context_new(o, err, errlen);
	if (!c->ctx) {
		free(c);
		return NULL;
	}
	return c;
}

void tls_client_free(struct tls_client *c)
{
	if (!c)
		return;
	c->api->context_free(c->ctx);
	free(c);
}
