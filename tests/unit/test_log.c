/* JSON and logfmt lines (issue 9): typed numbers and booleans, values
 * shortened inside their quotes, invalid UTF-8 escaped, lines never cut. */
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "unit.h"

static char line[LOG_LINE_MAX + 64];
static size_t line_len;

static void sink(void *data, const char *l, size_t n)
{
	(void)data;
	memcpy(line, l, n);
	line[n] = '\0';
	line_len = n;
}

static void typed(void)
{
	log_setup(LOG_DEBUG, LOG_JSON);
	struct log_field f[] = { { "processed", "40", LOG_NUMBER },
		                 { "on", "true", LOG_BOOL },
		                 { "text", "40", LOG_STRING },
		                 { "nan", "nan", LOG_NUMBER }, /* not a JSON number: quoted */
		                 { NULL, NULL, LOG_STRING } };
	log_event(LOG_INFO, "s", 3, "m", f);
	CHECK(strstr(line, "\"partition\":3,") != NULL);
	CHECK(strstr(line, "\"processed\":40,\"on\":true,\"text\":\"40\",\"nan\":\"nan\"}\n") !=
	      NULL);
	log_setup(LOG_DEBUG, LOG_TEXT);
	log_event(LOG_INFO, "s", 3, "m", f);
	CHECK(strstr(line, " processed=40 on=true text=40 nan=nan\n") != NULL);
}

static void bytes(void)
{
	log_setup(LOG_DEBUG, LOG_JSON);
	struct log_field f[] = { { "bad", "a\xff\xc0\x80z\xe2\x82\xac", LOG_STRING },
		                 { "ctl", "q\"\\\n\x01", LOG_STRING },
		                 { NULL, NULL, LOG_STRING } };
	log_event(LOG_INFO, NULL, -1, "m", f);
	/* the euro sign is valid UTF-8 and stays; each invalid byte is U+FFFD */
	CHECK(strstr(line, "\"bad\":\"a\\ufffd\\ufffd\\ufffdz\xe2\x82\xac\"") != NULL);
	CHECK(strstr(line, "\"ctl\":\"q\\\"\\\\\\n\\u0001\"}") != NULL);
	log_setup(LOG_DEBUG, LOG_TEXT);
	log_event(LOG_INFO, NULL, -1, "m", f);
	CHECK(strstr(line, "bad=\"a\\xff\\xc0\\x80z\xe2\x82\xac\"") != NULL);
}

static void long_values(void)
{
	static char big[3 * LOG_LINE_MAX];
	memset(big, '"', sizeof(big) - 1); /* every byte escapes to two */
	big[sizeof(big) - 1] = '\0';
	log_setup(LOG_DEBUG, LOG_JSON);
	struct log_field f[] = { { "big", big, LOG_STRING },
		                 { "after", "1", LOG_NUMBER },
		                 { NULL, NULL, LOG_STRING } };
	log_event(LOG_INFO, "s", -1, big, f);
	CHECK(line_len <= LOG_LINE_MAX);
	CHECK(line[line_len - 1] == '\n' && line[line_len - 2] == '}');
	CHECK(strstr(line, "bytes cut]\",\"big\":\"") != NULL); /* the message shortened */
	CHECK(strstr(line, "bytes cut]\",\"after\":1}") != NULL);
	/* no escape is cut in half: every backslash before the mark pairs a quote */
	char *mark = strstr(line, "...[");
	CHECK(mark != NULL && mark[-1] == '"' && mark[-2] == '\\');
}

int main(void)
{
	log_set_sink(sink, NULL);
	typed();
	bytes();
	long_values();
	UNIT_DONE();
}
