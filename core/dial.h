/* dial: opens a non-blocking stream socket to a TCP host (every address it
 * resolves to, IPv6 or IPv4, in turn until one connects) or to a unix
 * socket, and reports the connected socket, or why there is none, from the
 * loop (never before dial_start() has returned). */
#ifndef SCANHOST_DIAL_H
#define SCANHOST_DIAL_H

#include <stdbool.h>
#include <stddef.h>

#include <ev.h>

struct dial;

/* Called once: fd >= 0 is connected (the callee owns it), or fd < 0 and
 * err says why ("connect to 127.0.0.1:1 failed: Connection refused
 * (ECONNREFUSED)"). The dial is already freed when it is called. */
typedef void (*dial_fn)(void *data, int fd, const char *err);

/* NULL with a message when it fails at once (a missing or refused unix
 * socket, out of memory): done() will not be called. A TCP host is looked
 * up off the loop (resolve.h): an unknown name, like a refused connect, is
 * reported through done(). */
struct dial *dial_start(struct ev_loop *loop, bool is_unix, const char *host, int port,
                        dial_fn done, void *data, char *err, size_t errlen);
/* Stops a dial in progress and frees it; done() will not be called. */
void dial_cancel(struct dial *d);
/* "host:port", "[v6]:port" or the socket path, for messages. */
void dial_describe(bool is_unix, const char *host, int port, char *out, size_t n);

#endif
