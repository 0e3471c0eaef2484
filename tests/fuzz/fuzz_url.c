/* libFuzzer target: url_parse / url_redacted (core/url.c).
 * Oracles: no crash or sanitizer report; an accepted URL has a host, a port
 * in 1..65535 (TCP) and NUL-terminated fields; the redacted form does not
 * depend on the password (so it cannot contain it); an error message is one of the fixed texts (so
 * it can never quote a password). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "url.h"

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
		if (memchr(u.host, '\0', sizeof(u.host)) == NULL ||
		    memchr(u.password, '\0', sizeof(u.password)) == NULL ||
		    memchr(u.username, '\0', sizeof(u.username)) == NULL)
			abort();
		if (!u.is_unix && (u.port < 1 || u.port > 65535 || u.host[0] == '\0'))
			abort();
		char red[1024];
		url_redacted(&u, red, sizeof(red));
		/* the redacted form does not depend on the password's content */
		struct redis_url other = u;
		if (other.password[0])
			snprintf(other.password, sizeof(other.password), "x");
		char red2[1024];
		url_redacted(&other, red2, sizeof(red2));
		if (strcmp(red, red2) != 0)
			abort();
	} else {
		/* every message is one of the fixed texts: none can quote a secret */
		static const char *const known[] = {
			"empty URL",
			"unix:// URL needs an absolute socket path",
			"socket path too long",
			"URL must start with redis:// or unix://",
			"user name or password too long",
			"missing host",
			"host too long",
			"port must be a number in 1..65535",
			"database must be a non-negative number",
		};
		int found = 0;
		for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
			found |= strcmp(err, known[i]) == 0;
		if (!found)
			abort();
	}
	free(text);
	return 0;
}
