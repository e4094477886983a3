/*
 * Status document -> Prometheus text (see metrics.h). Table-driven: one line
 * per metric says where its value sits in the status JSON, its type, unit
 * scale and help text, so adding a status field to /metrics is one line and
 * the tables double as the list docs/monitoring.md documents.
 *
 * The format wants every sample of a metric right after its # TYPE line, so
 * the outer loop is over metrics and the inner one over sessions and links.
 */
#include "ctl/metrics.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum mtype { M_COUNTER, M_GAUGE };

/* Skip negative values (the status uses -1 for "never"). */
#define F_SKIP_NEG 1u

struct metric {
	const char *name;
	enum mtype type;
	const char *sub; /* object inside the scope holding `key`, or NULL */
	const char *key;
	double scale; /* value in the document x scale = value in the unit */
	unsigned flags;
	const char *help;
};

/* Per link (labels: client on a server, link). */
static const struct metric link_metrics[] = {
    {"ttt_link_tx_bytes_total", M_COUNTER, NULL, "tx_bytes", 1, 0,
     "Bytes sent on the link (whole datagrams)."},
    {"ttt_link_rx_bytes_total", M_COUNTER, NULL, "rx_bytes", 1, 0,
     "Bytes received on the link (whole datagrams)."},
    {"ttt_link_tx_packets_total", M_COUNTER, NULL, "tx_packets", 1, 0,
     "Datagrams sent on the link."},
    {"ttt_link_rx_packets_total", M_COUNTER, NULL, "rx_packets", 1, 0,
     "Datagrams received on the link."},
    {"ttt_link_errors_total", M_COUNTER, NULL, "errors", 1, 0,
     "Send and receive errors on the link."},
    {"ttt_link_admin_down", M_GAUGE, NULL, "admin_down", 1, 0,
     "1 when the link is administratively down (tuntunctl link NAME down)."},
    {"ttt_link_srtt_seconds", M_GAUGE, NULL, "srtt_ms", 1e-3, 0,
     "Smoothed round-trip time of the link's probes (RFC 6298)."},
    {"ttt_link_rttvar_seconds", M_GAUGE, NULL, "rttvar_ms", 1e-3, 0,
     "Round-trip time variation (RFC 6298)."},
    {"ttt_link_jitter_seconds", M_GAUGE, NULL, "jitter_ms", 1e-3, 0,
     "Round-trip jitter (RFC 3550)."},
    {"ttt_link_loss_ratio", M_GAUGE, NULL, "loss_pct", 1e-2, 0,
     "Probes lost in the loss window, 0 to 1."},
    {"ttt_link_mtu_bytes", M_GAUGE, NULL, "mtu", 1, 0,
     "Outer datagram size limit of the link."},
    {"ttt_link_rate_ceiling_bytes_per_second", M_GAUGE, NULL, "rate_bps", 0.125,
     0, "Configured rate ceiling (rate:), 0 when none."},
    {"ttt_link_metered", M_GAUGE, NULL, "metered", 1, 0,
     "1 when the link is metered."},
    {"ttt_link_backup", M_GAUGE, NULL, "backup", 1, 0,
     "1 when the link is a backup link."},
    {"ttt_link_quota_bytes", M_GAUGE, NULL, "quota_bytes", 1, 0,
     "Quota allowed per period, 0 when none."},
    {"ttt_link_quota_used_bytes", M_GAUGE, NULL, "quota_used_bytes", 1, 0,
     "Quota used in the current period."},
    {"ttt_link_probes_sent_total", M_COUNTER, "probe", "sent", 1, 0,
     "Probes sent on the link."},
    {"ttt_link_probe_replies_total", M_COUNTER, "probe", "replies", 1, 0,
     "Probe replies received."},
    {"ttt_link_probes_lost_total", M_COUNTER, "probe", "lost", 1, 0,
     "Probes counted lost."},
    {"ttt_link_suspects_total", M_COUNTER, "probe", "suspects", 1, 0,
     "Early DOWNs (a busy link went silent)."},
    {"ttt_link_last_heard_seconds", M_GAUGE, "probe", "last_heard_ago_s", 1,
     F_SKIP_NEG, "Seconds since anything was heard from the peer."},
    /* the link model (measured from the far end's feedback) */
    {"ttt_link_capacity_bytes_per_second", M_GAUGE, NULL, "capacity_bps", 0.125,
     0, "Estimated capacity of the link."},
    {"ttt_link_pacing_rate_bytes_per_second", M_GAUGE, NULL, "pacing_bps",
     0.125, 0, "Rate the link is paced at, just below its capacity."},
    {"ttt_link_delivery_rate_bytes_per_second", M_GAUGE, "model",
     "delivery_bps", 0.125, 0, "Delivery rate the far end reports."},
    {"ttt_link_base_rtt_seconds", M_GAUGE, NULL, "base_rtt_ms", 1e-3, 0,
     "Base (minimum) round-trip time of the link."},
    {"ttt_link_queue_delay_seconds", M_GAUGE, NULL, "queue_delay_ms", 1e-3, 0,
     "Queueing delay at the link's bottleneck."},
    {"ttt_link_inflight_bytes", M_GAUGE, NULL, "inflight_bytes", 1, 0,
     "Bytes sent on the link and not yet reported delivered."},
    {"ttt_link_model_delivered_packets_total", M_COUNTER, "model",
     "delivered_packets", 1, 0, "Packets the far end reported delivered."},
    {"ttt_link_model_lost_packets_total", M_COUNTER, "model", "lost_packets", 1,
     0, "Packets the far end reported missing."},
    {"ttt_link_model_backoffs_total", M_COUNTER, "model", "backoffs", 1, 0,
     "Times the model lowered the pacing rate."},
    {"ttt_link_model_stalls_total", M_COUNTER, "model", "stalls", 1, 0,
     "Times feedback stopped coming."},
};

