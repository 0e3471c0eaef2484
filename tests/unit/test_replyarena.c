/* Replies built in an arena (core/replyarena.c): for the same bytes, the
 * same tree as hiredis's own reader (strings, status, errors, integers,
 * nils, empty and nested arrays, a string larger than a chunk, an array of
 * more elements than a chunk holds), fed whole or a byte at a time, over
 * several replies released one after another; a reply abandoned by a
 * protocol error is freed with the reader (ASan: no leak). */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "replyarena.h"
#include "unit.h"

static bool same_tree(const redisReply *a, const redisReply *b)
{
	if (a->type != b->type)
		return false;
	switch (a->type) {
	case REDIS_REPLY_INTEGER: return a->integer == b->integer;
	case REDIS_REPLY_NIL: return true;
	case REDIS_REPLY_ARRAY:
		if (a->elements != b->elements)
			return false;
		for (size_t i = 0; i < a->elements; i++)
			if (!same_tree(a->element[i], b->element[i]))
				return false;
		return true;
	default:
		return a->len == b->len && memcmp(a->str, b->str, a->len) == 0 &&
		       b->str[b->len] == '\0';
	}
}

/* Reads every reply of text with both readers (the arena's fed in pieces of
 * `step` bytes) and compares them; returns the replies matched, -1 on a
 * mismatch or a failure. */
static int compare_stream(const char *text, size_t len, size_t step)
{
	redisReader *want = redisReaderCreate(), *got = replyarena_reader();
	int matched = 0;
	if (!want || !got || redisReaderFeed(want, text, len) != REDIS_OK)
		matched = -1;
	for (size_t off = 0; matched >= 0 && off < len; off += step) {
		if (redisReaderFeed(got, text + off, len - off < step ? len - off : step) !=
		    REDIS_OK) {
			matched = -1;
			break;
		}
		for (;;) {
			void *r = NULL;
			if (redisReaderGetReply(got, &r) != REDIS_OK) {
				matched = -1;
				break;
			}
			if (!r)
				break;
			void *w = NULL;
			bool same =
			    redisReaderGetReply(want, &w) == REDIS_OK && w && same_tree(w, r);
			freeReplyObject(w);
			replyarena_release(got);
			if (!same) {
				matched = -1;
				break;
			}
			matched++;
		}
	}
	if (want)
		redisReaderFree(want);
	replyarena_free(got);
	return matched;
}

static const char small[] = "+OK\r\n-ERR nope\r\n:-42\r\n$-1\r\n*-1\r\n*0\r\n$0\r\n\r\n"
                            "*3\r\n:1\r\n$2\r\nOK\r\n$8\r\npromoted\r\n"
                            "*2\r\n*2\r\n*1\r\n*1\r\n*1\r\n+deep\r\n$-1\r\n*0\r\n";

static void small_replies(void)
{
	CHECK(compare_stream(small, sizeof(small) - 1, sizeof(small)) == 9);
	CHECK(compare_stream(small, sizeof(small) - 1, 1) == 9);
	CHECK(compare_stream(small, sizeof(small) - 1, 7) == 9);
}

/* A string of 200,000 bytes between two small replies, and a batch-like
 * array of 20,000 items of three elements each. */
static void large_replies(void)
{
	size_t big = 200000, cap = big + 1000000;
	char *text = malloc(cap);
	if (!text) {
		CHECK(!"out of memory");
		return;
	}
	size_t n = (size_t)snprintf(text, cap, "+before\r\n$%zu\r\n", big);
	memset(text + n, 'x', big);
	n += big;
	n += (size_t)snprintf(text + n, cap - n, "\r\n+after\r\n*20000\r\n");
	for (int i = 0; i < 20000; i++)
		n += (size_t)snprintf(text + n, cap - n, "*3\r\n:%d\r\n$2\r\nOK\r\n$4\r\ndone\r\n",
		                      i);
	CHECK(compare_stream(text, n, n) == 4);
	CHECK(compare_stream(text, n, 4096) == 4);
	free(text);
}

static void abandoned_reply(void)
{
	redisReader *r = replyarena_reader();
	void *reply = NULL;
	static const char bad[] = "*3\r\n:1\r\n$2\r\nOK\r\n?garbage\r\n";
	CHECK(r && redisReaderFeed(r, bad, sizeof(bad) - 1) == REDIS_OK);
	CHECK(r && redisReaderGetReply(r, &reply) == REDIS_ERR && reply == NULL);
	replyarena_free(r); /* the half-built array goes with the arena */

	r = replyarena_reader();
	static const char half[] = "*2\r\n$5\r\nhel";
	CHECK(r && redisReaderFeed(r, half, sizeof(half) - 1) == REDIS_OK);
	CHECK(r && redisReaderGetReply(r, &reply) == REDIS_OK && reply == NULL);
	replyarena_free(r);
	replyarena_free(NULL);
}

int main(void)
{
	small_replies();
	large_replies();
	abandoned_reply();
	UNIT_DONE();
}
