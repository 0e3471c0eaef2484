/* scanset: loading the set of scanners, one code path for the first load
 * (--check, --once, the daemon), SIGUSR1 and SIGHUP.
 *
 * A pass loads every file of the scanner directories aside (a fresh state
 * per new or changed file), then validates the set as a whole, then
 * installs it. What is checked:
 *  - each file (script_load): its definition, and its options against its
 *    defaults and bounds merged with config.scanners[name];
 *  - the set: no scanner name defined by two files, every name under
 *    config.scanners and --only names a scanner, at least one scanner
 *    runs, every configured directory can be read.
 * Problems of a file itself (syntax error, a raise at top level) leave its
 * previous version running, or the scanner off. Configuration problems
 * (the rest) fail the first load (exit 2) and refuse a config reload; a
 * script reload applies what is valid file by file, and is refused as a
 * whole only if a directory cannot be read or nothing would run. */
#define _DEFAULT_SOURCE
#include "scanset.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

#include "hoststate.h"
#include "log.h"
#include "luadir.h"
#include "registry.h"
#include "script_load.h"

/* One file of a pass. */
struct candidate {
	char path[PATH_MAX + 256];
	char name[SCANNER_NAME_MAX + 1]; /* failed files: the file's base name */
	struct script *script;           /* freshly loaded; NULL when unchanged or failed */
	struct scanner *slot;            /* the slot that runs this file now, if any */
	bool failed;
};

struct pass {
	struct candidate *c;
	int n, cap;
	int file_errors;
	int config_errors;
	bool refuse; /* something makes the whole pass unusable */
};

static struct scanner *slot_for_path(struct host *h, const char *path)
{
	for (struct scanner *s = h->scanners; s; s = s->next) {
		if (host_latest(s) && strcmp(host_latest(s)->path, path) == 0)
			return s;
	}
	return NULL;
}

static struct candidate *add_candidate(struct pass *p, const char *path)
{
	if (p->n == p->cap) {
		int cap = p->cap ? p->cap * 2 : 32;
		struct candidate *c = realloc(p->c, (size_t)cap * sizeof(*c));
		if (!c)
			abort();
		p->c = c;
		p->cap = cap;
	}
	struct candidate *c = &p->c[p->n++];
	memset(c, 0, sizeof(*c));
	snprintf(c->path, sizeof(c->path), "%s", path);
	return c;
}

/* The file's base name without ".lua": what a failed file most likely
 * defines, for matching config.scanners names. */
static void guess_name(struct candidate *c)
{
	char tmp[sizeof(c->path)];
	snprintf(tmp, sizeof(tmp), "%s", c->path);
	const char *base = basename(tmp);
	size_t n = strlen(base) - 4;
	snprintf(c->name, sizeof(c->name), "%.*s",
	         (int)(n < SCANNER_NAME_MAX ? n : SCANNER_NAME_MAX), base);
}

static void load_file(struct host *h, struct pass *p, const char *path, bool force)
{
	struct candidate *c = add_candidate(p, path);
	c->slot = slot_for_path(h, path);
	uint64_t digest = 0;
	if (!force && c->slot && script_digest(host_latest(c->slot), &digest) &&
	    digest == host_latest(c->slot)->digest) {
		snprintf(c->name, sizeof(c->name), "%s", c->slot->name); /* unchanged */
		return;
	}
	char err[2048];
	bool bad_option;
	c->script = script_load(&h->env, path, err, sizeof(err), &bad_option);
	if (c->script) {
		snprintf(c->name, sizeof(c->name), "%s", c->script->name);
		return;
	}
	c->failed = true;
	guess_name(c);
	if (c->slot)
		snprintf(c->name, sizeof(c->name), "%s", c->slot->name);
	if (bad_option)
		p->config_errors++;
	else
		p->file_errors++;
	struct log_field f[] = { { "file", path, LOG_STRING },
		                 { "error", err, LOG_STRING },
		                 { NULL, NULL, LOG_STRING } };
	log_event(LOG_ERROR, c->slot ? c->slot->name : NULL, -1,
	          c->slot ? "script failed to load; the previous version keeps running"
	                  : "script failed to load; scanner stays off",
	          f);
}

