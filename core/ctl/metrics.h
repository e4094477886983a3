/*
 * The status document (the JSON of `tuntunctl status --json`, built by
 * status_json() in core/ctlcmd.c) as Prometheus text exposition format
 * 0.0.4, for GET /metrics. Pure: JSON in, text out, so the names, types and
 * escaping are unit-tested without a daemon (tests/unit/test_metrics.c).
 *
 * Names follow the Prometheus/OpenMetrics conventions: prefix `ttt_`, base
 * units in the name (`_seconds`, `_bytes`, `_ratio`), counters end in
 * `_total`. Labels are bounded by the configuration: `link` (a configured
 * link name), `client` (a configured client, server only), `direction`,
 * `plugin`, `role`, `version`, `le`. Every metric is listed in
 * docs/monitoring.md.
 */
#ifndef TTT_METRICS_H
#define TTT_METRICS_H

#include <jansson.h>
#include <stddef.h>

/* Content-Type of what metrics_render() returns. */
#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/*
 * Renders `status` (a client's or a server's status document; fields that
 * are missing or of another type are skipped, so an older or newer document
 * still renders). Returns malloc'd NUL-terminated text and its length in
 * *len, or NULL when out of memory.
 */
char *metrics_render(const json_t *status, size_t *len);

/*
 * Writes `s` as a label value (without the quotes) into buf: backslash,
 * double quote and line feed escaped as \\, \" and \n, as the format says.
 * Always NUL-terminates (n > 0); returns the length the whole escaped value
 * needs, like snprintf, so a caller can tell it was cut.
 */
size_t metrics_escape_label(char *buf, size_t n, const char *s);

#endif
