/* claims: the host's record of the partitions one scanner claimed.
 *
 * Several scanhost instances share a deployment: before a partition is acted
 * on, an instance claims it for the cycle with a Redis key in the partition's
 * own slot (lua-lib/ff/claim.lua sends the claims). This file keeps, per
 * scanner slot (so it survives reloads), which partitions this instance won in
 * the current and in the last completed cycle, and notices when it wins a
 * partition that another instance held when it last tried: a takeover. */
#ifndef SCANHOST_CLAIMS_H
#define SCANHOST_CLAIMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CLAIMS_ID_MAX 128 /* instance ids: "<host>:<pid>:<random hex>" */

struct claims {
	int n;                        /* partitions covered by the bitmaps */
	uint8_t *won;                 /* won in the current cycle */
	uint8_t *last;                /* won in the last completed cycle */
	uint8_t *other;               /* another instance held it when we last tried */
	int won_count;                /* bits set in won */
	int last_count;               /* bits set in last */
	int took_over;                /* partitions won this cycle that another instance held */
	char other_id[CLAIMS_ID_MAX]; /* the other holder seen last */
};

/* Sizes the bitmaps for n partitions; a new size starts empty. */
void claims_resize(struct claims *c, int n);
void claims_free(struct claims *c);
void claims_cycle_begin(struct claims *c);
/* The claim on partition p was won, or lost to holder (the id another
 * instance wrote). Out-of-range partitions are ignored. */
void claims_note(struct claims *c, int p, bool won, const char *holder);
/* The current cycle becomes the last one. */
void claims_cycle_end(struct claims *c);
bool claims_won_last(const struct claims *c, int p);
bool claims_won_now(const struct claims *c, int p);

/* A process-unique instance id: host name, pid and 32 random bits. */
void claims_instance_id(char *buf, size_t n);
/* The claim key of partition p of a scanner: "scanhost:claim:{<prefix>:<p>}:<name>",
 * in the partition's own cluster slot. */
void claims_key(char *buf, size_t n, const char *tag_prefix, int p, const char *scanner);
/* Deletes a claim only while it holds ARGV[1] (EVAL, 1 key). */
extern const char claims_release_script[];

#endif
