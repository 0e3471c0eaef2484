/* libFuzzer target: config_build (core/config*.c) on a generated config file
 * plus generated command-line flags. The fuzz bytes drive a generator of
 * Lua table literals (known keys and random ones; integers, floats incl.
 * inf/nan, strings with any byte, booleans, nested tables), so the loader
 * sees structurally varied but never executable input (no loops, no calls).
 * `redis` gets a URL, a list of them (seed nodes) or any value.
 * Oracles: no crash or sanitizer report; an error names a key or a flag and
 * never contains the password placed in generated URLs; an accepted config
 * has values in their documented ranges, and at most 15 further seeds of
 * the first URL's scheme. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void *memmem(const void *, size_t, const void *, size_t);

#include "config.h"

#define SECRET "FuzzS3cretPw"

struct gen {
	const uint8_t *d;
	size_t n, i;
	char *out;
	size_t len, cap;
	bool tainted; /* a random string spelled the secret: errors may quote it */
};

static unsigned byte(struct gen *g)
{
	return g->i < g->n ? g->d[g->i++] : 0;
}

static void put(struct gen *g, const char *s, size_t n)
{
	if (g->len + n + 1 > g->cap) {
		g->cap = (g->len + n + 1) * 2;
		g->out = realloc(g->out, g->cap);
		if (!g->out)
			abort();
	}
	memcpy(g->out + g->len, s, n);
	g->len += n;
	g->out[g->len] = '\0';
}

static void puts_(struct gen *g, const char *s)
{
	put(g, s, strlen(s));
}

static const char *const KEYS[] = {
	"redis",         "partitions",      "budget_partitions", "quota_partitions",
	"lanes",         "command_timeout", "connect_timeout",   "shutdown_timeout",
	"scan_timeout",  "log_level",       "log_format",        "scanners_dir",
	"functions_dir", "lua_path",        "scanners",          "claims",
};
#define NKEYS (sizeof(KEYS) / sizeof(KEYS[0]))

static const char *const WORDS[] = {
	"info",
	"debug",
	"json",
	"text",
	"default",
	"lease_expiry",
	"enabled",
	"interval",
	"batch",
	"redis://127.0.0.1:6379",
	"unix:///tmp/x.sock",
	"unix://rel",
	"/tmp",
	"",
	"blue,green",
	"0",
	"-1",
	"65535",
	"65536",
};
#define NWORDS (sizeof(WORDS) / sizeof(WORDS[0]))

/* URLs carrying the secret: used only as the value of `redis` / --redis,
 * the one place a password belongs (other keys may quote what they got) */
static const char *const URLS[] = {
	"redis://:" SECRET "@127.0.0.1:6379/2",
	"redis://u:" SECRET "@h:99999",
	"redis://:" SECRET "@:1",
	"redis://:" SECRET "@h:1/x",
	"http://:" SECRET "@h:1",
	"redis://:" SECRET "@h:",
	"redis://:" SECRET,
};
#define NURLS (sizeof(URLS) / sizeof(URLS[0]))

static void gen_url(struct gen *g)
{
	char buf[8];
	const char *w = URLS[byte(g) % NURLS];
	puts_(g, "\"");
	for (; *w; w++) {
		snprintf(buf, sizeof(buf), "\\%03u", (unsigned char)*w);
		puts_(g, buf);
	}
	unsigned n = byte(g) % 4; /* a few random trailing bytes */
	for (unsigned k = 0; k < n; k++) {
		snprintf(buf, sizeof(buf), "\\%03u", byte(g));
		puts_(g, buf);
	}
	puts_(g, "\"");
}

/* A list of URLs for `redis` (a cluster's seed nodes): 1 to 18, past the
 * limit of 16. */
static void gen_url_list(struct gen *g)
{
	unsigned n = 1 + byte(g) % 18;
	puts_(g, "{");
	for (unsigned k = 0; k < n; k++) {
		gen_url(g);
		puts_(g, ",");
	}
	puts_(g, "}");
}

static void gen_string(struct gen *g)
{
	char buf[8];
	unsigned kind = byte(g) % 3;
	puts_(g, "\"");
	if (kind == 0) {
		const char *w = WORDS[byte(g) % NWORDS];
		for (; *w; w++) {
			snprintf(buf, sizeof(buf), "\\%03u", (unsigned char)*w);
			puts_(g, buf);
		}
	} else {
		unsigned n = byte(g) % (kind == 1 ? 16 : 200);
		char raw[200];
		for (unsigned k = 0; k < n; k++) {
			raw[k] = (char)byte(g);
			snprintf(buf, sizeof(buf), "\\%03u", (unsigned char)raw[k]);
			puts_(g, buf);
		}
		if (memmem(raw, n, SECRET, strlen(SECRET)))
			g->tainted = true;
	}
	puts_(g, "\"");
}

static void gen_value(struct gen *g, int depth);

