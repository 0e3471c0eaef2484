/* library: FUNCTION LIST / FUNCTION LOAD state machine (see library.h). */
#define _DEFAULT_SOURCE
#include "library.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "luadir.h"
#include "script.h"

static bool append_file(char **buf, size_t *len, const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return false;
	bool ok = true;
	char chunk[8192];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		char *p = realloc(*buf, *len + n + 2);
		if (!p) {
			ok = false;
			break;
		}
		*buf = p;
		memcpy(*buf + *len, chunk, n);
		*len += n;
	}
	ok = ok && !ferror(f);
	fclose(f);
	if (ok && *len && (*buf)[*len - 1] != '\n')
		(*buf)[(*len)++] = '\n';
	if (*buf)
		(*buf)[*len] = '\0'; /* the level line is searched as a string */
	return ok;
}

/* The start of the level line in body (it must begin a line), NULL when no
 * line is one; *twice when more than one is. */
static const char *find_level_line(const char *body, bool *twice)
{
	const size_t plen = strlen(LIBRARY_LEVEL_LINE);
	const char *found = NULL;
	*twice = false;
	for (const char *p = body; (p = strstr(p, LIBRARY_LEVEL_LINE)); p += plen) {
		if (p != body && p[-1] != '\n')
			continue;
		*twice = found != NULL;
		if (*twice)
			return NULL;
		found = p;
	}
	return found;
}

/* Replaces the value of the level line with the level asked for (0: the
 * default): the library presents that contract (README "Library level"). */
static bool set_level(struct library *lib, char **body, size_t *len, int level, const char *dir,
                      char *err, size_t errlen)
{
	bool twice;
	const char *line = find_level_line(*body, &twice);
	if (twice || (!line && level)) {
		snprintf(err, errlen, "library_level: %s %s %s%d\" (00-common.lua)", dir,
		         twice ? "sets the level twice: only one line may be" : "has no line",
		         LIBRARY_LEVEL_LINE, level ? level : LIBRARY_DEFAULT_LEVEL);
		return false;
	}
	if (!line)
		return true; /* a library of the user's own: loaded as it is */
	const char *value = line + strlen(LIBRARY_LEVEL_LINE);
	const char *end = value + strcspn(value, "\"\n");
	if (*end != '"') {
		snprintf(err, errlen, "library_level: %s: the level line has no closing quote",
		         dir);
		return false;
	}
	lib->level = level ? level : LIBRARY_DEFAULT_LEVEL;
	char digits[16];
	int dlen = snprintf(digits, sizeof(digits), "%d", lib->level);
	size_t head = (size_t)(value - *body), tail = *len - (size_t)(end - *body);
	char *out = malloc(head + (size_t)dlen + tail + 1);
	if (!out) {
		snprintf(err, errlen, "out of memory");
		return false;
	}
	memcpy(out, *body, head);
	memcpy(out + head, digits, (size_t)dlen);
	memcpy(out + head + (size_t)dlen, end, tail);
	out[head + (size_t)dlen + tail] = '\0';
	free(*body);
	*body = out;
	*len = head + (size_t)dlen + tail;
	return true;
}

bool library_build(struct library *lib, const char *dir, int level, char *err, size_t errlen)
{
	memset(lib, 0, sizeof(*lib));
	if (!dir[0])
		return true; /* no sources (the test module's choice) */
	struct dirent **names;
	int n = luadir_list(dir, &names);
	if (n < 0) {
		/* a typo must not silently leave the server without functions */
		snprintf(err, errlen, "functions_dir: cannot read %s: %s", dir, strerror(errno));
		return false;
	}
	char *body = NULL;
	size_t len = 0;
	bool ok = true;
	for (int i = 0; i < n; i++) {
		char path[4096];
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name);
		if (ok && !append_file(&body, &len, path)) {
			snprintf(err, errlen, "%s: cannot read library source", path);
			ok = false;
		}
	}
	luadir_free(names, n);
	if (!ok || len == 0) {
		free(body);
		return ok;
	}
	if (!set_level(lib, &body, &len, level, dir, err, errlen)) {
		free(body);
		return false;
	}
	snprintf(lib->version, sizeof(lib->version), "%016" PRIx64, digest_bytes(body, len));
	char header[128];
	int hlen = snprintf(header, sizeof(header), "#!lua name=%s\n%s%s\n", LIBRARY_OWN,
	                    LIBRARY_MARKER, lib->version);
	lib->source = malloc(len + (size_t)hlen + 1);
	if (!lib->source) {
		free(body);
		snprintf(err, errlen, "out of memory");
		return false;
	}
	memcpy(lib->source, header, (size_t)hlen);
	memcpy(lib->source + hlen, body, len);
	lib->len = len + (size_t)hlen;
	lib->source[lib->len] = '\0';
	free(body);
	return true;
}

void library_free(struct library *lib)
{
	free(lib->source);
	lib->source = NULL;
}

static void finish(struct library *lib, const char *in_use)
{
	lib->in_use = in_use;
	lib->busy = false;
	lib->done(lib->data, in_use);
}

static void send_or_finish(struct library *lib, int argc, const char **argv, const size_t *lens,
                           rconn_reply_fn fn)
{
	char err[160];
	if (!rconn_send(lib->conn, argc, argv, lens, fn, lib, err, sizeof(err))) {
		log_warn("function library check postponed: %s", err);
		lib->transient = true;
		finish(lib, NULL);
	}
}

