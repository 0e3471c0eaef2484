/* cmdq: the commands a connection has sent and not yet seen answered, in
 * the order they were sent, and hiredis's reply reader that answers them
 * (its replies built in an arena: replyarena.h).
 * Redis replies in order, so the oldest pending command owns the next reply.
 *
 * Each pending command's reply function is called exactly once: with its
 * reply (possibly an error reply; freed after the call, never by it) or
 * with reply == NULL and an error text when the queue is failed. */
#ifndef SCANHOST_CMDQ_H
#define SCANHOST_CMDQ_H

#include <stdbool.h>
#include <stddef.h>

#include <hiredis/hiredis.h>

typedef void (*reply_fn)(void *priv, redisReply *reply, const char *err);

struct cmdq_entry {
	double deadline; /* when the watchdog gives up on the reply */
	reply_fn fn;
	void *priv;
};

struct cmdq {
	struct cmdq_entry *ring; /* len entries from head, wrapping at cap */
	size_t cap, head, len;
	redisReader *reader;
	unsigned epoch; /* bumped when the queue is failed or reset: a dispatch stops */
};

bool cmdq_init(struct cmdq *q);
/* Fails what is pending ("shutting down"), frees everything. */
void cmdq_free(struct cmdq *q);
/* A fresh reader for a new connection (no pending command may remain). */
bool cmdq_reset(struct cmdq *q);
bool cmdq_push(struct cmdq *q, double deadline, reply_fn fn, void *priv);
const struct cmdq_entry *cmdq_oldest(const struct cmdq *q);
size_t cmdq_len(const struct cmdq *q);
/* Feeds received bytes and answers pending commands in order. False on a
 * protocol error or a reply nobody asked for (err says which): the
 * connection must be dropped. Returns early (true) when a reply function
 * failed or reset the queue. */
bool cmdq_feed(struct cmdq *q, const char *buf, size_t n, char *err, size_t errlen);
/* Calls every pending reply function with reply == NULL and err, oldest first. */
void cmdq_fail_all(struct cmdq *q, const char *err);

#endif
