/* libFuzzer target: url_parse / url_redacted (core/url.c).
 * Oracles: no crash or sanitizer report; an accepted URL has a host, a port
 * in 1..65535 (TCP) and NUL-terminated fields; the redacted form does not
 * depend on the password (so it cannot contain it, however it was written:
 * user info, ?password=, percent-encoded), holds no control character (no
 * forged log lines) and parses back to the same URL with "***" as the
 * password; an error message is one of the fixed texts (so it can never
 * quote a password). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "url.h"

static const char *const known_errors[] = {
	"empty URL",
	"URL must start with redis://, rediss:// or unix://",
	"'#' is not allowed in the URL (percent-encode it as %23)",
	"unix:// URL needs an absolute socket path",
	"unix:// URL: write credentials as unix://user:password@/path",
	"socket path too long",
	"user name or password too long",
	"invalid percent-encoding in the URL (write %XX, e.g. %2F for '/', %40 for '@', %25 for '%')",
	"missing host",
	"host too long",
	"host may contain only letters, digits, '-', '.' and '_'",
	"an IPv6 address must be in brackets (redis://[::1]:6379)",
	"unterminated '[' in the host (IPv6: redis://[::1]:6379)",
	"invalid IPv6 address in brackets",
	"unexpected text after ']' (expected :port)",
	"port must be a number in 1..65535",
	"database must be a non-negative number",
	"database given twice (path and ?db=)",
	"password given twice (user info and ?password=)",
	"user name given twice (user info and ?username=)",
	"query parameters must look like name=value",
	"unknown query parameter (known: db, password, username)",
};

static void check_fields(const struct redis_url *u)
{
	if (memchr(u->host, '\0', sizeof(u->host)) == NULL ||
	    memchr(u->password, '\0', sizeof(u->password)) == NULL ||
	    memchr(u->username, '\0', sizeof(u->username)) == NULL)
		abort();
	if (!u->is_unix && (u->port < 1 || u->port > 65535 || u->host[0] == '\0'))
		abort();
	if (u->is_unix && (u->host[0] != '/' || u->tls))
		abort();
}

static void check_redaction(const struct redis_url *u)
{
	char red[2048], red2[2048]; /* never truncated: < 1,200 bytes at most */
	url_redacted(u, red, sizeof(red));
	for (const char *p = red; *p; p++) {
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			abort();
	}
	/* the redacted form does not depend on the password's content */
	struct redis_url other = *u;
	if (other.password[0])
		snprintf(other.password, sizeof(other.password), "x");
	url_redacted(&other, red2, sizeof(red2));
	if (strcmp(red, red2) != 0)
		abort();
	/* it parses back to the same URL ("user@" alone would read as a password) */
	struct redis_url back;
	char err[128];
	if (u->username[0] && !u->password[0])
		return;
	if (!url_parse(red, &back, err, sizeof(err)))
		abort();
	if (back.is_unix != u->is_unix || back.tls != u->tls || back.port != u->port ||
	    back.db != u->db || strcmp(back.host, u->host) != 0 ||
	    strcmp(back.username, u->username) != 0 ||
	    strcmp(back.password, u->password[0] ? "***" : "") != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	struct redis_url u;
	char err[128];
	memset(err, 'x', sizeof(err));
	if (url_parse(text, &u, err, sizeof(err))) {
		check_fields(&u);
		check_redaction(&u);
	} else {
		/* every message is one of the fixed texts: none can quote a secret */
		int found = 0;
		for (size_t i = 0; i < sizeof(known_errors) / sizeof(known_errors[0]); i++)
			found |= strcmp(err, known_errors[i]) == 0;
		if (!found)
			abort();
	}
	free(text);
	return 0;
}
