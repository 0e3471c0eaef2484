/* transport: one byte stream to a server over a non-blocking TCP (IPv4 or
 * IPv6) or unix socket, optionally TLS, driven by libev. It connects (and
 * completes the TLS handshake), delivers every byte it reads, and writes
 * from an output buffer whenever the socket is writable: a caller may queue
 * more bytes at any time, while earlier ones are still going out and
 * replies are coming in.
 *
 * Callbacks may call transport_close() on their own transport. */
#ifndef SCANHOST_TRANSPORT_H
#define SCANHOST_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>

#include <ev.h>

struct tls_client;
struct transport;

enum transport_phase {
	TRANSPORT_CONNECTING,    /* TCP or unix connect in progress */
	TRANSPORT_TLS_HANDSHAKE, /* connected; TLS handshake in progress */
	TRANSPORT_OPEN,          /* bytes flow */
	TRANSPORT_FAILED,        /* failed() was called: only transport_close() remains */
};

enum transport_failure {
	TRANSPORT_LOST, /* refused, reset, closed, unreachable: may work again later */
	TRANSPORT_TLS,  /* TLS verification or protocol failure: a configuration problem */
};

struct transport_ops {
	void (*connected)(void *data);
	void (*received)(void *data, const char *buf, size_t n);
	void (*failed)(void *data, enum transport_failure kind, const char *why);
};

struct transport_target {
	bool is_unix;
	const char *host; /* host name or address, or the socket path */
	int port;
	const struct tls_client *tls; /* NULL: plain */
	const char *tls_name;         /* the name to verify (and send as SNI) */
	struct tls_resume *resume;    /* the connection's session to resume (may be NULL) */
};

/* Starts connecting. NULL with a message when it fails at once (a refused
 * or missing unix socket, an unknown host...): nothing will be called. */
struct transport *transport_open(struct ev_loop *loop, const struct transport_target *to,
                                 const struct transport_ops *ops, void *data, char *err,
                                 size_t errlen);
/* Queues bytes; they go out when the socket is writable. False when out of memory. */
bool transport_write(struct transport *t, const char *buf, size_t n);
/* Room for n more bytes at the end of the output (NULL when out of memory),
 * to be filled and then queued by transport_commit(t, n): a command is
 * encoded in place, without a buffer of its own. */
char *transport_reserve(struct transport *t, size_t n);
void transport_commit(struct transport *t, size_t n);
/* Closes (TLS: close_notify, without waiting) and frees. */
void transport_close(struct transport *t);
enum transport_phase transport_phase(const struct transport *t);
/* "TLSv1.3 TLS_AES_256_GCM_SHA384", or "" for a plain connection. */
void transport_describe(const struct transport *t, char *out, size_t n);

#endif