static bool failed(struct library *lib, redisReply *r, const char *err, const char *what)
{
	if (!err && r->type != REDIS_REPLY_ERROR)
		return false;
	const char *why = err ? err : r->str;
	lib->transient = err || strncmp(why, "LOADING", 7) == 0 || strncmp(why, "BUSY", 4) == 0;
	if (lib->transient)
		log_warn("%s failed (%s); the library check will be retried", what, why);
	else if (strstr(why, "unknown command") || strstr(why, "unknown subcommand"))
		log_error("%s: this server has no Functions support (Redis >= 7.0 is needed): %s",
		          what, why);
	else
		log_error("%s failed: %s", what, why);
	finish(lib, NULL);
	return true;
}

/* The value of field name in one FUNCTION LIST entry (a flat key/value array). */
static const redisReply *entry_field(const redisReply *entry, const char *name)
{
	if (entry->type != REDIS_REPLY_ARRAY)
		return NULL;
	for (size_t i = 0; i + 1 < entry->elements; i += 2) {
		const redisReply *k = entry->element[i];
		if (k->type == REDIS_REPLY_STRING && strcmp(k->str, name) == 0)
			return entry->element[i + 1];
	}
	return NULL;
}

/* The version in a library's marker line, or "" when it has none. */
static void marker_version(const char *code, char *out, size_t n)
{
	out[0] = '\0';
	const char *m = code ? strstr(code, LIBRARY_MARKER) : NULL;
	if (!m)
		return;
	m += strlen(LIBRARY_MARKER);
	size_t k = strcspn(m, "\r\n");
	snprintf(out, n, "%.*s", (int)(k < n - 1 ? k : n - 1), m);
}

/* " (library level N)" for the log lines, "" when the sources set none. */
static const char *level_note(const struct library *lib)
{
	static char note[32];
	if (!lib->level)
		return "";
	snprintf(note, sizeof(note), " (library level %d)", lib->level);
	return note;
}

static void on_loaded(void *priv, redisReply *r, const char *err)
{
	struct library *lib = priv;
	if (failed(lib, r, err, "loading scanhost's function library"))
		return;
	log_info("loaded scanhost's function library '%s' version %s%s", LIBRARY_OWN, lib->version,
	         level_note(lib));
	finish(lib, LIBRARY_OWN);
}

static void load_own(struct library *lib, bool replace)
{
	const char *argv[4] = { "FUNCTION", "LOAD" };
	size_t lens[4] = { 8, 4 };
	int argc = 2;
	if (replace) {
		argv[argc] = "REPLACE";
		lens[argc++] = 7;
	}
	argv[argc] = lib->source;
	lens[argc++] = lib->len;
	send_or_finish(lib, argc, argv, lens, on_loaded);
}

static void on_own_listed(void *priv, redisReply *r, const char *err)
{
	struct library *lib = priv;
	if (failed(lib, r, err, "FUNCTION LIST"))
		return;
	if (r->type != REDIS_REPLY_ARRAY || r->elements == 0) {
		log_info("no function library found; loading scanhost's '%s' version %s",
		         LIBRARY_OWN, lib->version);
		load_own(lib, false);
		return;
	}
	const redisReply *code = entry_field(r->element[0], "library_code");
	char found[64];
	marker_version(code && code->type == REDIS_REPLY_STRING ? code->str : NULL, found,
	               sizeof(found));
	if (!found[0]) {
		log_error("a library named '%s' is loaded but scanhost did not create it; "
		          "leaving it untouched (rename or remove it to let scanhost load its own)",
		          LIBRARY_OWN);
		finish(lib, NULL);
	} else if (strcmp(found, lib->version) == 0) {
		log_info("scanhost's function library '%s' version %s%s is already loaded",
		         LIBRARY_OWN, found, level_note(lib));
		finish(lib, LIBRARY_OWN);
	} else {
		log_info("scanhost's function library '%s' is version %s; replacing it with %s",
		         LIBRARY_OWN, found, lib->version);
		load_own(lib, true);
	}
}

static void on_flowfabric_listed(void *priv, redisReply *r, const char *err)
{
	struct library *lib = priv;
	if (failed(lib, r, err, "FUNCTION LIST"))
		return;
	if (r->type == REDIS_REPLY_ARRAY && r->elements > 0) {
		log_info("FlowFabric's function library '%s' is loaded: using it, loading nothing",
		         LIBRARY_FLOWFABRIC);
		finish(lib, LIBRARY_FLOWFABRIC);
		return;
	}
	if (!lib->source) {
		log_warn("FlowFabric's library is not loaded and scanhost has no library sources; "
		         "server-side function calls will fail");
		finish(lib, NULL);
		return;
	}
	const char *argv[5] = { "FUNCTION", "LIST", "WITHCODE", "LIBRARYNAME", LIBRARY_OWN };
	send_or_finish(lib, 5, argv, NULL, on_own_listed);
}

void library_ensure(struct library *lib, struct rconn *conn,
                    void (*done)(void *data, const char *in_use), void *data)
{
	lib->conn = conn;
	lib->done = done;
	lib->data = data;
	lib->busy = true;
	lib->transient = false;
	const char *argv[4] = { "FUNCTION", "LIST", "LIBRARYNAME", LIBRARY_FLOWFABRIC };
	send_or_finish(lib, 4, argv, NULL, on_flowfabric_listed);
}
