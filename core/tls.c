/* tls: the OpenSSL side of the connection layer (see tls.h), exported as
 * one table, tls_openssl: the daemon loads it as a module.
 *
 * Non-blocking rules followed here: the error queue is cleared before every
 * SSL_* call so SSL_get_error() sees only this call's outcome; a step that
 * returns WANT_READ/WANT_WRITE is repeated with the same arguments once the
 * socket is ready (the write buffer may move: SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
 * partial writes are on, so a large write returns after each record. */
#include "tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

/* Writes the message to err (in scope at every use) and yields false. */
#define fail(...) (snprintf(err, errlen, __VA_ARGS__), false)

/* The reason of the oldest queued OpenSSL error, and the queue cleared. */
static const char *take_reason(char *buf, size_t n)
{
	unsigned long e = ERR_peek_error();
	const char *r = e ? ERR_reason_error_string(e) : NULL;
	snprintf(buf, n, "%s", r ? r : "unknown reason");
	ERR_clear_error();
	return buf;
}

static bool readable_file(const char *opt, const char *path, char *err, size_t errlen)
{
	struct stat st;
	if (stat(path, &st) != 0)
		return fail("%s: cannot read %s: %s", opt, path, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return fail("%s: cannot read %s: not a regular file", opt, path);
	FILE *f = fopen(path, "r");
	if (!f)
		return fail("%s: cannot read %s: %s", opt, path, strerror(errno));
	fclose(f);
	return true;
}

static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return 0; /* never prompt on a terminal: encrypted keys are refused */
}

static bool load_trust(SSL_CTX *ctx, const struct tls_opts *o, char *err, size_t errlen)
{
	char why[256];
	if (o->cacert[0]) {
		if (!readable_file(o->cacert_opt, o->cacert, err, errlen))
			return false;
		if (SSL_CTX_load_verify_locations(ctx, o->cacert, NULL) != 1)
			return fail("%s: no usable CA certificate in %s (%s)", o->cacert_opt,
			            o->cacert, take_reason(why, sizeof(why)));
		return true;
	}
	if (!o->insecure && SSL_CTX_set_default_verify_paths(ctx) != 1)
		return fail("TLS: cannot load the system CA store (%s)",
		            take_reason(why, sizeof(why)));
	return true;
}

static bool load_identity(SSL_CTX *ctx, const struct tls_opts *o, char *err, size_t errlen)
{
	char why[256];
	if (!o->cert[0] && !o->key[0])
		return true;
	if (!o->cert[0] || !o->key[0])
		return fail("%s: a client certificate needs both --cert and --key "
		            "(tls.cert and tls.key)",
		            o->cert[0] ? o->cert_opt : o->key_opt);
	if (!readable_file(o->cert_opt, o->cert, err, errlen) ||
	    !readable_file(o->key_opt, o->key, err, errlen))
		return false;
	if (SSL_CTX_use_certificate_chain_file(ctx, o->cert) != 1)
		return fail("%s: no usable certificate in %s (%s)", o->cert_opt, o->cert,
		            take_reason(why, sizeof(why)));
	if (SSL_CTX_use_PrivateKey_file(ctx, o->key, SSL_FILETYPE_PEM) != 1) {
		take_reason(why, sizeof(why));
		bool encrypted = strstr(why, "decrypt") || strstr(why, "password");
		return fail("%s: no usable private key in %s (%s%s)", o->key_opt, o->key, why,
		            encrypted ? "; encrypted keys are not supported" : "");
	}
	if (SSL_CTX_check_private_key(ctx) != 1)
		return fail("%s: the private key in %s does not match the certificate", o->key_opt,
		            o->key);
	return true;
}

/* A session (TLS 1.3: a ticket, after the handshake) the server gave: a
 * copy replaces the one the connection kept. A copy, because OpenSSL marks
 * its own unresumable when the connection ends without close_notify, which
 * is how Redis closes (CLIENT KILL, timeout, a restart); neither TLS 1.3
 * nor TLS 1.1+ asks for that. A connection that fails at the TLS level
 * forgets its copy (transport.c). */
