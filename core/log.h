/* log: one line per event to stderr, logfmt (default) or JSON lines. */
#ifndef SCANHOST_LOG_H
#define SCANHOST_LOG_H

#include <stdbool.h>
#include <stddef.h>

enum log_level { LOG_ERROR = 0, LOG_WARN, LOG_INFO, LOG_DEBUG };
enum log_format { LOG_TEXT = 0, LOG_JSON };

/* How a value is written: JSON gives numbers and booleans their type
 * (`"processed":40`, `"enabled":true`); logfmt writes all three bare. A
 * value that is not a valid JSON number or boolean is written as a string. */
enum log_kind { LOG_STRING = 0, LOG_NUMBER, LOG_BOOL };

/* One key/value pair of a log event; a NULL key ends a list. */
struct log_field {
	const char *key;
	const char *value;
	enum log_kind kind;
};

/* A line never exceeds this (newline included): longer values are
 * shortened inside their quotes, so every line stays valid. */
#define LOG_LINE_MAX 16384

void log_setup(enum log_level level, enum log_format format);
/* Sends every formatted line (with its '\n') to fn instead of stderr; NULL
 * restores stderr. Used by the test module to assert on log lines. */
void log_set_sink(void (*fn)(void *data, const char *line, size_t len), void *data);
bool log_enabled(enum log_level level);
bool log_level_parse(const char *s, enum log_level *out);
bool log_format_parse(const char *s, enum log_format *out);
const char *log_level_name(enum log_level level);

/* Emit one event. scanner may be NULL; partition < 0 means "none". */
void log_event(enum log_level level, const char *scanner, int partition, const char *msg,
               const struct log_field *fields);

/* One line of fields only (no time, level or message) to fd, in the
 * current format: the --once summary. */
void log_write_fields(int fd, const struct log_field *fields);

/* printf-style shorthand for events without extra fields. */
void log_msg(enum log_level level, const char *scanner, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define log_error(...) log_msg(LOG_ERROR, NULL, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_WARN, NULL, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_INFO, NULL, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, NULL, __VA_ARGS__)

#endif
