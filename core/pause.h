/* pause: a scanner is paused while its key {scanhost}:pause:NAME exists in
 * Redis, so every instance on that Redis obeys it, across reloads and
 * restarts. One MGET of every scanner's key per PAUSE_POLL_SECONDS (and one
 * at every connect, answered before the library check, so runners start
 * knowing): a round trip per second for the whole host, none per cycle.
 * The keys share the {scanhost} hash tag: one MGET works on a cluster too. */
#ifndef SCANHOST_PAUSE_H
#define SCANHOST_PAUSE_H

#include <stdbool.h>
#include <stddef.h>

#include "redis.h"

#define PAUSE_POLL_SECONDS 1.0

struct host;
struct scanner;

void pause_key(char *buf, size_t n, const char *scanner);
void pause_init(struct host *h);
void pause_start(struct host *h);
void pause_stop(struct host *h);
/* Reads every pause key now (unless a read is in flight). */
void pause_poll(struct host *h);
/* The key says paused or not: logs a change once. */
void pause_apply(struct scanner *s, bool paused);
/* SET (paused) or DEL the scanner's key; fn gets the reply. */
bool pause_write(struct host *h, const struct scanner *s, bool paused, rconn_reply_fn fn,
                 void *priv, char *err, size_t errlen);

#endif