/* Per session (label: client on a server). */
static const struct metric session_metrics[] = {
    {"ttt_session_rx_auth_failures_total", M_COUNTER, "counters",
     "rx_auth_fail", 1, 0, "Datagrams that failed authentication."},
    {"ttt_session_rx_replays_total", M_COUNTER, "counters", "rx_replay", 1, 0,
     "Datagrams dropped as replays."},
    {"ttt_session_rx_bad_total", M_COUNTER, "counters", "rx_bad", 1, 0,
     "Malformed datagrams in the session."},
    {"ttt_session_rx_spoofed_total", M_COUNTER, "counters", "rx_spoofed", 1, 0,
     "Inner packets with a source the client may not use."},
    {"ttt_session_tx_drops_total", M_COUNTER, "counters", "tx_drops", 1, 0,
     "Packets dropped on send (no usable link, scheduler drop)."},
    {"ttt_session_tun_write_errors_total", M_COUNTER, "counters",
     "tun_write_errors", 1, 0, "Failed writes to the tun device."},
    {"ttt_session_tx_too_big_total", M_COUNTER, "counters", "tx_too_big", 1, 0,
     "Packets larger than every usable link's MTU."},
    {"ttt_queue_packets", M_GAUGE, "queue", "packets", 1, 0,
     "Packets in the daemon's send queue."},
    {"ttt_queue_bytes", M_GAUGE, "queue", "bytes", 1, 0,
     "Bytes in the daemon's send queue."},
    {"ttt_queue_enqueued_total", M_COUNTER, "queue", "enqueued", 1, 0,
     "Packets that went through the send queue."},
    {"ttt_queue_dropped_full_total", M_COUNTER, "queue", "dropped_full", 1, 0,
     "Packets dropped because the send queue was full."},
    {"ttt_queue_dropped_aqm_total", M_COUNTER, "queue", "dropped_aqm", 1, 0,
     "Packets the queue's AQM (CoDel) dropped."},
    {"ttt_queue_ecn_marked_total", M_COUNTER, "queue", "ecn_marked", 1, 0,
     "Packets the queue's AQM marked ECN CE."},
    {"ttt_queue_max_sojourn_seconds", M_GAUGE, "queue", "max_sojourn_ms", 1e-3,
     0, "Longest time a packet spent in the send queue recently."},
    {"ttt_queue_aqm_target_seconds", M_GAUGE, "queue", "aqm_target_ms", 1e-3, 0,
     "CoDel target of the send queue now."},
    {"ttt_queue_aqm_interval_seconds", M_GAUGE, "queue", "aqm_interval_ms",
     1e-3, 0,
     "CoDel interval of the send queue now (longer while losses are "
     "recovered)."},
    {"ttt_reorder_enabled", M_GAUGE, "reorder", "enabled", 1, 0,
     "1 when the reorder buffer is on."},
    {"ttt_reorder_delivered_total", M_COUNTER, "reorder", "delivered", 1, 0,
     "Packets the reorder buffer delivered."},
    {"ttt_reorder_in_order_total", M_COUNTER, "reorder", "in_order", 1, 0,
     "Packets that arrived in order."},
    {"ttt_reorder_held_total", M_COUNTER, "reorder", "held", 1, 0,
     "Packets held for a missing predecessor."},
    {"ttt_reorder_reordered_total", M_COUNTER, "reorder", "reordered", 1, 0,
     "Held packets delivered in order once the gap filled."},
    {"ttt_reorder_late_total", M_COUNTER, "reorder", "late", 1, 0,
     "Packets that came after their successors were delivered."},
    {"ttt_reorder_duplicates_total", M_COUNTER, "reorder", "duplicates", 1, 0,
     "Duplicate packets dropped."},
    {"ttt_reorder_lost_total", M_COUNTER, "reorder", "lost", 1, 0,
     "Gaps given up as lost."},
    {"ttt_reorder_expired_total", M_COUNTER, "reorder", "expired", 1, 0,
     "Held packets released when the hold time ran out."},
    {"ttt_reorder_flushed_total", M_COUNTER, "reorder", "flushed", 1, 0,
     "Held packets released early (buffer full)."},
    {"ttt_reorder_resyncs_total", M_COUNTER, "reorder", "resyncs", 1, 0,
     "Sequence resynchronisations."},
    {"ttt_reorder_late_delivered_total", M_COUNTER, "reorder", "late_delivered",
     1, 0, "Late packets passed on to the tun anyway."},
    {"ttt_reorder_recovery_waits_total", M_COUNTER, "reorder", "recovery_waits",
     1, 0, "Gaps that waited past their hold (a resend or a lagging link)."},
    {"ttt_reorder_lagging_waits_total", M_COUNTER, "reorder", "lagging_waits",
     1, 0, "Gaps held past their hold while a link had not passed them."},
    {"ttt_reorder_held_packets", M_GAUGE, "reorder", "held_now", 1, 0,
     "Packets held right now."},
    {"ttt_reorder_hold_seconds", M_GAUGE, "reorder", "hold_ms", 1e-3, 0,
     "Current longest wait for a missing packet."},
    {"ttt_reorder_wait_seconds", M_GAUGE, "reorder", "wait_ms", 1e-3, 0,
     "Longest wait a gap needed recently."},
};

