/* cmdq: pending commands in a ring buffer (no allocation per command once
 * it has grown) and the reader that answers them (see cmdq.h). */
#include "cmdq.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "replyarena.h"

bool cmdq_init(struct cmdq *q)
{
	memset(q, 0, sizeof(*q));
	q->reader = replyarena_reader();
	return q->reader != NULL;
}

void cmdq_free(struct cmdq *q)
{
	cmdq_fail_all(q, "shutting down");
	replyarena_free(q->reader);
	free(q->ring);
	memset(q, 0, sizeof(*q));
}

bool cmdq_reset(struct cmdq *q)
{
	cmdq_fail_all(q, "connection reset");
	redisReader *fresh = replyarena_reader();
	if (!fresh)
		return false;
	replyarena_free(q->reader);
	q->reader = fresh;
	q->epoch++;
	return true;
}

static bool grow(struct cmdq *q)
{
	size_t cap = q->cap ? q->cap * 2 : 64;
	struct cmdq_entry *ring = malloc(cap * sizeof(*ring));
	if (!ring)
		return false;
	for (size_t i = 0; i < q->len; i++)
		ring[i] = q->ring[(q->head + i) % q->cap];
	free(q->ring);
	q->ring = ring;
	q->cap = cap;
	q->head = 0;
	return true;
}

bool cmdq_push(struct cmdq *q, double deadline, reply_fn fn, void *priv)
{
	if (q->len == q->cap && !grow(q))
		return false;
	q->ring[(q->head + q->len) % q->cap] = (struct cmdq_entry){ deadline, fn, priv };
	q->len++;
	return true;
}

const struct cmdq_entry *cmdq_oldest(const struct cmdq *q)
{
	return q->len ? &q->ring[q->head] : NULL;
}

size_t cmdq_len(const struct cmdq *q)
{
	return q->len;
}

/* hiredis's texts start with "Protocol error" for bad bytes; others (out of
 * memory) get the prefix, so every message says what failed. */
static void reader_error(const struct cmdq *q, char *err, size_t errlen)
{
	const char *e = q->reader->errstr;
	snprintf(err, errlen, "%s%s",
	         strncmp(e, "Protocol error", 14) == 0 ? "" : "protocol error: ", e);
}

static struct cmdq_entry pop(struct cmdq *q)
{
	struct cmdq_entry e = q->ring[q->head];
	q->head = (q->head + 1) % q->cap;
	q->len--;
	return e;
}

/* Answers pending commands with the complete replies the reader holds. */
static bool dispatch(struct cmdq *q, char *err, size_t errlen)
{
	for (;;) {
		void *reply = NULL;
		if (redisReaderGetReply(q->reader, &reply) != REDIS_OK) {
			reader_error(q, err, errlen);
			return false;
		}
		if (!reply)
			return true; /* the rest of the reply has not arrived yet */
		if (q->len == 0) {
			replyarena_release(q->reader);
			snprintf(err, errlen,
			         "Protocol error, a reply arrived with no command pending");
			return false;
		}
		struct cmdq_entry e = pop(q);
		unsigned epoch = q->epoch;
		e.fn(e.priv, reply, NULL);
		replyarena_release(q->reader);
		if (q->epoch != epoch)
			return true; /* the connection was dropped from the callback */
	}
}

/* The reader moves its unread bytes to the front after every 1 KB it
 * consumes: fed a whole 64 KB read of small replies it would move ~2 MB.
 * Slices of 4 KB keep that at about one extra copy of the input. */
#define FEED_SLICE 4096

bool cmdq_feed(struct cmdq *q, const char *buf, size_t n, char *err, size_t errlen)
{
	for (size_t off = 0; off < n;) {
		size_t len = n - off < FEED_SLICE ? n - off : FEED_SLICE;
		if (redisReaderFeed(q->reader, buf + off, len) != REDIS_OK) {
			reader_error(q, err, errlen);
			return false;
		}
		off += len;
		unsigned epoch = q->epoch;
		if (!dispatch(q, err, errlen))
			return false;
		if (q->epoch != epoch)
			return true;
	}
	return true;
}

void cmdq_fail_all(struct cmdq *q, const char *err)
{
	q->epoch++; /* a dispatch in progress stops, even with nothing left to fail */
	/* popped before each call: a nested failure continues where this one is */
	while (q->len) {
		struct cmdq_entry e = pop(q);
		e.fn(e.priv, NULL, err);
	}
}
