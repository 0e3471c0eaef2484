/* replyarena: hiredis's reply reader with every object of a reply (reply
 * structs, element vectors, strings) carved out of an arena of the reader's
 * own, so a reply costs a few bump allocations instead of two mallocs and
 * frees per element. A drain's batch replies hold one small array per item.
 *
 * The objects of a reply stay valid until replyarena_release, which the
 * owner calls once the reply has been handled and before it asks the
 * reader for the next one. freeReplyObject must never see them. */
#ifndef SCANHOST_REPLYARENA_H
#define SCANHOST_REPLYARENA_H

#include <hiredis/hiredis.h>

/* NULL when out of memory. */
redisReader *replyarena_reader(void);
/* Ends the life of every object the reader has built so far. */
void replyarena_release(redisReader *r);
/* Frees the reader, its arena and whatever reply it was building. */
void replyarena_free(redisReader *r);

#endif