/* Per scheduler instance (labels: client, direction, plugin). */
static const struct metric sched_metrics[] = {
    {"ttt_scheduler_picks_total", M_COUNTER, NULL, "picks", 1, 0,
     "Packets the scheduler plugin placed on a link."},
    {"ttt_scheduler_faults_total", M_COUNTER, NULL, "faults", 1, 0,
     "Invalid answers of the plugin (the built-in round robin decided)."},
    {"ttt_scheduler_drops_total", M_COUNTER, NULL, "drops", 1, 0,
     "Packets the plugin chose to drop."},
    {"ttt_scheduler_fallbacks_total", M_COUNTER, NULL, "fallbacks", 1, 0,
     "Picks made by the built-in round robin instead of the plugin."},
};

/* Daemon-wide (no labels). */
static const struct metric daemon_metrics[] = {
    {"ttt_uptime_seconds", M_GAUGE, NULL, "uptime_s", 1, 0,
     "Seconds since the daemon started."},
    {"ttt_tun_mtu_bytes", M_GAUGE, "tun", "mtu", 1, 0,
     "MTU of the tun device."},
    {"ttt_tun_rx_packets_total", M_COUNTER, "counters", "tun_rx_packets", 1, 0,
     "Packets read from the tun device."},
    {"ttt_tun_tx_packets_total", M_COUNTER, "counters", "tun_tx_packets", 1, 0,
     "Packets written to the tun device."},
    {"ttt_tun_rx_dropped_total", M_COUNTER, "counters", "tun_rx_dropped", 1, 0,
     "Packets read from the tun device and dropped."},
    {"ttt_rx_bad_total", M_COUNTER, "counters", "rx_bad", 1, 0,
     "Malformed datagrams outside any session."},
    {"ttt_rx_unknown_session_total", M_COUNTER, "counters",
     "rx_unknown_session", 1, 0, "Datagrams for no known session."},
    {"ttt_rx_truncated_total", M_COUNTER, "counters", "rx_truncated", 1, 0,
     "Datagrams larger than the receive buffer."},
    {"ttt_hello_accepted_total", M_COUNTER, "counters", "hello_ok", 1, 0,
     "HELLOs accepted (server)."},
    {"ttt_hello_bad_total", M_COUNTER, "counters", "hello_bad", 1, 0,
     "HELLOs refused: unknown key or bad MAC (server)."},
    {"ttt_hello_replayed_total", M_COUNTER, "counters", "hello_replayed", 1, 0,
     "HELLOs refused as replayed or stale (server)."},
    {"ttt_hello_ratelimited_total", M_COUNTER, "counters", "hello_ratelimited",
     1, 0, "HELLOs over the per-source budget (server)."},
    {"ttt_http_requests_total", M_COUNTER, "http", "requests", 1, 0,
     "Requests the monitoring listener answered."},
    {"ttt_http_unauthorized_total", M_COUNTER, "http", "unauthorized", 1, 0,
     "Requests refused for missing or wrong credentials."},
};