static void gen_table(struct gen *g, int depth)
{
	unsigned n = byte(g) % 6;
	puts_(g, "{");
	for (unsigned k = 0; k < n; k++) {
		unsigned form = byte(g) % 3;
		if (form == 1) {
			puts_(g, "[");
			gen_string(g);
			puts_(g, "]=");
		} else if (form == 2) {
			char buf[32];
			snprintf(buf, sizeof(buf), "[%d]=", (int)(byte(g) % 8) - 2);
			puts_(g, buf);
		}
		gen_value(g, depth + 1);
		puts_(g, ",");
	}
	puts_(g, "}");
}

static void gen_value(struct gen *g, int depth)
{
	char buf[64];
	switch (byte(g) % (depth > 3 ? 5 : 6)) {
	case 0: {
		int32_t v =
		    (int32_t)(byte(g) | byte(g) << 8 | byte(g) << 16 | (uint32_t)byte(g) << 24);
		snprintf(buf, sizeof(buf), "(%d)", (int)(byte(g) & 1 ? v : v % 70000));
		puts_(g, buf);
		break;
	}
	case 1: {
		uint64_t bits = 0;
		for (int k = 0; k < 8; k++)
			bits = bits << 8 | byte(g);
		double v;
		memcpy(&v, &bits, sizeof(v));
		if (isnan(v))
			puts_(g, "(0/0)");
		else if (isinf(v))
			puts_(g, v > 0 ? "(1/0)" : "(-1/0)");
		else {
			snprintf(buf, sizeof(buf), "(%.17g)", byte(g) & 1 ? v : fmod(v, 100.0));
			puts_(g, buf);
		}
		break;
	}
	case 2: gen_string(g); break;
	case 3: puts_(g, byte(g) & 1 ? "true" : "false"); break;
	case 4: puts_(g, "nil"); break;
	default: gen_table(g, depth); break;
	}
}

static const char *const FLAGS[] = {
	"--partitions",
	"--budget-partitions",
	"--quota-partitions",
	"--lanes",
	"--only",
	"--log-level",
	"--log-format",
	"--redis",
	"--scanners",
	"--functions",
	"--lua-path",
	"--once",
	"--check",
	"-x",
	"--bogus",
};
#define NFLAGS (sizeof(FLAGS) / sizeof(FLAGS[0]))

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char path[64];
	if (!path[0]) {
		snprintf(path, sizeof(path), "build/fuzz/config-%d.lua", (int)getpid());
		unsetenv("SCANHOST_REDIS");
	}
	struct gen g = { .d = data, .n = size };
	puts_(&g, "return {");
	unsigned nkeys = byte(&g) % 8;
	for (unsigned k = 0; k < nkeys; k++) {
		unsigned which = byte(&g) % (NKEYS + 1);
		if (which == NKEYS) {
			puts_(&g, "[");
			gen_string(&g);
			puts_(&g, "]");
		} else {
			puts_(&g, KEYS[which]);
		}
		puts_(&g, "=");
		unsigned form = which == 0 ? byte(&g) % 3 : 2;
		if (form == 0)
			gen_url(&g);
		else if (form == 1)
			gen_url_list(&g);
		else
			gen_value(&g, 0);
		puts_(&g, ",");
	}
	puts_(&g, "}\n");
	FILE *f = fopen(path, "w");
	if (!f)
		abort();
	fwrite(g.out, 1, g.len, f);
	fclose(f);

	/* argv: scanhost -c path [flags...] */
	char *argv[16];
	char vals[8][64];
	int argc = 0;
	argv[argc++] = "scanhost";
	argv[argc++] = "-c";
	argv[argc++] = path;
	unsigned nflags = byte(&g) % 4;
	for (unsigned k = 0; k < nflags && argc < 14; k++) {
		const char *flag = FLAGS[byte(&g) % NFLAGS];
		argv[argc++] = (char *)flag;
		if (strcmp(flag, "--once") && strcmp(flag, "--check")) {
			bool url = strcmp(flag, "--redis") == 0 && byte(&g) % 2;
			snprintf(vals[k], sizeof(vals[k]), "%s",
			         url ? URLS[byte(&g) % NURLS] : WORDS[byte(&g) % NWORDS]);
			argv[argc++] = vals[k];
		}
	}
	argv[argc] = NULL;

	static struct config c;
	config_defaults(&c, "bin/scanhost"); /* run from the repository root */
	char err[512];
	bool ok = config_build(&c, argc, argv, err, sizeof(err));
	if (!ok) {
		if (err[0] == '\0' || (strstr(err, SECRET) && !g.tainted))
			abort();
	} else if (!c.help && !c.version) {
		if (c.partitions < 1 || c.partitions > 65535 || c.budget_partitions < 1 ||
		    c.quota_partitions < 1 || c.nlanes < 1 || c.nlanes > CONFIG_MAX_LANES)
			abort();
		if (!(c.command_timeout > 0) || !(c.connect_timeout > 0) ||
		    !(c.shutdown_timeout >= 0) || isinf(c.command_timeout) ||
		    isinf(c.connect_timeout))
			abort();
		if (c.nseeds < 0 || c.nseeds > CONFIG_MAX_SEEDS)
			abort();
		for (int i = 0; i < c.nseeds; i++) {
			if (c.seeds[i].tls != c.url.tls || c.seeds[i].is_unix != c.url.is_unix)
				abort();
		}
	}
	config_free(&c);
	free(g.out);
	return 0;
}
