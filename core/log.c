/* log: logfmt or JSON lines on stderr. One write(2) per event so lines from
 * concurrent scanners never interleave. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static enum log_level current_level = LOG_INFO;
static enum log_format current_format = LOG_TEXT;
static void (*sink_fn)(void *data, const char *line, size_t len);
static void *sink_data;

void log_set_sink(void (*fn)(void *data, const char *line, size_t len), void *data)
{
	sink_fn = fn;
	sink_data = data;
}

static const char *const level_names[] = { "error", "warn", "info", "debug" };

void log_setup(enum log_level level, enum log_format format)
{
	current_level = level;
	current_format = format;
}

bool log_enabled(enum log_level level)
{
	return level <= current_level;
}

const char *log_level_name(enum log_level level)
{
	return level_names[level];
}

bool log_level_parse(const char *s, enum log_level *out)
{
	for (int i = 0; i <= LOG_DEBUG; i++) {
		if (strcmp(s, level_names[i]) == 0) {
			*out = (enum log_level)i;
			return true;
		}
	}
	return false;
}

bool log_format_parse(const char *s, enum log_format *out)
{
	if (strcmp(s, "text") == 0)
		*out = LOG_TEXT;
	else if (strcmp(s, "json") == 0)
		*out = LOG_JSON;
	else
		return false;
	return true;
}

/* A growable-free line buffer: events longer than this are truncated. */
struct line {
	char buf[8192];
	size_t len;
};

static void put(struct line *l, const char *s, size_t n)
{
	size_t room = sizeof(l->buf) - 2 - l->len; /* keep space for '\n' */
	if (n > room)
		n = room;
	memcpy(l->buf + l->len, s, n);
	l->len += n;
}

static void puts_(struct line *l, const char *s)
{
	put(l, s, strlen(s));
}

static bool needs_quotes(const char *v)
{
	if (*v == '\0')
		return true;
	for (; *v; v++) {
		if (*v == ' ' || *v == '"' || *v == '=' || (unsigned char)*v < 0x20)
			return true;
	}
	return false;
}

/* Escapes quotes, backslashes and control bytes; shared by both formats. */
static void put_escaped(struct line *l, const char *v)
{
	char tmp[8];
	for (; *v; v++) {
		unsigned char c = (unsigned char)*v;
		if (c == '"' || c == '\\') {
			tmp[0] = '\\';
			tmp[1] = (char)c;
			put(l, tmp, 2);
		} else if (c == '\n') {
			puts_(l, "\\n");
		} else if (c == '\t') {
			puts_(l, "\\t");
		} else if (c < 0x20) {
			snprintf(tmp, sizeof(tmp), "\\u%04x", c);
			puts_(l, tmp);
		} else {
			put(l, (const char *)&c, 1);
		}
	}
}

static void put_pair(struct line *l, const char *key, const char *value, bool first)
{
	if (current_format == LOG_JSON) {
		puts_(l, first ? "{\"" : ",\"");
		put_escaped(l, key);
		puts_(l, "\":\"");
		put_escaped(l, value);
		puts_(l, "\"");
		return;
	}
	if (!first)
		puts_(l, " ");
	puts_(l, key);
	puts_(l, "=");
	if (needs_quotes(value)) {
		puts_(l, "\"");
		put_escaped(l, value);
		puts_(l, "\"");
	} else {
		puts_(l, value);
	}
}

static void format_ts(char *out, size_t n)
{
	struct timeval tv;
	struct tm tm;
	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	size_t k = strftime(out, n, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out + k, n - k, ".%03dZ", (int)(tv.tv_usec / 1000));
}

void log_event(enum log_level level, const char *scanner, int partition, const char *msg,
               const struct log_field *fields)
{
	if (!log_enabled(level))
		return;
	struct line l = { .len = 0 };
	char ts[40], part[16];
	format_ts(ts, sizeof(ts));
	put_pair(&l, "ts", ts, true);
	put_pair(&l, "level", level_names[level], false);
	if (scanner)
		put_pair(&l, "scanner", scanner, false);
	if (partition >= 0) {
		snprintf(part, sizeof(part), "%d", partition);
		put_pair(&l, "partition", part, false);
	}
	put_pair(&l, "msg", msg, false);
	for (const struct log_field *f = fields; f && f->key; f++)
		put_pair(&l, f->key, f->value ? f->value : "", false);
	if (current_format == LOG_JSON)
		puts_(&l, "}");
	l.buf[l.len++] = '\n';
	if (sink_fn) {
		sink_fn(sink_data, l.buf, l.len);
		return;
	}
	ssize_t rc = write(STDERR_FILENO, l.buf, l.len);
	(void)rc; /* nowhere to report a failed log write */
}

void log_msg(enum log_level level, const char *scanner, const char *fmt, ...)
{
	if (!log_enabled(level))
		return;
	char msg[4096];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_event(level, scanner, -1, msg, NULL);
}
