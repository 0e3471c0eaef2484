/* report: the cycle log line, the --once summary and exit code (see report.h). */
#include "report.h"

#include <inttypes.h>
#include <string.h>

#include "hoststate.h"
#include "log.h"
#include "shutdown.h"

static void fmt_u64(char *buf, size_t n, uint64_t v)
{
	snprintf(buf, n, "%" PRIu64, v);
}

/* Once per cycle: this instance won partitions another one held. */
static void note_takeover(const struct scanner *s)
{
	if (s->claims.took_over == 0)
		return;
	char n[16];
	snprintf(n, sizeof(n), "%d", s->claims.took_over);
	struct log_field f[] = { { "partitions", n, LOG_NUMBER },
		                 { "from", s->claims.other_id, LOG_STRING },
		                 { NULL, NULL, LOG_STRING } };
	log_event(LOG_INFO, s->name, -1, "took over partitions another instance held", f);
}

/* The counts of a cycle as log fields (numbers in JSON); text holds the
 * values. The --once summary and the cycle log use the same fields. */
struct cycle_fields {
	char text[4][24];
	struct log_field f[5];
};

static const struct log_field *cycle_fields(struct cycle_fields *cf, const struct runner_cycle *c)
{
	static const char *const keys[] = { "processed", "skipped", "errors", "elapsed_ms" };
	uint64_t v[] = { c->processed, c->skipped, c->errors, (uint64_t)(c->elapsed * 1000) };
	for (int i = 0; i < 4; i++) {
		fmt_u64(cf->text[i], sizeof(cf->text[i]), v[i]);
		cf->f[i] = (struct log_field){ keys[i], cf->text[i], LOG_NUMBER };
	}
	cf->f[4] = (struct log_field){ NULL, NULL, LOG_STRING };
	return cf->f;
}

void report_cycle(const struct scanner *s, const struct runner_cycle *c)
{
	char parts[16], tracked[24], claimed[16];
	snprintf(parts, sizeof(parts), "%d", c->partitions);
	snprintf(claimed, sizeof(claimed), "%d", s->claims.won_count);
	fmt_u64(tracked, sizeof(tracked), tracker_size(&s->tracker));
	struct cycle_fields cf = { 0 };
	const struct log_field *counts = cycle_fields(&cf, c);
	struct log_field f[8] = { { "partitions", parts, LOG_NUMBER } };
	memcpy(f + 1, counts, 4 * sizeof(*f));
	/* items the failure tracker holds: transport failures never add any */
	f[5] = (struct log_field){ "tracked", tracked, LOG_NUMBER };
	/* claims off: the NULL key ends the list here */
	f[6] = (struct log_field){ s->host->env.claims ? "claimed" : NULL, claimed, LOG_NUMBER };
	f[7] = (struct log_field){ NULL, NULL, LOG_STRING };
	note_takeover(s);
	bool busy = c->processed > 0 || c->errors > 0;
	enum log_level level = busy ? LOG_INFO : LOG_DEBUG;
	const char *msg = busy ? "scan cycle complete" : "scan cycle complete (nothing to do)";
	if (c->end == RUNNER_SHUTDOWN) {
		msg = "scan cycle interrupted by shutdown";
	} else if (c->end == RUNNER_INTERRUPTED) {
		level = LOG_WARN;
		msg = "scan cycle interrupted: the connection to redis was lost; the next cycle "
		      "waits for it";
	}
	log_event(level, s->name, -1, msg, f);
}

void host_once_progress(struct host *h)
{
	for (const struct scanner *s = h->scanners; s; s = s->next) {
		if (s->scheduled && !s->once_done)
			return;
	}
	host_end(h);
}

int host_exit_code(const struct host *h)
{
	if (!h->once || h->exit_code)
		return h->exit_code;
	for (const struct scanner *s = h->scanners; s; s = s->next) {
		if (s->scheduled &&
		    (s->last.errors > 0 || !s->once_done || s->last.end != RUNNER_COMPLETE))
			return 1;
	}
	return h->load_errors ? 1 : 0;
}

void host_print_summary(const struct host *h, int fd)
{
	if (!h->once || h->conn_refused)
		return;
	for (struct scanner *s = h->scanners; s; s = s->next) {
		if (!s->scheduled)
			continue;
		char parts[16];
		snprintf(parts, sizeof(parts), "%d", s->last.partitions);
		struct cycle_fields cf = { 0 };
		const struct log_field *counts = cycle_fields(&cf, &s->last);
		struct log_field f[8] = { { "scanner", s->name, LOG_STRING },
			                  { "partitions", parts, LOG_NUMBER } };
		memcpy(f + 2, counts, 5 * sizeof(*f));
		char claimed[16];
		snprintf(claimed, sizeof(claimed), "%d", s->claims.last_count);
		if (h->env.claims) /* before the terminator cycle_fields copied to f[6] */
			f[6] = (struct log_field){ "claimed", claimed, LOG_NUMBER };
		log_write_fields(fd, f);
	}
}