#define N(t) (sizeof(t) / sizeof((t)[0]))

/* One session of the document: its client name (NULL on a client), the
 * session object, its links array and its scheduler dump. */
struct scope {
	const char *client;
	const json_t *sess;
	const json_t *links;
	const json_t *sched;
};

size_t metrics_escape_label(char *buf, size_t n, const char *s)
{
	size_t o = 0;
	for (; *s; s++) {
		const char *rep = NULL;
		char one[2] = {*s, 0};
		if (*s == '\\')
			rep = "\\\\";
		else if (*s == '"')
			rep = "\\\"";
		else if (*s == '\n')
			rep = "\\n";
		else
			rep = one;
		for (; *rep; rep++, o++)
			if (o + 1 < n)
				buf[o] = *rep;
	}
	if (n)
		buf[o < n ? o : n - 1] = 0;
	return o;
}

static void put_label(FILE *f, bool *first, const char *key, const char *val)
{
	fprintf(f, "%s%s=\"", *first ? "{" : ",", key);
	*first = false;
	for (; *val; val++) {
		if (*val == '\\')
			fputs("\\\\", f);
		else if (*val == '"')
			fputs("\\\"", f);
		else if (*val == '\n')
			fputs("\\n", f);
		else
			fputc(*val, f);
	}
	fputc('"', f);
}

static void put_value(FILE *f, double v)
{
	if (isnan(v))
		fputs(" NaN\n", f);
	else if (isinf(v))
		fputs(v > 0 ? " +Inf\n" : " -Inf\n", f);
	else if (v == floor(v) && fabs(v) < 9007199254740992.0)
		fprintf(f, " %.0f\n", v);
	else
		fprintf(f, " %.15g\n", v);
}

