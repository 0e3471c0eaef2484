/* resolve: a host name's addresses (getaddrinfo) looked up on a thread of
 * its own and handed over on the loop, so a slow or unreachable DNS server
 * never stalls the loop: every scanner, the metrics and the signals go on
 * while a reconnect waits for its name. A numeric address (IPv4 or IPv6
 * text) needs no lookup and is answered from the loop too, without a thread. */
#ifndef SCANHOST_RESOLVE_H
#define SCANHOST_RESOLVE_H

#include <stddef.h>

#include <ev.h>
#include <netdb.h>

struct resolve;

/* Called once, from the loop, never before resolve_start() has returned:
 * addrs (the callee frees it with freeaddrinfo) or NULL and err ("cannot
 * resolve redis.internal: Name or service not known"). The resolve is
 * already freed when it is called. */
typedef void (*resolve_fn)(void *data, struct addrinfo *addrs, const char *err);

/* NULL with a message only when the lookup cannot even start (out of
 * memory, no thread): done() will not be called. */
struct resolve *resolve_start(struct ev_loop *loop, const char *host, int port, resolve_fn done,
                              void *data, char *err, size_t errlen);
/* Forgets a lookup in progress: done() will not be called. A lookup thread
 * still running frees what it holds when it ends. */
void resolve_cancel(struct resolve *r);

#endif