static void load_dir(struct host *h, struct pass *p, int i, bool force)
{
	const char *dir = h->cfg->scanners_dirs[i];
	struct dirent **names;
	int n = luadir_list(dir, &names);
	if (n < 0) {
		if (errno == ENOENT && h->cfg->scanners_dir_optional[i])
			return; /* the install's user directory, not created */
		log_error("scanners_dir: cannot read %s: %s", dir, strerror(errno));
		p->config_errors++;
		p->refuse = true;
		return;
	}
	for (int k = 0; k < n; k++) {
		char path[PATH_MAX + 256];
		snprintf(path, sizeof(path), "%s/%s", dir, names[k]->d_name);
		load_file(h, p, path, force);
	}
	luadir_free(names, n);
}

/* The same name in two files: an error naming both; the later one is
 * ignored. */
static void check_duplicates(struct pass *p)
{
	for (int j = 0; j < p->n; j++) {
		struct candidate *b = &p->c[j];
		for (int i = 0; i < j && !b->failed; i++) {
			const struct candidate *a = &p->c[i];
			if (a->failed || strcmp(a->name, b->name) != 0)
				continue;
			log_msg(LOG_ERROR, b->name,
			        "duplicate scanner name: defined by %s and by %s; the second file "
			        "is ignored",
			        a->path, b->path);
			script_free(b->script);
			b->script = NULL;
			b->failed = true;
			b->slot = NULL;
			p->config_errors++;
		}
	}
}

static bool known(const struct pass *p, const char *name)
{
	for (int i = 0; i < p->n; i++) {
		if (strcmp(p->c[i].name, name) == 0)
			return true;
	}
	return false;
}

/* Every name under config.scanners and --only must name a scanner. */
static int check_names(struct host *h, const struct pass *p)
{
	int errors = 0;
	lua_State *C = h->env.conf_L;
	if (C && h->env.overrides_ref != LUA_NOREF && h->env.overrides_ref != LUA_REFNIL) {
		lua_rawgeti(C, LUA_REGISTRYINDEX, h->env.overrides_ref);
		lua_pushnil(C);
		while (lua_next(C, -2)) {
			if (lua_type(C, -2) == LUA_TSTRING && !known(p, lua_tostring(C, -2))) {
				log_error("scanners.%s: no scanner of that name in the scanner "
				          "directories (a typo?)",
				          lua_tostring(C, -2));
				errors++;
			}
			lua_pop(C, 1);
		}
		lua_pop(C, 1);
	}
	for (int i = 0; i < h->cfg->nonly; i++) {
		if (!known(p, h->cfg->only[i])) {
			log_error("--only: no scanner named %s", h->cfg->only[i]);
			errors++;
		}
	}
	return errors;
}

/* What a candidate leaves running: its new version, or the version that
 * runs now (unchanged file, or a failed reload). */
static const struct script *runs(const struct candidate *c)
{
	if (c->script)
		return c->script;
	return c->slot ? host_latest(c->slot) : NULL;
}

static int count_running(struct host *h, const struct pass *p)
{
	int n = 0;
	for (int i = 0; i < p->n; i++) {
		const struct script *sc = runs(&p->c[i]);
		if (sc && sc->enabled && host_selected(h, sc->name))
			n++;
	}
	return n;
}

