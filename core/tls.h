/* tls: OpenSSL for the connection layer. The client context built from the
 * options (CA store, client certificate, verification on or off), one
 * session per connection (SNI, host name check), the non-blocking handshake,
 * read and write steps, and error texts that name the reason
 * ("certificate verify failed: ..."). Key material is never printed. */
#ifndef SCANHOST_TLS_H
#define SCANHOST_TLS_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

struct ssl_ctx_st;     /* SSL_CTX */
struct ssl_st;         /* SSL */
struct ssl_session_st; /* SSL_SESSION */

/* What a connection keeps from one TLS session for the next: the last
 * session (ticket) the server gave it, so that a reconnect to the same
 * server resumes it instead of a full handshake (the server may refuse:
 * another process, an expired ticket; then it is a full one). Forgotten
 * when a connection fails at the TLS level. */
struct tls_resume {
	struct ssl_session_st *session; /* NULL: none yet */
};

struct tls_opts {
	char cacert[PATH_MAX]; /* empty: the system CA store */
	char cert[PATH_MAX];   /* client certificate (chain), PEM; with key */
	char key[PATH_MAX];    /* its private key, PEM, unencrypted */
	char sni[256];         /* the name sent (SNI) and checked in the certificate;
	                        * empty: the URL's host */
	bool insecure;         /* no certificate verification at all */
	/* the option each value came from, for messages: "--cacert" or "tls.cacert" */
	const char *cacert_opt, *cert_opt, *key_opt, *sni_opt, *insecure_opt;
};

/* Outcome of one non-blocking step. */
enum tls_io {
	TLS_IO_DONE,       /* progress: the handshake finished, or bytes moved */
	TLS_IO_WANT_READ,  /* wait until the socket is readable, then repeat */
	TLS_IO_WANT_WRITE, /* wait until the socket is writable, then repeat */
	TLS_IO_CLOSED,     /* the peer closed or the socket failed (err says how) */
	TLS_IO_FAILED,     /* a TLS failure: verification, an alert, not TLS at all */
};

/* The OpenSSL side, as a table (tls.c defines tls_openssl). */
struct tls_api {
	/* The client context. NULL with a message naming the option on an
	 * unreadable or unusable file (the caller exits 2). */
	struct ssl_ctx_st *(*context_new)(const struct tls_opts *o, char *err, size_t errlen);
	void (*context_free)(struct ssl_ctx_st *ctx);
	/* A session on a connected socket; name is the host to verify and,
	 * unless it is an IP address, to send as SNI. resume (may be NULL)
	 * offers its session and receives the ones the server sends; it must
	 * outlive the session. */
	struct ssl_st *(*session_new)(struct ssl_ctx_st *ctx, int fd, const char *name,
	                              struct tls_resume *resume, char *err, size_t errlen);
	enum tls_io (*handshake)(struct ssl_st *s, char *err, size_t errlen);
	enum tls_io (*read)(struct ssl_st *s, char *buf, size_t cap, size_t *got, char *err,
	                    size_t errlen);
	/* Writes a prefix of buf; after a WANT_*, repeat with the same bytes
	 * (more may follow them: the buffer is allowed to move and grow). */
	enum tls_io (*write)(struct ssl_st *s, const char *buf, size_t len, size_t *put, char *err,
	                     size_t errlen);
	/* "TLSv1.3 TLS_AES_256_GCM_SHA384", with ", resumed" when it was */
	void (*session_info)(struct ssl_st *s, char *out, size_t n);
	/* Drops what resume holds (once no session uses it). */
	void (*resume_clear)(struct tls_resume *resume);
	/* Frees the session; notify sends close_notify first (never waits for
	 * the peer's: no renegotiation, no blocking). The socket stays open. */
	void (*session_free)(struct ssl_st *s, bool notify);
};

extern const struct tls_api tls_openssl;

/* A TLS client: the functions and the context built from the options.
 * OpenSSL costs about 1.7 MB of resident memory once mapped, so the daemon
 * does not link it: tls.c is a module of its own (bin/scanhost-tls.so,
 * installed as lib/scanhost/scanhost-tls.so) loaded here, only for a
 * rediss:// URL. Where tls.c is linked in (the test module, unit tests),
 * that copy is used and module_path is not needed. */
struct tls_client {
	const struct tls_api *api;
	struct ssl_ctx_st *ctx;
};

/* NULL with a message naming the option or the module (the caller exits 2). */
struct tls_client *tls_client_new(const char *module_path, const struct tls_opts *o, char *err,
                                  size_t errlen);
void tls_client_free(struct tls_client *c);

#endif
