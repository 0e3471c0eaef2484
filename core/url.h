/* url: parse redis://[:password@]host:port[/db] and unix:///path URLs. */
#ifndef SCANHOST_URL_H
#define SCANHOST_URL_H

#include <stdbool.h>
#include <stddef.h>

struct redis_url {
	bool is_unix;
	char host[256];     /* TCP host, or the socket path for unix:// */
	int port;           /* 1..65535 (TCP only) */
	char username[128]; /* redis://user:pass@ (ACL user), may be empty */
	char password[256]; /* may be empty */
	int db;             /* SELECT index, 0 = none */
};

/* Returns false and writes a message (never containing the password) to err. */
bool url_parse(const char *text, struct redis_url *out, char *err, size_t errlen);

/* The URL with any password replaced by "***", for logs. */
void url_redacted(const struct redis_url *u, char *out, size_t n);

#endif
