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

/* One line under construction. Every write checks the room left, so a
 * line is always complete: values give up bytes, never the closing quote,
 * brace or newline. */
struct line {
	char buf[LOG_LINE_MAX];
	size_t len;
	size_t reserve; /* room kept for what still has to come */
};

#define KEY_MAX      64 /* bytes of a key that are kept */
#define ESCAPED_MAX  6  /* the longest escape: \u0000 */
#define FIELD_MIN    48 /* room kept per field still to come, beyond its key */
#define CUT_MARK_MAX 40 /* "...[12345 bytes cut]" */

static size_t room(const struct line *l)
{
	size_t used = l->len + l->reserve;
	return used < sizeof(l->buf) ? sizeof(l->buf) - used : 0;
}

static void put(struct line *l, const char *s, size_t n)
{
	if (n > room(l))
		n = room(l);
	memcpy(l->buf + l->len, s, n);
	l->len += n;
}

static void puts_(struct line *l, const char *s)
{
	put(l, s, strlen(s));
}

/* Length of the valid UTF-8 sequence at p (at most n bytes), 0 if invalid. */
static size_t utf8_len(const unsigned char *p, size_t n)
{
	size_t k;
	unsigned min;
	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		k = 2;
		min = 0x80;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		k = 3;
		min = 0x800;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		k = 4;
		min = 0x10000;
	} else {
		return 0;
	}
	if (n < k)
		return 0;
	unsigned cp = p[0] & (0x7f >> k);
	for (size_t i = 1; i < k; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return k;
}

/* The escaped form of the character at s (n bytes left) into out; returns
 * the bytes of s it stands for. Quotes, backslashes and control bytes are
 * escaped; an invalid UTF-8 byte becomes \ufffd (JSON) or \xNN (text). */
static size_t escape_one(const char *s, size_t n, bool json, char *out, size_t *outlen)
{
	unsigned char c = (unsigned char)*s;
	size_t k = utf8_len((const unsigned char *)s, n);
	if (c == '"' || c == '\\') {
		out[0] = '\\';
		out[1] = (char)c;
		*outlen = 2;
	} else if (c == '\n' || c == '\t') {
		out[0] = '\\';
		out[1] = c == '\n' ? 'n' : 't';
		*outlen = 2;
	} else if (c < 0x20) {
		*outlen = (size_t)snprintf(out, 8, "\\u%04x", c);
	} else if (k == 0) {
		*outlen =
		    (size_t)(json ? snprintf(out, 8, "\\ufffd") : snprintf(out, 8, "\\x%02x", c));
		return 1;
	} else {
		memcpy(out, s, k);
		*outlen = k;
		return k;
	}
	return 1;
}

/* Escapes v into the line within max bytes; a value that does not fit is
 * cut at a character boundary and marked with how many bytes were cut. */
static void put_escaped(struct line *l, const char *v, size_t max)
{
	bool json = current_format == LOG_JSON;
	size_t n = strlen(v), i = 0;
	if (max > room(l))
		max = room(l);
	size_t end = l->len + max;
	while (i < n) {
		char tmp[8];
		size_t tlen;
		size_t used = escape_one(v + i, n - i, json, tmp, &tlen);
		/* keep room for the cut mark unless this is the last character */
		size_t need = tlen + (i + used < n ? CUT_MARK_MAX : 0);
		if (l->len + need > end && (i + used < n || l->len + tlen > end))
			break;
		memcpy(l->buf + l->len, tmp, tlen);
		l->len += tlen;
		i += used;
	}
	if (i < n) {
		char mark[CUT_MARK_MAX];
		snprintf(mark, sizeof(mark), "...[%zu bytes cut]", n - i);
		put(l, mark, strlen(mark));
	}
}

static bool needs_quotes(const char *v)
{
	if (*v == '\0')
		return true;
	for (; *v; v++) {
		unsigned char c = (unsigned char)*v;
		if (c <= ' ' || c == '"' || c == '=' || c == '\\' || c >= 0x7f)
			return true;
	}
	return false;
}

