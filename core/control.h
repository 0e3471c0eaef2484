/* control: the operations endpoint behind --http — what each path answers:
 *   GET  /healthz                  200 while the loop runs
 *   GET  /readyz                   200 when Redis and the function library are
 *                                  usable, else 503
 *   GET  /metrics                  Prometheus text 0.0.4 (metrics.c)
 *   GET  /status                   JSON, one object per scanner
 *   POST /scanners/NAME/pause      \
 *   POST /scanners/NAME/resume      | Authorization: Bearer TOKEN (from
 *   POST /scanners/NAME/run         | SCANHOST_CONTROL_TOKEN or control_token_file);
 *   POST /reload                   /  403 when no token is configured
 * Reads answer from host state: no Redis command. */
#ifndef SCANHOST_CONTROL_H
#define SCANHOST_CONTROL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct host;
struct config;

/* --http: loads the HTTP module, reads the token and listens. False (with
 * a message) when it cannot; a no-op without --http. */
bool control_start(struct host *h, char *err, size_t errlen);
void control_free(struct host *h);
/* --check: the endpoint and where the token comes from (never the token). */
void control_print_plan(const struct config *c, FILE *out);
/* Constant-time in the expected token's length: a guess learns nothing
 * from the time a refusal takes. */
bool control_token_equal(const char *given, size_t given_len, const char *want, size_t want_len);

#endif
