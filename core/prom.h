/* prom: a growable text buffer and the Prometheus text exposition format
 * 0.0.4 (HELP/TYPE lines, samples with escaped label values, histograms),
 * plus the JSON string form /status uses. Pure: no host state. */
#ifndef SCANHOST_PROM_H
#define SCANHOST_PROM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sbuf {
	char *p;
	size_t len, cap;
	bool failed; /* an allocation failed: the text is incomplete */
};

void sbuf_free(struct sbuf *b);
void sbuf_add(struct sbuf *b, const char *s, size_t n);
void sbuf_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "text" with JSON escapes */
void sbuf_json_str(struct sbuf *b, const char *s);

struct prom_label {
	const char *name, *value;
};

/* # HELP and # TYPE lines (type: counter, gauge, histogram). */
void prom_family(struct sbuf *b, const char *name, const char *type, const char *help);
/* name{labels} value: integers are written without exponent, others with
 * enough digits to round-trip; +Inf, -Inf and NaN as Prometheus spells them. */
void prom_sample(struct sbuf *b, const char *name, const struct prom_label *labels, int nlabels,
                 double value);

/* Histogram buckets: counts[i] observations <= bounds[i] (not cumulative),
 * counts[nbounds] above the last bound. */
#define PROM_BUCKETS 13
extern const double prom_duration_bounds[PROM_BUCKETS];
struct prom_histogram {
	uint64_t counts[PROM_BUCKETS + 1];
	uint64_t count;
	double sum;
};
void prom_observe(struct prom_histogram *h, double v);
/* name_bucket{labels,le=...} (cumulative), name_sum, name_count */
void prom_histogram_samples(struct sbuf *b, const char *name, const struct prom_label *labels,
                            int nlabels, const struct prom_histogram *h);

#endif