static void header(FILE *f, const char *name, const char *type,
		   const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* The metric's value in `obj`: numbers, and booleans as 0/1. */
static bool value_of(const json_t *obj, const struct metric *m, double *v)
{
	const json_t *o = obj;
	if (m->sub)
		o = json_is_object(o) ? json_object_get(o, m->sub) : NULL;
	const json_t *j = json_is_object(o) ? json_object_get(o, m->key) : NULL;
	if (json_is_number(j))
		*v = json_number_value(j) * m->scale;
	else if (json_is_boolean(j))
		*v = json_is_true(j) ? 1 : 0;
	else
		return false;
	if ((m->flags & F_SKIP_NEG) && *v < 0)
		return false;
	return true;
}

static const char *str_of(const json_t *obj, const char *key)
{
	const char *s = json_is_object(obj)
			    ? json_string_value(json_object_get(obj, key))
			    : NULL;
	return s;
}

/* Labels of one link: {client="..",link=".."} (no client on a client). */
static void link_labels(FILE *f, const struct scope *sc, const json_t *l,
			bool *first)
{
	if (sc->client)
		put_label(f, first, "client", sc->client);
	put_label(f, first, "link", str_of(l, "name") ? str_of(l, "name") : "");
}

static void emit_link_metric(FILE *f, const struct metric *m,
			     const struct scope *sc, size_t n)
{
	bool any = false;
	for (size_t s = 0; s < n; s++) {
		size_t i;
		const json_t *l;
		json_array_foreach(sc[s].links, i, l)
		{
			double v;
			if (!value_of(l, m, &v))
				continue;
			if (!any)
				header(f, m->name,
				       m->type == M_COUNTER ? "counter"
							    : "gauge",
				       m->help);
			any = true;
			bool first = true;
			fputs(m->name, f);
			link_labels(f, &sc[s], l, &first);
			fputc('}', f);
			put_value(f, v);
		}
	}
}

/* 0 down, 1 degraded, 2 up: a gauge a dashboard can graph and alert on. */
static void emit_link_state(FILE *f, const struct scope *sc, size_t n)
{
	static const char *const names[] = {"down", "degraded", "up"};
	bool any = false;
	for (size_t s = 0; s < n; s++) {
		size_t i;
		const json_t *l;
		json_array_foreach(sc[s].links, i, l)
		{
			const char *st = str_of(l, "state");
			int v = -1;
			for (int k = 0; st && k < 3; k++)
				if (strcmp(st, names[k]) == 0)
					v = k;
			if (v < 0)
				continue;
			if (!any)
				header(f, "ttt_link_state", "gauge",
				       "Link state: 0 down, 1 degraded, 2 up.");
			any = true;
			bool first = true;
			fputs("ttt_link_state", f);
			link_labels(f, &sc[s], l, &first);
			fputc('}', f);
			put_value(f, v);
		}
	}
}

/* ttt_link_rtt_seconds: cumulative buckets from the per-bucket counts. */
static void emit_rtt_hist(FILE *f, const struct scope *sc, size_t n)
{
	const char *name = "ttt_link_rtt_seconds";
	bool any = false;
	for (size_t s = 0; s < n; s++) {
		size_t i;
		const json_t *l;
		json_array_foreach(sc[s].links, i, l)
		{
			const json_t *h = json_object_get(l, "rtt_hist");
			const json_t *le = json_object_get(h, "le_ms");
			const json_t *cnt = json_object_get(h, "counts");
			const json_t *sum = json_object_get(h, "sum_ms");
			size_t nb = json_array_size(le);
			if (!json_is_array(le) || !json_is_array(cnt) ||
			    json_array_size(cnt) != nb + 1 ||
			    !json_is_number(sum))
				continue;
			if (!any)
				header(
				    f, name, "histogram",
				    "Round-trip times of the link's probes.");
			any = true;
			double acc = 0;
			for (size_t b = 0; b <= nb; b++) {
				const json_t *c = json_array_get(cnt, b);
				acc += json_is_number(c) ? json_number_value(c)
							 : 0;
				bool first = true;
				fprintf(f, "%s_bucket", name);
				link_labels(f, &sc[s], l, &first);
				if (b < nb) {
					char lev[32];
					snprintf(lev, sizeof(lev), "%.15g",
						 json_number_value(
						     json_array_get(le, b)) /
						     1000.0);
					put_label(f, &first, "le", lev);
				} else {
					put_label(f, &first, "le", "+Inf");
				}
				fputc('}', f);
				put_value(f, acc);
			}
			bool first = true;
			fprintf(f, "%s_sum", name);
			link_labels(f, &sc[s], l, &first);
			fputc('}', f);
			put_value(f, json_number_value(sum) / 1000.0);
			first = true;
			fprintf(f, "%s_count", name);
			link_labels(f, &sc[s], l, &first);
			fputc('}', f);
			put_value(f, acc);
		}
	}
}

/* Session-level metrics, labelled by client on a server. */
static void emit_scoped(FILE *f, const struct metric *m, const struct scope *sc,
			size_t n, bool sched)
{
	bool any = false;
	for (size_t s = 0; s < n; s++) {
		const json_t *obj = sched ? sc[s].sched : sc[s].sess;
		double v;
		if (!value_of(obj, m, &v))
			continue;
		if (!any)
			header(f, m->name,
			       m->type == M_COUNTER ? "counter" : "gauge",
			       m->help);
		any = true;
		bool first = true;
		fputs(m->name, f);
		if (sc[s].client)
			put_label(f, &first, "client", sc[s].client);
		if (sched) {
			const char *dir = str_of(obj, "dir");
			const char *pl = str_of(obj, "plugin");
			put_label(f, &first, "direction", dir ? dir : "");
			put_label(f, &first, "plugin", pl ? pl : "");
		}
		if (!first)
			fputc('}', f);
		put_value(f, v);
	}
}

static void emit_established(FILE *f, const struct scope *sc, size_t n)
{
	bool any = false;
	for (size_t s = 0; s < n; s++) {
		const char *st = str_of(sc[s].sess, "state");
		if (!st)
			continue;
		if (!any)
			header(f, "ttt_session_established", "gauge",
			       "1 when the session completed its handshake.");
		any = true;
		bool first = true;
		fputs("ttt_session_established", f);
		if (sc[s].client)
			put_label(f, &first, "client", sc[s].client);
		if (!first)
			fputc('}', f);
		put_value(f, strcmp(st, "established") == 0);
	}
}

static void emit_daemon(FILE *f, const json_t *st)
{
	const char *role = str_of(st, "role"), *ver = str_of(st, "version");
	bool first = true;
	header(f, "ttt_info", "gauge",
	       "Constant 1, labelled with the role and "
	       "version of the daemon.");
	fputs("ttt_info", f);
	put_label(f, &first, "role", role ? role : "");
	put_label(f, &first, "version", ver ? ver : "");
	fputs("}", f);
	put_value(f, 1);
	for (size_t i = 0; i < N(daemon_metrics); i++) {
		const struct metric *m = &daemon_metrics[i];
		double v;
		if (!value_of(st, m, &v))
			continue;
		header(f, m->name, m->type == M_COUNTER ? "counter" : "gauge",
		       m->help);
		fputs(m->name, f);
		put_value(f, v);
	}
	const json_t *ss = json_object_get(st, "sessions");
	if (json_is_array(ss)) {
		header(f, "ttt_sessions", "gauge",
		       "Sessions the server holds (server).");
		fputs("ttt_sessions", f);
		put_value(f, (double)json_array_size(ss));
	}
}

/* The sessions of the document: a client's one, or each of a server's. */
static struct scope *scopes(const json_t *st, size_t *n)
{
	const json_t *ss = json_object_get(st, "sessions");
	size_t cap = json_is_array(ss) ? json_array_size(ss) : 1;
	struct scope *sc = calloc(cap ? cap : 1, sizeof(*sc));
	*n = 0;
	if (!sc)
		return NULL;
	if (json_is_array(ss)) {
		size_t i;
		const json_t *s;
		json_array_foreach(ss, i, s)
		{
			if (!json_is_object(s))
				continue;
			const char *cl = str_of(s, "client");
			sc[*n].client = cl ? cl : "";
			sc[*n].sess = s;
			sc[*n].links = json_object_get(s, "links");
			sc[*n].sched = json_object_get(s, "scheduler");
			(*n)++;
		}
	} else if (json_is_object(json_object_get(st, "session"))) {
		const json_t *sched = json_object_get(st, "scheduler");
		sc[0].sess = json_object_get(st, "session");
		sc[0].links = json_object_get(st, "links");
		sc[0].sched = json_is_object(sched)
				  ? json_object_get(sched, "upstream")
				  : NULL;
		*n = 1;
	}
	return sc;
}

char *metrics_render(const json_t *status, size_t *len)
{
	char *text = NULL;
	size_t n_sc = 0;
	*len = 0;
	FILE *f = open_memstream(&text, len);
	if (!f)
		return NULL;
	struct scope *sc = scopes(status, &n_sc);
	if (!sc) {
		fclose(f);
		free(text);
		return NULL;
	}
	emit_daemon(f, status);
	emit_established(f, sc, n_sc);
	emit_link_state(f, sc, n_sc);
	for (size_t i = 0; i < N(link_metrics); i++)
		emit_link_metric(f, &link_metrics[i], sc, n_sc);
	emit_rtt_hist(f, sc, n_sc);
	for (size_t i = 0; i < N(session_metrics); i++)
		emit_scoped(f, &session_metrics[i], sc, n_sc, false);
	for (size_t i = 0; i < N(sched_metrics); i++)
		emit_scoped(f, &sched_metrics[i], sc, n_sc, true);
	free(sc);
	bool err = ferror(f) != 0;
	if (fclose(f) != 0 || err) {
		free(text);
		*len = 0;
		return NULL;
	}
	return text;
}
