/* The TLS client context (core/tls.c): built from the system CA store by
 * default or with verification off, and every unusable file refused with a
 * message naming the option and the reason (the integration spec
 * tests/integration/tls_spec.lua covers real certificates and servers). */
#define _DEFAULT_SOURCE /* mkdtemp */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tls.h"
#include "unit.h"

static struct tls_opts opts(void)
{
	struct tls_opts o;
	memset(&o, 0, sizeof(o));
	o.cacert_opt = "--cacert";
	o.cert_opt = "--cert";
	o.key_opt = "--key";
	return o;
}

static bool refused(struct tls_opts *o, const char *expect)
{
	char err[512] = "";
	struct tls_client *c = tls_client_new(NULL, o, err, sizeof(err)); /* tls.c is linked in */
	tls_client_free(c);
	if (!c && strstr(err, expect))
		return true;
	fprintf(stderr, "expected \"%s\", got \"%s\"\n", expect, c ? "(a context)" : err);
	return false;
}

static void contexts(void)
{
	char err[512];
	struct tls_opts o = opts();
	struct tls_client *c = tls_client_new(NULL, &o, err, sizeof(err)); /* the system store */
	CHECK(c != NULL && c->api == &tls_openssl);
	/* sessions for a host name (SNI + name check) and an IP address (IP check) */
	int sv[2];
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	struct ssl_st *s =
	    c->api->session_new(c->ctx, sv[0], "redis.example.com", NULL, err, sizeof(err));
	CHECK(s != NULL);
	c->api->session_free(s, false);
	s = c->api->session_new(c->ctx, sv[0], "::1", NULL, err, sizeof(err));
	CHECK(s != NULL);
	c->api->session_free(s, false);
	close(sv[0]);
	close(sv[1]);
	tls_client_free(c);
	o.insecure = true;
	c = tls_client_new(NULL, &o, err, sizeof(err));
	CHECK(c != NULL);
	tls_client_free(c);
}

static void unusable_files(void)
{
	char dir[] = "/tmp/scanhost-tls-XXXXXX";
	CHECK(mkdtemp(dir) != NULL);
	char garbage[64];
	snprintf(garbage, sizeof(garbage), "%s/garbage.pem", dir);
	FILE *f = fopen(garbage, "w");
	fputs("-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n", f);
	fclose(f);
	struct tls_opts o = opts();
	snprintf(o.cacert, sizeof(o.cacert), "%s/missing.pem", dir);
	CHECK(refused(&o, "--cacert: cannot read /tmp/scanhost-tls-"));
	CHECK(refused(&o, "missing.pem: No such file or directory"));
	snprintf(o.cacert, sizeof(o.cacert), "%s", dir);
	CHECK(refused(&o, "--cacert: cannot read /tmp/scanhost-tls-") &&
	      refused(&o, "not a regular file"));
	snprintf(o.cacert, sizeof(o.cacert), "%s", garbage);
	CHECK(refused(&o, "--cacert: no usable CA certificate in"));
	o = opts();
	snprintf(o.cert, sizeof(o.cert), "%s", garbage);
	CHECK(refused(&o, "--cert: a client certificate needs both --cert and --key"));
	snprintf(o.key, sizeof(o.key), "%s", garbage);
	CHECK(refused(&o, "--cert: no usable certificate in"));
	o.cert[0] = '\0';
	CHECK(refused(&o, "--key: a client certificate needs both"));
	unlink(garbage);
	rmdir(dir);
}

int main(void)
{
	contexts();
	unusable_files();
	UNIT_DONE();
}
