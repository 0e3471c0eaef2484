/* library: FUNCTION LIST / FUNCTION LOAD state machine (see library.h). */
#define _DEFAULT_SOURCE
#include "library.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "digest.h"
#include "log.h"
#include "luadir.h"

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

const char *library_in_use(enum lib_verdict v)
{
	return v == LIB_FLOWFABRIC ? LIBRARY_FLOWFABRIC : v == LIB_OWN ? LIBRARY_OWN : NULL;
}

/* " (on host:port)" in a cluster, "" on a single server. */
static const char *on_node(const struct libcheck *chk, char *buf, size_t n)
{
	snprintf(buf, n, chk->where ? " (on %s)" : "", chk->where);
	return buf;
}

static void finish(struct libcheck *chk, enum lib_verdict v)
{
	chk->busy = false;
	chk->done(chk->data, v);
}

static void send_or_finish(struct libcheck *chk, int argc, const char **argv, const size_t *lens,
                           rconn_reply_fn fn)
{
	char err[160], at[300];
	if (!rconn_send(chk->conn, argc, argv, lens, fn, chk, err, sizeof(err))) {
		log_warn("function library check postponed%s: %s", on_node(chk, at, sizeof(at)),
		         err);
		finish(chk, LIB_TRANSIENT);
	}
}

static bool failed(struct libcheck *chk, redisReply *r, const char *err, const char *what)
{
	if (!err && r->type != REDIS_REPLY_ERROR)
		return false;
	const char *why = err ? err : r->str;
	char at[300];
	bool transient = err || strncmp(why, "LOADING", 7) == 0 || strncmp(why, "BUSY", 4) == 0;
	on_node(chk, at, sizeof(at));
	if (transient)
		log_warn("%s failed%s (%s); the library check will be retried", what, at, why);
	else if (strstr(why, "unknown command") || strstr(why, "unknown subcommand"))
		log_error("%s%s: this server has no Functions support (Redis >= 7.0 is needed): %s",
		          what, at, why);
	else
		log_error("%s failed%s: %s", what, at, why);
	finish(chk, transient ? LIB_TRANSIENT : LIB_FAILED);
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
	struct libcheck *chk = priv;
	char at[300];
	if (failed(chk, r, err, "loading scanhost's function library"))
		return;
	log_info("loaded scanhost's function library '%s' version %s%s%s", LIBRARY_OWN,
	         chk->lib->version, level_note(chk->lib), on_node(chk, at, sizeof(at)));
	finish(chk, LIB_OWN);
}

static void load_own(struct libcheck *chk, bool replace)
{
	const char *argv[4] = { "FUNCTION", "LOAD" };
	size_t lens[4] = { 8, 4 };
	int argc = 2;
	if (!chk->may_load) {
		finish(chk, LIB_ABSENT); /* the caller decides (a cluster running FlowFabric's) */
		return;
	}
	if (replace) {
		argv[argc] = "REPLACE";
		lens[argc++] = 7;
	}
	argv[argc] = chk->lib->source;
	lens[argc++] = chk->lib->len;
	send_or_finish(chk, argc, argv, lens, on_loaded);
}

static void on_own_listed(void *priv, redisReply *r, const char *err)
{
	struct libcheck *chk = priv;
	const char *version = chk->lib->version;
	char at[300];
	if (failed(chk, r, err, "FUNCTION LIST"))
		return;
	on_node(chk, at, sizeof(at));
	if (r->type != REDIS_REPLY_ARRAY || r->elements == 0) {
		if (chk->may_load)
			log_info("no function library found%s; loading scanhost's '%s' version %s",
			         at, LIBRARY_OWN, version);
		load_own(chk, false);
		return;
	}
	const redisReply *code = entry_field(r->element[0], "library_code");
	char found[64];
	marker_version(code && code->type == REDIS_REPLY_STRING ? code->str : NULL, found,
	               sizeof(found));
	if (!found[0]) {
		log_error("a library named '%s' is loaded%s but scanhost did not create it; "
		          "leaving it untouched (rename or remove it to let scanhost load its own)",
		          LIBRARY_OWN, at);
		finish(chk, LIB_FOREIGN);
	} else if (strcmp(found, version) == 0) {
		log_info("scanhost's function library '%s' version %s%s is already loaded%s",
		         LIBRARY_OWN, found, level_note(chk->lib), at);
		finish(chk, LIB_OWN);
	} else {
		if (chk->may_load)
			log_info("scanhost's function library '%s' is version %s%s; replacing it "
			         "with %s",
			         LIBRARY_OWN, found, at, version);
		load_own(chk, true);
	}
}

static void on_flowfabric_listed(void *priv, redisReply *r, const char *err)
{
	struct libcheck *chk = priv;
	char at[300];
	if (failed(chk, r, err, "FUNCTION LIST"))
		return;
	on_node(chk, at, sizeof(at));
	if (r->type == REDIS_REPLY_ARRAY && r->elements > 0) {
		log_info(
		    "FlowFabric's function library '%s' is loaded%s: using it, loading nothing",
		    LIBRARY_FLOWFABRIC, at);
		finish(chk, LIB_FLOWFABRIC);
		return;
	}
	if (!chk->lib->source) {
		log_warn(
		    "FlowFabric's library is not loaded%s and scanhost has no library sources; "
		    "server-side function calls will fail",
		    at);
		finish(chk, LIB_FAILED);
		return;
	}
	const char *argv[5] = { "FUNCTION", "LIST", "WITHCODE", "LIBRARYNAME", LIBRARY_OWN };
	send_or_finish(chk, 5, argv, NULL, on_own_listed);
}

void library_ensure(struct libcheck *chk, const struct library *lib, struct rconn *conn,
                    bool may_load, void (*done)(void *data, enum lib_verdict v), void *data)
{
	chk->lib = lib;
	chk->conn = conn;
	chk->may_load = may_load;
	chk->done = done;
	chk->data = data;
	chk->busy = true;
	const char *argv[4] = { "FUNCTION", "LIST", "LIBRARYNAME", LIBRARY_FLOWFABRIC };
	send_or_finish(chk, 4, argv, NULL, on_flowfabric_listed);
}
