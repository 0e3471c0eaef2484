/* url: parse the server URL forms scanhost accepts:
 *
 *   redis://[[user]:password@]host[:port][/db][?query]    (rediss:// for TLS)
 *   unix://[[user]:password@]/path/to/socket[?query]
 *
 * host is a name, an IPv4 address or an IPv6 address in brackets ([::1]);
 * user, password and the socket path are percent-decoded (RFC 3986); query
 * parameters are db=N, password=... and username=... */
#ifndef SCANHOST_URL_H
#define SCANHOST_URL_H

#include <stdbool.h>
#include <stddef.h>

struct redis_url {
	bool is_unix;
	bool tls;           /* rediss:// */
	char host[256];     /* TCP host (an IPv6 address without brackets), or the socket path */
	int port;           /* 1..65535 (TCP only) */
	char username[128]; /* ACL user, may be empty */
	char password[256]; /* may be empty */
	int db;             /* SELECT index, 0 = none */
};

/* Returns false and writes a fixed message (never quoting any part of the
 * URL, so never a password) to err. */
bool url_parse(const char *text, struct redis_url *out, char *err, size_t errlen);

/* The URL with any password replaced by "***", for logs. */
void url_redacted(const struct redis_url *u, char *out, size_t n);

#endif
