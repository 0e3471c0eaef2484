/* prom: the exposition format 0.0.4 and the buffer it is written into. */
#include "prom.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const double prom_duration_bounds[PROM_BUCKETS] = { 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
	                                            1,     2.5,  5,     10,   30,  60 };

void sbuf_free(struct sbuf *b)
{
	free(b->p);
	*b = (struct sbuf){ 0 };
}

static bool reserve(struct sbuf *b, size_t more)
{
	if (b->failed)
		return false;
	if (b->len + more + 1 <= b->cap)
		return true;
	size_t cap = b->cap ? b->cap : 4096;
	while (cap < b->len + more + 1)
		cap *= 2;
	char *p = realloc(b->p, cap);
	if (!p) {
		b->failed = true;
		return false;
	}
	b->p = p;
	b->cap = cap;
	return true;
}

void sbuf_add(struct sbuf *b, const char *s, size_t n)
{
	if (!reserve(b, n))
		return;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void sbuf_printf(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || !reserve(b, (size_t)n))
		return;
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

void sbuf_json_str(struct sbuf *b, const char *s)
{
	sbuf_add(b, "\"", 1);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			sbuf_printf(b, "\\%c", c);
		else if (c < 0x20)
			sbuf_printf(b, "\\u%04x", c);
		else
			sbuf_add(b, s, 1);
	}
	sbuf_add(b, "\"", 1);
}

void prom_family(struct sbuf *b, const char *name, const char *type, const char *help)
{
	sbuf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* Label values escape backslash, double quote and line feed (0.0.4). */
static void label_value(struct sbuf *b, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			sbuf_printf(b, "\\%c", *v);
		else if (*v == '\n')
			sbuf_add(b, "\\n", 2);
		else
			sbuf_add(b, v, 1);
	}
}

static void labels_open(struct sbuf *b, const char *name, const struct prom_label *labels,
                        int nlabels)
{
	sbuf_printf(b, "%s", name);
	for (int i = 0; i < nlabels; i++) {
		sbuf_printf(b, "%s%s=\"", i ? "," : "{", labels[i].name);
		label_value(b, labels[i].value);
		sbuf_add(b, "\"", 1);
	}
}

static void value(struct sbuf *b, double v)
{
	if (isnan(v))
		sbuf_add(b, " NaN\n", 5);
	else if (isinf(v))
		sbuf_printf(b, " %sInf\n", v > 0 ? "+" : "-");
	else if (v == floor(v) && fabs(v) < 9007199254740992.0) /* 2^53: exact */
		sbuf_printf(b, " %.0f\n", v);
	else
		sbuf_printf(b, " %.17g\n", v);
}

void prom_sample(struct sbuf *b, const char *name, const struct prom_label *labels, int nlabels,
                 double v)
{
	labels_open(b, name, labels, nlabels);
	if (nlabels)
		sbuf_add(b, "}", 1);
	value(b, v);
}

void prom_observe(struct prom_histogram *h, double v)
{
	int i = 0;
	while (i < PROM_BUCKETS && v > prom_duration_bounds[i])
		i++;
	h->counts[i]++;
	h->count++;
	h->sum += v;
}

void prom_histogram_samples(struct sbuf *b, const char *name, const struct prom_label *labels,
                            int nlabels, const struct prom_histogram *h)
{
	char series[128];
	snprintf(series, sizeof(series), "%s_bucket", name);
	uint64_t cumulative = 0;
	for (int i = 0; i <= PROM_BUCKETS; i++) {
		cumulative += h->counts[i];
		labels_open(b, series, labels, nlabels);
		if (i < PROM_BUCKETS)
			sbuf_printf(b, "%sle=\"%g\"}", nlabels ? "," : "{",
			            prom_duration_bounds[i]);
		else
			sbuf_printf(b, "%sle=\"+Inf\"}", nlabels ? "," : "{");
		value(b, (double)cumulative);
	}
	snprintf(series, sizeof(series), "%s_sum", name);
	prom_sample(b, series, labels, nlabels, h->sum);
	snprintf(series, sizeof(series), "%s_count", name);
	prom_sample(b, series, labels, nlabels, (double)h->count);
}
