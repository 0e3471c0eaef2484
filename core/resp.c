/* resp: see resp.h. A drain writes thousands of arguments per round trip;
 * hiredis formats each length with sprintf into a buffer of its own, which
 * cost more client CPU than building the arguments in Lua. */
#include "resp.h"

#include <stdint.h>
#include <string.h>

static size_t digits(size_t v)
{
	size_t n = 1;
	while (v >= 10) {
		v /= 10;
		n++;
	}
	return n;
}

/* "<mark><v>\r\n" at out; returns the end. */
static char *write_header(char *out, char mark, size_t v)
{
	size_t n = digits(v);
	*out++ = mark;
	for (size_t i = n; i > 0; i--) {
		out[i - 1] = (char)('0' + v % 10);
		v /= 10;
	}
	out += n;
	*out++ = '\r';
	*out++ = '\n';
	return out;
}

static size_t arg_len(const char **argv, const size_t *argvlen, int i)
{
	return argvlen ? argvlen[i] : strlen(argv[i]);
}

size_t resp_command_size(int argc, const char **argv, const size_t *argvlen)
{
	size_t total = 1 + digits((size_t)argc) + 2;
	for (int i = 0; i < argc; i++) {
		size_t len = arg_len(argv, argvlen, i);
		size_t part = 1 + digits(len) + 2 + 2; /* "$<len>\r\n" and the closing "\r\n" */
		if (len > SIZE_MAX - part || total > SIZE_MAX - part - len)
			return SIZE_MAX;
		total += part + len;
	}
	return total;
}

void resp_write_command(char *out, int argc, const char **argv, const size_t *argvlen)
{
	out = write_header(out, '*', (size_t)argc);
	for (int i = 0; i < argc; i++) {
		size_t len = arg_len(argv, argvlen, i);
		out = write_header(out, '$', len);
		if (len)
			memcpy(out, argv[i], len);
		out += len;
		*out++ = '\r';
		*out++ = '\n';
	}
}