static void log_loaded(const struct script *sc, bool replacing)
{
	char digest[20], interval[32];
	snprintf(digest, sizeof(digest), "%016" PRIx64, sc->digest);
	snprintf(interval, sizeof(interval), "%g", sc->interval);
	struct log_field f[] = { { "file", sc->path, LOG_STRING },
		                 { "family", family_name(sc->family), LOG_STRING },
		                 { "interval_s", interval, LOG_NUMBER },
		                 { "digest", digest, LOG_STRING },
		                 { "enabled", sc->enabled ? "true" : "false", LOG_BOOL },
		                 { NULL, NULL, LOG_STRING } };
	log_event(LOG_INFO, sc->name, -1,
	          replacing ? "script reloaded; takes effect at the next cycle" : "script loaded",
	          f);
}

/* A slot whose runner is between cycles and not sleeping (stopped, never
 * started): nothing to wait for, the new version takes over at once. */
static bool idle_slot(const struct scanner *s)
{
	return !s->scheduled || s->runner.state == RUNNER_STOPPED || s->runner.state == RUNNER_IDLE;
}

static void install(struct host *h, struct script *sc)
{
	struct scanner *slot = host_find(h, sc->name);
	if (!slot)
		slot = host_new_slot(h, sc->name);
	sc->tracker = &slot->tracker;
	sc->claims = &slot->claims;
	sc->backlog = &slot->stats.backlog_cycle;
	slot->removed = false;
	log_loaded(sc, slot->active != NULL);
	if (slot->active && !idle_slot(slot)) {
		script_retire(slot->pending);
		slot->pending = sc; /* swapped in at the next cycle boundary */
		return;
	}
	script_retire(slot->pending);
	script_retire(slot->active);
	slot->pending = NULL;
	slot->active = sc;
	slot->runaway_reported = false;
}

static bool claimed(const struct pass *p, const struct scanner *s)
{
	for (int i = 0; i < p->n; i++) {
		if (p->c[i].slot == s || (!p->c[i].failed && strcmp(p->c[i].name, s->name) == 0))
			return true;
	}
	return false;
}

static void commit(struct host *h, struct pass *p)
{
	for (int i = 0; i < p->n; i++) {
		struct script *sc = p->c[i].script;
		p->c[i].script = NULL;
		if (!sc)
			continue;
		if (host_selected(h, sc->name))
			install(h, sc);
		else
			script_free(sc);
	}
	for (struct scanner *s = h->scanners; s; s = s->next) {
		if (host_latest(s) && !claimed(p, s) && !s->removed) {
			s->removed = true;
			log_msg(LOG_INFO, s->name,
			        "script removed; the scanner stops at its next cycle");
			if (idle_slot(s)) {
				script_retire(s->pending);
				s->pending = NULL;
			}
		}
		host_schedule(s);
	}
}

static void free_pass(struct pass *p)
{
	for (int i = 0; i < p->n; i++)
		script_free(p->c[i].script);
	free(p->c);
}

bool host_load_set(struct host *h, enum load_mode mode)
{
	struct pass p = { 0 };
	bool force = mode == LOAD_CONFIG;
	for (int i = 0; i < h->cfg->nscanners_dirs; i++)
		load_dir(h, &p, i, force);
	check_duplicates(&p);
	int name_errors = check_names(h, &p);
	if (mode != LOAD_SCRIPTS)
		p.config_errors += name_errors; /* a removed file is no config error */
	if (!p.refuse && count_running(h, &p) == 0) {
		log_error("no scanner to run: the scanner directories (%d) hold no enabled "
		          "scanner that loads%s",
		          h->cfg->nscanners_dirs, h->cfg->nonly ? " and is named by --only" : "");
		p.config_errors++;
		p.refuse = mode != LOAD_START;
	}
	h->load_errors = p.file_errors;
	h->config_errors = p.config_errors;
	bool apply = !p.refuse && !(mode == LOAD_CONFIG && p.config_errors > 0);
	if (apply)
		commit(h, &p);
	free_pass(&p);
	return apply;
}

int host_load_scanners(struct host *h)
{
	host_load_set(h, LOAD_START);
	return h->load_errors + h->config_errors;
}

int host_config_errors(const struct host *h)
{
	return h->config_errors;
}