/* A JSON number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static bool json_number(const char *v)
{
	const char *p = v;
	if (*p == '-')
		p++;
	if (*p == '0')
		p++;
	else if (*p >= '1' && *p <= '9')
		while (*p >= '0' && *p <= '9')
			p++;
	else
		return false;
	if (*p == '.') {
		if (!(*++p >= '0' && *p <= '9'))
			return false;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	if (*p == 'e' || *p == 'E') {
		p++;
		if (*p == '+' || *p == '-')
			p++;
		if (!(*p >= '0' && *p <= '9'))
			return false;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	return *p == '\0';
}

static bool bare_value(const char *v, enum log_kind kind)
{
	if (kind == LOG_NUMBER)
		return json_number(v);
	if (kind == LOG_BOOL)
		return strcmp(v, "true") == 0 || strcmp(v, "false") == 0;
	return false;
}

/* Room for the key and a minimal value of every field after this one. */
static size_t tail_reserve(const struct log_field *rest)
{
	size_t r = 4; /* "}\n" and slack */
	for (const struct log_field *f = rest; f && f->key; f++) {
		size_t k = strlen(f->key);
		r += (k > KEY_MAX ? KEY_MAX : k) * ESCAPED_MAX + FIELD_MIN;
	}
	return r;
}

/* One pair; rest: the fields still to come (their room is kept). A value
 * is written bare (a JSON number or boolean, a logfmt token) only when it
 * fits whole; otherwise it is quoted, and shortened if need be. */
static void put_pair(struct line *l, const char *key, const char *value, enum log_kind kind,
                     bool first, const struct log_field *rest)
{
	l->reserve = tail_reserve(rest);
	bool json = current_format == LOG_JSON;
	char k[KEY_MAX + 1];
	snprintf(k, sizeof(k), "%s", key);
	if (json) {
		puts_(l, first ? "{\"" : ",\"");
		put_escaped(l, k, (size_t)KEY_MAX * ESCAPED_MAX);
		puts_(l, "\":");
	} else {
		if (!first)
			puts_(l, " ");
		put_escaped(l, k, (size_t)KEY_MAX * ESCAPED_MAX);
		puts_(l, "=");
	}
	bool bare =
	    (json ? bare_value(value, kind) : !needs_quotes(value)) && strlen(value) <= room(l);
	if (bare) {
		puts_(l, value);
		return;
	}
	puts_(l, "\"");
	put_escaped(l, value, room(l) > 1 ? room(l) - 1 : 0); /* one byte: the closing quote */
	puts_(l, "\"");
}

/* Ends a line: the closing brace and the newline always fit (reserve). */
static void end_line(struct line *l)
{
	l->reserve = 0;
	if (current_format == LOG_JSON)
		puts_(l, "}");
	puts_(l, "\n");
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

static void emit(struct line *l, int fd)
{
	if (sink_fn) {
		sink_fn(sink_data, l->buf, l->len);
		return;
	}
	ssize_t rc = write(fd, l->buf, l->len);
	(void)rc; /* nowhere to report a failed log write */
}

static void put_fields(struct line *l, const struct log_field *fields, bool first)
{
	for (const struct log_field *f = fields; f && f->key; f++) {
		put_pair(l, f->key, f->value ? f->value : "", f->kind, first, f + 1);
		first = false;
	}
}

void log_event(enum log_level level, const char *scanner, int partition, const char *msg,
               const struct log_field *fields)
{
	if (!log_enabled(level))
		return;
	struct line l = { .len = 0 };
	char ts[40], part[16];
	format_ts(ts, sizeof(ts));
	snprintf(part, sizeof(part), "%d", partition);
	struct log_field head[] = {
		{ "ts", ts, LOG_STRING },           { "level", level_names[level], LOG_STRING },
		{ "scanner", scanner, LOG_STRING }, { "partition", part, LOG_NUMBER },
		{ "msg", msg, LOG_STRING },
	};
	bool first = true;
	for (size_t i = 0; i < sizeof(head) / sizeof(head[0]); i++) {
		if ((i == 2 && !scanner) || (i == 3 && partition < 0))
			continue;
		/* the message and the fields after it share what the line has left */
		put_pair(&l, head[i].key, head[i].value, head[i].kind, first,
		         i == 4 ? fields : NULL);
		first = false;
	}
	put_fields(&l, fields, false);
	end_line(&l);
	emit(&l, STDERR_FILENO);
}

void log_write_fields(int fd, const struct log_field *fields)
{
	struct line l = { .len = 0 };
	put_fields(&l, fields, true);
	end_line(&l);
	emit(&l, fd);
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