static int keep_session(SSL *s, SSL_SESSION *session)
{
	struct tls_resume *r = SSL_get_app_data(s);
	SSL_SESSION *copy = r ? SSL_SESSION_dup(session) : NULL;
	if (copy) {
		SSL_SESSION_free(r->session);
		r->session = copy;
	}
	return 0; /* OpenSSL keeps its reference */
}

static void tls_resume_clear(struct tls_resume *r)
{
	SSL_SESSION_free(r->session);
	r->session = NULL;
}

static SSL_CTX *tls_context_new(const struct tls_opts *o, char *err, size_t errlen)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx) {
		char why[256];
		snprintf(err, errlen, "TLS: cannot create a context (%s)",
		         take_reason(why, sizeof(why)));
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	SSL_CTX_set_default_passwd_cb(ctx, no_passphrase);
	SSL_CTX_set_verify(ctx, o->insecure ? SSL_VERIFY_NONE : SSL_VERIFY_PEER, NULL);
	/* sessions are kept per connection (struct tls_resume), not in a cache */
	SSL_CTX_set_session_cache_mode(ctx,
	                               SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
	SSL_CTX_sess_set_new_cb(ctx, keep_session);
	if (!load_trust(ctx, o, err, errlen) || !load_identity(ctx, o, err, errlen)) {
		SSL_CTX_free(ctx);
		ERR_clear_error();
		return NULL;
	}
	return ctx;
}

static void tls_context_free(SSL_CTX *ctx)
{
	SSL_CTX_free(ctx);
}

static bool is_ip_address(const char *name)
{
	unsigned char buf[16];
	return inet_pton(AF_INET, name, buf) == 1 || inet_pton(AF_INET6, name, buf) == 1;
}

static SSL *tls_session_new(SSL_CTX *ctx, int fd, const char *name, struct tls_resume *resume,
                            char *err, size_t errlen)
{
	char why[256];
	ERR_clear_error();
	SSL *s = SSL_new(ctx);
	if (!s || SSL_set_fd(s, fd) != 1) {
		snprintf(err, errlen, "TLS: cannot set up a session (%s)",
		         take_reason(why, sizeof(why)));
		SSL_free(s);
		return NULL;
	}
	bool ok = true;
	X509_VERIFY_PARAM *param = SSL_get0_param(s);
	/* an IP address is checked against the certificate's IP entries and is
	 * never sent as SNI (RFC 6066) */
	if (is_ip_address(name)) {
		ok = X509_VERIFY_PARAM_set1_ip_asc(param, name) == 1;
	} else {
		X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
		ok = SSL_set_tlsext_host_name(s, name) == 1 && SSL_set1_host(s, name) == 1;
	}
	if (!ok) {
		snprintf(err, errlen, "TLS: cannot use %s as the server name (%s)", name,
		         take_reason(why, sizeof(why)));
		SSL_free(s);
		return NULL;
	}
	SSL_set_app_data(s, resume);
	/* offered only: the server decides, else a full handshake */
	if (resume && resume->session && SSL_SESSION_is_resumable(resume->session))
		SSL_set_session(s, resume->session);
	SSL_set_connect_state(s);
	return s;
}

/* The name the certificate was checked against, for a mismatch message. */
static void checked_name(SSL *s, char *out, size_t n)
{
	X509_VERIFY_PARAM *param = SSL_get0_param(s);
	const char *host = X509_VERIFY_PARAM_get0_host(param, 0);
	char *ip = host ? NULL : X509_VERIFY_PARAM_get1_ip_asc(param);
	snprintf(out, n, "%s", host ? host : ip ? ip : "?");
	OPENSSL_free(ip);
}

static void describe_verify_failure(SSL *s, char *err, size_t errlen)
{
	long v = SSL_get_verify_result(s);
	char name[300];
	checked_name(s, name, sizeof(name));
	bool mismatch = v == X509_V_ERR_HOSTNAME_MISMATCH || v == X509_V_ERR_IP_ADDRESS_MISMATCH;
	snprintf(err, errlen, "certificate verify failed: %s%s%s%s",
	         X509_verify_cert_error_string(v),
	         mismatch ? " (the certificate does not name " : "", mismatch ? name : "",
	         mismatch ? "; --sni NAME sets the name to check)" : "");
}

/* A TLS-level failure (SSL_ERROR_SSL): the reason, with a hint where one helps. */
static enum tls_io protocol_failure(SSL *s, char *err, size_t errlen)
{
	unsigned long e = ERR_peek_error();
	int reason = ERR_GET_REASON(e);
	char why[256];
	if (reason == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
		ERR_clear_error();
		snprintf(err, errlen, "connection closed by the server");
		return TLS_IO_CLOSED;
	}
	if (reason == SSL_R_CERTIFICATE_VERIFY_FAILED) {
		ERR_clear_error();
		describe_verify_failure(s, err, errlen);
		return TLS_IO_FAILED;
	}
	const char *hint = reason == SSL_R_WRONG_VERSION_NUMBER ? " (is the server speaking TLS on "
	                                                          "this port?)"
	                   : reason == SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED
	                       ? " (the server requires a client certificate: --cert and --key)"
	                       : "";
	snprintf(err, errlen, "TLS error: %s%s", take_reason(why, sizeof(why)), hint);
	return TLS_IO_FAILED;
}

static enum tls_io outcome(SSL *s, int ret, char *err, size_t errlen)
{
	int saved_errno = errno;
	switch (SSL_get_error(s, ret)) {
	case SSL_ERROR_WANT_READ: return TLS_IO_WANT_READ;
	case SSL_ERROR_WANT_WRITE: return TLS_IO_WANT_WRITE;
	case SSL_ERROR_ZERO_RETURN:
		snprintf(err, errlen, "connection closed by the server (TLS close_notify)");
		return TLS_IO_CLOSED;
	case SSL_ERROR_SYSCALL:
		ERR_clear_error();
		snprintf(err, errlen, "%s",
		         saved_errno ? strerror(saved_errno) : "connection closed by the server");
		return TLS_IO_CLOSED;
	case SSL_ERROR_SSL: return protocol_failure(s, err, errlen);
	default:
		ERR_clear_error();
		snprintf(err, errlen, "TLS error (unexpected state)");
		return TLS_IO_FAILED;
	}
}

static enum tls_io tls_handshake(SSL *s, char *err, size_t errlen)
{
	ERR_clear_error();
	errno = 0;
	int r = SSL_do_handshake(s);
	return r == 1 ? TLS_IO_DONE : outcome(s, r, err, errlen);
}

static enum tls_io tls_read(SSL *s, char *buf, size_t cap, size_t *got, char *err, size_t errlen)
{
	ERR_clear_error();
	errno = 0;
	int r = SSL_read_ex(s, buf, cap, got);
	return r == 1 ? TLS_IO_DONE : outcome(s, r, err, errlen);
}

static enum tls_io tls_write(SSL *s, const char *buf, size_t len, size_t *put, char *err,
                             size_t errlen)
{
	ERR_clear_error();
	errno = 0;
	int r = SSL_write_ex(s, buf, len, put);
	return r == 1 ? TLS_IO_DONE : outcome(s, r, err, errlen);
}

static void tls_session_info(SSL *s, char *out, size_t n)
{
	snprintf(out, n, "%s %s%s", SSL_get_version(s), SSL_get_cipher_name(s),
	         SSL_session_reused(s) ? ", resumed" : "");
}

static void tls_session_free(SSL *s, bool notify)
{
	if (!s)
		return;
	if (notify) {
		ERR_clear_error();
		SSL_shutdown(s); /* queues and tries to send close_notify; never waits */
	}
	ERR_clear_error();
	SSL_free(s);
}

const struct tls_api tls_openssl = {
	.context_new = tls_context_new,
	.context_free = tls_context_free,
	.session_new = tls_session_new,
	.handshake = tls_handshake,
	.read = tls_read,
	.write = tls_write,
	.session_info = tls_session_info,
	.resume_clear = tls_resume_clear,
	.session_free = tls_session_free,
};
