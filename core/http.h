/* http: the HTTP server of the operations endpoint (--http): libmicrohttpd
 * driven by the libev loop through MHD's epoll fd (MHD_USE_EPOLL, no thread
 * of its own), so every handler runs on the loop thread and reads host
 * state without locks.
 *
 * libmicrohttpd brings GnuTLS and its dependencies (~2 MB resident): the
 * daemon loads this side as a module (bin/scanhost-http.so) only when --http
 * is set, as it does for TLS; the tests link http.c in. */
#ifndef SCANHOST_HTTP_H
#define SCANHOST_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <ev.h>

struct http_server;
/* One request waiting for its answer. Valid until reply() is called on it,
 * which must happen exactly once (even after the server stopped). */
struct http_exchange;

struct http_request {
	const char *method;
	const char *path;
	const char *authorization; /* the Authorization header, or NULL */
	struct http_exchange *x;
};

/* Answers now (api->reply before returning) or later, from the loop: the
 * connection is suspended in between. */
typedef void (*http_handler_fn)(void *data, const struct http_request *req);

struct http_api {
	struct http_server *(*start)(struct ev_loop *loop, const struct sockaddr *addr,
	                             socklen_t addrlen, http_handler_fn fn, void *data, char *err,
	                             size_t errlen);
	/* the port actually bound (port 0 asks the kernel for one) */
	uint16_t (*port)(const struct http_server *s);
	/* body is copied; type is a Content-Type */
	void (*reply)(struct http_exchange *x, unsigned status, const char *type, const char *body,
	              size_t len);
	/* answers every suspended request 503 and closes every connection */
	void (*stop)(struct http_server *s);
};

/* Defined in http.c (the module, or linked into the tests). */
extern const struct http_api http_mhd;

/* The API: linked in, or loaded from module_path (http_load.c). */
const struct http_api *http_load(const char *module_path, char *err, size_t errlen);

#endif
